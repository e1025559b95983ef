//! The built-in channel-authorisation endpoint, per app and off by default:
//! for apps without a Laravel backend that still need private and presence
//! channels. A client sends what pusher-js, Laravel Echo and the mobile SDKs
//! send to a backend (`socket_id` and `channel_name`, form-encoded or JSON)
//! with `Authorization: Bearer <JWT>`; the token (see `auth::jwt`) names the
//! user and the channels it may join, and the answer is the `auth` (and
//! presence `channel_data`, sign-in `user_data`) a backend would sign.
//!
//! Routes, under the server's path prefix: `POST /app/{key}/auth` and
//! `POST /app/{key}/user-auth`, and `/broadcasting/auth` and
//! `/broadcasting/user-auth` as aliases when exactly one app has the
//! endpoint on; `OPTIONS` answers CORS preflights. A request whose `Origin`
//! the app's `allowed_origins` does not allow is refused (403) before its
//! token is read; one without an `Origin` is served. Every failure is JSON
//! `{"error": "..."}`; [`EndpointError::status`] is the one table of status
//! codes. Refusals are logged at debug level, never with the token.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use crate::apps::App;
use crate::auth::jwt::{Claims, TokenError, Verifier};
use crate::auth::{channel_auth_token, sign};
use crate::http_api::{self, ApiError};
use crate::node::Node;
use crate::protocol::{ChannelKind, ChannelName, ChannelNameError, SocketId};

type HttpResponse = Response<Full<Bytes>>;

/// Which signature a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A private or presence channel subscription (`/auth`).
    Channel,
    /// A user sign-in (`/user-auth`).
    User,
}

/// Which app a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    /// `/app/{key}/…`.
    Key(&'a str),
    /// `/broadcasting/…`: the one app with the endpoint on.
    Only,
}

/// The endpoint a path (already stripped of the server's prefix) names.
pub(crate) fn route(path: &str) -> Option<(Target<'_>, Kind)> {
    let kind = |last: &str| match last {
        "auth" => Some(Kind::Channel),
        "user-auth" => Some(Kind::User),
        _ => None,
    };
    if let Some(last) = path.strip_prefix("/broadcasting/") {
        return kind(last).map(|k| (Target::Only, k));
    }
    let (key, last) = path.strip_prefix("/app/")?.split_once('/')?;
    if key.is_empty() {
        return None;
    }
    kind(last).map(|k| (Target::Key(key), k))
}

/// Why a request was refused; [`EndpointError::status`] maps each to its
/// HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EndpointError {
    /// No app has this key.
    #[error("No matching application for key [{0}].")]
    UnknownApp(String),
    /// `/broadcasting/…` with no app, or several, that have the endpoint on.
    #[error("/broadcasting/ routes need exactly one app with the auth endpoint on; {0} have it")]
    NoSingleApp(usize),
    /// The app has no `[apps.auth]`.
    #[error("The channel authorisation endpoint is not enabled for this app.")]
    Disabled,
    /// The request's `Origin` is not one of the app's `allowed_origins`.
    #[error("Origin not allowed.")]
    OriginNotAllowed,
    /// Neither POST nor OPTIONS.
    #[error("Method not allowed: use POST.")]
    Method,
    /// No `Authorization: Bearer …` header.
    #[error("Missing bearer token: send Authorization: Bearer <JWT>.")]
    MissingToken,
    /// The token was refused.
    #[error("Invalid token: {0}.")]
    Token(#[from] TokenError),
    /// The body could not be read (too large, broken).
    #[error("{}", .0.message)]
    Body(ApiError),
    /// A JSON body that is not an object of strings.
    #[error("The request body is not a JSON object.")]
    BadJson,
    /// No `socket_id`.
    #[error("Missing socket_id.")]
    MissingSocketId,
    /// `socket_id` is not `<digits>.<digits>`.
    #[error("Invalid socket_id.")]
    BadSocketId,
    /// No `channel_name`.
    #[error("Missing channel_name.")]
    MissingChannel,
    /// An invalid channel name.
    #[error("Invalid channel_name: {0}.")]
    BadChannel(#[from] ChannelNameError),
    /// A channel this endpoint does not sign (public, encrypted, `#…`).
    #[error("Channel {0} needs no authorisation from this endpoint (only private- and presence- channels).")]
    NotSignable(String),
    /// The token's `channels` do not match the channel.
    #[error("The token does not grant channel {0}.")]
    NotGranted(String),
}

impl EndpointError {
    /// The HTTP status of this refusal.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            EndpointError::UnknownApp(_)
            | EndpointError::NoSingleApp(_)
            | EndpointError::Disabled => StatusCode::NOT_FOUND,
            EndpointError::Method => StatusCode::METHOD_NOT_ALLOWED,
            EndpointError::MissingToken | EndpointError::Token(_) => StatusCode::UNAUTHORIZED,
            EndpointError::Body(e) => e.status,
            EndpointError::BadJson
            | EndpointError::MissingSocketId
            | EndpointError::BadSocketId
            | EndpointError::MissingChannel
            | EndpointError::BadChannel(_)
            | EndpointError::NotSignable(_) => StatusCode::BAD_REQUEST,
            EndpointError::NotGranted(_) | EndpointError::OriginNotAllowed => StatusCode::FORBIDDEN,
        }
    }
}

/// Serves one request for the endpoint `route` found.
pub(crate) async fn handle(
    node: &Node,
    req: Request<Incoming>,
    target: Target<'_>,
    kind: Kind,
) -> HttpResponse {
    let app = match find_app(node, target) {
        Ok(app) => app,
        Err(e) => return refuse(&e, kind),
    };
    let cors = cors_headers(&app, req.headers());
    let result = match (req.method(), app.auth_endpoint()) {
        (_, None) => Err(EndpointError::Disabled),
        _ if !origin_allowed(&app, req.headers()) => Err(EndpointError::OriginNotAllowed),
        (&Method::OPTIONS, Some(_)) => Ok(preflight()),
        (&Method::POST, Some(verifier)) => answer(node, &app, &verifier, req, kind).await,
        _ => Err(EndpointError::Method),
    };
    let mut res = result.unwrap_or_else(|e| refuse(&e, kind));
    let headers = res.headers_mut();
    headers.extend(cors);
    // A signature is for one socket: no cache may keep it.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn find_app(node: &Node, target: Target<'_>) -> Result<Arc<App>, EndpointError> {
    match target {
        Target::Key(key) => node
            .apps
            .by_key(key)
            .ok_or_else(|| EndpointError::UnknownApp(key.to_owned())),
        Target::Only => {
            let mut on = node.apps.iter().filter(|app| app.auth_endpoint().is_some());
            match (on.next(), on.count()) {
                (Some(app), 0) => Ok(app),
                (first, rest) => Err(EndpointError::NoSingleApp(
                    usize::from(first.is_some()) + rest,
                )),
            }
        }
    }
}

fn refuse(e: &EndpointError, kind: Kind) -> HttpResponse {
    tracing::debug!(status = %e.status(), reason = %e, ?kind, "channel authorisation refused");
    let mut res = http_api::json(
        e.status(),
        serde_json::json!({ "error": e.to_string() }).to_string(),
    );
    if *e == EndpointError::Method {
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    }
    res
}

/// The CORS headers for `app` and the request's `Origin`: `*` when the app
/// allows every origin, else the request's origin when allowed (with
/// `Vary: Origin`), else none, so a browser withholds the answer.
pub(crate) fn cors_headers(app: &App, request: &HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if app.config().allowed_origins.iter().any(|o| o == "*") {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        return headers;
    }
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    let origin = request.get(header::ORIGIN);
    if let Some(origin) = origin.filter(|o| app.origin_allowed(o.to_str().ok())) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    headers
}

/// Whether the request may be served for its `Origin`: one the app allows,
/// or none at all (mobile apps and servers send none; the token is their
/// credential). A page of another site is refused before its token is read.
fn origin_allowed(app: &App, request: &HeaderMap) -> bool {
    request
        .get(header::ORIGIN)
        .is_none_or(|origin| app.origin_allowed(origin.to_str().ok()))
}

/// 204 with what a browser needs before it sends `Authorization`.
fn preflight() -> HttpResponse {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::NO_CONTENT;
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    // Listed by name: a `*` does not cover Authorization.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type, X-Requested-With, X-Socket-ID"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    res
}

async fn answer(
    node: &Node,
    app: &App,
    verifier: &Verifier,
    req: Request<Incoming>,
    kind: Kind,
) -> Result<HttpResponse, EndpointError> {
    let token = bearer(req.headers()).ok_or(EndpointError::MissingToken)?;
    let claims = verifier.verify(token)?;
    let declared_json = is_json(req.headers());
    let body = http_api::read_body(req, node)
        .await
        .map_err(EndpointError::Body)?;
    // A JSON object sent without its content type is still JSON: no form
    // body starts with `{`.
    let json_body = declared_json || body.trim_ascii_start().starts_with(b"{");
    let fields = Fields::parse(&body, json_body)?;
    let config = app.config();
    let (key, secret) = (&config.key, &config.secret);
    let answer = match kind {
        Kind::Channel => channel_answer(key, secret, &fields, &claims)?,
        Kind::User => user_answer(key, secret, &fields, &claims)?,
    };
    Ok(http_api::json(StatusCode::OK, answer))
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"))
}

/// The request's `socket_id` and `channel_name`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Fields {
    socket_id: Option<String>,
    channel_name: Option<String>,
}

impl Fields {
    /// Reads a JSON object or a form-encoded body (pusher-js's default).
    pub(crate) fn parse(body: &[u8], json: bool) -> Result<Fields, EndpointError> {
        let mut fields = Fields::default();
        if json {
            let value: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(body).map_err(|_| EndpointError::BadJson)?;
            let text = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
            fields.socket_id = text("socket_id");
            fields.channel_name = text("channel_name");
            return Ok(fields);
        }
        for (name, value) in url::form_urlencoded::parse(body) {
            match name.as_ref() {
                "socket_id" => fields.socket_id = Some(value.into_owned()),
                "channel_name" => fields.channel_name = Some(value.into_owned()),
                _ => {}
            }
        }
        Ok(fields)
    }

    fn socket_id(&self) -> Result<&str, EndpointError> {
        let id = self
            .socket_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .ok_or(EndpointError::MissingSocketId)?;
        SocketId::parse(id).ok_or(EndpointError::BadSocketId)?;
        Ok(id)
    }

    fn channel(&self) -> Result<ChannelName, EndpointError> {
        let name = self
            .channel_name
            .as_deref()
            .filter(|name| !name.is_empty())
            .ok_or(EndpointError::MissingChannel)?;
        Ok(ChannelName::parse(name)?)
    }
}

/// The JSON answer for a channel: `{"auth"}` for a private channel, with
/// `channel_data` for a presence channel.
pub(crate) fn channel_answer(
    key: &str,
    secret: &str,
    fields: &Fields,
    claims: &Claims,
) -> Result<String, EndpointError> {
    let socket_id = fields.socket_id()?;
    let channel = fields.channel()?;
    let name = channel.as_str();
    let presence = match channel.kind() {
        ChannelKind::Private => false,
        ChannelKind::Presence => true,
        ChannelKind::Public
        | ChannelKind::PrivateEncrypted
        | ChannelKind::ServerToUser
        | ChannelKind::Reserved => return Err(EndpointError::NotSignable(name.to_owned())),
    };
    if !claims.grants(name) {
        return Err(EndpointError::NotGranted(name.to_owned()));
    }
    if !presence {
        let auth = channel_auth_token(key, secret, socket_id, name, None);
        return Ok(serde_json::json!({ "auth": auth }).to_string());
    }
    let channel_data = claims.channel_data();
    let auth = channel_auth_token(key, secret, socket_id, name, Some(&channel_data));
    Ok(serde_json::json!({ "auth": auth, "channel_data": channel_data }).to_string())
}

/// The JSON answer for a sign-in: `{"auth","user_data"}`, signed over
/// `socket_id::user::user_data`.
pub(crate) fn user_answer(
    key: &str,
    secret: &str,
    fields: &Fields,
    claims: &Claims,
) -> Result<String, EndpointError> {
    let socket_id = fields.socket_id()?;
    let mut user = serde_json::Map::new();
    user.insert("id".to_owned(), claims.sub.clone().into());
    if let Some(info) = &claims.user_info {
        user.insert("user_info".to_owned(), info.clone().into());
    }
    if let Some(watchlist) = &claims.watchlist {
        user.insert("watchlist".to_owned(), watchlist.clone().into());
    }
    let user_data = serde_json::Value::Object(user).to_string();
    let signature = sign(secret, &format!("{socket_id}::user::{user_data}"));
    let auth = format!("{key}:{signature}");
    Ok(serde_json::json!({ "auth": auth, "user_data": user_data }).to_string())
}

#[cfg(test)]
mod tests;
