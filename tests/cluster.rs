//! Several nodes behave as one server through a real Redis: cross-node
//! delivery and exclusion, cluster-wide presence, aggregated queries,
//! terminate everywhere, a SIGKILLed node's members removed, Redis killed
//! and restarted mid-stream, and two deployments on one Redis isolated.

mod cluster_support;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use cluster_support::{node_config, ProcessNode, Redis};
use support::TestServer;

async fn api(
    addr: SocketAddr,
    method: &str,
    path: &str,
    params: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    support::signed_api(addr, "app-key", "app-secret", method, path, params, body).await
}

async fn trigger(addr: SocketAddr, channel: &str, event: &str, socket_id: Option<&str>) -> u16 {
    let mut body = json!({"name": event, "channel": channel, "data": "{}"});
    if let Some(s) = socket_id {
        body["socket_id"] = json!(s);
    }
    api(addr, "POST", "/apps/1000/events", &[], &body.to_string())
        .await
        .0
}

/// Polls `check` until it holds or `limit` passes.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cross_nodes_with_exclusion_and_client_events() {
    let redis = Redis::start().await;
    let a = TestServer::clustered(node_config(&redis, "t1")).await;
    let b = TestServer::clustered(node_config(&redis, "t1")).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_cluster_wide_and_queries_aggregate() {
    let redis = Redis::start().await;
    let a = TestServer::clustered(node_config(&redis, "t2")).await;
    let b = TestServer::clustered(node_config(&redis, "t2")).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_node_members_are_removed_within_the_bound() {
    let redis = Redis::start().await;
    let mut victim = ProcessNode::start(&redis, "t3").await;
    let survivor = TestServer::clustered(node_config(&redis, "t3")).await;
    let mut watcher = support::connect_at(survivor.addr).await;
    watcher.subscribe_presence("presence-ops", "watcher").await;
    let mut doomed = support::connect_at(victim.addr).await;
    doomed.subscribe_presence("presence-ops", "doomed").await;
    assert!(
        watcher
            .try_event("pusher_internal:member_added", Duration::from_secs(10))
            .await
            .is_some(),
        "the survivor never saw the member on the other node"
    );
    let killed_at = tokio::time::Instant::now();
    victim.kill();
    // The default node timeout is 10 s; the documented bound is 15 s.
    let removed = watcher
        .try_event("pusher_internal:member_removed", Duration::from_secs(16))
        .await
        .expect("member_removed within 16 s");
    assert_eq!(removed["data"], r#"{"user_id":"doomed"}"#);
    let took = killed_at.elapsed();
    assert!(took <= Duration::from_secs(15), "cleanup took {took:?}");
    eprintln!("killed node's member removed after {took:?}");
    survivor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_keeps_local_delivery_and_converges_after() {
    let mut redis = Redis::start().await;
    let a = TestServer::clustered(node_config(&redis, "t4")).await;
    let b = TestServer::clustered(node_config(&redis, "t4")).await;
    let mut local = support::connect_at(a.addr).await;
    let mut remote = support::connect_at(b.addr).await;
    local.subscribe("ticker").await;
    remote.subscribe("ticker").await;
    support::linked(a.addr, &mut remote, "ticker").await;

    redis.kill();
    // Local delivery keeps working; the publisher is told it stayed local.
    let ok = eventually(Duration::from_secs(5), || async {
        trigger(a.addr, "ticker", "during", None).await == 503
    })
    .await;
    assert!(ok, "publishing during the outage never reported 503");
    local.expect_event("during").await;

    redis.restart().await;
    let ok = eventually(Duration::from_secs(15), || async {
        trigger(a.addr, "ticker", "after", None).await == 200
    })
    .await;
    assert!(ok, "node A never reconnected");
    support::linked(a.addr, &mut remote, "ticker").await;

    // Presence converges after the outage too.
    let mut member = support::connect_at(a.addr).await;
    member.subscribe_presence("presence-after", "m1").await;
    let ok = eventually(Duration::from_secs(5), || async {
        let (_, users) = api(
            b.addr,
            "GET",
            "/apps/1000/channels/presence-after/users",
            &[],
            "",
        )
        .await;
        users["users"] == json!([{"id":"m1"}])
    })
    .await;
    assert!(ok, "rosters did not converge after Redis returned");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deployments_on_one_redis_are_isolated() {
    let redis = Redis::start().await;
    let blue = TestServer::clustered(node_config(&redis, "blue")).await;
    let blue2 = TestServer::clustered(node_config(&redis, "blue")).await;
    let green = TestServer::clustered(node_config(&redis, "green")).await;
    let mut on_blue2 = support::connect_at(blue2.addr).await;
    let mut on_green = support::connect_at(green.addr).await;
    on_blue2.subscribe("news").await;
    on_green.subscribe("news").await;
    support::linked(blue.addr, &mut on_blue2, "news").await;
    assert_eq!(trigger(green.addr, "news", "green-only", None).await, 200);
    // The first frame green sees is its own event: none of blue's probes.
    assert_eq!(on_green.frame().await["event"], "green-only");
    blue.shutdown().await;
    blue2.shutdown().await;
    green.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_node_delays_queries_by_the_timeout_at_most() {
    let redis = Redis::start().await;
    let frozen = ProcessNode::start(&redis, "t6").await;
    let mut config = node_config(&redis, "t6");
    config.scaling.node_timeout_ms = 60_000; // keep the frozen node in the cluster
    let live = TestServer::clustered(config).await;
    let mut on_frozen = support::connect_at(frozen.addr).await;
    on_frozen.subscribe("ticker").await;
    let mut local = support::connect_at(live.addr).await;
    local.subscribe("ticker").await;
    // Both nodes answer while both are running.
    let ok = eventually(Duration::from_secs(10), || async {
        let (_, c) = api(live.addr, "GET", "/apps/1000/connections", &[], "").await;
        c["connections"] == 2
    })
    .await;
    assert!(ok, "the query never covered both nodes");
    frozen.signal("STOP");
    let started = tokio::time::Instant::now();
    let (status, c) = api(live.addr, "GET", "/apps/1000/connections", &[], "").await;
    let took = started.elapsed();
    frozen.signal("CONT");
    assert_eq!(status, 200);
    assert_eq!(
        c["connections"], 1,
        "answers with the nodes that replied: {c}"
    );
    // query_timeout_ms is 1 s in node_config.
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "took {took:?}"
    );
    live.shutdown().await;
}
