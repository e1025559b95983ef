//! Test harness: an in-process Clarion on `127.0.0.1:0`, WebSocket clients
//! ([`client`]) that wait for specific frames with a timeout, and a signed
//! HTTP API client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use clarion::auth::http_signature::signed_query;
use clarion::config::{AppConfig, Config};

mod client;
pub(crate) mod process;
pub(crate) mod raw_ws;
pub(crate) mod receiver;
mod sse_client;
pub(crate) mod tls;
#[allow(unused_imports)] // each test binary uses a different subset
pub(crate) use client::{Client, Received};
#[allow(unused_imports)]
pub(crate) use sse_client::SseClient;

/// How long any wait in a test may take before it fails.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// Calls `probe` until it returns `Some`, for at most `within`; fails the
/// test otherwise. For state that is reached by background work (not for
/// events a client can wait for).
pub(crate) async fn eventually<T, F, Fut>(within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Connects to the default app of the server at `addr` and waits for
/// `pusher:connection_established` (for servers the test did not start as
/// a [`TestServer`], e.g. cluster nodes in other processes).
pub(crate) async fn connect_at(addr: SocketAddr) -> Client {
    let url = format!("ws://{addr}/app/app-key?protocol=7");
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect in time")
        .expect("connect");
    let mut client = Client {
        ws,
        socket_id: String::new(),
    };
    let hello = client.expect_event("pusher:connection_established").await;
    let data: Value = serde_json::from_str(hello["data"].as_str().expect("string")).expect("json");
    client.socket_id = data["socket_id"].as_str().expect("socket_id").to_owned();
    client
}

/// Waits until two cluster nodes are linked through Redis: a `probe`
/// event published on `from` reaches `to` (subscribed to `channel`).
pub(crate) async fn linked(from: SocketAddr, to: &mut Client, channel: &str) {
    let body = serde_json::json!({"name": "probe", "channel": channel, "data": "{}"}).to_string();
    for _ in 0..40 {
        let (status, _) = signed_api(
            from,
            "app-key",
            "app-secret",
            "POST",
            "/apps/1000/events",
            &[],
            &body,
        )
        .await;
        if status == 200
            && to
                .try_event("probe", Duration::from_millis(500))
                .await
                .is_some()
        {
            return;
        }
    }
    panic!("the nodes never linked through Redis");
}

/// `CLARION_RUNTIME` from the test's environment, as the server reads it.
pub(crate) fn runtime_from_env() -> Option<clarion::config::RuntimeMode> {
    let raw = std::env::var("CLARION_RUNTIME").ok()?;
    Some(raw.parse().expect("CLARION_RUNTIME: shared or per_core"))
}

/// A running server.
pub(crate) struct TestServer {
    pub addr: SocketAddr,
    pub config: Config,
    /// The server's shared state, for tests that observe it directly.
    pub node: std::sync::Arc<clarion::node::Node>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

/// The default test app: id `1000`, key `app-key`, secret `app-secret`.
pub(crate) fn app() -> AppConfig {
    AppConfig::development()
}

/// A config with one app and the server on `127.0.0.1:0`. Shutdown
/// closes every socket at once (no drain pause, no spread), so a test's
/// shutdown takes no seconds; drain tests set their own values.
pub(crate) fn config_with(app: AppConfig) -> Config {
    let mut config = Config::default();
    config.server.host = "127.0.0.1".to_owned();
    config.server.port = 0;
    config.server.drain_pause = 0;
    config.server.drain_spread = Some(0);
    config.apps = vec![app];
    config
}

impl TestServer {
    /// Starts a server with the default app.
    pub(crate) async fn start() -> TestServer {
        TestServer::with_config(config_with(app())).await
    }

    /// Starts a server with `config` (its host/port are forced to loopback:0).
    pub(crate) async fn with_config(config: Config) -> TestServer {
        TestServer::spawn(config, false).await
    }

    /// Starts a cluster node: the adapter `config.scaling` asks for (Redis).
    pub(crate) async fn clustered(config: Config) -> TestServer {
        TestServer::spawn(config, true).await
    }

    async fn spawn(mut config: Config, scaling: bool) -> TestServer {
        config.server.host = "127.0.0.1".to_owned();
        config.server.port = 0;
        // CLARION_RUNTIME=per_core runs every in-process server with one
        // runtime per core (the test's runtime and one more thread).
        if let Some(mode) = runtime_from_env() {
            config.server.runtime = mode;
        }
        let listener = clarion::server::bind_listeners(&config)
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let node = if scaling {
            clarion::server::build_node(&config).expect("node")
        } else {
            clarion::server::local_node(&config)
        };
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let served = node.clone();
        let task = tokio::spawn(async move {
            clarion::server::serve(listener, served, async move { stopped.cancelled().await })
                .await;
        });
        TestServer {
            addr,
            config,
            node,
            stop,
            task: Some(task),
        }
    }

    /// Triggers shutdown and waits for `run` to return.
    pub(crate) async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("server stops within its grace period")
                .expect("server task");
        }
    }

    pub(crate) fn ws_url(&self, key: &str) -> String {
        format!(
            "ws://{}/app/{key}?protocol=7&client=js&version=8.4.0&flash=false",
            self.addr
        )
    }

    /// Connects with the default key and waits for `connection_established`.
    pub(crate) async fn connect(&self) -> Client {
        connect_to(self.addr, "app-key").await
    }

    /// Connects with `key` without waiting for anything.
    pub(crate) async fn connect_raw(&self, key: &str) -> Client {
        let (ws, _) =
            tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(self.ws_url(key)))
                .await
                .expect("connect in time")
                .expect("connect");
        Client {
            ws,
            socket_id: String::new(),
        }
    }

    /// Sends a signed HTTP API request; returns status and JSON body.
    pub(crate) async fn api(
        &self,
        method: &str,
        path: &str,
        params: &[(&str, &str)],
        body: &str,
    ) -> (u16, Value) {
        let app = &self.config.apps[0];
        self.api_as(&app.key, &app.secret, method, path, params, body)
            .await
    }

    /// Like [`api`], signing with the given credentials.
    pub(crate) async fn api_as(
        &self,
        key: &str,
        secret: &str,
        method: &str,
        path: &str,
        params: &[(&str, &str)],
        body: &str,
    ) -> (u16, Value) {
        signed_api(self.addr, key, secret, method, path, params, body).await
    }

    /// A raw HTTP/1.1 request; returns status and body text.
    pub(crate) async fn http(
        &self,
        method: &str,
        path_and_query: &str,
        body: &str,
    ) -> (u16, String) {
        raw_http(self.addr, method, path_and_query, body).await
    }

    /// Publishes one event through the API and asserts 200.
    pub(crate) async fn trigger(&self, channel: &str, event: &str, data: &str) {
        let body = serde_json::json!({"name": event, "channel": channel, "data": data}).to_string();
        let (status, reply) = self.api("POST", "/apps/1000/events", &[], &body).await;
        assert_eq!(status, 200, "trigger failed: {reply}");
    }
}

/// Connects a WebSocket to the app with `key` at `addr` and waits for
/// `connection_established`.
pub(crate) async fn connect_to(addr: SocketAddr, key: &str) -> Client {
    let mut client = connect_raw_to(addr, key).await;
    let hello = client.expect_event("pusher:connection_established").await;
    let data: Value =
        serde_json::from_str(hello["data"].as_str().expect("data is a string")).expect("data json");
    client.socket_id = data["socket_id"].as_str().expect("socket_id").to_owned();
    client
}

/// Connects a WebSocket to the app with `key` at `addr`, reading nothing.
pub(crate) async fn connect_raw_to(addr: SocketAddr, key: &str) -> Client {
    let url = format!("ws://{addr}/app/{key}?protocol=7&client=js&version=8.4.0&flash=false");
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect in time")
        .expect("connect");
    Client {
        ws,
        socket_id: String::new(),
    }
}

/// Sends a request to the HTTP API at `addr`, signed as the SDKs sign;
/// returns status and JSON body (or the text as a JSON string).
pub(crate) async fn signed_api(
    addr: SocketAddr,
    key: &str,
    secret: &str,
    method: &str,
    path: &str,
    params: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let query = signed_query(key, secret, method, path, params, body.as_bytes(), now);
    let (status, text) = raw_http(addr, method, &format!("{path}?{query}"), body).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A minimal HTTP/1.1 client over one TCP connection (Connection: close).
pub(crate) async fn raw_http(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    body: &str,
) -> (u16, String) {
    use tokio::io::AsyncWriteExt;
    let mut stream = TcpStream::connect(addr).await.expect("tcp connect");
    let request = format!(
        "{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let response = read_all(&mut stream).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Reads until EOF, keeping what arrived even if the peer resets the
/// connection (a server may answer 413 and close before reading the body).
async fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut response = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let read = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("response in time");
        match read {
            Ok(0) | Err(_) => return response,
            Ok(n) => response.extend_from_slice(&buf[..n]),
        }
    }
}

/// An HTTP response as the raw client saw it.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| Value::String(self.body.clone()))
    }
}

/// Writes `parts` one after another (flushing and yielding between them, so
/// a request can arrive in several TCP segments) and reads the response.
pub(crate) async fn raw_request(addr: SocketAddr, parts: &[&[u8]]) -> RawResponse {
    use tokio::io::AsyncWriteExt;
    let mut stream = TcpStream::connect(addr).await.expect("tcp connect");
    stream.set_nodelay(true).expect("nodelay");
    for part in parts {
        stream.write_all(part).await.expect("write");
        stream.flush().await.expect("flush");
        tokio::task::yield_now().await;
    }
    let response = read_all(&mut stream).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Unix time now.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

impl TestServer {
    /// The signed query string for a request with the first app's
    /// credentials, signed now.
    pub(crate) fn signed(
        &self,
        method: &str,
        path: &str,
        params: &[(&str, &str)],
        body: &str,
    ) -> String {
        let app = &self.config.apps[0];
        signed_query(
            &app.key,
            &app.secret,
            method,
            path,
            params,
            body.as_bytes(),
            now(),
        )
    }

    /// Opens a WebSocket to `url` with extra request headers; returns the
    /// client (nothing read yet) and the handshake response.
    pub(crate) async fn connect_url(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> (
        Client,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ) {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::http::HeaderValue;
        let mut request = url.into_client_request().expect("request");
        for (name, value) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        let (ws, response) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
            .await
            .expect("connect in time")
            .expect("connect");
        (
            Client {
                ws,
                socket_id: String::new(),
            },
            response,
        )
    }

    /// Connects with the default key and an `Origin` header, reading nothing.
    pub(crate) async fn connect_with_origin(&self, origin: &str) -> Client {
        self.connect_url(&self.ws_url("app-key"), &[("origin", origin)])
            .await
            .0
    }
}

/// The value of one series in a Prometheus text exposition, named exactly
/// as exported (`clarion_connections{app_id="1000"}`).
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

impl TestServer {
    /// `GET /metrics` on the main listener; asserts 200.
    pub(crate) async fn metrics(&self) -> String {
        let (status, text) = self.http("GET", "/metrics", "").await;
        assert_eq!(status, 200, "{text}");
        text
    }

    /// One series of `GET /metrics` (see [`sample`]).
    pub(crate) async fn metric(&self, series: &str) -> Option<f64> {
        sample(&self.metrics().await, series)
    }

    /// Waits until `series` reads `value`: socket tasks update their
    /// counts after the client has seen the socket close.
    pub(crate) async fn wait_for_metric(&self, series: &str, value: f64) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let now = self.metric(series).await;
            if now == Some(value) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{series} is {now:?}, expected {value}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
