//! Floods and limits over real sockets (issue 10, item 4): each of an app's
//! limits refuses exactly the request over it, with the Pusher code or HTTP
//! status clients act on, while the flooding socket keeps what it had and
//! every other client of the app keeps receiving events (shown with a
//! barrier event, never with timing); and at the process's socket budget a
//! new connection is answered 503 while accepted ones keep working, also
//! with a lowered open-file limit on the real binary.

mod cluster_support;
mod support;

use std::net::SocketAddr;

use cluster_support::{node_config, Redis};
use serde_json::{json, Value};
use support::process::Process;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn server_with(f: impl FnOnce(&mut clarion::config::AppConfig)) -> TestServer {
    let mut app = app();
    f(&mut app);
    TestServer::with_config(config_with(app)).await
}

fn limited(limit: &str) -> String {
    format!("clarion_rate_limited_total{{app_id=\"1000\",limit=\"{limit}\"}}")
}

/// Publishes `event` on `channel` and waits until `client` receives it: a
/// barrier, after which nothing queued before it can still be on its way.
async fn barrier(server: &TestServer, client: &mut Client, channel: &str, event: &str) {
    server.trigger(channel, event, "{}").await;
    let frame = client.frame().await;
    assert_eq!(frame["event"], event, "expected the barrier, got {frame}");
}

#[tokio::test]
async fn a_socket_over_its_channel_limit_is_refused_4004_and_keeps_its_channels() {
    let server = server_with(|a| a.max_channels_per_socket = 3).await;
    let mut client = server.connect().await;
    for channel in ["a", "b", "c"] {
        client.subscribe(channel).await;
    }
    client
        .send_subscribe(json!({"auth":"","channel":"d"}))
        .await;
    let (code, message) = client.expect_error_message().await;
    assert_eq!(
        (code, message.as_str()),
        (
            4004,
            "Subscription refused: the connection is at its channel limit"
        )
    );
    // The socket keeps its three channels; a repeated subscribe to one of
    // them is not a new channel.
    client.subscribe("a").await;
    barrier(&server, &mut client, "c", "still-on-c").await;
    // Leaving one makes room.
    client.unsubscribe("c").await;
    client.subscribe("d").await;
    barrier(&server, &mut client, "d", "on-d").await;
    // Another socket has its own three.
    let mut other = server.connect().await;
    for channel in ["a", "b", "c"] {
        other.subscribe(channel).await;
    }
    assert_eq!(server.metric(&limited("channels")).await, Some(1.0));
    server.shutdown().await;
}

#[tokio::test]
async fn a_full_presence_channel_refuses_a_new_member_4004_and_nobody_sees_it() {
    let server = server_with(|a| a.max_presence_members = 2).await;
    let room = "presence-room";
    let mut ann = server.connect().await;
    ann.subscribe_presence(room, "ann").await;
    let mut bob = server.connect().await;
    bob.subscribe_presence(room, "bob").await;
    assert_eq!(
        ann.expect_event("pusher_internal:member_added").await["channel"],
        room
    );

    let mut cy = server.connect().await;
    let data = json!({"user_id":"cy"}).to_string();
    let auth = cy.auth(room, Some(&data));
    cy.send_subscribe(json!({"auth":auth,"channel":room,"channel_data":data}))
        .await;
    let (code, message) = cy.expect_error_message().await;
    assert_eq!(
        (code, message.as_str()),
        (4004, "Subscription refused: the presence channel is full")
    );
    // No member_added reached the members: the next frame is the barrier.
    barrier(&server, &mut ann, room, "after-cy").await;
    // Ann's second tab is the same member, not a new one.
    let mut ann_tab = server.connect().await;
    let roster = ann_tab.subscribe_presence(room, "ann").await;
    assert_eq!(roster["presence"]["count"], 2);
    barrier(&server, &mut ann, room, "after-tab").await;
    // When bob leaves, cy gets the place.
    bob.close().await;
    assert_eq!(
        ann.expect_event("pusher_internal:member_removed").await["channel"],
        room
    );
    let roster = cy.subscribe_presence(room, "cy").await;
    assert_eq!(roster["presence"]["count"], 2);
    assert_eq!(server.metric(&limited("presence_members")).await, Some(1.0));
    server.shutdown().await;
}

#[tokio::test]
async fn user_info_over_the_limit_is_refused_4004() {
    let server = server_with(|a| a.max_user_info_bytes = 64).await;
    let room = "presence-room";
    let mut big = server.connect().await;
    let info = "x".repeat(100);
    let data = json!({"user_id":"1","user_info":{"name":info}}).to_string();
    let auth = big.auth(room, Some(&data));
    big.send_subscribe(json!({"auth":auth,"channel":room,"channel_data":data}))
        .await;
    let (code, message) = big.expect_error_message().await;
    assert_eq!(
        (code, message.as_str()),
        (4004, "Subscription refused: user_info is too large")
    );
    // A user_info within the limit (its JSON text is what is measured).
    let small = json!({"user_id":"1","user_info":{"name":"ann"}}).to_string();
    let frame = big.subscribe_presence_raw(room, &small).await;
    assert_eq!(frame["channel"], room);
    assert_eq!(server.metric(&limited("user_info")).await, Some(1.0));
    server.shutdown().await;
}

#[tokio::test]
async fn client_events_over_the_rate_are_dropped_with_4301_and_nobody_else_notices() {
    const RATE: u32 = 5;
    const SENT: usize = 40;
    let server = server_with(|a| a.client_events_per_second = RATE).await;
    let mut flooder = server.connect().await;
    flooder.subscribe_private("private-chat").await;
    let mut peer = server.connect().await;
    peer.subscribe_private("private-chat").await;
    let mut bystander = server.connect().await;
    bystander.subscribe("news").await;

    for i in 0..SENT {
        flooder
            .whisper("private-chat", "client-typing", json!({ "i": i }))
            .await;
    }
    // Another socket of the app gets its events while the flood is handled.
    barrier(&server, &mut bystander, "news", "headline").await;

    // The flooder hears one 4301 per dropped event, before the pong that
    // shows the server has read everything it sent.
    flooder.send_text(r#"{"event":"pusher:ping"}"#).await;
    let mut refused = 0;
    loop {
        let frame = flooder.frame().await;
        match frame["event"].as_str() {
            Some("pusher:pong") => break,
            Some("pusher:error") => {
                let data: Value =
                    serde_json::from_str(frame["data"].as_str().expect("string")).expect("json");
                assert_eq!(data["code"], 4301, "{frame}");
                assert_eq!(data["message"], "Client event rejected due to rate limit");
                refused += 1;
            }
            _ => panic!("unexpected {frame}"),
        }
    }
    // The peer gets the others, in order, then the barrier.
    server.trigger("private-chat", "barrier", "{}").await;
    let mut relayed = Vec::new();
    loop {
        let frame = peer.frame().await;
        match frame["event"].as_str() {
            Some("barrier") => break,
            Some("client-typing") => relayed.push(frame["data"]["i"].as_u64().expect("i")),
            _ => panic!("unexpected {frame}"),
        }
    }
    assert_eq!(relayed.len() + refused, SENT, "{relayed:?} {refused}");
    // The burst is one second's worth; a slow machine may add a few more.
    assert!(relayed.len() >= RATE as usize, "{relayed:?}");
    assert!(relayed.len() < SENT / 2, "{relayed:?}");
    assert_eq!(relayed[..RATE as usize], [0, 1, 2, 3, 4]);
    assert_eq!(
        server.metric(&limited("client_events")).await,
        Some(refused as f64)
    );
    // The socket stays open and subscribed.
    assert_eq!(flooder.frame().await["event"], "barrier");
    barrier(&server, &mut flooder, "private-chat", "still-here").await;
    server.shutdown().await;
}

#[tokio::test]
async fn subscriptions_over_the_rate_are_refused_with_4301() {
    // A burst of max_channels_per_socket, then one a second.
    let server = server_with(|a| {
        a.subscriptions_per_second = 1;
        a.max_channels_per_socket = 5;
    })
    .await;
    let mut client = server.connect().await;
    let mut bystander = server.connect().await;
    bystander.subscribe("news").await;
    for i in 0..10 {
        client
            .send_subscribe(json!({"auth":"","channel":format!("c{i}")}))
            .await;
    }
    barrier(&server, &mut bystander, "news", "headline").await;
    // The pong comes after the answer to every subscribe sent before it.
    client.send_text(r#"{"event":"pusher:ping"}"#).await;
    let (mut acks, mut rate, mut quota) = (0, 0, 0);
    loop {
        let frame = client.frame().await;
        match frame["event"].as_str() {
            Some("pusher:pong") => break,
            Some("pusher_internal:subscription_succeeded") => acks += 1,
            Some("pusher:error") => {
                let data: Value =
                    serde_json::from_str(frame["data"].as_str().expect("string")).expect("json");
                match data["code"].as_u64() {
                    Some(4301) => {
                        assert_eq!(data["message"], "Subscription rejected due to rate limit");
                        rate += 1;
                    }
                    // A second passed on a slow machine: a token came back,
                    // and the channel quota refused instead.
                    Some(4004) => quota += 1,
                    _ => panic!("unexpected {frame}"),
                }
            }
            _ => panic!("unexpected {frame}"),
        }
    }
    assert_eq!((acks, rate + quota), (5, 5));
    assert!(rate >= 3, "rate {rate}, quota {quota}");
    assert_eq!(
        server.metric(&limited("subscriptions")).await,
        Some(f64::from(rate))
    );
    server.shutdown().await;
}

/// A signed request with the development app's credentials, as raw bytes
/// on `stream` (keep-alive); returns status, `Retry-After` and body.
async fn keep_alive_request(
    stream: &mut TcpStream,
    addr: SocketAddr,
    (key, secret): (&str, &str),
    method: &str,
    path: &str,
    body: &str,
) -> (u16, Option<String>, Value) {
    let query = clarion::auth::http_signature::signed_query(
        key,
        secret,
        method,
        path,
        &[],
        body.as_bytes(),
        now(),
    );
    let request = format!(
        "{method} {path}?{query} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    read_response(stream).await
}

/// Reads one HTTP/1.1 response with a `Content-Length`.
async fn read_response(stream: &mut TcpStream) -> (u16, Option<String>, Value) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("response in time")
            .expect("read");
        assert!(n > 0, "connection closed mid-response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(|v| v.trim().to_owned())
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .expect("content-length");
    while buf.len() < head_end + length {
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("body in time")
            .expect("read");
        assert!(n > 0, "connection closed mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, header("retry-after"), body)
}

#[tokio::test]
async fn http_api_requests_over_the_rate_get_429_with_retry_after() {
    let mut limited_app = app();
    limited_app.http_api_requests_per_second = 2;
    let mut other = app();
    other.id = "2000".to_owned();
    other.key = "other-key".to_owned();
    other.secret = "other-secret".to_owned();
    let mut config = config_with(limited_app);
    config.apps.push(other);
    let server = TestServer::with_config(config).await;
    let mut subscriber = server.connect().await;
    subscriber.subscribe("orders").await;

    // Badly signed requests do not spend the app's budget.
    for _ in 0..5 {
        let (status, _) = server
            .api_as("app-key", "wrong", "GET", "/apps/1000/channels", &[], "")
            .await;
        assert_eq!(status, 401);
    }
    let creds = ("app-key", "app-secret");
    let mut conn = TcpStream::connect(server.addr).await.expect("connect");
    let body = json!({"name":"e","channel":"orders","data":"{}"}).to_string();
    let mut statuses = Vec::new();
    let mut refusal = None;
    for _ in 0..6 {
        let (status, retry, reply) = keep_alive_request(
            &mut conn,
            server.addr,
            creds,
            "POST",
            "/apps/1000/events",
            &body,
        )
        .await;
        statuses.push(status);
        if status == 429 {
            refusal.get_or_insert((retry, reply));
        }
    }
    assert_eq!(statuses[..2], [200, 200], "{statuses:?}");
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(refused >= 3, "{statuses:?}");
    let (retry, reply) = refusal.expect("a 429");
    assert_eq!(retry.as_deref(), Some("1"));
    assert!(
        reply["error"]
            .as_str()
            .is_some_and(|e| e.contains("http_api_requests_per_second")),
        "{reply}"
    );
    // Exactly the admitted events arrived, and nothing else.
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    for _ in 0..admitted {
        assert_eq!(subscriber.frame().await["event"], "e");
    }
    subscriber.assert_nothing_pending().await;
    // Another app on the node has its own budget.
    let (status, _) = server
        .api_as(
            "other-key",
            "other-secret",
            "GET",
            "/apps/2000/channels",
            &[],
            "",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        server.metric(&limited("http_api")).await,
        Some(refused as f64)
    );
    let series = "clarion_http_requests_total{app_id=\"1000\",endpoint=\"events\",status=\"429\"}";
    assert_eq!(server.metric(series).await, Some(refused as f64));
    server.shutdown().await;
}

/// Opens a connection and asks `GET /up` on it (keep-alive): `Ok` with the
/// open connection when admitted, `Err(retry_after)` when refused with 503.
async fn probe(addr: SocketAddr) -> Result<TcpStream, Option<String>> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET /up HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let (status, retry, body) = read_response(&mut stream).await;
    match status {
        200 => Ok(stream),
        503 => {
            assert_eq!(
                body["error"],
                "Server is over capacity: too many open connections."
            );
            // The server closes a refused connection after its answer.
            let mut rest = [0u8; 16];
            let n = tokio::time::timeout(WAIT, stream.read(&mut rest))
                .await
                .expect("closed in time")
                .unwrap_or(0);
            assert_eq!(n, 0, "nothing follows the refusal");
            Err(retry)
        }
        other => panic!("unexpected status {other}"),
    }
}

#[tokio::test]
async fn at_max_sockets_a_new_connection_gets_503_and_accepted_ones_keep_working() {
    let mut config = config_with(app());
    config.server.max_sockets = Some(4);
    let server = TestServer::with_config(config).await;
    let mut first = server.connect().await;
    first.subscribe("orders").await;
    let mut second = server.connect().await;
    second.subscribe("orders").await;
    let mut publisher = probe(server.addr).await.expect("third place");
    let idle = probe(server.addr).await.expect("fourth place");

    // Over the budget: HTTP and WebSocket handshakes alike get 503.
    let retry = probe(server.addr).await.expect_err("no fifth place");
    assert_eq!(retry.as_deref(), Some("1"));
    match tokio_tungstenite::connect_async(server.ws_url("app-key")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
        }
        other => panic!("expected a 503 handshake, got {other:?}"),
    }

    // The accepted ones keep working: a publish on a kept connection
    // reaches both WebSockets.
    let body = json!({"name":"still","channel":"orders","data":"{}"}).to_string();
    let (status, _, _) = keep_alive_request(
        &mut publisher,
        server.addr,
        ("app-key", "app-secret"),
        "POST",
        "/apps/1000/events",
        &body,
    )
    .await;
    assert_eq!(status, 200);
    for client in [&mut first, &mut second] {
        assert_eq!(client.frame().await["event"], "still");
    }

    // A closed connection frees its place.
    drop(idle);
    let reopened = eventually(WAIT, || async { probe(server.addr).await.ok() }).await;
    drop((reopened, publisher));
    let refused = eventually(WAIT, || async {
        let (status, text) = raw_http(server.addr, "GET", "/metrics", "").await;
        (status == 200).then_some(text)
    })
    .await;
    // The probe and the handshake above, and any probe that came before
    // the freed place did.
    let count = sample(&refused, "clarion_sockets_refused_total").expect("counted");
    assert!(count >= 2.0, "{count}");
    server.shutdown().await;
}

/// Connects `n` WebSockets to `addr`, each subscribed to `channel`.
async fn fleet(addr: SocketAddr, n: usize, channel: &str) -> Vec<Client> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let mut client = connect_at(addr).await;
        client.subscribe(channel).await;
        clients.push(client);
    }
    clients
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_low_open_file_limit_the_real_binary_refuses_cleanly_and_never_fails_accepted_sockets(
) {
    // 160 descriptors: 96 connections (160 - 64 kept in reserve), 48 of
    // them WebSockets (96 - 64 kept for refusals and the HTTP API, but at
    // least half).
    let mut server = Process::start_with_nofile(160, &[], &[]).await;
    // Logged before "listening on", which `start` waited for.
    let capacity = server
        .lines_so_far()
        .iter()
        .find(|l| l.contains("connection capacity"))
        .cloned()
        .unwrap_or_default();
    assert!(
        capacity.contains("48 WebSockets, 96 connections"),
        "{capacity:?}"
    );
    let addr = server.addr;

    let mut clients = fleet(addr, 48, "orders").await;
    // The 49th WebSocket: refused with 4100 after the upgrade, which
    // pusher-js answers by backing off and retrying.
    let mut refused = connect_raw_to(addr, "app-key").await;
    refused
        .expect_refusal(4100, "Server is over capacity")
        .await;

    // Fill the rest of the budget with kept-alive HTTP connections until
    // one is answered 503.
    let mut kept = Vec::new();
    let retry = loop {
        match probe(addr).await {
            Ok(stream) => kept.push(stream),
            Err(retry) => break retry,
        }
        assert!(kept.len() <= 48, "no 503 within the budget");
    };
    assert_eq!(retry.as_deref(), Some("1"));
    assert!(kept.len() >= 44, "only {} connections admitted", kept.len());

    // Every accepted socket still works: one publish on a kept connection
    // reaches all 48 WebSockets.
    let body = json!({"name":"still","channel":"orders","data":"{}"}).to_string();
    let (status, _, reply) = keep_alive_request(
        &mut kept[0],
        addr,
        ("app-key", "app-secret"),
        "POST",
        "/apps/1000/events",
        &body,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    for client in &mut clients {
        assert_eq!(client.frame().await["event"], "still");
    }
    // The process never ran out of descriptors: accept never failed.
    let lines = server.lines_so_far();
    assert!(
        !lines.iter().any(|l| l.contains("accept failed")),
        "{lines:#?}"
    );
    // Freed places are taken again.
    kept.truncate(0);
    let mut late = eventually(WAIT, || async { probe(addr).await.ok() }).await;
    let (status, _, _) = keep_alive_request(
        &mut late,
        addr,
        ("app-key", "app-secret"),
        "GET",
        "/apps/1000/connections",
        "",
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_reload_changes_the_limits_of_sockets_already_connected() {
    let server = server_with(|a| a.max_channels_per_socket = 1).await;
    let mut client = server.connect().await;
    client.subscribe("a").await;
    client
        .send_subscribe(json!({"auth":"","channel":"b"}))
        .await;
    assert_eq!(client.expect_error().await, 4004);
    let mut next = server.config.clone();
    next.apps[0].max_channels_per_socket = 2;
    clarion::reload::apply(&server.node, &server.config, next);
    client.subscribe("b").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_presence_limit_counts_the_members_of_every_node() {
    let redis = Redis::start().await;
    let mut config = node_config(&redis, "floods");
    config.apps[0].max_presence_members = 2;
    let a = TestServer::clustered(config.clone()).await;
    let b = TestServer::clustered(config).await;
    let mut watcher = connect_at(b.addr).await;
    watcher.subscribe("public-probe").await;
    linked(a.addr, &mut watcher, "public-probe").await;

    let room = "presence-room";
    let mut ann = connect_at(a.addr).await;
    ann.subscribe_presence(room, "ann").await;
    // B learns of ann through Redis; bob, on B, then sees her in his roster.
    eventually(WAIT, || async {
        let path = format!("/apps/1000/channels/{room}/users");
        let (_, users) = signed_api(b.addr, "app-key", "app-secret", "GET", &path, &[], "").await;
        (users["users"] == json!([{"id":"ann"}])).then_some(())
    })
    .await;
    let mut bob = connect_at(b.addr).await;
    let roster = bob.subscribe_presence(room, "bob").await;
    assert_eq!(roster["presence"]["count"], 2, "{roster}");
    // A has applied bob's join once ann is told.
    ann.expect_event("pusher_internal:member_added").await;

    // The room is full on both nodes, each counting the other's member.
    for node in [a.addr, b.addr] {
        let mut cy = connect_at(node).await;
        let data = json!({"user_id":"cy"}).to_string();
        let auth = cy.auth(room, Some(&data));
        cy.send_subscribe(json!({"auth":auth,"channel":room,"channel_data":data}))
            .await;
        assert_eq!(cy.expect_error().await, 4004, "on {node}");
    }
    b.shutdown().await;
    a.shutdown().await;
}
