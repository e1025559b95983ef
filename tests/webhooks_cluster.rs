//! Webhooks of a cluster on a real Redis: one event per cluster-level
//! transition however many nodes see it, a SIGKILLed node's undelivered
//! batches taken over by another node, and its members removed once.

mod cluster_support;
mod support;

use std::time::Duration;

use serde_json::Value;

use clarion::config::{Config, WebhookConfig, WebhookEventKind};
use cluster_support::{node_config, ProcessNode, Redis};
use support::receiver::Receiver;
use support::TestServer;

const DELIVERY: Duration = Duration::from_secs(15);

fn config(redis: &Redis, namespace: &str, receiver: &Receiver) -> Config {
    let mut config = node_config(redis, namespace);
    let mut hook = WebhookConfig::to(receiver.url());
    hook.event_types = vec![
        WebhookEventKind::ChannelOccupied,
        WebhookEventKind::ChannelVacated,
        WebhookEventKind::MemberAdded,
        WebhookEventKind::MemberRemoved,
    ];
    config.apps[0].webhooks = vec![hook];
    config.webhooks.batch_wait_ms = 20;
    config.webhooks.retry_initial_ms = 100;
    config.webhooks.retry_max_ms = 300;
    config.webhooks.claim_after_ms = 1_000;
    config
}

fn label(event: &Value) -> String {
    let mut label = format!(
        "{}:{}",
        event["name"].as_str().unwrap_or("?"),
        event["channel"].as_str().unwrap_or("?")
    );
    if let Some(user) = event["user_id"].as_str() {
        label = format!("{label}:{user}");
    }
    label
}

/// Events received until every marker channel's `channel_occupied` has
/// arrived. Each node records its facts in order and the receiver gets
/// the stream in order, so once a node's marker is in, everything that
/// node recorded before it is too.
async fn until_markers(receiver: &mut Receiver, markers: &[&str]) -> Vec<String> {
    let mut seen = Vec::new();
    while !markers
        .iter()
        .all(|m| seen.contains(&format!("channel_occupied:{m}")))
    {
        let hook = receiver
            .next_within(DELIVERY)
            .await
            .unwrap_or_else(|| panic!("markers {markers:?} not delivered; saw {seen:?}"));
        seen.extend(hook.events().iter().map(label));
    }
    seen.retain(|l| !markers.iter().any(|m| l.contains(m)));
    seen
}

#[tokio::test]
async fn one_event_per_cluster_transition_however_many_nodes_see_it() {
    let redis = Redis::start().await;
    let mut receiver = Receiver::start().await;
    let a = TestServer::clustered(config(&redis, "hooks-once", &receiver)).await;
    let b = TestServer::clustered(config(&redis, "hooks-once", &receiver)).await;
    let mut on_a = support::connect_at(a.addr).await;
    let mut on_b = support::connect_at(b.addr).await;

    // The same user joins through both nodes at the same moment.
    tokio::join!(
        on_a.subscribe_presence("presence-desk", "dana"),
        on_b.subscribe_presence("presence-desk", "dana"),
    );
    on_a.subscribe("marker-a1").await;
    on_b.subscribe("marker-b1").await;
    let joined = until_markers(&mut receiver, &["marker-a1", "marker-b1"]).await;
    assert_eq!(
        joined,
        [
            "channel_occupied:presence-desk",
            "member_added:presence-desk:dana"
        ],
        "one occupied and one added for the cluster"
    );

    // One node's socket leaves: the channel and the member stay.
    on_a.unsubscribe("presence-desk").await;
    on_a.subscribe("marker-a2").await;
    on_b.subscribe("marker-b2").await;
    assert_eq!(
        until_markers(&mut receiver, &["marker-a2", "marker-b2"]).await,
        Vec::<String>::new()
    );

    on_b.unsubscribe("presence-desk").await;
    on_a.subscribe("marker-a3").await;
    on_b.subscribe("marker-b3").await;
    assert_eq!(
        until_markers(&mut receiver, &["marker-a3", "marker-b3"]).await,
        [
            "member_removed:presence-desk:dana",
            "channel_vacated:presence-desk"
        ]
    );
    a.shutdown().await;
    b.shutdown().await;
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
    let mut receiver = Receiver::down_on_free_port();
    let leaving = TestServer::clustered(config(&redis, "hooks-handoff", &receiver)).await;
    let staying = TestServer::clustered(config(&redis, "hooks-handoff", &receiver)).await;
    let mut client = support::connect_at(leaving.addr).await;
    client.subscribe_presence("presence-night", "nia").await;
    // Stopping closes nia's socket: removed and vacated join occupied and
    // added in the leaving node's hands, all undeliverable right now.
    leaving.shutdown().await;
    receiver.up().await;
    let mut marker = support::connect_at(staying.addr).await;
    marker.subscribe("marker-after").await;
    let mut seen = until_markers(&mut receiver, &["marker-after"]).await;
    // Both nodes read the stream, so the order across them is not fixed;
    // each event arrives once.
    seen.sort();
    assert_eq!(
        seen,
        [
            "channel_occupied:presence-night",
            "channel_vacated:presence-night",
            "member_added:presence-night:nia",
            "member_removed:presence-night:nia",
        ]
    );
    staying.shutdown().await;
}
