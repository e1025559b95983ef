//! Pusher HTTP API request signing, exactly as the official server SDKs sign:
//! `auth_signature = hex(HMAC-SHA256(secret, METHOD\nPATH\nsorted-query))`,
//! where the sorted query holds every parameter but `auth_signature`, and
//! `body_md5 = md5(body)` for non-empty bodies (and for an empty one when
//! the client sent it, as the Python SDK does on GETs).

use md5::{Digest, Md5};

/// Why a request's signature was refused (every variant is HTTP 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A required `auth_*` parameter is absent.
    #[error("missing query parameter `{0}`")]
    Missing(&'static str),
    /// `auth_key` is not this app's key.
    #[error("auth_key does not match the application")]
    WrongKey,
    /// `auth_timestamp` is outside the allowed window.
    #[error("auth_timestamp is more than {window} seconds from the server's clock")]
    StaleTimestamp {
        /// The window in seconds.
        window: u64,
    },
    /// `body_md5` does not match the body received.
    #[error("body_md5 does not match the request body")]
    BodyMd5Mismatch,
    /// The HMAC does not match.
    #[error("Authentication signature invalid.")]
    BadSignature,
}

/// A request as the HTTP layer received it.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path the client signed: `/apps/{id}/…` without any server prefix.
    pub path: &'a str,
    /// The raw (still URL-encoded) query string, without `?`.
    pub query: &'a str,
    /// The raw body.
    pub body: &'a [u8],
}

/// Hex MD5 of a body, as `body_md5` carries it.
pub(crate) fn body_md5(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

/// Decoded query parameters, keys lower-cased, in arrival order.
pub(crate) fn query_params(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect()
}

/// The string the SDKs sign: `METHOD\nPATH\nk=v&k=v` sorted by key.
pub(crate) fn string_to_sign(method: &str, path: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "auth_signature")
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = format!("{method}\n{path}\n");
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Verifies a signed HTTP API request.
///
/// `now` is the server's Unix time; `window` the allowed `auth_timestamp`
/// skew in seconds (`None` disables the check, as Reverb does).
///
/// # Errors
/// [`SignatureError`] names the first rule the request breaks.
pub fn verify(
    app_key: &str,
    secret: &str,
    req: SignedRequest<'_>,
    now: u64,
    window: Option<u64>,
) -> Result<(), SignatureError> {
    let mut params = query_params(req.query);
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let signature = get("auth_signature").ok_or(SignatureError::Missing("auth_signature"))?;
    if let Some(key) = get("auth_key") {
        if key != app_key {
            return Err(SignatureError::WrongKey);
        }
    }
    if let Some(window) = window {
        let ts = get("auth_timestamp").ok_or(SignatureError::Missing("auth_timestamp"))?;
        let ts: u64 = ts
            .parse()
            .map_err(|_| SignatureError::StaleTimestamp { window })?;
        if ts.abs_diff(now) > window {
            return Err(SignatureError::StaleTimestamp { window });
        }
    }
    let claimed_md5 = get("body_md5");
    // The body's digest is recomputed from what arrived, never trusted. A
    // claimed `body_md5` must match the body, empty or not, and is then part
    // of the signed string: the Python SDK signs the empty body's digest on
    // every GET. A non-empty body is always covered, claimed or not.
    params.retain(|(k, _)| k != "body_md5");
    if !req.body.is_empty() || claimed_md5.is_some() {
        let md5 = body_md5(req.body);
        if let Some(claimed) = claimed_md5 {
            if !claimed.eq_ignore_ascii_case(&md5) {
                return Err(SignatureError::BodyMd5Mismatch);
            }
        }
        params.push(("body_md5".to_owned(), md5));
    }
    let message = string_to_sign(req.method, req.path, &params);
    if super::verify_hex(secret, &[&message], &signature) {
        Ok(())
    } else {
        Err(SignatureError::BadSignature)
    }
}

/// Builds the signed query string for a request, as the SDKs do; `extra`
/// holds request parameters such as `info`. Used by tests, examples and the
/// benchmark client.
pub fn signed_query(
    app_key: &str,
    secret: &str,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    timestamp: u64,
) -> String {
    let mut params: Vec<(String, String)> = vec![
        ("auth_key".to_owned(), app_key.to_owned()),
        ("auth_timestamp".to_owned(), timestamp.to_string()),
        ("auth_version".to_owned(), "1.0".to_owned()),
    ];
    if !body.is_empty() {
        params.push(("body_md5".to_owned(), body_md5(body)));
    }
    params.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let signature = super::sign(secret, &string_to_sign(method, path, &params));
    params.push(("auth_signature".to_owned(), signature));
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        q.append_pair(k, v);
    }
    q.finish()
}

#[cfg(test)]
mod tests;
