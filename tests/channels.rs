//! Subscribing over real sockets: public, private, private-encrypted and
//! cache channels, auth failures (4009, socket kept), re-subscribe,
//! unsubscribe, disconnect cleanup, cache replay / `pusher:cache_miss`, and
//! the opt-in `pusher_internal:subscription_count` (checklist items 21,
//! 23–30, 39–46).

mod support;

use serde_json::{json, Value};
use support::*;

#[tokio::test]
async fn public_subscribe_gets_the_exact_ack() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client
        .send_subscribe(json!({"auth":"","channel":"test-channel"}))
        .await;
    assert_eq!(
        client.frame().await,
        json!({"event":"pusher_internal:subscription_succeeded","channel":"test-channel","data":"{}"})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn public_subscribe_ignores_auth_and_accepts_string_data() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client
        .send_subscribe(json!({"auth":"garbage:deadbeef","channel":"a"}))
        .await;
    client
        .expect_event("pusher_internal:subscription_succeeded")
        .await;
    // `data` as a JSON-encoded string is decoded first.
    client
        .send_text(r#"{"event":"pusher:subscribe","data":"{\"channel\":\"b\"}"}"#)
        .await;
    let ack = client.frame().await;
    assert_eq!(ack["event"], "pusher_internal:subscription_succeeded");
    assert_eq!(ack["channel"], "b");
    server.trigger("b", "e", "x").await;
    assert_eq!(client.expect_event("e").await["channel"], "b");
    server.shutdown().await;
}

#[tokio::test]
async fn private_subscribe_with_valid_signature() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    for channel in ["private-orders", "private-encrypted-orders"] {
        let auth = client.auth(channel, None);
        client
            .send_subscribe(json!({"auth":auth,"channel":channel}))
            .await;
        assert_eq!(
            client.frame().await,
            json!({"event":"pusher_internal:subscription_succeeded","channel":channel,"data":"{}"})
        );
    }
    server.shutdown().await;
}

/// Every way of getting private auth wrong: pusher:error 4009 without a
/// channel, and the socket stays usable.
#[tokio::test]
async fn bad_private_auth_is_4009_and_the_socket_stays_open() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let other_socket =
        clarion::auth::channel_auth_token("app-key", "app-secret", "1.1", "private-a", None);
    let wrong_secret =
        clarion::auth::channel_auth_token("app-key", "nope", &client.socket_id, "private-a", None);
    let good_sig = client.auth("private-a", None);
    let wrong_key = good_sig.replacen("app-key", "other-key", 1);
    let other_channel = client.auth("private-b", None);
    let cases = [
        json!({"channel":"private-a"}),
        json!({"channel":"private-a","auth":null}),
        json!({"channel":"private-a","auth":""}),
        json!({"channel":"private-a","auth":"app-key"}),
        json!({"channel":"private-a","auth":"app-key:nothex"}),
        json!({"channel":"private-a","auth":other_socket}),
        json!({"channel":"private-a","auth":wrong_secret}),
        json!({"channel":"private-a","auth":wrong_key}),
        json!({"channel":"private-a","auth":other_channel}),
    ];
    for data in cases {
        client.send_subscribe(data.clone()).await;
        let (code, message) = client.expect_error_message().await;
        assert_eq!(
            (code, message.as_str()),
            (4009, "Connection is unauthorized"),
            "{data}"
        );
        client.assert_nothing_pending().await;
    }
    // Nothing was subscribed; a valid token still works on the same socket.
    server.trigger("private-a", "leak", "x").await;
    client.assert_nothing_pending().await;
    client.subscribe_private("private-a").await;
    server.shutdown().await;
}

#[tokio::test]
async fn auth_is_required_on_every_private_and_presence_kind() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let presence_data = r#"{"user_id":"1"}"#;
    for channel in [
        "private-encrypted-a",
        "private-cache-a",
        "private-encrypted-cache-a",
        "presence-a",
        "presence-cache-a",
    ] {
        client
            .send_subscribe(
                json!({"channel":channel,"auth":"app-key:00","channel_data":presence_data}),
            )
            .await;
        assert_eq!(client.expect_error().await, 4009, "{channel}");
        client
            .send_subscribe(json!({"channel":channel,"channel_data":presence_data}))
            .await;
        assert_eq!(client.expect_error().await, 4009, "{channel} without auth");
    }
    client.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn presence_signature_covers_the_exact_channel_data_string() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let signed = r#"{"user_id":"1","user_info":{"name":"A"}}"#;
    let sent = r#"{"user_id": "1","user_info":{"name":"A"}}"#; // same JSON, other bytes
    let auth = client.auth("presence-a", Some(signed));
    client
        .send_subscribe(json!({"channel":"presence-a","auth":auth,"channel_data":sent}))
        .await;
    assert_eq!(client.expect_error().await, 4009);
    // Presence without channel_data is refused even if signed without it.
    let auth = client.auth("presence-a", None);
    client
        .send_subscribe(json!({"channel":"presence-a","auth":auth}))
        .await;
    assert_eq!(client.expect_error().await, 4009);
    // The exact string, unusual spacing included, is accepted.
    let ack = client.subscribe_presence_raw("presence-a", sent).await;
    assert_eq!(ack["channel"], "presence-a");
    server.shutdown().await;
}

#[tokio::test]
async fn resubscribe_resends_the_ack() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.subscribe("orders").await;
    client.subscribe("orders").await;
    server.trigger("orders", "once", "x").await;
    client.expect_event("once").await;
    client.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn many_sockets_many_channels() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    for c in ["one", "two", "three"] {
        a.subscribe(c).await;
    }
    b.subscribe("two").await;
    b.subscribe("three").await;
    for c in ["one", "two", "three"] {
        server.trigger(c, "e", c).await;
    }
    for c in ["one", "two", "three"] {
        assert_eq!(a.expect_event("e").await["channel"], c);
    }
    for c in ["two", "three"] {
        assert_eq!(b.expect_event("e").await["channel"], c);
    }
    a.assert_nothing_pending().await;
    b.assert_nothing_pending().await;
    server.shutdown().await;
}

async fn channel_names(server: &TestServer) -> Value {
    server.api("GET", "/apps/1000/channels", &[], "").await.1
}

#[tokio::test]
async fn unsubscribe_stops_delivery_and_removes_empty_channels() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    a.subscribe("one").await;
    a.subscribe("two").await;
    a.unsubscribe("one").await;
    a.unsubscribe("never-subscribed").await;
    a.assert_nothing_pending().await; // no reply to either
    assert_eq!(channel_names(&server).await, json!({"channels":{"two":{}}}));
    server.trigger("one", "gone", "x").await;
    server.trigger("two", "kept", "x").await;
    assert_eq!(a.frame().await["event"], "kept");
    server.shutdown().await;
}

#[tokio::test]
async fn disconnect_unsubscribes_from_every_channel() {
    let server = TestServer::start().await;
    let mut leaver = server.connect().await;
    let mut watcher = server.connect().await;
    leaver.subscribe("public-a").await;
    leaver.subscribe_private("private-a").await;
    leaver.subscribe_presence("presence-a", "1").await;
    watcher.subscribe_presence("presence-a", "2").await;
    watcher.subscribe("public-b").await;
    leaver.close().await;
    // member_removed is sent after the socket's other channels are left.
    let removed = watcher.expect_event("pusher_internal:member_removed").await;
    assert_eq!(removed["data"], r#"{"user_id":"1"}"#);
    assert_eq!(
        channel_names(&server).await,
        json!({"channels":{"presence-a":{},"public-b":{}}})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn cache_channels_send_cache_miss_after_the_ack() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let presence_data = r#"{"user_id":"1"}"#;
    for channel in [
        "cache-a",
        "private-cache-a",
        "private-encrypted-cache-a",
        "presence-cache-a",
    ] {
        let mut data = json!({"channel":channel});
        if channel.starts_with("presence-") {
            data["auth"] = json!(client.auth(channel, Some(presence_data)));
            data["channel_data"] = json!(presence_data);
        } else if channel.starts_with("private-") {
            data["auth"] = json!(client.auth(channel, None));
        }
        client.send_subscribe(data).await;
        let ack = client.frame().await;
        assert_eq!(
            ack["event"], "pusher_internal:subscription_succeeded",
            "{channel}"
        );
        assert_eq!(
            client.frame().await,
            json!({"event":"pusher:cache_miss","channel":channel})
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn cache_channels_replay_the_last_event_to_new_subscribers() {
    let server = TestServer::start().await;
    for channel in ["cache-b", "private-cache-b", "presence-cache-b"] {
        server.trigger(channel, "first", r#"{"n":1}"#).await;
        server.trigger(channel, "second", r#"{"n":2}"#).await;
        let mut client = server.connect().await;
        if channel.starts_with("presence-") {
            client.subscribe_presence(channel, "9").await;
        } else if channel.starts_with("private-") {
            client.subscribe_private(channel).await;
        } else {
            client.subscribe(channel).await;
        }
        assert_eq!(
            client.frame().await,
            json!({"event":"second","channel":channel,"data":"{\"n\":2}"}),
            "{channel}: the last event, right after the ack"
        );
        client.assert_nothing_pending().await;
    }
    // Non-cache channels replay nothing.
    server.trigger("plain", "e", "x").await;
    let mut client = server.connect().await;
    client.subscribe("plain").await;
    client.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn subscription_count_events_are_opt_in() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    a.subscribe("counted").await;
    let mut b = server.connect().await;
    b.subscribe("counted").await;
    a.assert_nothing_pending().await;
    server.shutdown().await;

    let mut config = config_with(app());
    config.apps[0].subscription_count_events = true;
    let server = TestServer::with_config(config).await;
    let mut a = server.connect().await;
    a.subscribe("counted").await;
    let count = |n: u32| json!({"event":"pusher_internal:subscription_count","channel":"counted","data":format!("{{\"subscription_count\":{n}}}")});
    assert_eq!(a.frame().await, count(1));
    let mut b = server.connect().await;
    b.subscribe("counted").await;
    assert_eq!(b.frame().await, count(2));
    assert_eq!(a.frame().await, count(2));
    b.unsubscribe("counted").await;
    assert_eq!(a.frame().await, count(1));
    b.assert_nothing_pending().await;
    server.shutdown().await;
}
