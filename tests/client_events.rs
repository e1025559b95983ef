//! Client events (whispers) over real sockets: relayed to the channel's
//! other subscribers and never echoed, `data` kept as a JSON value, the
//! sender's presence `user_id` added, `accept_client_events_from`
//! (members / all / none), allowed only on private and presence channels
//! (public only by app option, never `private-encrypted-`), and non-client
//! events ignored (checklist items 47–57).

mod support;

use clarion::config::ClientEventsFrom;
use serde_json::json;
use support::*;

async fn server_with(f: impl FnOnce(&mut clarion::config::AppConfig)) -> TestServer {
    let mut app = app();
    f(&mut app);
    TestServer::with_config(config_with(app)).await
}

#[tokio::test]
async fn whisper_reaches_others_never_the_sender() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    let mut c = server.connect().await;
    for client in [&mut a, &mut b, &mut c] {
        client.subscribe_private("private-chat.1").await;
    }
    a.whisper("private-chat.1", "client-typing", json!({"name":"Joe"}))
        .await;
    let expected =
        json!({"event":"client-typing","channel":"private-chat.1","data":{"name":"Joe"}});
    assert_eq!(b.frame().await, expected);
    assert_eq!(c.frame().await, expected);
    a.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn data_is_relayed_as_the_json_value_sent() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe_private("private-a").await;
    b.subscribe_private("private-a").await;
    // Byte-exact relay: key order, spacing, nesting and string data kept.
    a.send_text(r#"{"event":"client-x","channel":"private-a","data":{"z":1, "a":[true,null]}}"#)
        .await;
    let relayed = b.ws_text().await;
    assert_eq!(
        relayed,
        r#"{"event":"client-x","channel":"private-a","data":{"z":1, "a":[true,null]}}"#
    );
    a.send_text(r#"{"event":"client-x","channel":"private-a","data":"{\"s\":1}"}"#)
        .await;
    assert_eq!(b.frame().await["data"], "{\"s\":1}");
    // No data at all is relayed as null.
    a.send_text(r#"{"event":"client-empty","channel":"private-a"}"#)
        .await;
    assert_eq!(
        b.frame().await,
        json!({"event":"client-empty","channel":"private-a","data":null})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn presence_whispers_carry_the_senders_user_id() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe_presence("presence-room", "42").await;
    b.subscribe_presence("presence-room", "7").await;
    a.expect_event("pusher_internal:member_added").await;
    a.whisper("presence-room", "client-hi", json!({"x":1}))
        .await;
    assert_eq!(
        b.frame().await,
        json!({"event":"client-hi","channel":"presence-room","data":{"x":1},"user_id":"42"})
    );
    a.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn members_mode_refuses_non_subscribers_with_4009() {
    let server = TestServer::start().await;
    let mut member = server.connect().await;
    member.subscribe_private("private-a").await;
    let mut outsider = server.connect().await;
    outsider
        .whisper("private-a", "client-sneak", json!({}))
        .await;
    let (code, message) = outsider.expect_error_message().await;
    assert_eq!(
        (code, message.as_str()),
        (4009, "The client is not a member of the specified channel.")
    );
    outsider.assert_nothing_pending().await; // still open
    member.assert_nothing_pending().await; // nothing relayed
    server.shutdown().await;
}

#[tokio::test]
async fn all_mode_relays_from_non_members() {
    let server = server_with(|a| a.accept_client_events_from = ClientEventsFrom::All).await;
    let mut member = server.connect().await;
    member.subscribe_private("private-a").await;
    let mut outsider = server.connect().await;
    outsider.whisper("private-a", "client-in", json!([1])).await;
    assert_eq!(
        member.frame().await,
        json!({"event":"client-in","channel":"private-a","data":[1]})
    );
    outsider.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn none_mode_refuses_every_client_event_with_4301() {
    let server = server_with(|a| a.accept_client_events_from = ClientEventsFrom::None).await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe_private("private-a").await;
    b.subscribe_private("private-a").await;
    a.whisper("private-a", "client-x", json!({})).await;
    let (code, message) = a.expect_error_message().await;
    assert_eq!(
        (code, message.as_str()),
        (4301, "The app does not have client messaging enabled.")
    );
    a.assert_nothing_pending().await;
    b.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn public_channels_refuse_client_events_by_default() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe("public").await;
    b.subscribe("public").await;
    a.whisper("public", "client-x", json!({})).await;
    let (code, message) = a.expect_error_message().await;
    assert_eq!(
        (code, message.as_str()),
        (
            4301,
            "Client events are only allowed on private and presence channels"
        )
    );
    a.assert_nothing_pending().await;
    b.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn public_channels_accept_client_events_when_the_app_allows() {
    let server = server_with(|a| a.client_events_on_public_channels = true).await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe("public").await;
    b.subscribe("public").await;
    a.whisper("public", "client-x", json!({"ok":true})).await;
    assert_eq!(
        b.frame().await,
        json!({"event":"client-x","channel":"public","data":{"ok":true}})
    );
    a.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn encrypted_and_reserved_channels_refuse_client_events() {
    let server = server_with(|a| a.accept_client_events_from = ClientEventsFrom::All).await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe_private("private-encrypted-a").await;
    b.subscribe_private("private-encrypted-a").await;
    for channel in ["private-encrypted-a", "#server-to-user-1", "#reserved"] {
        a.whisper(channel, "client-x", json!({})).await;
        assert_eq!(a.expect_error().await, 4301, "{channel}");
    }
    b.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn non_client_events_are_ignored() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe_private("private-a").await;
    b.subscribe_private("private-a").await;
    for event in ["typing", "pusher_internal:member_added", "App\\Events\\X"] {
        a.whisper("private-a", event, json!({})).await;
    }
    a.assert_nothing_pending().await;
    b.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn whisper_to_an_invalid_channel_name_is_4200() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    a.whisper("private-bad name", "client-x", json!({})).await;
    assert_eq!(a.expect_error().await, 4200);
    a.send_text(r#"{"event":"client-x","channel":["private-a"],"data":{}}"#)
        .await;
    assert_eq!(a.expect_error().await, 4200);
    a.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn whispers_on_cache_channels_become_the_cached_event() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe_private("private-cache-a").await;
    a.expect_event("pusher:cache_miss").await;
    b.subscribe_private("private-cache-a").await;
    b.expect_event("pusher:cache_miss").await;
    a.whisper("private-cache-a", "client-last", json!({"n":1}))
        .await;
    b.expect_event("client-last").await;
    let mut c = server.connect().await;
    c.subscribe_private("private-cache-a").await;
    assert_eq!(
        c.frame().await,
        json!({"event":"client-last","channel":"private-cache-a","data":{"n":1}})
    );
    server.shutdown().await;
}
