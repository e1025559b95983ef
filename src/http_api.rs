//! The Pusher HTTP API, as the official server SDKs call it: signed
//! requests under `/apps/{app_id}/…` that publish events and query
//! channels, users and connections. `POST /users/{id}/terminate_connections`
//! is also accepted without the `/apps/{app_id}` prefix, as the Python SDK
//! sends it; the app is then the one whose `auth_key` signed the request.
//! `GET`/`DELETE /apps/{app_id}/webhooks/dead_letters` lists or clears the
//! webhook batches no retry delivered.
//!
//! Every request is checked in this order: known app (404), body within
//! `max_request_size` (413), signature (401), the app's
//! `http_api_requests_per_second` (429 with `Retry-After`), then the body
//! (400/413/422).
//! Failures are JSON `{"error": "..."}` with the status a client library
//! surfaces to the user.

pub(crate) mod events;
mod queries;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use crate::apps::App;
use crate::auth::http_signature::{self, SignatureError, SignedRequest};
use crate::metrics::HandshakeStage;
use crate::metrics::Limit;
use crate::node::Node;

type HttpResponse = Response<Full<Bytes>>;

/// An HTTP API failure: a status and a message for the publisher.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub(crate) struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, in words a user can act on.
    pub message: String,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn into_response(self) -> HttpResponse {
        json(
            self.status,
            serde_json::json!({ "error": self.message }).to_string(),
        )
    }
}

impl From<SignatureError> for ApiError {
    fn from(e: SignatureError) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, e.to_string())
    }
}

/// A JSON response with the right `Content-Type` and `Content-Length`.
pub(crate) fn json(status: StatusCode, body: String) -> HttpResponse {
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// `429 Too Many Requests` for an app over `http_api_requests_per_second`,
/// with `Retry-After`: the whole seconds until one more request is
/// admitted (at least 1).
fn too_many_requests(per_second: u32, wait: std::time::Duration) -> HttpResponse {
    let message = format!(
        "Too many requests: this app may make {per_second} HTTP API requests per second \
         (http_api_requests_per_second)."
    );
    let mut res = ApiError::new(StatusCode::TOO_MANY_REQUESTS, message).into_response();
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    res
}

/// One verified request, ready for an endpoint.
#[derive(Debug)]
struct Call<'a> {
    node: &'a Node,
    app: &'a Arc<App>,
    /// The route after `/apps/{app_id}`.
    rest: &'a str,
    method: Method,
    params: Vec<(String, String)>,
    body: Bytes,
}

impl Call<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Serves one request under `/apps/`; `path` is already stripped of the
/// server's path prefix, which is also the path the client signed.
pub(crate) async fn handle(node: &Node, req: Request<Incoming>, path: &str) -> HttpResponse {
    let endpoint = endpoint(req.method(), path);
    let mut app = None;
    let res = match dispatch(node, req, path, &mut app).await {
        Ok(res) => res,
        Err(e) => {
            tracing::debug!(status = %e.status, error = %e.message, path, "http api request refused");
            e.into_response()
        }
    };
    // Requests for no known app have no `app_id` to count under.
    if let Some(app) = app {
        app.metrics.http_request(endpoint, res.status().as_u16());
    }
    res
}

/// The endpoint a request is for, as the `endpoint` label of
/// `clarion_http_requests_total`: a fixed set, whatever the path holds.
pub(crate) fn endpoint(method: &Method, path: &str) -> &'static str {
    let rest = match path.strip_prefix("/apps/") {
        Some(after) => after.split_once('/').map_or("", |(_, rest)| rest),
        None => path.trim_start_matches('/'),
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::POST, ["events"]) => "events",
        (&Method::POST, ["batch_events"]) => "batch_events",
        (&Method::GET, ["channels"]) => "channels",
        (&Method::GET, ["channels", _]) => "channel",
        (&Method::GET, ["channels", _, "users"]) => "channel_users",
        (&Method::GET, ["connections"]) => "connections",
        (&Method::POST, ["users", _, "terminate_connections"]) => "terminate_connections",
        (&Method::GET, ["webhooks", "dead_letters"]) => "dead_letters",
        (&Method::DELETE, ["webhooks", "dead_letters"]) => "clear_dead_letters",
        _ => "unknown",
    }
}

/// Verifies and routes one request; `seen` is set to the request's app as
/// soon as it is known.
async fn dispatch(
    node: &Node,
    req: Request<Incoming>,
    path: &str,
    seen: &mut Option<Arc<App>>,
) -> Result<HttpResponse, ApiError> {
    let method = req.method().clone();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let (app, rest) = match path.strip_prefix("/apps/") {
        Some(after) => {
            let (app_id, rest) = after.split_once('/').unwrap_or((after, ""));
            let app = node.apps.by_id(app_id).ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("No matching application for ID [{app_id}]."),
                )
            })?;
            (app, rest)
        }
        // The Python SDK calls `POST /users/{id}/terminate_connections`
        // without `/apps/{id}`: the app is the one whose key signed it.
        None => (app_by_auth_key(node, &query)?, path.trim_start_matches('/')),
    };
    *seen = Some(app.clone());
    let body = read_body(req, node).await?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let window = Some(node.server.auth_timestamp_window).filter(|w| *w > 0);
    let signed = SignedRequest {
        method: method.as_str(),
        path,
        query: &query,
        body: &body,
    };
    let config = app.config();
    http_signature::verify(&config.key, &config.secret, signed, now, window)?;
    // Counted after the signature: only the app's own publisher can spend
    // its budget, never someone who merely knows the app id.
    let per_second = config.http_api_requests_per_second;
    drop(config);
    if let Err(wait) = app
        .http_rate
        .admit(tokio::time::Instant::now(), per_second, per_second)
    {
        app.metrics.limited(Limit::HttpApi);
        return Ok(too_many_requests(per_second, wait));
    }
    let rest = format!("/{rest}");
    let call = Call {
        node,
        app: &app,
        rest: &rest,
        method,
        params: http_signature::query_params(&query),
        body,
    };
    route(&call).await
}

/// The app named by a request's `auth_key` parameter.
fn app_by_auth_key(node: &Node, query: &str) -> Result<Arc<App>, ApiError> {
    let params = http_signature::query_params(query);
    let key = params
        .iter()
        .find(|(k, _)| k == "auth_key")
        .map(|(_, v)| v.as_str())
        .ok_or(SignatureError::Missing("auth_key"))?;
    node.apps.by_key(key).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No matching application for key [{key}]."),
        )
    })
}

async fn route(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let rest = call.rest;
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match (&call.method, segments.as_slice()) {
        (&Method::POST, ["events"]) => events::trigger(call).await,
        (&Method::POST, ["batch_events"]) => events::trigger_batch(call).await,
        (&Method::GET, ["channels"]) => queries::channels(call).await,
        (&Method::GET, ["channels", channel]) => queries::channel(call, &decode(channel)).await,
        (&Method::GET, ["channels", channel, "users"]) => {
            queries::users(call, &decode(channel)).await
        }
        (&Method::GET, ["connections"]) => queries::connections(call).await,
        (&Method::POST, ["users", user_id, "terminate_connections"]) => {
            queries::terminate(call, &decode(user_id)).await
        }
        (&Method::GET, ["webhooks", "dead_letters"]) => dead_letters(call).await,
        (&Method::DELETE, ["webhooks", "dead_letters"]) => clear_dead_letters(call).await,
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No such endpoint: {} {rest}", call.method),
        )),
    }
}

/// `GET /apps/{id}/webhooks/dead_letters`: the batches no retry
/// delivered, newest first.
async fn dead_letters(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let letters = call
        .node
        .webhooks
        .dead_letters(&call.app.id)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
    let letters: Vec<&serde_json::value::RawValue> = letters
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let body = serde_json::json!({ "dead_letters": letters });
    Ok(json(StatusCode::OK, body.to_string()))
}

/// `DELETE /apps/{id}/webhooks/dead_letters`: forgets them.
async fn clear_dead_letters(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let cleared = call
        .node
        .webhooks
        .clear_dead_letters(&call.app.id)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "cleared": cleared }).to_string(),
    ))
}

pub(crate) fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// The request body, at most `server.max_request_size` bytes (413 above
/// it), complete within `server.handshake_timeout` (408 after it: a body
/// trickled a byte at a time must not hold the connection).
pub(crate) async fn read_body(req: Request<Incoming>, node: &Node) -> Result<Bytes, ApiError> {
    let within = Duration::from_secs(node.server.handshake_timeout);
    let read = tokio::time::timeout(within, read_body_limited(req, node.server.max_request_size));
    match read.await {
        Ok(body) => body,
        Err(_) => {
            if let Some(metrics) = &node.metrics {
                metrics.handshake_timeout(HandshakeStage::Body);
            }
            Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "Request timeout: the body did not arrive in time.",
            ))
        }
    }
}

async fn read_body_limited(req: Request<Incoming>, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Payload too large: the request body exceeds {limit} bytes (max_request_size)."
            ),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Could not read the request body.",
        )),
    }
}
