//! Restarts nobody notices, through the real binary and real signals. On
//! SIGTERM `/ready` answers 503 at once while `/up` stays 200 and the node
//! keeps serving (sockets, HTTP API, new connections, event streams) for
//! `drain_pause`; then every socket gets `pusher:error` 4200 at its own
//! moment within the spread, all before the grace period ends; a second
//! SIGTERM closes everything at once. The measured timings are printed
//! (run with `--nocapture` to see them).

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use support::process::Process;
use support::*;

/// Starts the binary with these drain timings, in seconds.
async fn start(pause: u64, spread: u64, grace: u64) -> Process {
    let (pause, spread, grace) = (pause.to_string(), spread.to_string(), grace.to_string());
    Process::start(
        &[],
        &[
            ("CLARION_DRAIN_PAUSE", &pause),
            ("CLARION_DRAIN_SPREAD", &spread),
            ("CLARION_SHUTDOWN_GRACE_PERIOD", &grace),
        ],
    )
    .await
}

async fn get(addr: SocketAddr, path: &str) -> RawResponse {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    raw_request(addr, &[request.as_bytes()]).await
}

/// Publishes `event` on `channel` through the signed HTTP API.
async fn publish(addr: SocketAddr, channel: &str, event: &str) -> RawResponse {
    let body = json!({"name": event, "channel": channel, "data": "{}"}).to_string();
    let path = "/apps/1000/events";
    let query = clarion::auth::http_signature::signed_query(
        "app-key",
        "app-secret",
        "POST",
        path,
        &[],
        body.as_bytes(),
        now(),
    );
    let request = format!(
        "POST {path}?{query} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    raw_request(addr, &[request.as_bytes()]).await
}

/// Reads `client` until its `pusher:error` 4200 (then its close frame) and
/// returns when the error arrived, measured from `since`; panics after
/// `within`.
async fn closed_with_4200(mut client: Client, since: Instant, within: Duration) -> Duration {
    let deadline = since + within;
    loop {
        let message = tokio::time::timeout_at(deadline, client.ws.next())
            .await
            .expect("4200 within the grace period");
        let Some(Ok(Message::Text(text))) = message else {
            panic!("the socket closed without 4200: {message:?}");
        };
        let frame: Value = serde_json::from_str(text.as_str()).expect("json");
        if frame["event"] != "pusher:error" {
            continue;
        }
        let at = since.elapsed();
        let data: Value =
            serde_json::from_str(frame["data"].as_str().expect("data")).expect("json");
        assert_eq!(data["code"], 4200, "{frame}");
        assert_eq!(client.expect_close().await, 4200);
        return at;
    }
}

#[tokio::test]
async fn sigterm_turns_ready_off_at_once_and_the_node_serves_through_the_pause() {
    let pause = 3;
    let mut server = start(pause, 0, 5).await;
    let ready = get(server.addr, "/ready").await;
    assert_eq!((ready.status, ready.json()), (200, json!({"ready": true})));
    let mut client = server.connect().await;
    client.subscribe("orders").await;

    let sent = Instant::now();
    server.signal("TERM");
    server.line_with("/ready answers 503").await;
    let ready = get(server.addr, "/ready").await;
    let not_ready_after = sent.elapsed();
    assert_eq!((ready.status, ready.json()), (503, json!({"ready": false})));
    let up = get(server.addr, "/up").await;
    assert_eq!((up.status, up.json()), (200, json!({"health": "OK"})));

    // Still serving: the HTTP API (asking the client not to reuse the
    // connection), an existing socket, a new socket.
    let published = publish(server.addr, "orders", "during-the-pause").await;
    assert_eq!(published.status, 200, "{}", published.body);
    assert_eq!(published.header("connection"), Some("close"));
    assert_eq!(client.frame().await["event"], "during-the-pause");
    let late = server.connect().await;
    assert!(!late.socket_id.is_empty(), "the listener still accepts");

    let grace = Duration::from_secs(pause + 5);
    let closed = closed_with_4200(client, sent, grace).await;
    let late_closed = closed_with_4200(late, sent, grace).await;
    let status = server.exit(Duration::from_secs(5)).await;
    let exited = sent.elapsed();
    println!(
        "drain (pause {pause}s, no spread): /ready 503 {not_ready_after:?} after SIGTERM, \
         4200 at {closed:?} and {late_closed:?}, exit at {exited:?}"
    );
    assert!(status.success(), "{status:?}");
    assert!(
        not_ready_after < Duration::from_secs(1),
        "{not_ready_after:?}"
    );
    let pause = Duration::from_secs(pause);
    for at in [closed, late_closed] {
        assert!(
            at >= pause.mul_f64(0.9),
            "closed only after the pause: {at:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closes_are_spread_over_the_window_and_all_land_within_the_grace_period() {
    const SOCKETS: usize = 100;
    const SLICES: usize = 10;
    let (pause, spread, grace) = (1, 3, 5);
    let mut server = start(pause, spread, grace).await;
    let mut clients = Vec::with_capacity(SOCKETS);
    for _ in 0..SOCKETS {
        clients.push(server.connect().await);
    }

    let sent = Instant::now();
    server.signal("TERM");
    let within = Duration::from_secs(pause + grace + 2);
    let waits: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(closed_with_4200(client, sent, within)))
        .collect();
    let status = server.exit(within).await;
    let exited = sent.elapsed();
    let mut closes = Vec::with_capacity(SOCKETS);
    for wait in waits {
        closes.push(wait.await.expect("every socket got 4200"));
    }
    closes.sort();
    let (first, last) = (closes[0], closes[SOCKETS - 1]);
    let (pause, spread, grace) = (
        Duration::from_secs(pause),
        Duration::from_secs(spread),
        Duration::from_secs(grace),
    );
    let mut slices = [0usize; SLICES];
    for at in &closes {
        let offset = at.saturating_sub(pause).as_secs_f64() / spread.as_secs_f64();
        slices[((offset * SLICES as f64) as usize).min(SLICES - 1)] += 1;
    }
    println!(
        "drain ({SOCKETS} sockets, pause {pause:?}, spread {spread:?}, grace {grace:?}): \
         SIGTERM → first 4200 {first:?}, last 4200 {last:?}, exit {exited:?}; \
         closes per tenth of the spread {slices:?}"
    );
    assert!(status.success(), "{status:?}");
    assert!(
        first >= pause.mul_f64(0.9),
        "none before the pause ends: {first:?}"
    );
    assert!(
        last - first >= spread / 2,
        "spread out, not all at once: {first:?}..{last:?}"
    );
    assert!(
        last <= pause + grace,
        "all within the grace period: {last:?}"
    );
    assert!(
        exited <= pause + grace + Duration::from_secs(1),
        "the process exits within the grace period: {exited:?}"
    );
    // Uniform: 10 per tenth expected; a herd would put most in one.
    assert!(
        slices.iter().all(|&n| n <= SOCKETS * 3 / 10),
        "no tenth of the spread takes more than 30 % of the closes: {slices:?}"
    );
}

#[tokio::test]
async fn an_event_stream_keeps_streaming_through_the_pause_then_ends_within_the_spread() {
    let (pause, spread, grace) = (1, 2, 4);
    let mut server = start(pause, spread, grace).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let request = "GET /app/app-key/events?channels=orders HTTP/1.1\r\nHost: x\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut text = String::new();
    read_until(&mut stream, &mut text, ": connected").await;

    let sent = Instant::now();
    server.signal("TERM");
    server.line_with("/ready answers 503").await;
    let published = publish(server.addr, "orders", "during-the-pause").await;
    assert_eq!(published.status, 200, "{}", published.body);
    read_until(&mut stream, &mut text, "event: during-the-pause").await;
    // The body ends (chunked terminator) and the connection closes.
    let mut rest = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(pause + grace + 2),
        stream.read_to_end(&mut rest),
    )
    .await
    .expect("the stream ends within the grace period")
    .expect("read");
    let ended = sent.elapsed();
    println!("event stream ended {ended:?} after SIGTERM (pause {pause}s, spread {spread}s)");
    assert!(
        String::from_utf8_lossy(&rest).ends_with("0\r\n\r\n"),
        "a complete response: {rest:?}"
    );
    assert!(
        ended >= Duration::from_secs(pause).mul_f64(0.9),
        "{ended:?}"
    );
    assert!(ended <= Duration::from_secs(pause + grace), "{ended:?}");
    assert!(server.exit(Duration::from_secs(grace)).await.success());
}

/// Reads from `stream` into `text` until it contains `needle`.
async fn read_until(stream: &mut tokio::net::TcpStream, text: &mut String, needle: &str) {
    let mut buf = [0u8; 4096];
    while !text.contains(needle) {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} in {text:?}"))
            .expect("read");
        assert!(n > 0, "closed before {needle:?}: {text:?}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

#[tokio::test]
async fn a_second_sigterm_during_the_pause_closes_everything_now() {
    let pause = 10;
    let mut server = start(pause, 5, 10).await;
    let clients = vec![server.connect().await, server.connect().await];
    server.signal("TERM");
    server.line_with("/ready answers 503").await;
    let sent = Instant::now();
    server.signal("TERM");
    for client in clients {
        let at = closed_with_4200(client, sent, Duration::from_secs(3)).await;
        assert!(
            at < Duration::from_secs(2),
            "at once, not after the pause: {at:?}"
        );
    }
    assert!(server.exit(Duration::from_secs(3)).await.success());
    server.line_with("closing every socket now").await;
}

#[tokio::test]
async fn a_second_sigterm_during_the_spread_closes_the_rest_now() {
    let spread = 8;
    let mut server = start(0, spread, 10).await;
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(server.connect().await);
    }
    server.signal("TERM");
    server.line_with("each at its own moment").await;
    let sent = Instant::now();
    server.signal("TERM");
    let waits: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(closed_with_4200(client, sent, Duration::from_secs(3))))
        .collect();
    for wait in waits {
        let at = wait.await.expect("4200");
        assert!(
            at < Duration::from_secs(2),
            "the rest close at once: {at:?}"
        );
    }
    assert!(server.exit(Duration::from_secs(3)).await.success());
}
