//! The composition root: binds the listener, serves HTTP/1.1 on every
//! connection, routes (`/app/{key}` upgrades to a WebSocket,
//! `/app/{key}/events` is a Server-Sent Events stream, `/apps/…` is the
//! HTTP API, `/app/{key}/auth`, `/app/{key}/user-auth` and
//! `/broadcasting/…` the built-in channel-authorisation endpoint, `/up` the
//! health check, `/ready` the readiness check, `/metrics` and
//! `/dashboard…` the operator's), spawns tracked tasks and drains them on
//! shutdown (`drain.rs`). Every accepted connection takes a place in the
//! socket budget first (`limits/sockets.rs`): past `max_sockets` it is
//! answered 503 and closed. With `server.runtime = "per_core"` the same
//! accept loop runs on one single-threaded runtime per core, each on its
//! own `SO_REUSEPORT` listener (`server/per_core.rs`). Nothing depends on
//! this module.

mod per_core;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_rustls::server::TlsStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::adapter::local::LocalAdapter;
use crate::adapter::redis::RedisAdapter;
use crate::adapter::Adapter;
use crate::apps::AppRegistry;
use crate::auth_endpoint;
use crate::config::{Config, RuntimeMode};
use crate::connection::{self, Admission, ReadHalf};
use crate::dashboard::{self, Access};
use crate::drain;
use crate::limits::sockets::{self, SocketPermit};
use crate::metrics::{HandshakeStage, Metrics};
use crate::node::Node;
use crate::tls::{Tls, TlsError, TlsReadHalf, TlsSocket};
use crate::webhooks::Webhooks;
use crate::{exporter, handshake, http_api, sse};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address could not be bound (in use, not permitted, …).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Pending connections the kernel may queue before `accept` (std and mio
/// use 128, which drops SYNs when thousands of clients reconnect at once,
/// e.g. after another replica restarts).
const LISTEN_BACKLOG: u32 = 4096;

/// How long a client may take to finish its TLS handshake before its
/// connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long webhook deliveries in flight may still take once every socket
/// has closed; what is undelivered then waits in the outbox.
const WEBHOOK_FLUSH: Duration = Duration::from_secs(3);

/// Binds the configured address with a deep accept backlog.
///
/// # Errors
/// [`ServerError::Bind`] with the address and the OS reason.
pub async fn bind(config: &Config) -> Result<TcpListener, ServerError> {
    bind_to(&config.server.host, config.server.port).await
}

/// The sockets the server accepts on: one listener in the default mode;
/// with `runtime = "per_core"`, one per runtime, sharing the port.
#[derive(Debug)]
pub struct Listeners {
    main: TcpListener,
    others: Vec<std::net::TcpListener>,
}

impl Listeners {
    /// The address every listener is bound to.
    ///
    /// # Errors
    /// The OS error, if the socket has none.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.main.local_addr()
    }

    /// How many runtimes accept: 1 + one per extra listener.
    pub fn runtimes(&self) -> usize {
        1 + self.others.len()
    }
}

/// The number of runtimes `config` asks for in per-core mode:
/// `worker_threads`, else one per core.
pub fn per_core_runtimes(config: &Config) -> usize {
    config.server.worker_threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    })
}

/// Binds what `config.server.runtime` needs: [`bind`]'s one listener, or
/// one `SO_REUSEPORT` listener per runtime (refused, like one listener,
/// while anything else listens on the address).
///
/// # Errors
/// [`ServerError::Bind`] with the address and the OS reason.
pub async fn bind_listeners(config: &Config) -> Result<Listeners, ServerError> {
    if config.server.runtime == RuntimeMode::Shared {
        let main = bind(config).await?;
        return Ok(Listeners {
            main,
            others: Vec::new(),
        });
    }
    let addr = format!("{}:{}", config.server.host, config.server.port);
    let resolved = tokio::net::lookup_host(&addr)
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| ServerError::Bind {
            addr: addr.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
        })?;
    let (main, others) = per_core::bind_group(resolved, per_core_runtimes(config))?;
    Ok(Listeners { main, others })
}

/// [`run`] on every listener: the first on the caller's runtime (which
/// also drains), each other one on a single-threaded runtime of its own
/// thread, stopped once `run` returns.
pub async fn serve(listeners: Listeners, node: Arc<Node>, shutdown: impl Future<Output = ()>) {
    let workers = per_core::Workers::start(listeners.others, &node);
    run(listeners.main, node, shutdown).await;
    workers.stop().await;
}

/// Binds `metrics.port` on the server's host when metrics are on and it
/// is set: `GET /metrics` is then served there (with [`serve_metrics`])
/// and not on the main listener.
///
/// # Errors
/// [`ServerError::Bind`] with the address and the OS reason.
pub async fn bind_metrics(config: &Config) -> Result<Option<TcpListener>, ServerError> {
    match config.metrics.port.filter(|_| config.metrics.enabled) {
        Some(port) => bind_to(&config.server.host, port).await.map(Some),
        None => Ok(None),
    }
}

/// Serves `GET /metrics`, and nothing else, on `listener` until the node
/// shuts down.
pub async fn serve_metrics(listener: TcpListener, node: Arc<Node>) {
    exporter::serve(listener, node).await;
}

async fn bind_to(host: &str, port: u16) -> Result<TcpListener, ServerError> {
    let addr = format!("{host}:{port}");
    let fail = |source| ServerError::Bind {
        addr: addr.clone(),
        source,
    };
    let resolved = tokio::net::lookup_host(&addr)
        .await
        .map_err(fail)?
        .next()
        .ok_or_else(|| {
            fail(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no address",
            ))
        })?;
    let socket = if resolved.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(fail)?;
    socket.set_reuseaddr(true).map_err(fail)?;
    socket.bind(resolved).map_err(fail)?;
    socket.listen(LISTEN_BACKLOG).map_err(fail)
}

/// Builds the shared node state for `config`: the local adapter, or the
/// Redis adapter when `scaling.enabled`. Must run inside a tokio runtime.
///
/// # Errors
/// A message when the scaling configuration or the TLS certificate cannot
/// be used.
pub fn build_node(config: &Config) -> Result<Arc<Node>, String> {
    // First: a certificate that does not load stops the start before any
    // link or task is started.
    let tls = tls_for(config).map_err(|e| format!("server.tls: {e}"))?;
    let metrics = metrics_for(config);
    let apps = Arc::new(AppRegistry::with_metrics(&config.apps, metrics.clone()));
    let adapter: Arc<dyn Adapter> = if config.scaling.enabled {
        let redis = metrics.as_ref().map(|m| m.redis()).unwrap_or_default();
        Arc::new(RedisAdapter::start(&config.scaling, apps.clone(), redis)?)
    } else {
        Arc::new(LocalAdapter)
    };
    let webhooks = Webhooks::start(config, apps.clone())?;
    Ok(Arc::new(
        assemble(config, apps, adapter, webhooks, metrics).with_tls(tls),
    ))
}

/// Builds a single-node state (local adapter) for `config`, ignoring
/// `scaling`. Must run inside a tokio runtime.
///
/// # Panics
/// When `[server.tls]` names files that hold no usable certificate and
/// key ([`build_node`] returns that as an error instead).
pub fn local_node(config: &Config) -> Arc<Node> {
    let metrics = metrics_for(config);
    let apps = Arc::new(AppRegistry::with_metrics(&config.apps, metrics.clone()));
    let mut single = config.clone();
    single.scaling.enabled = false;
    let webhooks = Webhooks::start(&single, apps.clone())
        .unwrap_or_else(|e| unreachable!("without scaling only the HTTP client can fail: {e}"));
    let tls = tls_for(config).unwrap_or_else(|e| panic!("server.tls: {e}"));
    Arc::new(assemble(config, apps, Arc::new(LocalAdapter), webhooks, metrics).with_tls(tls))
}

/// The listener's TLS when `[server.tls]` is set.
fn tls_for(config: &Config) -> Result<Option<Arc<Tls>>, TlsError> {
    config
        .server
        .tls
        .as_ref()
        .map(|tls| Tls::new(tls).map(Arc::new))
        .transpose()
}

/// A metrics registry when metrics or the dashboard (which charts the same
/// counters) are on.
fn metrics_for(config: &Config) -> Option<Arc<Metrics>> {
    (config.metrics.enabled || config.dashboard.enabled).then(|| Arc::new(Metrics::new()))
}

fn assemble(
    config: &Config,
    apps: Arc<AppRegistry>,
    adapter: Arc<dyn Adapter>,
    webhooks: Webhooks,
    metrics: Option<Arc<Metrics>>,
) -> Node {
    let capacity = config.server.max_connections.unwrap_or(usize::MAX);
    let route = config.metrics.enabled && config.metrics.port.is_none();
    Node::new(config.server.clone(), apps, adapter, webhooks, capacity).observed(
        metrics,
        route,
        Access::from_config(&config.dashboard),
    )
}

/// Serves `listener` until `shutdown` resolves, then drains (see
/// `drain.rs`): keeps serving, not ready, for `drain_pause`; stops
/// accepting; closes every socket with 4200 at its own moment within the
/// spread while in-flight HTTP requests finish; returns when every task is
/// done or the grace period is over. [`Node::close_now`] cuts it short.
pub async fn run(listener: TcpListener, node: Arc<Node>, shutdown: impl Future<Output = ()>) {
    accept_until(&listener, &node, shutdown).await;
    node.shutdown.draining.cancel();
    tracing::info!(
        pause = ?drain::pause(&node.server),
        connections = node.open_connections(),
        "draining: /ready answers 503; still serving until the pause ends"
    );
    accept_until(&listener, &node, drain::wait_pause(&node)).await;
    drop(listener);
    if node.shutdown.now.is_cancelled() {
        tracing::info!(
            connections = node.open_connections(),
            "closing every socket with 4200 now"
        );
    } else {
        tracing::info!(
            connections = node.open_connections(),
            spread = ?drain::spread(&node.server),
            "closing every socket with 4200, each at its own moment within the spread"
        );
    }
    node.shutdown.token.cancel();
    node.shutdown.tracker.close();
    let grace = Duration::from_secs(node.server.shutdown_grace_period);
    let drained = tokio::time::timeout(grace, async {
        node.shutdown.tracker.wait().await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            ?grace,
            "grace period over; exiting with tasks still running"
        );
    }
    // Every socket has left its channels: deliver (or keep) the webhooks
    // that caused, tell the cluster, then stop.
    node.webhooks.shutdown(WEBHOOK_FLUSH).await;
    node.adapter.shutdown().await;
    tracing::info!("shutdown complete");
}

/// Accepts connections until `until` resolves.
async fn accept_until(listener: &TcpListener, node: &Arc<Node>, until: impl Future<Output = ()>) {
    tokio::pin!(until);
    loop {
        tokio::select! {
            _ = &mut until => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // At `max_sockets` the connection is answered 503 and
                    // closed: accepted sockets keep the descriptors left.
                    let Some(permit) = node.sockets.admit() else {
                        tracing::debug!(%peer, open = node.sockets.open(), "at max_sockets: 503");
                        sockets::refuse(&node.sockets, stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    serve_connection(node, stream, peer, permit);
                }
                Err(e) => {
                    // Out of file descriptors (the reserve was spent by
                    // something else) or a transient error: back off
                    // instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Serves one accepted connection on a tracked task: HTTP/1.1 on the TCP
/// stream, or on the TLS stream once its handshake is done.
fn serve_connection(node: &Arc<Node>, stream: TcpStream, peer: SocketAddr, permit: SocketPermit) {
    let Some(tls) = node.tls.clone() else {
        node.shutdown
            .tracker
            .spawn(serve_http(node.clone(), stream, peer, permit));
        return;
    };
    let node = node.clone();
    let tracker = node.shutdown.tracker.clone();
    tracker.spawn(async move {
        let handshake = timeout(TLS_HANDSHAKE_TIMEOUT, tls.acceptor().accept(stream));
        let stream = tokio::select! {
            done = handshake => match done {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            },
            _ = node.shutdown.token.cancelled() => return,
        };
        serve_http(node, stream, peer, permit).await;
    });
}

/// HTTP/1.1 with upgrades on `io` until the client leaves or, on shutdown,
/// its request in flight is answered.
async fn serve_http<I>(node: Arc<Node>, io: I, peer: SocketAddr, permit: SocketPermit)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service_node = node.clone();
    // The connection's place in the socket budget lives as long as the
    // service (the HTTP connection) and, through the request, any
    // WebSocket task an upgrade hands the socket to.
    let permit = Arc::new(permit);
    // Whether a request head has arrived: a header timeout before the
    // first one is a slow handshake; after it, an idle keep-alive.
    let first = handshake::FirstRequest::default();
    let seen = first.clone();
    let service = service_fn(move |mut req: Request<Incoming>| {
        seen.arrived();
        req.extensions_mut().insert(permit.clone());
        route(service_node.clone(), req)
    });
    // The header timeout runs from the moment the connection is accepted
    // (hyper starts it when it first waits for a request head) and again
    // while a keep-alive connection waits for its next request.
    let conn = http1::Builder::new()
        .max_buf_size(node.server.max_request_size.max(8192))
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(node.server.handshake_timeout))
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let counting = node.clone();
    let token = node.shutdown.token.clone();
    {
        let mut conn = std::pin::pin!(conn);
        let result = tokio::select! {
            result = conn.as_mut() => result,
            _ = token.cancelled() => {
                // Finish the request in flight, then close.
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = result {
            if e.is_timeout() && !first.has_arrived() {
                if let Some(metrics) = &counting.metrics {
                    metrics.handshake_timeout(HandshakeStage::Headers);
                }
            }
            tracing::debug!(%peer, error = %e, "http connection ended with an error");
        }
    }
}

type HttpResponse = Response<Full<Bytes>>;

async fn route(node: Arc<Node>, req: Request<Incoming>) -> Result<Response<sse::Body>, Infallible> {
    let prefix = node.server.path.as_str();
    if let Some(path) = req.uri().path().strip_prefix(prefix) {
        if path == "/metrics" && node.metrics_route {
            let res = exporter::response(&node, req.method());
            return Ok(res.map(BodyExt::boxed_unsync));
        }
        if let Some(access) = node
            .dashboard
            .as_ref()
            .filter(|_| dashboard::is_route(path))
        {
            let path = path.to_owned();
            return Ok(dashboard::handle(&node, access, req, &path).await);
        }
    }
    let stream_key = req
        .uri()
        .path()
        .strip_prefix(prefix)
        .and_then(|p| p.strip_prefix("/app/"))
        .and_then(|p| p.strip_suffix("/events"))
        .filter(|key| !key.is_empty() && !key.contains('/'))
        .map(str::to_owned);
    let mut res = match stream_key {
        Some(key) if req.method() == Method::GET => sse::handle(&node, &req, &key).await,
        Some(_) => {
            text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.").map(BodyExt::boxed_unsync)
        }
        None => route_plain(node.clone(), req)
            .await
            .map(BodyExt::boxed_unsync),
    };
    // While draining, clients (and proxies' keep-alive pools) are asked
    // not to send this node further requests on the same connection.
    if node.shutdown.is_draining() && res.status() != StatusCode::SWITCHING_PROTOCOLS {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(res)
}

async fn route_plain(node: Arc<Node>, req: Request<Incoming>) -> HttpResponse {
    let prefix = node.server.path.as_str();
    let Some(path) = req.uri().path().strip_prefix(prefix).map(str::to_owned) else {
        return text(StatusCode::NOT_FOUND, "Not found.");
    };
    if let Some((target, kind)) = auth_endpoint::route(&path) {
        return auth_endpoint::handle(&node, req, target, kind).await;
    }
    if let Some(key) = path.strip_prefix("/app/") {
        let key = key.to_owned();
        return upgrade(&node, req, &key);
    }
    if path == "/up" {
        return match *req.method() {
            Method::GET | Method::HEAD => {
                http_api::json(StatusCode::OK, r#"{"health":"OK"}"#.to_owned())
            }
            _ => text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed."),
        };
    }
    if path == "/ready" {
        return match *req.method() {
            Method::GET | Method::HEAD => ready(&node),
            _ => text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed."),
        };
    }
    if path.starts_with("/apps/") || is_unscoped_terminate(&path) {
        return http_api::handle(&node, req, &path).await;
    }
    text(StatusCode::NOT_FOUND, "Not found.")
}

/// Readiness for load balancers: 200 while the node takes new clients,
/// 503 from the moment it starts draining (`/up` stays 200: it is alive).
fn ready(node: &Node) -> HttpResponse {
    if node.shutdown.is_draining() {
        http_api::json(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"ready":false}"#.to_owned(),
        )
    } else {
        http_api::json(StatusCode::OK, r#"{"ready":true}"#.to_owned())
    }
}

/// `/users/{id}/terminate_connections`, as the Python SDK sends it.
fn is_unscoped_terminate(path: &str) -> bool {
    path.strip_prefix("/users/")
        .and_then(|rest| rest.strip_suffix("/terminate_connections"))
        .is_some_and(|user| !user.is_empty() && !user.contains('/'))
}

/// A plain-text response (routing errors, as Reverb sends them).
pub(crate) fn text(status: StatusCode, body: &'static str) -> HttpResponse {
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

fn header_is(req: &Request<Incoming>, name: header::HeaderName, token: &str) -> bool {
    req.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(token))
}

/// Answers a WebSocket handshake with 101 and hands the upgraded stream to
/// a connection task. Refusals (unknown app, quota, origin, capacity) happen
/// after the upgrade, as `pusher:error` + close code, which clients act on.
fn upgrade(node: &Arc<Node>, mut req: Request<Incoming>, key: &str) -> HttpResponse {
    if req.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.");
    }
    let is_ws = header_is(&req, header::UPGRADE, "websocket")
        && header_is(&req, header::CONNECTION, "upgrade");
    if !is_ws {
        return text(
            StatusCode::BAD_REQUEST,
            "Bad request: expected a WebSocket upgrade.",
        );
    }
    let ws_key = match handshake::check(req.headers()) {
        Ok(key) => key,
        Err(refusal) => return refusal.response(),
    };
    let app = node.apps.by_key(key);
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let max_message = app.as_ref().map_or(10_000, |a| a.config().max_message_size);
    let permit = req.extensions().get::<Arc<SocketPermit>>().cloned();
    let on_upgrade = hyper::upgrade::on(&mut req);
    drop(req);
    let slot = node.claim_slot();
    let tracker = node.shutdown.tracker.clone();
    // Two tasks per socket, one after the other: this one waits for the
    // upgrade and picks the transport, then hands the socket to a task of
    // its own that runs only the connection. The long-lived task's future
    // is then exactly one transport's `connection::run`, not an enum of
    // both transports' plus the handshake state (docs/performance.md,
    // "Memory per connection, regained").
    node.shutdown.tracker.spawn(Box::pin(async move {
        // The socket's place in the budget moves to the connection task and
        // is held until the socket closes.
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade failed");
                return;
            }
        };
        // Take the TCP socket back from hyper: the connection reads frames
        // through tungstenite and publishers write to the socket directly.
        // Copy out what hyper read past the handshake and free its buffer
        // now: it is 8 KiB that would otherwise live as long as the socket.
        let admission = Admission { app, slot, origin };
        let config = Some(ws_config(max_message));
        let upgraded = match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(hyper::upgrade::Parts { io, read_buf, .. }) => {
                let pre_read = read_buf.to_vec();
                drop(read_buf);
                let (read, write) = io.into_inner().into_split();
                let read = ReadHalf::new(read);
                let ws = WebSocketStream::from_partially_read(read, pre_read, Role::Server, config);
                let ws = Box::new(ws.await);
                tracker.spawn(async move {
                    let _permit = permit;
                    connection::run(ws, Arc::new(write), admission).await;
                });
                return;
            }
            Err(upgraded) => upgraded,
        };
        // A TLS socket: the session is shared by both halves (`tls.rs`).
        let Ok(parts) = upgraded.downcast::<TokioIo<TlsStream<TcpStream>>>() else {
            tracing::warn!("upgraded connection is neither TCP nor TLS");
            return;
        };
        let hyper::upgrade::Parts { io, read_buf, .. } = parts;
        let pre_read = read_buf.to_vec();
        drop(read_buf);
        let (tcp, session) = io.into_inner().into_inner();
        let (read, write) = tcp.into_split();
        let socket = Arc::new(TlsSocket::new(session, write));
        let read = TlsReadHalf::new(read, socket.clone());
        let ws = Box::new(
            WebSocketStream::from_partially_read(read, pre_read, Role::Server, config).await,
        );
        tracker.spawn(async move {
            let _permit = permit;
            connection::run(ws, socket, admission).await;
        });
    }));
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(ws_key.as_bytes())) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    h.insert("x-powered-by", HeaderValue::from_static("Clarion"));
    res
}

/// Per-socket WebSocket settings for reading: a small read buffer (it is
/// zero-filled, so all of it is resident per idle socket) and the app's
/// message size limit. tungstenite does not write (see `ReadHalf`).
fn ws_config(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(256)
        .write_buffer_size(0)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}
