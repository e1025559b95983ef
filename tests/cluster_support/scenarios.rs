//! Scenarios every kind of Redis must pass — one server and a Redis
//! Cluster run the same code (`tests/cluster.rs`, `tests/cluster_routing.rs`,
//! `tests/redis_cluster.rs`).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use super::Backend;
use crate::support::{self, TestServer};

/// A signed HTTP API call of the default app.
pub(crate) async fn api(
    addr: SocketAddr,
    method: &str,
    path: &str,
    params: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    support::signed_api(addr, "app-key", "app-secret", method, path, params, body).await
}

/// Publishes `event` on `channel` through `addr`; returns the status.
pub(crate) async fn trigger(
    addr: SocketAddr,
    channel: &str,
    event: &str,
    socket_id: Option<&str>,
) -> u16 {
    let mut body = json!({"name": event, "channel": channel, "data": "{}"});
    if let Some(s) = socket_id {
        body["socket_id"] = json!(s);
    }
    api(addr, "POST", "/apps/1000/events", &[], &body.to_string())
        .await
        .0
}

/// Polls `check` until it holds or `limit` passes.
pub(crate) async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Events cross nodes, `socket_id` exclusion applies where the socket is,
/// and client events reach other nodes' subscribers but not their sender.
pub(crate) async fn events_cross_nodes_with_exclusion_and_client_events(
    backend: &impl Backend,
    namespace: &str,
) {
    let a = TestServer::clustered(backend.node_config(namespace)).await;
    let b = TestServer::clustered(backend.node_config(namespace)).await;
    let mut on_a = support::connect_at(a.addr).await;
    let mut on_b = support::connect_at(b.addr).await;
    let mut on_b2 = support::connect_at(b.addr).await;
    on_a.subscribe_private("private-room").await;
    on_b.subscribe_private("private-room").await;
    on_b2.subscribe_private("private-room").await;
    support::linked(a.addr, &mut on_b, "private-room").await;

    // socket_id exclusion applies on the node that holds the socket.
    assert_eq!(
        trigger(a.addr, "private-room", "first", Some(&on_b.socket_id)).await,
        200
    );
    assert_eq!(trigger(a.addr, "private-room", "second", None).await, 200);
    on_b2.expect_event("first").await;
    on_a.expect_event("first").await;
    let next = &mut on_b.next_real().await;
    assert_eq!(next["event"], "second", "excluded socket got {next}");

    // A client event sent on B reaches A, not the sender.
    on_b.send_json(json!({"event":"client-typing","channel":"private-room","data":{"n":1}}))
        .await;
    let relayed = on_a.expect_event("client-typing").await;
    assert_eq!(relayed["data"], json!({"n":1}));
    on_b2.expect_event("client-typing").await;
    on_b.assert_nothing_pending().await;
    a.shutdown().await;
    b.shutdown().await;
}

/// Presence rosters span nodes (member_added/removed once per user for
/// the cluster), queries (channels, users, connections) aggregate every
/// node, and terminating a user closes their sockets everywhere.
pub(crate) async fn presence_is_cluster_wide_and_queries_aggregate(
    backend: &impl Backend,
    namespace: &str,
) {
    let a = TestServer::clustered(backend.node_config(namespace)).await;
    let b = TestServer::clustered(backend.node_config(namespace)).await;
    let mut watcher = support::connect_at(b.addr).await;
    watcher.subscribe("public-probe").await;
    support::linked(a.addr, &mut watcher, "public-probe").await;

    let mut alice_a = support::connect_at(a.addr).await;
    alice_a.subscribe_presence("presence-room", "alice").await;
    // A subscriber joining on B sees alice from A in its roster.
    let ok = eventually(Duration::from_secs(5), || async {
        let (_, users) = api(
            b.addr,
            "GET",
            "/apps/1000/channels/presence-room/users",
            &[],
            "",
        )
        .await;
        users["users"] == json!([{"id":"alice"}])
    })
    .await;
    assert!(ok, "B never learnt of alice");
    let mut bob_b = support::connect_at(b.addr).await;
    let roster = bob_b.subscribe_presence("presence-room", "bob").await;
    assert_eq!(roster["presence"]["count"], 2, "{roster}");
    assert!(
        roster["presence"]["hash"].get("alice").is_some(),
        "{roster}"
    );
    let added = alice_a.expect_event("pusher_internal:member_added").await;
    assert!(added["data"].as_str().expect("string").contains("\"bob\""));

    // alice opens a second tab on B: nobody is told again.
    let mut alice_b = support::connect_at(b.addr).await;
    alice_b.subscribe_presence("presence-room", "alice").await;
    bob_b.assert_nothing_pending().await;

    // Queries cover both nodes.
    let (_, channels) = api(
        a.addr,
        "GET",
        "/apps/1000/channels",
        &[("info", "user_count")],
        "",
    )
    .await;
    assert_eq!(
        channels["channels"]["presence-room"]["user_count"], 2,
        "{channels}"
    );
    let (_, channel) = api(
        b.addr,
        "GET",
        "/apps/1000/channels/presence-room",
        &[("info", "user_count")],
        "",
    )
    .await;
    assert_eq!(channel, json!({"occupied": true, "user_count": 2}));
    let (_, public) = api(
        a.addr,
        "GET",
        "/apps/1000/channels/public-probe",
        &[("info", "subscription_count")],
        "",
    )
    .await;
    assert_eq!(public, json!({"occupied": true, "subscription_count": 1}));
    let (_, connections) = api(a.addr, "GET", "/apps/1000/connections", &[], "").await;
    assert_eq!(connections["connections"], 4, "{connections}");

    // alice's tab on A closes: she is still on B, so no member_removed.
    drop(alice_a);
    bob_b.assert_nothing_pending().await;
    // Terminating alice from A closes her socket on B; then she is gone.
    let (status, _) = api(
        a.addr,
        "POST",
        "/apps/1000/users/alice/terminate_connections",
        &[],
        "{}",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(alice_b.expect_close().await, 4009);
    let removed = bob_b.expect_event("pusher_internal:member_removed").await;
    assert_eq!(removed["data"], r#"{"user_id":"alice"}"#);
    a.shutdown().await;
    // A graceful shutdown of A leaves B serving.
    bob_b.assert_nothing_pending().await;
    b.shutdown().await;
}

/// A publish on node A right after a subscribe on node B was acknowledged
/// is delivered: B links the channel before the acknowledgement.
/// Returns the channels used.
pub(crate) async fn a_publish_right_after_a_subscribe_on_another_node_is_delivered(
    backend: &impl Backend,
    namespace: &str,
) -> Vec<String> {
    let a = TestServer::clustered(backend.node_config(namespace)).await;
    let b = TestServer::clustered(backend.node_config(namespace)).await;
    let mut channels = Vec::new();
    let mut on_b = support::connect_at(b.addr).await;
    // A fresh channel each time: B links to it for this subscriber, and
    // A publishes the moment the acknowledgement arrives.
    for i in 0..25 {
        let channel = format!("race-{i}");
        on_b.subscribe(&channel).await;
        a.trigger(&channel, "right-after", "{}").await;
        let got = on_b
            .try_event("right-after", Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("the event on {channel} was lost"));
        assert_eq!(got["channel"], channel.as_str());
        on_b.unsubscribe(&channel).await;
        channels.push(channel);
    }
    a.shutdown().await;
    b.shutdown().await;
    channels
}
