//! Watchlist events (online status) over real sockets: a signed-in socket
//! whose `user_data` carries a `watchlist` gets the watched users already
//! online right after `pusher:signin_success`, then
//! `pusher_internal:watchlist_events` `online` when a watched user's first
//! socket signs in and `offline` when the last one closes, once per
//! transition, and nothing about users it does not watch. A watchlist over
//! 100 user ids refuses the sign-in. In a cluster (two nodes, a real Redis)
//! a user signed in on one node is online for watchers on the other, also
//! after a Redis outage, and a SIGKILLed node's users go offline after the
//! node timeout.

mod cluster_support;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use cluster_support::{node_config, ProcessNode, Redis};
use support::{Client, TestServer};

const WATCHLIST_EVENTS: &str = "pusher_internal:watchlist_events";

/// `user_data` for `id` watching `watchlist`.
fn user_data(id: &str, watchlist: &[&str]) -> String {
    json!({"id": id, "watchlist": watchlist}).to_string()
}

/// The `events` of a `pusher_internal:watchlist_events` frame, as
/// `(name, user_ids)` pairs; panics on any other frame.
fn watchlist_events(frame: &Value) -> Vec<(String, Vec<String>)> {
    assert_eq!(frame["event"], WATCHLIST_EVENTS, "got {frame}");
    assert!(frame.get("channel").is_none(), "no channel: {frame}");
    let data: Value =
        serde_json::from_str(frame["data"].as_str().expect("data is a JSON string")).expect("json");
    data["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            let users = e["user_ids"]
                .as_array()
                .expect("user_ids")
                .iter()
                .map(|u| u.as_str().expect("string user id").to_owned())
                .collect();
            (e["name"].as_str().expect("name").to_owned(), users)
        })
        .collect()
}

fn event(name: &str, users: &[&str]) -> Vec<(String, Vec<String>)> {
    vec![(
        name.to_owned(),
        users.iter().map(|u| (*u).to_owned()).collect(),
    )]
}

/// The very next frame must be a watchlist event with exactly `expected`.
async fn expect_watchlist(client: &mut Client, name: &str, users: &[&str]) {
    let frame = client.frame().await;
    assert_eq!(watchlist_events(&frame), event(name, users));
}

/// Signs in and waits until the server has finished with the sign-in (a
/// ping answered after it), so its effects on other sockets are queued.
async fn signed_in(client: &mut Client, data: &str) {
    client.signin(data).await;
    client
        .send_text(r#"{"event":"pusher:ping","data":{}}"#)
        .await;
    client.expect_event("pusher:pong").await;
}

#[tokio::test]
async fn signin_is_followed_by_the_watched_users_already_online() {
    let server = TestServer::start().await;
    let mut alice = server.connect().await;
    signed_in(&mut alice, r#"{"id":"alice"}"#).await;
    let mut bob = server.connect().await;
    signed_in(&mut bob, r#"{"id":"bob"}"#).await;
    // A presence member that never signed in is not online.
    let mut member = server.connect().await;
    member.subscribe_presence("presence-room", "carol").await;

    let mut watcher = server.connect().await;
    let data = user_data("w", &["carol", "bob", "alice", "dave"]);
    let success = watcher.signin(&data).await;
    assert_eq!(success["data"], json!({"user_data": data}).to_string());
    expect_watchlist(&mut watcher, "online", &["bob", "alice"]).await;
    watcher.assert_nothing_pending().await;

    // Nobody watched is online: no frame at all.
    let mut lonely = server.connect().await;
    lonely.signin(&user_data("l", &["nobody"])).await;
    lonely.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn online_on_the_first_socket_offline_after_the_last() {
    let server = TestServer::start().await;
    let mut watcher = server.connect().await;
    watcher.signin(&user_data("w", &["u"])).await;
    // Closing sockets tell the watcher through this presence channel first
    // (a socket leaves its channels before it signs out), so what follows
    // a `member_removed` shows what the close did to the watchlist.
    watcher.subscribe_presence("presence-probe", "w").await;

    let mut tab1 = server.connect().await;
    tab1.subscribe_presence("presence-probe", "tab1").await;
    watcher.expect_event("pusher_internal:member_added").await;
    signed_in(&mut tab1, r#"{"id":"u"}"#).await;
    expect_watchlist(&mut watcher, "online", &["u"]).await;

    let mut tab2 = server.connect().await;
    tab2.subscribe_presence("presence-probe", "tab2").await;
    watcher.expect_event("pusher_internal:member_added").await;
    signed_in(&mut tab2, r#"{"id":"u"}"#).await;
    watcher.assert_nothing_pending().await;

    tab1.close().await;
    let removed = watcher.frame().await;
    assert_eq!(removed["event"], "pusher_internal:member_removed");
    watcher.assert_nothing_pending().await;

    tab2.close().await;
    let removed = watcher.frame().await;
    assert_eq!(removed["event"], "pusher_internal:member_removed");
    expect_watchlist(&mut watcher, "offline", &["u"]).await;
    watcher.assert_nothing_pending().await;

    // Back again: a fresh transition.
    let mut tab3 = server.connect().await;
    signed_in(&mut tab3, r#"{"id":"u"}"#).await;
    expect_watchlist(&mut watcher, "online", &["u"]).await;
    server.shutdown().await;
}

#[tokio::test]
async fn unwatched_users_and_unwatching_sockets_get_nothing() {
    let server = TestServer::start().await;
    let mut watcher = server.connect().await;
    watcher.signin(&user_data("w", &["x"])).await;
    let mut plain = server.connect().await;
    plain.signin(r#"{"id":"p"}"#).await;

    let mut other = server.connect().await;
    signed_in(&mut other, r#"{"id":"y"}"#).await;
    let mut x = server.connect().await;
    signed_in(&mut x, r#"{"id":"x"}"#).await;
    expect_watchlist(&mut watcher, "online", &["x"]).await;
    watcher.assert_nothing_pending().await;
    plain.assert_nothing_pending().await;
    other.assert_nothing_pending().await;
    x.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn numeric_ids_in_a_watchlist_match_string_user_ids() {
    let server = TestServer::start().await;
    let mut watcher = server.connect().await;
    watcher
        .signin(&json!({"id":"w","watchlist":[5, "6", 5]}).to_string())
        .await;
    let mut five = server.connect().await;
    signed_in(&mut five, r#"{"id":"5"}"#).await;
    expect_watchlist(&mut watcher, "online", &["5"]).await;
    watcher.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_watchlist_over_100_user_ids_refuses_the_signin() {
    let server = TestServer::start().await;
    let ids: Vec<String> = (0..101).map(|i| format!("user-{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut over = server.connect().await;
    over.send_signin(&user_data("w", &ids)).await;
    over.expect_refusal(
        4009,
        "Invalid signin: a watchlist holds at most 100 user ids",
    )
    .await;

    let mut full = server.connect().await;
    full.signin(&user_data("w", &ids[..100])).await;
    full.assert_nothing_pending().await;

    for bad in [
        json!({"id":"w","watchlist":"u"}),
        json!({"id":"w","watchlist":[{"id":"u"}]}),
    ] {
        let mut client = server.connect().await;
        client.send_signin(&bad.to_string()).await;
        client
            .expect_refusal(4009, "Invalid signin: signature or user_data rejected")
            .await;
    }
    server.shutdown().await;
}

// === cluster ===

async fn trigger(addr: SocketAddr, channel: &str, event: &str) -> u16 {
    let body = json!({"name": event, "channel": channel, "data": "{}"});
    support::signed_api(
        addr,
        "app-key",
        "app-secret",
        "POST",
        "/apps/1000/events",
        &[],
        &body.to_string(),
    )
    .await
    .0
}

/// Nothing but late link probes is queued for `client`: a ping's pong is
/// the next other frame.
async fn nothing_pending(client: &mut Client) {
    client
        .send_text(r#"{"event":"pusher:ping","data":{}}"#)
        .await;
    let frame = client.next_real().await;
    assert_eq!(frame["event"], "pusher:pong", "unexpected frame: {frame}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_status_is_cluster_wide() {
    let redis = Redis::start().await;
    let a = TestServer::clustered(node_config(&redis, "w1")).await;
    let b = TestServer::clustered(node_config(&redis, "w1")).await;
    let mut watcher = support::connect_at(b.addr).await;
    watcher.subscribe("probe-w").await;
    support::linked(a.addr, &mut watcher, "probe-w").await;
    watcher.signin(&user_data("w", &["alice"])).await;
    watcher.subscribe_presence("presence-probe", "w").await;

    // alice signs in on A: the watcher on B is told.
    let mut alice_a = support::connect_at(a.addr).await;
    alice_a
        .subscribe_presence("presence-probe", "alice-a")
        .await;
    signed_in(&mut alice_a, r#"{"id":"alice"}"#).await;
    let frame = &mut watcher
        .try_event(WATCHLIST_EVENTS, Duration::from_secs(5))
        .await
        .expect("online from the other node");
    assert_eq!(watchlist_events(frame), event("online", &["alice"]));

    // A watcher signing in later on B gets alice in its snapshot.
    let mut late = support::connect_at(b.addr).await;
    late.signin(&user_data("late", &["alice"])).await;
    expect_watchlist(&mut late, "online", &["alice"]).await;

    // A second socket of alice, on B: nobody is told again.
    let mut alice_b = support::connect_at(b.addr).await;
    signed_in(&mut alice_b, r#"{"id":"alice"}"#).await;
    nothing_pending(&mut watcher).await;

    // alice's socket on A closes: she is still online on B. A announces the
    // presence leave, then the sign-out, then the barrier event, in order.
    alice_a.close().await;
    let removed = watcher.expect_event("pusher_internal:member_removed").await;
    assert!(removed["data"].as_str().expect("data").contains("alice-a"));
    assert_eq!(trigger(a.addr, "probe-w", "barrier").await, 200);
    let next = &mut watcher.next_real().await;
    assert_eq!(
        next["event"], "barrier",
        "nothing before the barrier: {next}"
    );

    // Her last socket closes: offline, once, for both watchers.
    alice_b.close().await;
    let offline = &mut watcher.next_real().await;
    assert_eq!(watchlist_events(offline), event("offline", &["alice"]));
    expect_watchlist(&mut late, "offline", &["alice"]).await;
    nothing_pending(&mut watcher).await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_users_go_offline_after_the_node_timeout() {
    let redis = Redis::start().await;
    let mut victim = ProcessNode::start(&redis, "w2").await;
    // The survivor reaps nodes silent for 2 s (node_config).
    let survivor = TestServer::clustered(node_config(&redis, "w2")).await;
    let mut watcher = support::connect_at(survivor.addr).await;
    watcher.signin(&user_data("w", &["doomed"])).await;
    let mut doomed = support::connect_at(victim.addr).await;
    doomed.signin(r#"{"id":"doomed"}"#).await;
    // Announced at sign-in, or in the victim's list when it links.
    let online = &mut watcher
        .try_event(WATCHLIST_EVENTS, Duration::from_secs(10))
        .await
        .expect("the survivor never saw the user on the other node");
    assert_eq!(watchlist_events(online), event("online", &["doomed"]));

    let killed_at = tokio::time::Instant::now();
    victim.kill();
    let offline = &mut watcher
        .try_event(WATCHLIST_EVENTS, Duration::from_secs(10))
        .await
        .expect("offline after the node timeout");
    assert_eq!(watchlist_events(offline), event("offline", &["doomed"]));
    let took = killed_at.elapsed();
    // node_timeout_ms (2 s) + one heartbeat tick, generously bounded.
    assert!(took <= Duration::from_secs(8), "cleanup took {took:?}");
    assert!(
        took >= Duration::from_millis(1_500),
        "reaped before the timeout: {took:?}"
    );
    eprintln!("killed node's user went offline after {took:?}");
    watcher.assert_nothing_pending().await;
    survivor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_signed_in_during_a_redis_outage_are_online_after_it() {
    let mut redis = Redis::start().await;
    let a = TestServer::clustered(node_config(&redis, "w3")).await;
    let b = TestServer::clustered(node_config(&redis, "w3")).await;
    let mut watcher = support::connect_at(b.addr).await;
    watcher.subscribe("probe-w3").await;
    support::linked(a.addr, &mut watcher, "probe-w3").await;
    watcher.signin(&user_data("w", &["m"])).await;

    redis.kill();
    let mut ok = false;
    for _ in 0..50 {
        if trigger(a.addr, "probe-w3", "during").await == 503 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "node A never noticed the outage");
    // m signs in on A while A cannot tell anyone.
    let mut m = support::connect_at(a.addr).await;
    signed_in(&mut m, r#"{"id":"m"}"#).await;

    redis.restart().await;
    // A republishes its signed-in users when it links again.
    let online = &mut watcher
        .try_event(WATCHLIST_EVENTS, Duration::from_secs(15))
        .await
        .expect("online after Redis returned");
    assert_eq!(watchlist_events(online), event("online", &["m"]));
    m.close().await;
    let offline = &mut watcher
        .try_event(WATCHLIST_EVENTS, Duration::from_secs(5))
        .await
        .expect("offline");
    assert_eq!(watchlist_events(offline), event("offline", &["m"]));
    a.shutdown().await;
    b.shutdown().await;
}
