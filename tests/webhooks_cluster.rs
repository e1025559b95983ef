//! Webhooks of a cluster on a real Redis: one event per cluster-level
//! transition however many nodes see it, a SIGKILLed node's undelivered
//! batches taken over by another node, and its members removed once.

mod cluster_support;
mod support;

use cluster_support::hook_scenarios::{self, label, until_markers, DELIVERY};
use cluster_support::{ProcessNode, Redis};
use support::receiver::Receiver;

#[tokio::test]
async fn one_event_per_cluster_transition_however_many_nodes_see_it() {
    let redis = Redis::start().await;
    hook_scenarios::one_event_per_cluster_transition_however_many_nodes_see_it(
        &redis,
        "hooks-once",
    )
    .await;
}

#[tokio::test]
async fn a_killed_nodes_batches_are_taken_over_and_its_members_removed_once() {
    let redis = Redis::start().await;
    let mut receiver = Receiver::down_on_free_port();
    let url = receiver.url();
    let env = [
        ("CLARION_WEBHOOK_URL", url.as_str()),
        (
            "CLARION_WEBHOOK_EVENT_TYPES",
            "channel_occupied,channel_vacated,member_added,member_removed",
        ),
        ("CLARION_WEBHOOKS_BATCH_WAIT_MS", "20"),
        ("CLARION_WEBHOOKS_RETRY_INITIAL_MS", "100"),
        ("CLARION_WEBHOOKS_RETRY_MAX_MS", "300"),
        ("CLARION_WEBHOOKS_CLAIM_AFTER_MS", "1000"),
        ("CLARION_SCALING_HEARTBEAT_INTERVAL_MS", "300"),
        ("CLARION_SCALING_NODE_TIMEOUT_MS", "2000"),
    ];
    let mut doomed = ProcessNode::start_with(&redis.url(), "hooks-kill", &env).await;
    let survivor = ProcessNode::start_with(&redis.url(), "hooks-kill", &env).await;
    let mut client = support::connect_at(doomed.addr).await;
    client.subscribe_presence("presence-shift", "kim").await;
    let mut watcher = support::connect_at(survivor.addr).await;
    watcher.subscribe_presence("presence-shift", "lee").await;
    // The receiver is down: once the doomed node has recorded kim in Redis
    // (a node killed before that never told anyone), it holds occupied +
    // kim added in retries when it is killed.
    let client_of_redis = redis::Client::open(redis.url()).expect("redis url");
    let conn = client_of_redis
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let key = "hooks-kill:clarion:webhooks:mem:1000:presence-shift:kim";
    support::eventually(DELIVERY, || {
        let mut conn = conn.clone();
        async move {
            let members: i64 = redis::cmd("SCARD")
                .arg(key)
                .query_async(&mut conn)
                .await
                .ok()?;
            (members == 1).then_some(())
        }
    })
    .await;
    doomed.kill();
    receiver.up().await;
    let mut seen: Vec<String> = Vec::new();
    let wanted = [
        "channel_occupied:presence-shift",
        "member_added:presence-shift:kim",
        "member_added:presence-shift:lee",
        "member_removed:presence-shift:kim",
    ];
    while !wanted.iter().all(|w| seen.iter().any(|s| s == w)) {
        let hook = receiver
            .next_within(DELIVERY)
            .await
            .unwrap_or_else(|| panic!("missing events; saw {seen:?}"));
        seen.extend(hook.events().iter().map(label));
    }
    // Then lee leaves: the channel is vacated exactly once, and the
    // killed node's kim was removed exactly once.
    watcher.unsubscribe("presence-shift").await;
    watcher.subscribe("marker-end").await;
    seen.extend(until_markers(&mut receiver, &["marker-end"]).await);
    let count = |label: &str| seen.iter().filter(|s| *s == label).count();
    assert_eq!(count("member_removed:presence-shift:kim"), 1, "{seen:?}");
    assert_eq!(count("channel_vacated:presence-shift"), 1, "{seen:?}");
    assert_eq!(count("channel_occupied:presence-shift"), 1, "{seen:?}");
}

#[tokio::test]
async fn a_node_stopping_gracefully_hands_its_undelivered_events_to_the_others() {
    let redis = Redis::start().await;
    hook_scenarios::a_node_stopping_gracefully_hands_its_undelivered_events_to_the_others(
        &redis,
        "hooks-handoff",
    )
    .await;
}
