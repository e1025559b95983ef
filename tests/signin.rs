//! User authentication over real sockets: `pusher:signin` signed over
//! `socket_id::user::user_data` gets `pusher:signin_success` carrying the
//! signed string; a bad signature or `user_data` without a string `id` gets
//! 4009 + close; `#server-to-user-{id}` is subscribable only by the socket
//! signed in as `id`, other `#` names never, and publishing to it reaches
//! that user (checklist items 64, 65).

mod support;

use serde_json::json;
use support::*;

const SIGNIN_FAILED: &str = "Invalid signin: signature or user_data rejected";

#[tokio::test]
async fn signin_success_carries_the_signed_user_data_string() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let user_data = r#"{"id":"1","user_info":{"name":"Taylor"}}"#;
    client.send_signin(user_data).await;
    let frame = client.frame().await;
    assert_eq!(
        frame,
        json!({"event":"pusher:signin_success","data":json!({"user_data":user_data}).to_string()})
    );
    assert!(frame.get("channel").is_none());
    client.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn bad_signatures_are_4009_and_close() {
    let server = TestServer::start().await;
    let mut other = server.connect().await;
    other.subscribe("orders").await;
    let user_data = r#"{"id":"1"}"#;
    let good = clarion::auth::sign("app-secret", &format!("1.1::user::{user_data}"));
    for auth in [
        "app-key:00".to_owned(),
        "app-key".to_owned(),
        String::new(),
        format!("app-key:{good}"), // signed for another socket
        format!(
            "other-key:{}",
            clarion::auth::sign(
                "app-secret",
                &format!("{}::user::{user_data}", other.socket_id)
            )
        ),
    ] {
        let mut client = server.connect().await;
        client
            .send_json(json!({"event":"pusher:signin","data":{"auth":auth,"user_data":user_data}}))
            .await;
        client.expect_refusal(4009, SIGNIN_FAILED).await;
    }
    server.trigger("orders", "e", "x").await;
    assert_eq!(other.frame().await["event"], "e");
    server.shutdown().await;
}

#[tokio::test]
async fn user_data_needs_a_non_empty_string_id() {
    let server = TestServer::start().await;
    for user_data in [
        r#"{"id":1}"#,
        r#"{"id":""}"#,
        r#"{"name":"x"}"#,
        "[]",
        "not json",
    ] {
        let mut client = server.connect().await;
        client.send_signin(user_data).await; // correctly signed
        client.expect_refusal(4009, SIGNIN_FAILED).await;
    }
    server.shutdown().await;
}

async fn subscribe_expecting_4009(client: &mut Client, channel: &str) {
    client
        .send_subscribe(json!({"channel":channel,"auth":""}))
        .await;
    let (code, message) = client.expect_error_message().await;
    assert_eq!(
        (code, message.as_str()),
        (4009, "Connection is unauthorized"),
        "{channel}"
    );
    client.assert_nothing_pending().await; // socket stays open
}

#[tokio::test]
async fn server_to_user_channel_needs_signin_as_that_user() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    subscribe_expecting_4009(&mut client, "#server-to-user-1").await;
    client.signin(r#"{"id":"1"}"#).await;
    subscribe_expecting_4009(&mut client, "#server-to-user-2").await;
    subscribe_expecting_4009(&mut client, "#server-to-user-").await;
    subscribe_expecting_4009(&mut client, "#x").await;
    subscribe_expecting_4009(&mut client, "#watchlist").await;
    client.subscribe("#server-to-user-1").await;

    // sendToUser: the backend publishes on the user's channel.
    server
        .trigger("#server-to-user-1", "notice", r#"{"hi":1}"#)
        .await;
    assert_eq!(
        client.frame().await,
        json!({"event":"notice","channel":"#server-to-user-1","data":"{\"hi\":1}"})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn signing_in_again_replaces_the_user() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.signin(r#"{"id":"1"}"#).await;
    client.signin(r#"{"id":"2"}"#).await;
    subscribe_expecting_4009(&mut client, "#server-to-user-1").await;
    client.subscribe("#server-to-user-2").await;
    // Terminating the old identity leaves the socket alone.
    let (status, _) = server
        .api(
            "POST",
            "/apps/1000/users/1/terminate_connections",
            &[],
            "{}",
        )
        .await;
    assert_eq!(status, 200);
    client.assert_nothing_pending().await;
    let (status, _) = server
        .api(
            "POST",
            "/apps/1000/users/2/terminate_connections",
            &[],
            "{}",
        )
        .await;
    assert_eq!(status, 200);
    client
        .expect_refusal(4009, "Connection terminated by the application")
        .await;
    server.shutdown().await;
}
