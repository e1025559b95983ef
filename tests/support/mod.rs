//! Test harness: an in-process Clarion on `127.0.0.1:0`, WebSocket clients
//! that wait for specific frames with a timeout, and a signed HTTP API
//! client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use clarion::auth::http_signature::signed_query;
use clarion::config::{AppConfig, Config};

/// How long any wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(5);

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub config: Config,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

/// The default test app: id `app-id`, key `app-key`, secret `app-secret`.
pub fn app() -> AppConfig {
    AppConfig::development()
}

/// A config with one app and the server on `127.0.0.1:0`.
pub fn config_with(app: AppConfig) -> Config {
    let mut config = Config::default();
    config.server.host = "127.0.0.1".to_owned();
    config.server.port = 0;
    config.apps = vec![app];
    config
}

impl TestServer {
    /// Starts a server with the default app.
    pub async fn start() -> TestServer {
        TestServer::with_config(config_with(app())).await
    }

    /// Starts a server with `config` (its host/port are forced to loopback:0).
    pub async fn with_config(mut config: Config) -> TestServer {
        config.server.host = "127.0.0.1".to_owned();
        config.server.port = 0;
        let listener = clarion::server::bind(&config).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let node = clarion::server::local_node(&config);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            clarion::server::run(listener, node, async move { stopped.cancelled().await }).await;
        });
        TestServer {
            addr,
            config,
            stop,
            task: Some(task),
        }
    }

    /// Triggers shutdown and waits for `run` to return.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("server stops within its grace period")
                .expect("server task");
        }
    }

    pub fn ws_url(&self, key: &str) -> String {
        format!(
            "ws://{}/app/{key}?protocol=7&client=js&version=8.4.0&flash=false",
            self.addr
        )
    }

    /// Connects with the default key and waits for `connection_established`.
    pub async fn connect(&self) -> Client {
        let mut client = self.connect_raw("app-key").await;
        let hello = client.expect_event("pusher:connection_established").await;
        let data: Value = serde_json::from_str(hello["data"].as_str().expect("data is a string"))
            .expect("data json");
        client.socket_id = data["socket_id"].as_str().expect("socket_id").to_owned();
        client
    }

    /// Connects with `key` without waiting for anything.
    pub async fn connect_raw(&self, key: &str) -> Client {
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
    pub async fn api(
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
    pub async fn api_as(
        &self,
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
        let (status, text) = self.http(method, &format!("{path}?{query}"), body).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A raw HTTP/1.1 request; returns status and body text.
    pub async fn http(&self, method: &str, path_and_query: &str, body: &str) -> (u16, String) {
        raw_http(self.addr, method, path_and_query, body).await
    }

    /// Publishes one event through the API and asserts 200.
    pub async fn trigger(&self, channel: &str, event: &str, data: &str) {
        let body = serde_json::json!({"name": event, "channel": channel, "data": data}).to_string();
        let (status, reply) = self.api("POST", "/apps/app-id/events", &[], &body).await;
        assert_eq!(status, 200, "trigger failed: {reply}");
    }
}

/// A minimal HTTP/1.1 client over one TCP connection (Connection: close).
pub async fn raw_http(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("tcp connect");
    let request = format!(
        "{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("read");
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

/// A WebSocket test client.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub socket_id: String,
}

/// What a wait ended with.
#[derive(Debug)]
pub enum Received {
    Frame(Value),
    Closed(Option<CloseFrame>),
}

impl Client {
    pub async fn send_json(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_owned()))
            .await
            .expect("send");
    }

    /// The next text frame as JSON, or the close frame; panics after [`WAIT`].
    pub async fn next(&mut self) -> Received {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within the wait");
            match message {
                Some(Ok(Message::Text(t))) => {
                    return Received::Frame(
                        serde_json::from_str(t.as_str()).expect("server frames are JSON"),
                    )
                }
                Some(Ok(Message::Close(frame))) => return Received::Closed(frame),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Received::Closed(None),
            }
        }
    }

    /// The next text frame; panics on close.
    pub async fn frame(&mut self) -> Value {
        match self.next().await {
            Received::Frame(v) => v,
            Received::Closed(c) => panic!("socket closed while waiting for a frame: {c:?}"),
        }
    }

    /// Skips frames until one with `event` arrives.
    pub async fn expect_event(&mut self, event: &str) -> Value {
        loop {
            let frame = self.frame().await;
            if frame["event"] == event {
                return frame;
            }
        }
    }

    /// Waits for the close frame; returns its code.
    pub async fn expect_close(&mut self) -> u16 {
        loop {
            if let Received::Closed(frame) = self.next().await {
                return frame.map_or(1006, |f| u16::from(f.code));
            }
        }
    }

    /// Waits for a `pusher:error` and returns its code.
    pub async fn expect_error(&mut self) -> i64 {
        let frame = self.expect_event("pusher:error").await;
        let data: Value =
            serde_json::from_str(frame["data"].as_str().expect("error data is a string"))
                .expect("json");
        data["code"].as_i64().expect("code")
    }

    /// Subscribes to a public channel and waits for the ack.
    pub async fn subscribe(&mut self, channel: &str) {
        self.send_json(
            serde_json::json!({"event":"pusher:subscribe","data":{"auth":"","channel":channel}}),
        )
        .await;
        self.expect_event("pusher_internal:subscription_succeeded")
            .await;
    }

    /// Subscribes to a private channel with a valid signature.
    pub async fn subscribe_private(&mut self, channel: &str) {
        let auth = clarion::auth::channel_auth_token(
            "app-key",
            "app-secret",
            &self.socket_id,
            channel,
            None,
        );
        self.send_json(
            serde_json::json!({"event":"pusher:subscribe","data":{"auth":auth,"channel":channel}}),
        )
        .await;
        self.expect_event("pusher_internal:subscription_succeeded")
            .await;
    }

    /// Subscribes to a presence channel; returns the succeeded frame's data.
    pub async fn subscribe_presence(&mut self, channel: &str, user_id: &str) -> Value {
        let channel_data = serde_json::json!({"user_id": user_id, "user_info": {"name": format!("user {user_id}")}}).to_string();
        let auth = clarion::auth::channel_auth_token(
            "app-key",
            "app-secret",
            &self.socket_id,
            channel,
            Some(&channel_data),
        );
        self.send_json(serde_json::json!({"event":"pusher:subscribe","data":{"auth":auth,"channel":channel,"channel_data":channel_data}})).await;
        let frame = self
            .expect_event("pusher_internal:subscription_succeeded")
            .await;
        serde_json::from_str(frame["data"].as_str().expect("string data")).expect("json")
    }

    /// Proves nothing else is queued for this client: sends a ping and
    /// asserts the very next frame is the pong.
    pub async fn assert_nothing_pending(&mut self) {
        self.send_text(r#"{"event":"pusher:ping","data":{}}"#).await;
        let frame = self.frame().await;
        assert_eq!(
            frame["event"], "pusher:pong",
            "unexpected frame before pong: {frame}"
        );
    }
}
