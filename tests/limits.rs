//! Limits and liveness over real sockets: server pings after `ping_interval`
//! of silence (`pusher:ping`, or a WebSocket ping for clients that used
//! control frames), 4201 + close for sockets still silent after that, the
//! connection quota (4004 + close), `allowed_origins` (4009 + close), the
//! opt-in rate limiter (4301, optionally closing), the sign-in timeout
//! (4009 + close) and slow consumers overflowing their queue (4100 + close)
//! (checklist items 6–10, 58–63), each refusal also counted in `/metrics`.

mod support;

use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite::Message;

async fn server_with(f: impl FnOnce(&mut clarion::config::Config)) -> TestServer {
    let mut config = config_with(app());
    f(&mut config);
    TestServer::with_config(config).await
}

#[tokio::test]
async fn silent_socket_is_pinged_then_closed_with_4201() {
    let server = server_with(|c| c.apps[0].ping_interval = 1).await;
    let mut idle = server.connect().await; // no subscriptions at all
    let mut subscribed = server.connect().await;
    subscribed.subscribe("orders").await;
    for client in [&mut idle, &mut subscribed] {
        assert_eq!(client.frame().await, json!({"event":"pusher:ping"}));
    }
    for client in [&mut idle, &mut subscribed] {
        client
            .expect_refusal(4201, "Pong reply not received in time")
            .await;
    }
    // Pruned sockets are unsubscribed and forgotten.
    let (_, channels) = server.api("GET", "/apps/1000/channels", &[], "").await;
    assert_eq!(channels, json!({"channels":{}}));
    let (_, connections) = server.api("GET", "/apps/1000/connections", &[], "").await;
    assert_eq!(connections, json!({"connections":0}));
    server.shutdown().await;
}

#[tokio::test]
async fn answering_pings_keeps_the_socket_open() {
    let server = server_with(|c| c.apps[0].ping_interval = 1).await;
    let mut client = server.connect().await;
    client.subscribe("orders").await;
    for _ in 0..2 {
        assert_eq!(client.frame().await, json!({"event":"pusher:ping"}));
        client
            .send_text(r#"{"event":"pusher:pong","data":{}}"#)
            .await;
    }
    // Any message counts as activity, too.
    assert_eq!(client.frame().await, json!({"event":"pusher:ping"}));
    client.subscribe("other").await;
    assert_eq!(client.frame().await, json!({"event":"pusher:ping"}));
    server.trigger("orders", "still", "subscribed").await;
    assert_eq!(client.frame().await["event"], "still");
    server.shutdown().await;
}

#[tokio::test]
async fn clients_using_control_frames_are_pinged_with_control_frames() {
    let server = server_with(|c| c.apps[0].ping_interval = 1).await;
    let mut client = server.connect().await;
    client.send_message(Message::Ping(Vec::new().into())).await;
    assert!(matches!(
        client.next_message().await,
        Some(Message::Pong(_))
    ));
    match client.next_message().await {
        Some(Message::Ping(_)) => {}
        other => panic!("expected a WebSocket ping frame, got {other:?}"),
    }
    // Reading the ping made the client library answer with a pong frame,
    // which counts as activity: the next thing is another ping, not 4201.
    match client.next_message().await {
        Some(Message::Ping(_)) => {}
        other => panic!("expected another ping frame, got {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn connection_quota_refuses_with_4004_and_frees_on_close() {
    let server = server_with(|c| c.apps[0].max_connections = Some(1)).await;
    let mut first = server.connect().await;
    first.subscribe("orders").await;
    let mut second = server.connect_raw("app-key").await;
    second
        .expect_refusal(4004, "Application is over connection quota")
        .await;
    first.assert_nothing_pending().await;
    first.close().await;
    let mut third = server.connect().await;
    third.subscribe("orders").await;
    server.shutdown().await;
}

#[tokio::test]
async fn process_capacity_refuses_with_4100() {
    let server = server_with(|c| c.server.max_connections = Some(1)).await;
    let mut first = server.connect().await;
    let mut second = server.connect_raw("app-key").await;
    second.expect_refusal(4100, "Server is over capacity").await;
    first.assert_nothing_pending().await;
    first.close().await;
    server.connect().await;
    server.shutdown().await;
}

#[tokio::test]
async fn origin_not_allowed_is_4009_and_close() {
    let server =
        server_with(|c| c.apps[0].allowed_origins = vec!["*.laravel.com".to_owned()]).await;
    let mut ok = server.connect_with_origin("https://sub.laravel.com").await;
    ok.expect_event("pusher:connection_established").await;
    for origin in ["https://laravel.com", "https://evil.com", "null"] {
        let mut refused = server.connect_with_origin(origin).await;
        refused.expect_refusal(4009, "Origin not allowed").await;
    }
    // No Origin header at all is refused unless `*` is allowed.
    let mut missing = server.connect_raw("app-key").await;
    missing.expect_refusal(4009, "Origin not allowed").await;
    ok.assert_nothing_pending().await;
    server.shutdown().await;

    let server = server_with(|c| c.apps[0].allowed_origins = vec!["laravel.com".to_owned()]).await;
    let mut exact = server.connect_with_origin("http://laravel.com:8000").await;
    exact.expect_event("pusher:connection_established").await;
    let mut sub = server.connect_with_origin("https://sub.laravel.com").await;
    sub.expect_refusal(4009, "Origin not allowed").await;
    server.shutdown().await;

    // The default `*` admits any origin and none.
    let server = TestServer::start().await;
    let mut any = server.connect_with_origin("https://anything.test").await;
    any.expect_event("pusher:connection_established").await;
    server.connect().await;
    server.shutdown().await;
}

fn rate_limited(c: &mut clarion::config::Config, terminate: bool) {
    let limits = &mut c.apps[0].rate_limiting;
    limits.enabled = true;
    limits.max_attempts = 3;
    limits.decay_seconds = 60;
    limits.terminate_on_limit = terminate;
}

#[tokio::test]
async fn rate_limit_refuses_messages_over_the_limit_with_4301() {
    let server = server_with(|c| rate_limited(c, false)).await;
    let mut client = server.connect().await;
    client.subscribe("orders").await; // 1
    for _ in 0..2 {
        client.send_text(r#"{"event":"pusher:ping"}"#).await; // 2, 3
        assert_eq!(client.frame().await["event"], "pusher:pong");
    }
    client.send_text(r#"{"event":"pusher:ping"}"#).await; // 4: over
    let (code, message) = client.expect_error_message().await;
    assert_eq!((code, message.as_str()), (4301, "Rate limit exceeded"));
    assert_eq!(
        server
            .metric("clarion_rate_limited_total{app_id=\"1000\",limit=\"messages\"}")
            .await,
        Some(1.0)
    );
    // Refused, not closed: events still arrive.
    server.trigger("orders", "e", "x").await;
    assert_eq!(client.frame().await["event"], "e");
    // Other sockets have their own budget.
    let mut other = server.connect().await;
    other.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn rate_limit_can_terminate_the_socket() {
    let server = server_with(|c| rate_limited(c, true)).await;
    let mut client = server.connect().await;
    for _ in 0..3 {
        client.send_text(r#"{"event":"pusher:ping"}"#).await;
        assert_eq!(client.frame().await["event"], "pusher:pong");
    }
    client.send_text(r#"{"event":"pusher:ping"}"#).await;
    client.expect_refusal(4301, "Rate limit exceeded").await;
    server.shutdown().await;
}

#[tokio::test]
async fn without_the_limiter_messages_are_unlimited() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    for _ in 0..200 {
        client.send_text(r#"{"event":"pusher:ping"}"#).await;
    }
    for _ in 0..200 {
        assert_eq!(client.frame().await, json!({"event":"pusher:pong"}));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn signin_timeout_fires_long_before_the_ping_interval() {
    // ping_interval stays at its default of 60 s: the deadline alone must
    // wake the connection.
    let server = server_with(|c| c.apps[0].user_authentication_timeout = Some(1)).await;
    let started = tokio::time::Instant::now();
    let mut unsigned = server.connect().await;
    unsigned
        .expect_refusal(4009, "Connection not signed in within the allowed time")
        .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    server.shutdown().await;
}

#[tokio::test]
async fn unsigned_sockets_are_closed_after_the_signin_timeout() {
    let server = server_with(|c| {
        c.apps[0].user_authentication_timeout = Some(1);
        c.apps[0].ping_interval = 2;
    })
    .await;
    let mut signed = server.connect().await;
    signed.signin(r#"{"id":"1"}"#).await;
    let mut unsigned = server.connect().await;
    unsigned.subscribe("orders").await;
    unsigned
        .expect_refusal(4009, "Connection not signed in within the allowed time")
        .await;
    // The signed-in socket outlives the deadline: its next frame is the
    // ping after 2 s of silence, not a 4009 at 1 s.
    assert_eq!(signed.frame().await, json!({"event":"pusher:ping"}));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_closed_with_4100_and_others_keep_going() {
    let server = server_with(|c| {
        c.server.outbound_queue_capacity = 4;
        c.server.max_request_size = 200_000;
    })
    .await;
    // A client with a tiny receive buffer that stops reading: the kernel
    // buffers fill, frames queue on the server, and the queue overflows.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = socket.connect(server.addr).await.expect("connect");
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let (ws, _) = tokio_tungstenite::client_async(server.ws_url("app-key"), stream)
        .await
        .expect("handshake");
    let mut slow = support::Client {
        ws,
        socket_id: String::new(),
    };
    slow.expect_event("pusher:connection_established").await;
    slow.subscribe("a").await;
    let mut fine = server.connect().await;
    fine.subscribe("a").await;
    let payload = "x".repeat(60_000);
    let body = json!({"name":"burst","channel":"a","data":payload}).to_string();
    for _ in 0..120 {
        let (status, _) = server.api("POST", "/apps/1000/events", &[], &body).await;
        assert_eq!(status, 200);
        assert_eq!(fine.frame().await["event"], "burst");
    }
    // The slow client now reads: after what the kernel held, the refusal.
    let code = loop {
        match slow.next().await {
            support::Received::Frame(f) if f["event"] == "burst" => continue,
            support::Received::Frame(f) => {
                assert_eq!(f["event"], "pusher:error", "got {f}");
                let data: serde_json::Value =
                    serde_json::from_str(f["data"].as_str().expect("string")).expect("json");
                assert_eq!(
                    data["message"],
                    "Connection is over capacity: too many undelivered messages"
                );
                break data["code"].as_u64().expect("code");
            }
            support::Received::Closed(frame) => panic!("closed without the error first: {frame:?}"),
        }
    };
    assert_eq!(code, 4100);
    assert_eq!(slow.expect_close().await, 4100);
    server
        .wait_for_metric(
            "clarion_queue_evictions_total{app_id=\"1000\",reason=\"queue_full\"}",
            1.0,
        )
        .await;
    let closed = "clarion_connections_closed_total{app_id=\"1000\",code=\"4100\"}";
    assert_eq!(server.metric(closed).await, Some(1.0));
    server.trigger("a", "after", "x").await;
    assert_eq!(fine.frame().await["event"], "after");
    server.shutdown().await;
}
