//! HMAC-SHA256 signatures: channel auth, user sign-in and (in
//! [`http_signature`]) the HTTP API's request signing; `jwt` verifies the
//! bearer tokens of the built-in channel-authorisation endpoint. Pure, no IO.
//!
//! Every comparison is constant-time (`Mac::verify_slice`).

pub mod http_signature;
pub(crate) mod jwt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a channel or user auth token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `auth` given where one is required.
    #[error("auth is missing")]
    Missing,
    /// Not of the form `<key>:<64 hex digits>`.
    #[error("auth is not of the form key:signature")]
    Malformed,
    /// The key before `:` is not this app's key.
    #[error("auth names another app key")]
    WrongKey,
    /// The HMAC does not match.
    #[error("auth signature does not match")]
    BadSignature,
}

/// Hex HMAC-SHA256 of `message` with `secret`.
pub fn sign(secret: &str, message: &str) -> String {
    hex::encode(mac(secret, message.as_bytes()).finalize().into_bytes())
}

fn mac(secret: &str, message: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(message);
    mac
}

/// Verifies a hex signature over the concatenation of `parts`, in constant time.
pub(crate) fn verify_hex(secret: &str, parts: &[&str], signature_hex: &str) -> bool {
    let Ok(expected) = hex::decode(signature_hex) else {
        return false;
    };
    let mut m = mac(secret, b"");
    for p in parts {
        m.update(p.as_bytes());
    }
    m.verify_slice(&expected).is_ok()
}

/// Splits `"<key>:<sig>"` and checks the key.
fn split_token<'a>(app_key: &str, auth: Option<&'a str>) -> Result<&'a str, AuthError> {
    let auth = auth.filter(|a| !a.is_empty()).ok_or(AuthError::Missing)?;
    let (key, sig) = auth.split_once(':').ok_or(AuthError::Malformed)?;
    if key != app_key {
        return Err(AuthError::WrongKey);
    }
    Ok(sig)
}

/// Verifies a `pusher:subscribe` auth token for a private or presence channel:
/// HMAC over `socket_id:channel[:channel_data]`.
///
/// # Errors
/// [`AuthError`] says why the token was refused.
pub fn verify_channel_auth(
    app_key: &str,
    secret: &str,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
    auth: Option<&str>,
) -> Result<(), AuthError> {
    let sig = split_token(app_key, auth)?;
    let ok = match channel_data {
        Some(data) => verify_hex(secret, &[socket_id, ":", channel, ":", data], sig),
        None => verify_hex(secret, &[socket_id, ":", channel], sig),
    };
    if ok {
        Ok(())
    } else {
        Err(AuthError::BadSignature)
    }
}

/// Verifies a `pusher:signin` auth token: HMAC over `socket_id::user::user_data`.
///
/// # Errors
/// [`AuthError`] says why the token was refused.
pub(crate) fn verify_user_auth(
    app_key: &str,
    secret: &str,
    socket_id: &str,
    user_data: &str,
    auth: &str,
) -> Result<(), AuthError> {
    let sig = split_token(app_key, Some(auth))?;
    if verify_hex(secret, &[socket_id, "::user::", user_data], sig) {
        Ok(())
    } else {
        Err(AuthError::BadSignature)
    }
}

/// The token a backend would return for a channel (what pusher SDKs compute);
/// used by tests, examples and the benchmark client.
pub fn channel_auth_token(
    app_key: &str,
    secret: &str,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
) -> String {
    let message = match channel_data {
        Some(d) => format!("{socket_id}:{channel}:{d}"),
        None => format!("{socket_id}:{channel}"),
    };
    format!("{app_key}:{}", sign(secret, &message))
}

#[cfg(test)]
mod tests;
