//! Several nodes behave as one server through a real Redis: cross-node
//! delivery and exclusion, cluster-wide presence, aggregated queries,
//! terminate everywhere, a SIGKILLed node's members removed, Redis killed
//! and restarted mid-stream, and two deployments on one Redis isolated.

mod cluster_support;
mod support;

use std::time::Duration;

use serde_json::json;

use cluster_support::scenarios::{self, api, eventually, trigger};
use cluster_support::{node_config, ProcessNode, Redis};
use support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cross_nodes_with_exclusion_and_client_events() {
    let redis = Redis::start().await;
    scenarios::events_cross_nodes_with_exclusion_and_client_events(&redis, "t1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_cluster_wide_and_queries_aggregate() {
    let redis = Redis::start().await;
    scenarios::presence_is_cluster_wide_and_queries_aggregate(&redis, "t2").await;
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
