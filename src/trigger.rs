//! `clarion trigger`: publish one event through the signed Pusher HTTP API,
//! exactly as a backend SDK would (`POST /apps/{id}/events`, signed with the
//! app's key and secret), so operators and examples need no SDK.
//!
//! The request is one HTTP/1.1 exchange on a fresh connection with
//! `Connection: close`; the response head is parsed with `httparse` (the
//! parser hyper uses), so the server binary links no HTTP client. Plain
//! `http://` only.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::auth::http_signature::signed_query;
use crate::config::{AppConfig, ServerConfig};

/// How long the whole exchange may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why an event could not be published.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The URL is not `http://host[:port][/prefix]`.
    #[error("invalid URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Connecting, writing or reading failed.
    #[error("cannot reach {address}: {source}")]
    Io {
        /// `host:port`.
        address: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// No answer within the timeout.
    #[error("no answer from {0} within 10 s")]
    Timeout(String),
    /// The answer is not an HTTP response.
    #[error("the server's answer is not an HTTP response")]
    BadResponse,
    /// The server refused the event.
    #[error("HTTP {status}: {body}")]
    Refused {
        /// The status code.
        status: u16,
        /// The response body (the server's reason).
        body: String,
    },
}

/// One event to publish.
#[derive(Debug, Clone)]
pub struct Event {
    /// Channels to publish on (at most 100, as the HTTP API allows).
    pub channels: Vec<String>,
    /// The event name.
    pub name: String,
    /// The event's data, sent as the string given.
    pub data: String,
    /// A socket to leave out (the sender's own, `toOthers()`).
    pub socket_id: Option<String>,
}

/// Where the HTTP API of a server lives: `http://host:port` plus any path
/// prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port` to connect to.
    pub address: String,
    /// The server's path prefix (`""` or e.g. `/ws`), not signed.
    pub prefix: String,
}

impl Endpoint {
    /// Parses `http://host[:port][/prefix]` (port 80 when absent).
    ///
    /// # Errors
    /// [`TriggerError::Url`] for other schemes or a missing host.
    pub fn parse(url: &str) -> Result<Endpoint, TriggerError> {
        let bad = |reason| TriggerError::Url {
            url: url.to_owned(),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|_| bad("not a URL"))?;
        if parsed.scheme() != "http" {
            return Err(bad("only http:// is supported"));
        }
        let host = match parsed.host().ok_or_else(|| bad("no host"))? {
            url::Host::Ipv6(ip) => format!("[{ip}]"),
            other => other.to_string(),
        };
        let port = parsed.port().unwrap_or(80);
        Ok(Endpoint {
            address: format!("{host}:{port}"),
            prefix: parsed.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The address a local server with `server`'s settings listens on: a
    /// wildcard bind address is reached through loopback.
    pub fn local(server: &ServerConfig) -> Endpoint {
        let host = match server.host.as_str() {
            "0.0.0.0" | "" => "127.0.0.1".to_owned(),
            "::" | "[::]" => "[::1]".to_owned(),
            h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
            h => h.to_owned(),
        };
        Endpoint {
            address: format!("{host}:{}", server.port),
            prefix: server.path.trim_end_matches('/').to_owned(),
        }
    }
}

/// Publishes `event` for `app` through the server at `endpoint`; returns
/// the server's JSON answer.
///
/// # Errors
/// [`TriggerError`] says what failed; a refusal carries the status and the
/// server's reason.
pub async fn trigger(
    endpoint: &Endpoint,
    app: &AppConfig,
    event: &Event,
) -> Result<String, TriggerError> {
    let mut body = serde_json::json!({
        "name": event.name,
        "channels": event.channels,
        "data": event.data,
    });
    if let Some(socket_id) = &event.socket_id {
        body["socket_id"] = serde_json::Value::from(socket_id.as_str());
    }
    let body = body.to_string();
    let path = format!("/apps/{}/events", app.id);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let query = signed_query(
        &app.key,
        &app.secret,
        "POST",
        &path,
        &[],
        body.as_bytes(),
        now,
    );
    let request = format!(
        "POST {prefix}{path}?{query} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {len}\r\nConnection: close\r\n\r\n{body}",
        prefix = endpoint.prefix,
        host = endpoint.address,
        len = body.len(),
    );
    let raw = tokio::time::timeout(TIMEOUT, exchange(&endpoint.address, &request))
        .await
        .map_err(|_| TriggerError::Timeout(endpoint.address.clone()))??;
    let (status, body) = parse_response(&raw)?;
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(TriggerError::Refused { status, body })
    }
}

/// Writes `request` and reads until the server closes the connection.
async fn exchange(address: &str, request: &str) -> Result<Vec<u8>, TriggerError> {
    let io = |source| TriggerError::Io {
        address: address.to_owned(),
        source,
    };
    let mut stream = TcpStream::connect(address).await.map_err(io)?;
    stream.write_all(request.as_bytes()).await.map_err(io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.map_err(io)?;
    Ok(raw)
}

/// The status and body of a complete HTTP/1.1 response (`Content-Length`,
/// chunked, or delimited by the connection's close).
fn parse_response(raw: &[u8]) -> Result<(u16, String), TriggerError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(head_len)) = response.parse(raw) else {
        return Err(TriggerError::BadResponse);
    };
    let status = response.code.ok_or(TriggerError::BadResponse)?;
    let chunked = response.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            && String::from_utf8_lossy(h.value)
                .to_ascii_lowercase()
                .contains("chunked")
    });
    let rest = raw.get(head_len..).unwrap_or_default();
    let body = if chunked {
        dechunk(rest).ok_or(TriggerError::BadResponse)?
    } else {
        rest.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Decodes a chunked body.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(rest.get(..line_end)?).ok()?;
        let size_hex = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_hex, 16).ok()?;
        rest = rest.get(line_end + 2..)?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests;
