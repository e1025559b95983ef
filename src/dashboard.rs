//! The live operator dashboard, off by default (`[dashboard]`): a static
//! page (`GET /dashboard`, its charting library uPlot embedded at build
//! time from `dashboard/vendor/`), a stream of one JSON snapshot per second
//! per app (`GET /dashboard/stream`, Server-Sent Events, see
//! `snapshot.rs`), and an event inspector (`GET /dashboard/inspect`, one
//! channel's events as they are delivered, and `POST /dashboard/trigger`,
//! a test event; see `inspect.rs`).
//!
//! Every route requires the operator's token, as `Authorization: Bearer`
//! or `?token=` (an `EventSource` cannot send headers): 401 without it. The
//! token is compared in constant time (SHA-256 digests compared with
//! `subtle`), kept only as its digest, and never logged (nothing here logs
//! a query string).

mod inspect;
mod snapshot;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use hmac::digest::CtOutput;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};

use crate::auth_endpoint;
use crate::config::DashboardConfig;
use crate::node::Node;
use crate::sse::{self, Body};

/// Who may use the dashboard: the bearer of the configured token.
pub(crate) struct Access {
    /// SHA-256 of the token; the token itself is not kept.
    digest: CtOutput<Sha256>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Access(***)")
    }
}

impl Access {
    /// The dashboard's access check; `None` while it is off (or, for a
    /// configuration built by hand, has no token).
    pub(crate) fn from_config(config: &DashboardConfig) -> Option<Access> {
        let token = config.token.as_deref().filter(|t| !t.trim().is_empty());
        match (config.enabled, token) {
            (true, Some(token)) => Some(Access {
                digest: digest(token),
            }),
            (true, None) => {
                tracing::error!("dashboard off: it has no token");
                None
            }
            (false, _) => None,
        }
    }

    /// Whether `presented` is the token, in constant time.
    fn allows(&self, presented: &str) -> bool {
        digest(presented) == self.digest
    }
}

fn digest(token: &str) -> CtOutput<Sha256> {
    CtOutput::new(Sha256::digest(token.as_bytes()))
}

/// Whether `path` (after the server's prefix) is a dashboard route.
pub(crate) fn is_route(path: &str) -> bool {
    path == "/dashboard" || path.starts_with("/dashboard/")
}

/// Serves a dashboard route; the dashboard is on (`access`).
pub(crate) async fn handle(
    node: &Arc<Node>,
    access: &Access,
    req: Request<Incoming>,
    path: &str,
) -> Response<Body> {
    let token = auth_endpoint::bearer(req.headers())
        .map(str::to_owned)
        .or_else(|| param(&req, "token"));
    if !token.is_some_and(|t| access.allows(&t)) {
        let mut res = error(
            StatusCode::UNAUTHORIZED,
            "a valid dashboard token is required",
        );
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"clarion-dashboard\""),
        );
        return res;
    }
    let route = path.trim_start_matches("/dashboard").trim_end_matches('/');
    match (req.method(), route) {
        (&Method::GET | &Method::HEAD, "") => page(),
        (&Method::GET, "/stream") => snapshot::stream(node),
        (&Method::GET, "/inspect") => {
            let app = param(&req, "app");
            let channel = param(&req, "channel");
            inspect::watch(node, app.as_deref(), channel.as_deref()).await
        }
        (&Method::POST, "/trigger") => inspect::trigger(node, req).await,
        (_, "" | "/stream" | "/inspect" | "/trigger") => {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => error(StatusCode::NOT_FOUND, "no such dashboard route"),
    }
}

/// The first value of query parameter `name`, percent-decoded.
fn param(req: &Request<Incoming>, name: &str) -> Option<String> {
    let query = req.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// A JSON `{"error": …}` response.
fn error(status: StatusCode, message: &str) -> Response<Body> {
    json(status, serde_json::json!({ "error": message }).to_string())
}

/// A JSON response that no cache keeps.
fn json(status: StatusCode, body: String) -> Response<Body> {
    let mut res = Response::new(sse::full(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The page: HTML with uPlot, the stylesheet and the script inlined, so
/// one authorised request loads everything.
fn page() -> Response<Body> {
    static PAGE: OnceLock<Bytes> = OnceLock::new();
    let page = PAGE.get_or_init(|| Bytes::from(assemble_page()));
    let mut res = Response::new(sse::full(page.clone()));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The token is in the page's URL: never send it on as a referrer.
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// The page's parts, embedded at build time.
const PAGE_HTML: &str = include_str!("../dashboard/page/index.html");
const PAGE_JS: &str = include_str!("../dashboard/page/dashboard.js");
const PAGE_CSS: &str = include_str!("../dashboard/page/dashboard.css");
const UPLOT_JS: &str = include_str!("../dashboard/vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../dashboard/vendor/uPlot.min.css");

fn assemble_page() -> String {
    PAGE_HTML
        .replacen("/*uplot.css*/", UPLOT_CSS, 1)
        .replacen("/*dashboard.css*/", PAGE_CSS, 1)
        .replacen("/*uplot.js*/", UPLOT_JS, 1)
        .replacen("/*dashboard.js*/", PAGE_JS, 1)
}

#[cfg(test)]
mod tests;
