//! Presence channels over real sockets: the roster in
//! `subscription_succeeded`, rosters keyed by user (several sockets of one
//! user count once), `member_added` on a user's first socket only and to the
//! others only, `member_removed` on the last socket, `1` ≡ `"1"`, `hash`
//! always an object, re-subscribe without duplicate events, and invalid
//! member data (checklist items 31–38, 42).

mod support;

use serde_json::{json, Value};
use support::*;

fn data(frame: &Value) -> Value {
    serde_json::from_str(frame["data"].as_str().expect("data is a string")).expect("json")
}

#[tokio::test]
async fn subscription_succeeded_carries_the_roster() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let ack = a
        .subscribe_presence_raw(
            "presence-room.1",
            r#"{"user_id":"1","user_info":{"name":"Taylor"}}"#,
        )
        .await;
    assert_eq!(
        ack,
        json!({
            "event":"pusher_internal:subscription_succeeded",
            "channel":"presence-room.1",
            "data":"{\"presence\":{\"count\":1,\"ids\":[\"1\"],\"hash\":{\"1\":{\"name\":\"Taylor\"}}}}"
        })
    );
    let mut b = server.connect().await;
    let roster = b.subscribe_presence("presence-room.1", "2").await;
    assert_eq!(
        roster,
        json!({"presence":{"count":2,"ids":["1","2"],"hash":{"1":{"name":"Taylor"},"2":{"name":"user 2"}}}})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn new_member_is_announced_to_others_not_to_itself() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    a.subscribe_presence("presence-room", "1").await;
    let mut b = server.connect().await;
    b.subscribe_presence_raw(
        "presence-room",
        r#"{"user_id":"2","user_info":{"name":"Joe"}}"#,
    )
    .await;
    assert_eq!(
        a.frame().await,
        json!({
            "event":"pusher_internal:member_added",
            "channel":"presence-room",
            "data":"{\"user_id\":\"2\",\"user_info\":{\"name\":\"Joe\"}}"
        })
    );
    b.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn several_sockets_of_one_user_count_once() {
    let server = TestServer::start().await;
    let mut watcher = server.connect().await;
    watcher.subscribe_presence("presence-room", "w").await;
    let mut tab1 = server.connect().await;
    tab1.subscribe_presence("presence-room", "1").await;
    assert_eq!(
        data(&watcher.expect_event("pusher_internal:member_added").await)["user_id"],
        "1"
    );
    let mut tab2 = server.connect().await;
    let roster = tab2.subscribe_presence("presence-room", "1").await;
    assert_eq!(roster["presence"]["count"], 2);
    assert_eq!(roster["presence"]["ids"], json!(["w", "1"]));
    // No member_added for the second tab, to anyone.
    watcher.assert_nothing_pending().await;
    tab1.assert_nothing_pending().await;

    let (_, users) = server
        .api("GET", "/apps/1000/channels/presence-room/users", &[], "")
        .await;
    assert_eq!(users, json!({"users":[{"id":"w"},{"id":"1"}]}));

    // First tab leaves: user 1 is still present, nobody is told.
    tab1.unsubscribe("presence-room").await;
    tab1.assert_nothing_pending().await;
    watcher.assert_nothing_pending().await;
    tab2.assert_nothing_pending().await;
    // Last tab leaves: member_removed to the remaining subscribers.
    tab2.close().await;
    assert_eq!(
        watcher.frame().await,
        json!({"event":"pusher_internal:member_removed","channel":"presence-room","data":"{\"user_id\":\"1\"}"})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn unsubscribe_announces_member_removed() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    a.subscribe_presence("presence-room", "1").await;
    let mut b = server.connect().await;
    b.subscribe_presence("presence-room", "2").await;
    a.expect_event("pusher_internal:member_added").await;
    b.unsubscribe("presence-room").await;
    assert_eq!(
        a.frame().await,
        json!({"event":"pusher_internal:member_removed","channel":"presence-room","data":"{\"user_id\":\"2\"}"})
    );
    b.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn numeric_and_string_user_ids_are_the_same_user() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let first = a
        .subscribe_presence_raw("presence-n", r#"{"user_id":1,"user_info":{"n":1}}"#)
        .await;
    assert_eq!(
        data(&first)["presence"]["ids"],
        json!([1]),
        "original type kept"
    );
    let mut b = server.connect().await;
    let second = b
        .subscribe_presence_raw("presence-n", r#"{"user_id":"1","user_info":{"n":2}}"#)
        .await;
    assert_eq!(
        data(&second),
        json!({"presence":{"count":1,"ids":[1],"hash":{"1":{"n":1}}}})
    );
    a.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn hash_is_an_object_even_for_small_integer_ids() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    a.subscribe_presence_raw("presence-i", r#"{"user_id":0}"#)
        .await;
    let mut b = server.connect().await;
    let ack = b
        .subscribe_presence_raw("presence-i", r#"{"user_id":1,"user_info":"one"}"#)
        .await;
    assert_eq!(
        ack["data"],
        r#"{"presence":{"count":2,"ids":[0,1],"hash":{"0":null,"1":"one"}}}"#
    );
    assert_eq!(
        a.frame().await["data"],
        r#"{"user_id":1,"user_info":"one"}"#
    );
    server.shutdown().await;
}

#[tokio::test]
async fn resubscribe_sends_the_roster_again_without_member_events() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    a.subscribe_presence("presence-room", "1").await;
    let mut b = server.connect().await;
    b.subscribe_presence("presence-room", "2").await;
    a.expect_event("pusher_internal:member_added").await;
    let again = b.subscribe_presence("presence-room", "2").await;
    assert_eq!(again["presence"]["count"], 2);
    a.assert_nothing_pending().await;
    b.assert_nothing_pending().await;
    // One unsubscribe still removes the member: the re-subscribe added no socket.
    b.unsubscribe("presence-room").await;
    a.expect_event("pusher_internal:member_removed").await;
    server.shutdown().await;
}

#[tokio::test]
async fn channel_data_without_a_usable_user_id_is_refused() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    for channel_data in [
        r#"{"user_info":{"name":"x"}}"#,
        r#"{"user_id":""}"#,
        r#"{"user_id":{"a":1}}"#,
        r#"["1"]"#,
    ] {
        let auth = a.auth("presence-bad", Some(channel_data));
        a.send_subscribe(json!({"channel":"presence-bad","auth":auth,"channel_data":channel_data}))
            .await;
        assert_eq!(a.expect_error().await, 4009, "{channel_data}");
    }
    a.assert_nothing_pending().await;
    let (status, _) = server
        .api("GET", "/apps/1000/channels/presence-bad/users", &[], "")
        .await;
    assert_eq!(status, 404, "nobody joined");
    server.shutdown().await;
}

#[tokio::test]
async fn members_of_different_channels_do_not_mix() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    a.subscribe_presence("presence-one", "1").await;
    let mut b = server.connect().await;
    let roster = b.subscribe_presence("presence-two", "2").await;
    assert_eq!(roster["presence"]["ids"], json!(["2"]));
    a.assert_nothing_pending().await;
    server.shutdown().await;
}
