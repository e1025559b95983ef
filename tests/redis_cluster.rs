//! The cluster suite on a real Redis Cluster (three masters, three
//! replicas, started by the test) with sharded pub/sub: cross-node delivery
//! with exclusion and client events, presence and aggregated queries,
//! terminate, the subscribe-then-publish race, channels spread over the
//! shards (and an app with event history kept on one), webhooks arbitrated
//! in one slot, and a master SIGKILLed: its replica takes over, the
//! subscribers of its channels keep receiving, and the control channel
//! survives.

mod cluster_support;
mod support;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use cluster_support::hook_scenarios;
use cluster_support::redis_cluster::RedisCluster;
use cluster_support::scenarios::{self, api, eventually, trigger};
use cluster_support::Backend;
use support::TestServer;

/// The default app keeps event history, which pins its channels to one
/// shard (README "Redis Cluster"); without it they spread.
fn spread_config(cluster: &RedisCluster, namespace: &str) -> clarion::config::Config {
    let mut config = cluster.node_config(namespace);
    config.apps[0].event_history = 0;
    config
}

/// A `Backend` whose app keeps no history, so its channels spread.
struct Spread<'a>(&'a RedisCluster);

impl Backend for Spread<'_> {
    fn node_config(&self, namespace: &str) -> clarion::config::Config {
        spread_config(self.0, namespace)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_suite_runs_on_a_redis_cluster() {
    let started = tokio::time::Instant::now();
    let cluster = RedisCluster::start().await;
    eprintln!("Redis Cluster up after {:?}", started.elapsed());
    let spread = Spread(&cluster);
    scenarios::events_cross_nodes_with_exclusion_and_client_events(&spread, "c1").await;
    scenarios::presence_is_cluster_wide_and_queries_aggregate(&spread, "c2").await;
    let raced =
        scenarios::a_publish_right_after_a_subscribe_on_another_node_is_delivered(&spread, "c3")
            .await;
    // The race ran on channels of several shards.
    let mut masters = HashSet::new();
    for channel in &raced {
        let key = format!("c3:clarion:1000:{channel}");
        masters.insert(cluster.master_of(cluster.keyslot(&key).await).await);
    }
    assert!(masters.len() >= 2, "the race's channels sat on {masters:?}");
    // The same with the app keeping history (pinned to one shard).
    scenarios::events_cross_nodes_with_exclusion_and_client_events(&cluster, "c4").await;
    // Webhooks: the scripts, the outbox stream and its consumer group in
    // their one slot.
    hook_scenarios::one_event_per_cluster_transition_however_many_nodes_see_it(&spread, "c5").await;
    hook_scenarios::a_node_stopping_gracefully_hands_its_undelivered_events_to_the_others(
        &spread, "c6",
    )
    .await;
    eprintln!("suite done after {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_spread_over_shards_and_a_history_app_keeps_one() {
    let cluster = RedisCluster::start().await;
    let a = TestServer::clustered(spread_config(&cluster, "s1")).await;
    let b = TestServer::clustered(spread_config(&cluster, "s1")).await;
    // Both nodes hold the control channel on its shard.
    assert_eq!(cluster.shard_subscribers("s1:clarion").await, 2);

    let mut on_b = support::connect_at(b.addr).await;
    let mut masters = HashSet::new();
    for i in 0..12 {
        let channel = format!("spread-{i}");
        on_b.subscribe(&channel).await;
        let key = format!("s1:clarion:1000:{channel}");
        // Linked on its own shard before the acknowledgement.
        assert_eq!(cluster.shard_subscribers(&key).await, 1, "{key}");
        masters.insert(cluster.master_of(cluster.keyslot(&key).await).await);
        assert_eq!(trigger(a.addr, &channel, "spread", None).await, 200);
        let got = on_b.expect_event("spread").await;
        assert_eq!(got["channel"], channel.as_str());
    }
    assert!(masters.len() >= 2, "12 channels on {masters:?}");
    eprintln!("12 channels over {} shards", masters.len());
    // Leaving unlinks them.
    on_b.close().await;
    for i in 0..12 {
        let key = format!("s1:clarion:1000:spread-{i}");
        let ok = eventually(Duration::from_secs(5), || async {
            cluster.shard_subscribers(&key).await == 0
        })
        .await;
        assert!(ok, "{key} still linked");
    }
    a.shutdown().await;
    b.shutdown().await;

    // An app with history: channels and stream in one slot; events are
    // added to the stream and cross nodes with its ids.
    let a = TestServer::clustered(cluster.node_config("s2")).await;
    let b = TestServer::clustered(cluster.node_config("s2")).await;
    let stream = "s2:clarion:history:{1000}";
    let mut slots = HashSet::new();
    for channel in ["news", "sport", "weather"] {
        slots.insert(
            cluster
                .keyslot(&format!("s2:clarion:{{1000}}:{channel}"))
                .await,
        );
    }
    slots.insert(cluster.keyslot(stream).await);
    assert_eq!(slots.len(), 1, "a history app's keys share one slot");
    let mut on_b = support::connect_at(b.addr).await;
    on_b.subscribe("news").await;
    assert_eq!(cluster.shard_subscribers("s2:clarion:{1000}:news").await, 1);
    assert_eq!(trigger(a.addr, "news", "kept", None).await, 200);
    on_b.expect_event("kept").await;
    let master = cluster.master_of(cluster.keyslot(stream).await).await;
    let mut conn = RedisCluster::node_conn(master).await;
    let length: i64 = redis::cmd("XLEN")
        .arg(stream)
        .query_async(&mut conn)
        .await
        .expect("XLEN");
    assert_eq!(length, 1);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_fails_over_without_losing_subscribers() {
    let mut cluster = RedisCluster::start().await;
    let a = TestServer::clustered(spread_config(&cluster, "f1")).await;
    let b = TestServer::clustered(spread_config(&cluster, "f1")).await;
    let mut on_b = support::connect_at(b.addr).await;
    // Channels on every shard, so whichever master dies holds some.
    let mut by_master: std::collections::HashMap<u16, Vec<String>> = Default::default();
    for i in 0..12 {
        let channel = format!("fo-{i}");
        on_b.subscribe(&channel).await;
        let key = format!("f1:clarion:1000:{channel}");
        let master = cluster.master_of(cluster.keyslot(&key).await).await;
        by_master.entry(master).or_default().push(channel);
    }
    let mut presence = support::connect_at(a.addr).await;
    presence.subscribe_presence("presence-fo", "alice").await;
    support::linked(a.addr, &mut on_b, "fo-0").await;

    // Kill the master of the control channel's shard: the hardest case.
    let control_slot = cluster.keyslot("f1:clarion").await;
    let victim = cluster.master_of(control_slot).await;
    let doomed = by_master.get(&victim).cloned().unwrap_or_default();
    let killed_at = tokio::time::Instant::now();
    cluster.kill(victim);
    let promoted = eventually(Duration::from_secs(20), || async {
        cluster
            .serving(control_slot)
            .await
            .is_some_and(|port| port != victim)
    })
    .await;
    assert!(promoted, "no replica took over the killed master's slots");
    cluster.wait_ok().await;
    eprintln!("replica promoted after {:?}", killed_at.elapsed());

    // Every channel, the killed shard's included, delivers again.
    for channel in by_master.values().flatten() {
        // One event name per channel: a late copy of another channel's
        // retry is skipped, never mistaken for this one.
        let event = format!("after-{channel}");
        let body = json!({"name": event, "channel": channel, "data": "{}"}).to_string();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut delivered = false;
        while !delivered && tokio::time::Instant::now() < deadline {
            let (status, _) = api(a.addr, "POST", "/apps/1000/events", &[], &body).await;
            if status != 200 {
                // A still relinking: it says the event stayed local.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            delivered = on_b
                .try_event(&event, Duration::from_millis(500))
                .await
                .is_some();
        }
        assert!(
            delivered,
            "{channel} (killed shard: {}) never delivered again",
            doomed.contains(channel)
        );
    }
    eprintln!(
        "all 12 channels ({} on the killed shard) deliver after {:?}",
        doomed.len(),
        killed_at.elapsed()
    );
    // The control channel survived: both nodes hold it on the new master,
    // queries count both nodes, and presence still crosses.
    assert_eq!(cluster.shard_subscribers("f1:clarion").await, 2);
    let (_, connections) = api(b.addr, "GET", "/apps/1000/connections", &[], "").await;
    assert_eq!(connections["connections"], 2, "{connections}");
    let mut bob = support::connect_at(b.addr).await;
    let roster = bob.subscribe_presence("presence-fo", "bob").await;
    assert_eq!(roster["presence"]["count"], 2, "{roster}");
    let added = presence.expect_event("pusher_internal:member_added").await;
    assert!(added["data"].as_str().expect("string").contains("\"bob\""));
    a.shutdown().await;
    b.shutdown().await;
}
