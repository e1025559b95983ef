//! The WebSocket opening handshake's checks (RFC 6455 §4.2.1) and the
//! bookkeeping of the handshake timeout.
//!
//! A request to `/app/{key}` that asks for an upgrade must carry
//! `Sec-WebSocket-Version: 13` (else 426 Upgrade Required, naming the
//! version this server speaks) and a `Sec-WebSocket-Key` that is the
//! base64 of 16 bytes (else 400). The time limits themselves live where
//! the waiting happens: hyper's header read timeout (`server.rs`), the
//! request body deadline (`http_api::read_body`) and the first ping of a
//! silent WebSocket (`connection.rs`); all three use
//! `server.handshake_timeout`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};

/// The one WebSocket version this server speaks.
const VERSION: &str = "13";

/// Why an upgrade request was refused before the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// `Sec-WebSocket-Version` is missing or not 13.
    #[error("unsupported WebSocket version: this server speaks version 13")]
    Version,
    /// `Sec-WebSocket-Key` is missing, repeated, or not the base64 of 16 bytes.
    #[error("missing or malformed Sec-WebSocket-Key")]
    Key,
}

impl Refusal {
    /// The HTTP answer: 426 with `Sec-WebSocket-Version: 13`, or 400.
    pub(crate) fn response(self) -> Response<Full<Bytes>> {
        let body = match self {
            Refusal::Version => "Upgrade required: WebSocket version 13.",
            Refusal::Key => "Bad request: missing or malformed Sec-WebSocket-Key.",
        };
        let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        *res.status_mut() = match self {
            Refusal::Version => {
                h.insert(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static(VERSION),
                );
                StatusCode::UPGRADE_REQUIRED
            }
            Refusal::Key => StatusCode::BAD_REQUEST,
        };
        res
    }
}

/// Checks the version and key of an upgrade request (its `Upgrade` and
/// `Connection` headers already checked); returns the key to answer with.
///
/// # Errors
/// The [`Refusal`] the request earns, version first (a client speaking
/// another version learns which one to use).
pub(crate) fn check(headers: &HeaderMap) -> Result<HeaderValue, Refusal> {
    let mut versions = headers.get_all(header::SEC_WEBSOCKET_VERSION).iter();
    let version_ok = match (versions.next(), versions.next()) {
        (Some(v), None) => v.as_bytes() == VERSION.as_bytes(),
        _ => false,
    };
    if !version_ok {
        return Err(Refusal::Version);
    }
    let mut keys = headers.get_all(header::SEC_WEBSOCKET_KEY).iter();
    match (keys.next(), keys.next()) {
        (Some(key), None) if is_key(key.as_bytes()) => Ok(key.clone()),
        _ => Err(Refusal::Key),
    }
}

/// Whether `key` is the base64 of 16 bytes: 22 base64 characters and `==`.
fn is_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Whether a connection's first request head has arrived, shared between
/// its service (which marks it) and its task (which reads it when the
/// connection ends with a header timeout). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct FirstRequest(Arc<AtomicBool>);

impl FirstRequest {
    /// A request head arrived.
    pub(crate) fn arrived(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether any request head has arrived.
    pub(crate) fn has_arrived(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests;
