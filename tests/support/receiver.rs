//! A webhook receiver on a loopback port: records every request it is
//! sent, answers with a status the test chooses, and can be taken down
//! (connections refused) and brought back up on the same port.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::TcpListener as StdListener;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Hook {
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    /// The raw body.
    pub body: String,
    /// The status it was answered with.
    pub status: u16,
}

impl Hook {
    /// The body's `events`.
    pub(crate) fn events(&self) -> Vec<Value> {
        let body: Value = serde_json::from_str(&self.body).expect("JSON body");
        body["events"].as_array().expect("events array").clone()
    }

    /// Whether `X-Pusher-Signature` is the HMAC of the body with `secret`.
    pub(crate) fn signed_with(&self, secret: &str) -> bool {
        self.headers.get("x-pusher-signature").map(String::as_str)
            == Some(clarion::auth::sign(secret, &self.body).as_str())
    }
}

pub(crate) struct Receiver {
    pub port: u16,
    status: Arc<AtomicU16>,
    tx: mpsc::UnboundedSender<Hook>,
    rx: mpsc::UnboundedReceiver<Hook>,
    serving: Option<JoinSet<()>>,
}

impl Receiver {
    /// A receiver that is up and answers 200.
    pub(crate) async fn start() -> Receiver {
        let mut receiver = Receiver::down_on_free_port();
        receiver.up().await;
        receiver
    }

    /// A receiver whose port is chosen but which is not listening yet.
    pub(crate) fn down_on_free_port() -> Receiver {
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let (tx, rx) = mpsc::unbounded_channel();
        Receiver {
            port,
            status: Arc::new(AtomicU16::new(200)),
            tx,
            rx,
            serving: None,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/pusher/webhook", self.port)
    }

    /// Answers every later request with `status`.
    pub(crate) fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Starts listening (again) on the port.
    pub(crate) async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind the receiver port");
        let mut set = JoinSet::new();
        let status = self.status.clone();
        let tx = self.tx.clone();
        set.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let status = status.clone();
                let tx = tx.clone();
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let status = status.load(Ordering::SeqCst);
                    let tx = tx.clone();
                    async move {
                        let headers = req
                            .headers()
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                            })
                            .collect();
                        let body = req.into_body().collect().await.map(|b| b.to_bytes());
                        let body = String::from_utf8_lossy(&body.unwrap_or_default()).into_owned();
                        let _ = tx.send(Hook {
                            headers,
                            body,
                            status,
                        });
                        let mut res = Response::new(Full::new(Bytes::from_static(b"ok")));
                        *res.status_mut() = StatusCode::from_u16(status).expect("status");
                        Ok::<_, Infallible>(res)
                    }
                });
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        self.serving = Some(set);
    }

    /// Stops listening and drops every open connection.
    pub(crate) async fn down(&mut self) {
        if let Some(mut set) = self.serving.take() {
            set.shutdown().await;
        }
    }

    /// The next request, within `wait`.
    pub(crate) async fn next_within(&mut self, wait: Duration) -> Option<Hook> {
        tokio::time::timeout(wait, self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Requests until `count` events answered with 2xx have arrived (or
    /// `wait` passes); returns every event received, in order.
    pub(crate) async fn delivered_events(&mut self, count: usize, wait: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut events = Vec::new();
        while events.len() < count {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(hook) = self.next_within(left).await else {
                break;
            };
            if hook.status < 300 {
                events.extend(hook.events());
            }
        }
        events
    }
}
