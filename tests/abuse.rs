//! Protocol abuse gets a clear answer and harms nobody else (issue 10,
//! item 5): slowloris connections (nothing sent, half a request head, a
//! trickled body, an upgraded socket that never sends a frame) are closed
//! after `server.handshake_timeout` and counted; handshakes without a
//! valid `Sec-WebSocket-Key` get 400 and other versions 426 naming 13;
//! hand-built frames — fragments over `max_message_size`, a continuation
//! header announcing a terabyte, reserved bits without a negotiated
//! extension, invalid close codes, invalid UTF-8, unmasked, oversized or
//! fragmented control frames, unknown opcodes — close with 1009, 1002 or
//! 1007; a ping flood from a client that never reads is bounded by the
//! outbound queue and evicted with 4100. After each, a bystander still
//! receives events. These are the Autobahn server cases that apply to a
//! Pusher server, which greets every socket and echoes nothing (README,
//! "Slow and malformed clients", gives the Autobahn run itself).

mod support;

use std::time::Duration;

use serde_json::json;
use support::raw_ws::{self, fin, frame, header, RawWs, CLOSE, CONTINUATION, PING, TEXT};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn server_with(f: impl FnOnce(&mut clarion::config::Config)) -> TestServer {
    let mut config = config_with(app());
    f(&mut config);
    TestServer::with_config(config).await
}

async fn bystander(server: &TestServer) -> Client {
    let mut client = server.connect().await;
    client.subscribe("bystander").await;
    client
}

async fn still_served(server: &TestServer, client: &mut Client) {
    server.trigger("bystander", "still-here", "ok").await;
    assert_eq!(client.expect_event("still-here").await["data"], "ok");
}

/// Waits (at most `limit`) until the server closes `stream`; returns what
/// it sent first.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(limit, stream.read(&mut buf))
            .await
            .expect("the server closes the connection in time");
        match read {
            Ok(0) | Err(_) => return seen,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn slowloris_connections_are_closed_after_the_handshake_timeout() {
    let server = server_with(|c| c.server.handshake_timeout = 1).await;
    let mut other = bystander(&server).await;
    let started = tokio::time::Instant::now();
    // Accepted, never a byte.
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    // Half an upgrade request: the head never ends.
    let mut half = TcpStream::connect(server.addr).await.expect("connect");
    half.write_all(b"GET /app/app-key?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        .await
        .expect("write");
    // A head trickled one header line at a time, each well within the
    // timeout: the deadline covers the whole head, not each read.
    let mut trickle = TcpStream::connect(server.addr).await.expect("connect");
    trickle
        .write_all(b"GET /up HTTP/1.1\r\n")
        .await
        .expect("write");
    let trickler = tokio::spawn(async move {
        for i in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let line = format!("X-Slow-{i}: a\r\n");
            if trickle.write_all(line.as_bytes()).await.is_err() {
                return (i, trickle);
            }
        }
        (40, trickle)
    });
    for stream in [&mut silent, &mut half] {
        closed_within(stream, WAIT).await;
    }
    let (_, mut trickle) = trickler.await.expect("trickler");
    closed_within(&mut trickle, WAIT).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "closed after {took:?}, expected about 1 s"
    );
    server
        .wait_for_metric("clarion_handshake_timeouts_total{stage=\"headers\"}", 3.0)
        .await;
    still_served(&server, &mut other).await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_but_not_counted() {
    let server = server_with(|c| c.server.handshake_timeout = 1).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(b"GET /up HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let seen = closed_within(&mut stream, WAIT).await;
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let series = "clarion_handshake_timeouts_total{stage=\"headers\"}";
    assert_eq!(server.metric(series).await, None);
    server.shutdown().await;
}

#[tokio::test]
async fn a_trickled_body_is_408_after_the_handshake_timeout() {
    let server = server_with(|c| c.server.handshake_timeout = 1).await;
    let path = "/apps/1000/events";
    let body = json!({"name":"e","channel":"c","data":"x"}).to_string();
    let query = server.signed("POST", path, &[], &body);
    let head = format!(
        "POST {path}?{query} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let started = tokio::time::Instant::now();
    let response = raw_request(server.addr, &[head.as_bytes(), &body.as_bytes()[..5]]).await;
    assert_eq!(response.status, 408, "{response:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
    server
        .wait_for_metric("clarion_handshake_timeouts_total{stage=\"body\"}", 1.0)
        .await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_websocket_that_never_sends_a_frame_is_pinged_then_pruned() {
    // laravel/reverb#375: sockets that never subscribe must be pruned too.
    let server = server_with(|c| {
        c.server.handshake_timeout = 1;
        c.apps[0].activity_timeout = 1;
    })
    .await;
    let mut other = bystander(&server).await;
    let started = tokio::time::Instant::now();
    let mut silent = server.connect().await;
    assert_eq!(silent.frame().await, json!({"event":"pusher:ping"}));
    let pinged = started.elapsed();
    silent
        .expect_refusal(4201, "Pong reply not received in time")
        .await;
    let closed = started.elapsed();
    // Pinged after activity_timeout (not ping_interval's 60 s), closed a
    // handshake_timeout later.
    assert!(pinged < Duration::from_secs(3), "pinged after {pinged:?}");
    assert!(closed - pinged >= Duration::from_millis(800), "{closed:?}");
    assert!(closed < Duration::from_secs(5), "closed after {closed:?}");
    server
        .wait_for_metric(
            "clarion_handshake_timeouts_total{stage=\"first_frame\"}",
            1.0,
        )
        .await;
    // The bystander spoke (it subscribed), so it keeps ping_interval.
    still_served(&server, &mut other).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_silent_websocket_that_answers_its_first_ping_stays() {
    let server = server_with(|c| {
        c.server.handshake_timeout = 1;
        c.apps[0].activity_timeout = 1;
    })
    .await;
    let mut client = server.connect().await;
    assert_eq!(client.frame().await, json!({"event":"pusher:ping"}));
    client
        .send_text(r#"{"event":"pusher:pong","data":{}}"#)
        .await;
    // Heard from: the next ping waits for ping_interval (60 s).
    assert!(client
        .try_event("pusher:ping", Duration::from_secs(3))
        .await
        .is_none());
    client.subscribe("after").await;
    server.shutdown().await;
}

#[tokio::test]
async fn bad_handshakes_get_400_or_426() {
    let server = TestServer::start().await;
    let request = |extra: &str| {
        format!(
            "GET /app/app-key?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\n{extra}Connection: close\r\n\r\n"
        )
    };
    let key = format!("Sec-WebSocket-Key: {}\r\n", raw_ws::KEY);
    for (extra, status) in [
        ("Sec-WebSocket-Version: 13\r\n".to_owned(), 400),
        (
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: not-a-key\r\n".to_owned(),
            400,
        ),
        (format!("Sec-WebSocket-Version: 8\r\n{key}"), 426),
        (key.clone(), 426),
    ] {
        let response = raw_request(server.addr, &[request(&extra).as_bytes()]).await;
        assert_eq!(response.status, status, "{extra}: {response:?}");
        if status == 426 {
            assert_eq!(response.header("sec-websocket-version"), Some("13"));
        }
    }
    // The same request with both headers right is upgraded.
    RawWs::connect(server.addr).await;
    server.shutdown().await;
}

/// Sends `bytes` on a fresh raw socket and expects a close frame `code`.
async fn expect_close_for(server: &TestServer, bytes: &[u8], code: u16, case: &str) {
    let mut ws = RawWs::connect(server.addr).await;
    ws.send(bytes).await;
    assert_eq!(ws.expect_close().await, code, "{case}");
    ws.expect_eof().await;
}

#[tokio::test]
async fn frames_over_the_size_limit_close_with_1009() {
    let server = server_with(|c| c.apps[0].max_message_size = 1000).await;
    let mut other = bystander(&server).await;
    // Fragments of 400 bytes, each under the limit, 2,000 in total.
    let mut fragments = frame(TEXT, &[b'x'; 400], true);
    for _ in 0..3 {
        fragments.extend(frame(CONTINUATION, &[b'x'; 400], true));
    }
    fragments.extend(fin(CONTINUATION, &[b'x'; 400]));
    expect_close_for(&server, &fragments, 1009, "fragments over the limit").await;
    // A continuation header announcing 1 TiB, no payload behind it.
    let mut huge = frame(TEXT, b"{", true);
    huge.extend(header(0x80 | CONTINUATION, 1 << 40, true));
    huge.extend([1, 2, 3, 4]);
    expect_close_for(&server, &huge, 1009, "huge continuation").await;
    // The same announced in a single frame.
    let mut single = header(0x80 | TEXT, u64::MAX >> 1, true);
    single.extend([1, 2, 3, 4]);
    expect_close_for(&server, &single, 1009, "huge frame").await;
    still_served(&server, &mut other).await;
    server.shutdown().await;
}

#[tokio::test]
async fn protocol_violations_close_with_1002() {
    let server = TestServer::start().await;
    let mut other = bystander(&server).await;
    let ping = r#"{"event":"pusher:ping","data":{}}"#.as_bytes();
    let close = |code: u16| fin(CLOSE, &code.to_be_bytes());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // RSV1 means "compressed", and no extension was negotiated.
        ("rsv1 without compression", frame(0xC0 | TEXT, ping, true)),
        ("rsv2", frame(0xA0 | TEXT, ping, true)),
        ("unmasked client frame", frame(0x80 | TEXT, ping, false)),
        ("continuation without a start", fin(CONTINUATION, b"x")),
        ("unknown opcode", fin(0x3, b"x")),
        ("fragmented ping", frame(PING, b"x", true)),
        ("ping over 125 bytes", fin(PING, &[b'p'; 126])),
        ("close with a 1-byte payload", fin(CLOSE, &[0x03])),
        ("close code 1005", close(1005)),
        ("close code 1006", close(1006)),
        ("close code 999", close(999)),
        ("close code 1016", close(1016)),
        ("close code 2999", close(2999)),
        ("close code 5000", close(5000)),
    ];
    for (case, bytes) in &cases {
        expect_close_for(&server, bytes, 1002, case).await;
    }
    // Valid close codes are answered with a normal close.
    for code in [1000, 1001, 3000, 4000] {
        expect_close_for(&server, &close(code), 1000, "valid close code").await;
    }
    still_served(&server, &mut other).await;
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    let server = TestServer::start().await;
    let mut other = bystander(&server).await;
    let mut split = frame(TEXT, b"{\"event\":\"\xce", true);
    split.extend(fin(CONTINUATION, b"\xffx\"}"));
    let mut reason = 1000u16.to_be_bytes().to_vec();
    reason.extend_from_slice(b"\xff\xfe");
    for (case, bytes) in [
        ("one frame", fin(TEXT, b"\xff\xfe")),
        ("across fragments", split),
        ("close reason", fin(CLOSE, &reason)),
    ] {
        expect_close_for(&server, &bytes, 1007, case).await;
    }
    still_served(&server, &mut other).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_from_a_client_that_never_reads_is_evicted() {
    let server = server_with(|c| {
        c.server.outbound_queue_capacity = 16;
        c.server.write_timeout = 1;
    })
    .await;
    let mut other = bystander(&server).await;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = socket.connect(server.addr).await.expect("connect");
    let ws = RawWs::handshake(stream, server.addr).await;
    let mut stream = ws.stream;
    // 125-byte pings, never reading a pong. The pongs fill the kernel
    // buffers; then the socket's task waits for its queue to drain and
    // reads no more pings (backpressure), and evicts the socket once the
    // write has waited `write_timeout`. Memory: kernel buffers plus at
    // most `outbound_queue_capacity` pongs.
    let ping = fin(PING, &[b'p'; 125]);
    let batch: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 512)
        .collect();
    let flood = tokio::spawn(async move {
        for _ in 0..2000 {
            if stream.write_all(&batch).await.is_err() {
                return true;
            }
        }
        false
    });
    let evicted = "clarion_queue_evictions_total{app_id=\"1000\",reason=\"write_timeout\"}";
    eventually(Duration::from_secs(60), || async {
        (server.metric(evicted).await == Some(1.0)).then_some(())
    })
    .await;
    let closed = "clarion_connections_closed_total{app_id=\"1000\",code=\"4100\"}";
    assert_eq!(server.metric(closed).await, Some(1.0));
    let write_failed = tokio::time::timeout(Duration::from_secs(30), flood)
        .await
        .expect("the flood ends")
        .expect("flood task");
    assert!(write_failed, "the server closed the flooding socket");
    still_served(&server, &mut other).await;
    server.shutdown().await;
}
