//! `GET /metrics`: the node's metrics in the Prometheus text format
//! (0.0.4), on the main listener, or — with `metrics.port` — on a listener
//! of its own that serves nothing else (to keep metrics off a public
//! balancer). 404 while metrics are off.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::metrics;
use crate::node::Node;

/// Answers `GET`/`HEAD /metrics`.
pub(crate) fn response(node: &Node, method: &Method) -> Response<Full<Bytes>> {
    let Some(metrics) = &node.metrics else {
        return text(StatusCode::NOT_FOUND, "Not found.");
    };
    if !matches!(*method, Method::GET | Method::HEAD) {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.");
    }
    let mut res = Response::new(Full::new(Bytes::from(metrics.render())));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A plain-text response (404, 405), as the main listener answers them.
fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// Serves `/metrics` alone on `listener` until the node shuts down.
pub(crate) async fn serve(listener: TcpListener, node: Arc<Node>) {
    let token = node.shutdown.token.clone();
    loop {
        let accepted = tokio::select! {
            _ = token.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "metrics listener: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service_node = node.clone();
        let service = service_fn(move |req: Request<hyper::body::Incoming>| {
            let res = if req.uri().path() == "/metrics" {
                response(&service_node, req.method())
            } else {
                text(StatusCode::NOT_FOUND, "Not found.")
            };
            async move { Ok::<_, Infallible>(res) }
        });
        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let token = token.clone();
        node.shutdown.tracker.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                _ = token.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "metrics connection ended with an error");
            }
        });
    }
}
