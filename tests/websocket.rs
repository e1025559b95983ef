//! The WebSocket endpoint and connection lifecycle over real sockets:
//! `connection_established` and its fields, query strings, unique socket
//! ids, unknown keys (4001 + close), the handshake response, the `path`
//! prefix, `pusher:ping`/`pusher:pong`, WebSocket control frames, and
//! isolation between apps (checklist items 1–5, 10–12, 15–17, 109).

mod support;

use std::collections::HashSet;

use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::Message;

fn is_socket_id(s: &str) -> bool {
    let mut parts = s.split('.');
    let digits =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
}

#[tokio::test]
async fn first_frame_is_connection_established_with_string_data() {
    let mut config = config_with(app());
    config.apps[0].activity_timeout = 45;
    let server = TestServer::with_config(config).await;
    let mut client = server.connect_raw("app-key").await;
    let hello = client.frame().await;
    assert_eq!(hello["event"], "pusher:connection_established");
    assert!(hello.get("channel").is_none());
    let data_text = hello["data"].as_str().expect("data is a JSON string");
    let data: Value = serde_json::from_str(data_text).expect("json");
    let socket_id = data["socket_id"].as_str().expect("socket_id string");
    assert!(is_socket_id(socket_id), "{socket_id}");
    assert_eq!(data["activity_timeout"], json!(45), "int, the app setting");
    assert_eq!(
        data_text,
        format!(r#"{{"socket_id":"{socket_id}","activity_timeout":45}}"#)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn activity_timeout_defaults_to_30() {
    let server = TestServer::start().await;
    let mut client = server.connect_raw("app-key").await;
    let hello = client.expect_event("pusher:connection_established").await;
    let data: Value = serde_json::from_str(hello["data"].as_str().expect("str")).expect("json");
    assert_eq!(data["activity_timeout"], 30);
    server.shutdown().await;
}

#[tokio::test]
async fn query_string_is_optional_and_ignored() {
    let server = TestServer::start().await;
    for url in [
        format!("ws://{}/app/app-key", server.addr),
        format!(
            "ws://{}/app/app-key?protocol=5&client=java&version=0.0.1",
            server.addr
        ),
        format!(
            "ws://{}/app/app-key?protocol=7&client=js&version=8.4.0&flash=false",
            server.addr
        ),
    ] {
        let (mut client, _) = server.connect_url(&url, &[]).await;
        client.expect_event("pusher:connection_established").await;
        client.subscribe("orders").await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn socket_ids_are_unique_among_live_connections() {
    let server = TestServer::start().await;
    let mut clients = Vec::new();
    for _ in 0..30 {
        clients.push(server.connect().await);
    }
    let ids: HashSet<&str> = clients.iter().map(|c| c.socket_id.as_str()).collect();
    assert_eq!(ids.len(), clients.len());
    assert!(ids.iter().all(|id| is_socket_id(id)));
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_key_gets_4001_then_close_4001() {
    let server = TestServer::start().await;
    let mut client = server.connect_raw("no-such-key").await;
    client
        .expect_refusal(4001, "Application does not exist")
        .await;
    // The refused socket did not disturb anyone else.
    let mut other = server.connect().await;
    other.subscribe("orders").await;
    server.shutdown().await;
}

#[tokio::test]
async fn handshake_answers_101_with_x_powered_by() {
    let server = TestServer::start().await;
    let (mut client, response) = server.connect_url(&server.ws_url("app-key"), &[]).await;
    assert_eq!(response.status(), 101);
    assert!(
        response.headers().get("x-powered-by").is_some(),
        "the 101 response names the server"
    );
    client.expect_event("pusher:connection_established").await;
    server.shutdown().await;
}

#[tokio::test]
async fn path_prefix_applies_to_websocket_and_health_routes() {
    let mut config = config_with(app());
    config.server.path = "/ws".to_owned();
    let server = TestServer::with_config(config).await;
    let url = format!("ws://{}/ws/app/app-key?protocol=7", server.addr);
    let (mut client, _) = server.connect_url(&url, &[]).await;
    client.expect_event("pusher:connection_established").await;
    let unprefixed = tokio_tungstenite::connect_async(server.ws_url("app-key")).await;
    assert!(unprefixed.is_err(), "/app without the prefix is not routed");
    let (status, body) = server.http("GET", "/ws/up", "").await;
    assert_eq!((status, body.as_str()), (200, r#"{"health":"OK"}"#));
    assert_eq!(server.http("GET", "/up", "").await.0, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn pusher_ping_gets_exactly_pusher_pong() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client
        .send_text(r#"{"event":"pusher:ping","data":{}}"#)
        .await;
    assert_eq!(client.frame().await, json!({"event":"pusher:pong"}));
    // data as a JSON string, or absent, is the same ping.
    client
        .send_text(r#"{"event":"pusher:ping","data":"{}"}"#)
        .await;
    assert_eq!(client.frame().await, json!({"event":"pusher:pong"}));
    client.send_text(r#"{"event":"pusher:ping"}"#).await;
    assert_eq!(client.frame().await, json!({"event":"pusher:pong"}));
    server.shutdown().await;
}

#[tokio::test]
async fn pusher_pong_gets_no_reply() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client
        .send_text(r#"{"event":"pusher:pong","data":{}}"#)
        .await;
    client.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn websocket_ping_frame_gets_pong_with_same_payload() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client
        .send_message(Message::Ping(b"are you there".to_vec().into()))
        .await;
    match client.next_message().await {
        Some(Message::Pong(payload)) => assert_eq!(&payload[..], b"are you there"),
        other => panic!("expected a pong frame, got {other:?}"),
    }
    client
        .send_message(Message::Pong(b"unsolicited".to_vec().into()))
        .await;
    client.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn client_close_frame_is_answered_and_connection_forgotten() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.send_message(Message::Close(None)).await;
    loop {
        match client.next_message().await {
            Some(Message::Close(_)) | None => break,
            Some(_) => continue,
        }
    }
    // The socket is forgotten once its task has finished closing, which
    // with more than one server thread may be just after the close frame.
    eventually(WAIT, || async {
        let (_, body) = server.api("GET", "/apps/1000/connections", &[], "").await;
        (body == json!({"connections": 0})).then_some(())
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn apps_are_isolated() {
    let mut config = config_with(app());
    let mut other = app();
    other.id = "other-id".to_owned();
    other.key = "other-key".to_owned();
    other.secret = "other-secret".to_owned();
    config.apps.push(other);
    let server = TestServer::with_config(config).await;

    let mut mine = server.connect().await;
    mine.subscribe("orders").await;
    let mut theirs = server.connect_raw("other-key").await;
    theirs.expect_event("pusher:connection_established").await;
    theirs
        .send_json(json!({"event":"pusher:subscribe","data":{"channel":"orders"}}))
        .await;
    theirs
        .expect_event("pusher_internal:subscription_succeeded")
        .await;

    // An event for 1000's "orders" reaches only 1000's subscriber.
    server.trigger("orders", "for-app-id", "1").await;
    assert_eq!(mine.expect_event("for-app-id").await["data"], "1");
    theirs.assert_nothing_pending().await;

    // The other app's credentials cannot publish to this app, and vice versa.
    let body = json!({"name":"x","channel":"orders","data":"1"}).to_string();
    let (status, _) = server
        .api_as(
            "other-key",
            "other-secret",
            "POST",
            "/apps/1000/events",
            &[],
            &body,
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = server
        .api_as(
            "other-key",
            "other-secret",
            "POST",
            "/apps/other-id/events",
            &[],
            &body,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(theirs.expect_event("x").await["channel"], "orders");
    mine.assert_nothing_pending().await;

    // Each app's channel list holds only its own sockets.
    let (_, body) = server
        .api(
            "GET",
            "/apps/1000/channels",
            &[("info", "subscription_count")],
            "",
        )
        .await;
    assert_eq!(
        body,
        json!({"channels":{"orders":{"subscription_count":1}}})
    );
    server.shutdown().await;
}
