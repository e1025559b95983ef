//! Bad input gets its documented error and harms nobody else: non-JSON,
//! non-string `event`, unknown `pusher:*` events, mistyped subscribe fields,
//! binary frames (4200, socket kept), invalid UTF-8 (close 1007), frames over
//! `max_message_size` (close 1009), and on the HTTP API missing or wrong
//! signatures, stale timestamps, `body_md5` mismatches, a foreign `auth_key`
//! (401), unknown apps (404) and oversize bodies (413). After each, a second
//! client on the same server still receives events (checklist items 13, 14,
//! 18–20, 22, 56, 66, 70, 78).

mod support;

use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

/// A client subscribed to `bystander`, to prove the server still delivers.
async fn bystander(server: &TestServer) -> Client {
    let mut client = server.connect().await;
    client.subscribe("bystander").await;
    client
}

async fn still_served(server: &TestServer, client: &mut Client) {
    server.trigger("bystander", "still-here", "ok").await;
    let frame = client.frame().await;
    assert_eq!(
        frame,
        json!({"event":"still-here","channel":"bystander","data":"ok"})
    );
}

/// Sends each text and expects 4200 `Invalid message format`, socket open.
async fn expect_4200_for(server: &TestServer, texts: &[&str]) {
    let mut other = bystander(server).await;
    let mut client = server.connect().await;
    for text in texts {
        client.send_text(text).await;
        let (code, message) = client.expect_error_message().await;
        assert_eq!(
            (code, message.as_str()),
            (4200, "Invalid message format"),
            "{text}"
        );
        client.assert_nothing_pending().await;
    }
    client.subscribe("after").await; // the socket is fully usable
    still_served(server, &mut other).await;
}

#[tokio::test]
async fn non_json_frames_are_4200() {
    let server = TestServer::start().await;
    expect_4200_for(
        &server,
        &["hello", "", "{", "[]", "42", "null", "\"pusher:ping\""],
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn non_string_event_is_4200() {
    let server = TestServer::start().await;
    expect_4200_for(
        &server,
        &[
            r#"{"data":{}}"#,
            r#"{"event":1,"data":{}}"#,
            r#"{"event":null}"#,
            r#"{"event":{"name":"pusher:ping"}}"#,
        ],
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_pusher_events_are_4200() {
    let server = TestServer::start().await;
    expect_4200_for(
        &server,
        &[
            r#"{"event":"pusher:bogus","data":{}}"#,
            r#"{"event":"pusher:connection_established","data":{}}"#,
            r#"{"event":"pusher:error","data":{}}"#,
        ],
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn mistyped_subscribe_fields_are_4200() {
    let server = TestServer::start().await;
    expect_4200_for(
        &server,
        &[
            r#"{"event":"pusher:subscribe","data":"not json"}"#,
            r#"{"event":"pusher:subscribe","data":{"channel":null}}"#,
            r#"{"event":"pusher:subscribe","data":{"channel":["a"]}}"#,
            r#"{"event":"pusher:subscribe","data":{}}"#,
            r#"{"event":"pusher:subscribe","data":{"channel":"private-a","auth":["x"]}}"#,
            r#"{"event":"pusher:subscribe","data":{"channel":"presence-a","auth":"k:s","channel_data":"{nope"}}"#,
            r#"{"event":"pusher:subscribe","data":{"channel":"bad name"}}"#,
            r#"{"event":"pusher:unsubscribe","data":{"channel":7}}"#,
            r#"{"event":"client-x","channel":["private-a"],"data":{}}"#,
            r#"{"event":"pusher:signin","data":{"auth":1,"user_data":"{}"}}"#,
        ],
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn binary_frames_are_4200_and_the_socket_stays_open() {
    let server = TestServer::start().await;
    let mut other = bystander(&server).await;
    let mut client = server.connect().await;
    client
        .send_message(Message::Binary(
            br#"{"event":"pusher:ping","data":{}}"#.to_vec().into(),
        ))
        .await;
    assert_eq!(client.expect_error().await, 4200);
    client.assert_nothing_pending().await;
    still_served(&server, &mut other).await;
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    let server = TestServer::start().await;
    let mut other = bystander(&server).await;
    let mut client = server.connect().await;
    let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    client.send_message(Message::Frame(frame)).await;
    assert_eq!(client.expect_close().await, 1007);
    still_served(&server, &mut other).await;
    server.shutdown().await;
}

#[tokio::test]
async fn frames_over_max_message_size_close_with_1009() {
    let mut config = config_with(app());
    config.apps[0].max_message_size = 200;
    let server = TestServer::with_config(config).await;
    let mut other = bystander(&server).await;
    let mut client = server.connect().await;
    let padding = "x".repeat(150);
    let within = json!({"event":"pusher:ping","data":{"pad":padding}}).to_string();
    assert!(within.len() <= 200);
    client.send_text(&within).await;
    assert_eq!(client.frame().await["event"], "pusher:pong");
    let over = json!({"event":"pusher:ping","data":{"pad":"x".repeat(250)}}).to_string();
    client.send_text(&over).await;
    match client.next().await {
        Received::Closed(Some(close)) => {
            assert_eq!(u16::from(close.code), 1009);
            assert_eq!(close.reason.as_str(), "Maximum message size exceeded");
        }
        other => panic!("expected close 1009, got {other:?}"),
    }
    still_served(&server, &mut other).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_larger_per_app_limit_admits_larger_frames() {
    let mut config = config_with(app());
    config.apps[0].max_message_size = 50_000;
    let server = TestServer::with_config(config).await;
    let mut client = server.connect().await;
    let big = json!({"event":"pusher:ping","data":{"pad":"x".repeat(20_000)}}).to_string();
    client.send_text(&big).await;
    assert_eq!(client.frame().await["event"], "pusher:pong");
    server.shutdown().await;
}

/// Sends a raw request; asserts the status and a JSON `error` message.
async fn expect_http_error(server: &TestServer, path_and_query: &str, body: &str, status: u16) {
    let (got, text) = server.http("POST", path_and_query, body).await;
    assert_eq!(got, status, "{path_and_query}: {text}");
    let reply: serde_json::Value = serde_json::from_str(&text).expect("JSON error body");
    assert!(
        reply["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{reply}"
    );
}

#[tokio::test]
async fn badly_signed_http_requests_are_401() {
    let server = TestServer::start().await;
    let mut other = bystander(&server).await;
    let path = "/apps/1000/events";
    let body = json!({"name":"e","channel":"bystander","data":"leak"}).to_string();
    let sign = |key: &str, secret: &str, signed_body: &str, ts: u64| {
        clarion::auth::http_signature::signed_query(
            key,
            secret,
            "POST",
            path,
            &[],
            signed_body.as_bytes(),
            ts,
        )
    };
    let good = sign("app-key", "app-secret", &body, now());
    let no_signature: String = good
        .split('&')
        .filter(|p| !p.starts_with("auth_signature="))
        .collect::<Vec<_>>()
        .join("&");
    let tampered_sig = good.replace("auth_signature=", "auth_signature=0");
    let cases = [
        ("no query at all", String::new()),
        ("no auth_signature", no_signature),
        ("signature not hex", tampered_sig),
        ("wrong secret", sign("app-key", "wrong", &body, now())),
        (
            "foreign auth_key",
            sign("other-key", "app-secret", &body, now()),
        ),
        (
            "stale timestamp",
            sign("app-key", "app-secret", &body, now() - 601),
        ),
        (
            "future timestamp",
            sign("app-key", "app-secret", &body, now() + 601),
        ),
        (
            "body_md5 of another body",
            sign("app-key", "app-secret", "{}", now()),
        ),
        (
            "extra unsigned parameter",
            format!("{good}&info=user_count"),
        ),
    ];
    for (why, query) in cases {
        let (status, text) = server.http("POST", &format!("{path}?{query}"), &body).await;
        assert_eq!(status, 401, "{why}: {text}");
        let reply: serde_json::Value = serde_json::from_str(&text).expect("JSON error body");
        assert!(reply["error"].is_string(), "{why}: {reply}");
    }
    other.assert_nothing_pending().await; // nothing leaked through
    still_served(&server, &mut other).await;
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_signature_on_every_route_is_401() {
    let server = TestServer::start().await;
    for (method, path) in [
        ("GET", "/apps/1000/channels"),
        ("GET", "/apps/1000/channels/a"),
        ("GET", "/apps/1000/channels/presence-a/users"),
        ("GET", "/apps/1000/connections"),
        ("POST", "/apps/1000/batch_events"),
        ("POST", "/apps/1000/users/1/terminate_connections"),
    ] {
        let body = if method == "POST" { "{}" } else { "" };
        let (status, _) = server
            .api_as("app-key", "wrong", method, path, &[], body)
            .await;
        assert_eq!(status, 401, "{method} {path}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_app_is_404_and_oversize_body_is_413() {
    let server = TestServer::start().await;
    let mut other = bystander(&server).await;
    let body = json!({"name":"e","channel":"bystander","data":"x"}).to_string();
    let query = server.signed("POST", "/apps/nope/events", &[], &body);
    expect_http_error(&server, &format!("/apps/nope/events?{query}"), &body, 404).await;
    still_served(&server, &mut other).await;

    let big = json!({"name":"e","channel":"bystander","data":"x".repeat(20_000)}).to_string();
    let query = server.signed("POST", "/apps/1000/events", &[], &big);
    expect_http_error(&server, &format!("/apps/1000/events?{query}"), &big, 413).await;
    other.assert_nothing_pending().await;
    still_served(&server, &mut other).await;

    let query = server.signed("POST", "/apps/1000/events", &[], "{oops");
    expect_http_error(&server, &format!("/apps/1000/events?{query}"), "{oops", 400).await;
    still_served(&server, &mut other).await;
    server.shutdown().await;
}
