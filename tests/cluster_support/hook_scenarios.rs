//! Webhook scenarios every kind of Redis must pass (`tests/webhooks_cluster.rs`
//! on one server, `tests/redis_cluster.rs` on a Redis Cluster).

use std::time::Duration;

use serde_json::Value;

use clarion::config::{Config, WebhookConfig, WebhookEventKind};

use super::Backend;
use crate::support::receiver::Receiver;
use crate::support::{self, TestServer};

/// How long a webhook may take to arrive.
pub(crate) const DELIVERY: Duration = Duration::from_secs(15);

/// A node whose app sends occupancy and presence webhooks to `receiver`.
pub(crate) fn config(backend: &impl Backend, namespace: &str, receiver: &Receiver) -> Config {
    let mut config = backend.node_config(namespace);
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

/// `name:channel[:user]` of one webhook event.
pub(crate) fn label(event: &Value) -> String {
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
/// arrived, marker events left out. Each node records its facts in order,
/// but both nodes read the outbox and each delivers the entries it took,
/// so a marker can overtake an earlier entry that another node delivers:
/// wait for what a step expects with [`until_seen`].
pub(crate) async fn until_markers(receiver: &mut Receiver, markers: &[&str]) -> Vec<String> {
    until_seen(receiver, markers, &[]).await
}

/// Events received until every marker's `channel_occupied` and every
/// label of `wanted` has arrived, marker events left out.
pub(crate) async fn until_seen(
    receiver: &mut Receiver,
    markers: &[&str],
    wanted: &[&str],
) -> Vec<String> {
    let mut seen = Vec::new();
    while !markers
        .iter()
        .all(|m| seen.contains(&format!("channel_occupied:{m}")))
        || !wanted.iter().all(|w| seen.iter().any(|s| s == w))
    {
        let hook = receiver.next_within(DELIVERY).await.unwrap_or_else(|| {
            panic!("markers {markers:?} and {wanted:?} not delivered; saw {seen:?}")
        });
        seen.extend(hook.events().iter().map(label));
    }
    seen.retain(|l| !markers.iter().any(|m| l.contains(m)));
    seen
}

/// One webhook event per cluster-level transition, however many nodes
/// see it (the transition script arbitrates in Redis).
pub(crate) async fn one_event_per_cluster_transition_however_many_nodes_see_it(
    backend: &impl Backend,
    namespace: &str,
) {
    let mut receiver = Receiver::start().await;
    let a = TestServer::clustered(config(backend, namespace, &receiver)).await;
    let b = TestServer::clustered(config(backend, namespace, &receiver)).await;
    let mut on_a = support::connect_at(a.addr).await;
    let mut on_b = support::connect_at(b.addr).await;

    // The same user joins through both nodes at the same moment.
    tokio::join!(
        on_a.subscribe_presence("presence-desk", "dana"),
        on_b.subscribe_presence("presence-desk", "dana"),
    );
    on_a.subscribe("marker-a1").await;
    on_b.subscribe("marker-b1").await;
    // Exactly once each. Not in a fixed order: both nodes read the outbox
    // and each delivers the entries it took, so two entries handed to two
    // nodes can reach the receiver either way round.
    let expected = [
        "channel_occupied:presence-desk",
        "member_added:presence-desk:dana",
    ];
    let mut joined = until_seen(&mut receiver, &["marker-a1", "marker-b1"], &expected).await;
    joined.sort();
    assert_eq!(
        joined, expected,
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
    let expected = [
        "channel_vacated:presence-desk",
        "member_removed:presence-desk:dana",
    ];
    let mut left = until_seen(&mut receiver, &["marker-a3", "marker-b3"], &expected).await;
    left.sort();
    assert_eq!(left, expected);
    a.shutdown().await;
    b.shutdown().await;
}

/// A node stopping gracefully hands its undelivered webhook events back
/// to the outbox stream, and another node delivers them, each once.
pub(crate) async fn a_node_stopping_gracefully_hands_its_undelivered_events_to_the_others(
    backend: &impl Backend,
    namespace: &str,
) {
    let mut receiver = Receiver::down_on_free_port();
    let leaving = TestServer::clustered(config(backend, namespace, &receiver)).await;
    let staying = TestServer::clustered(config(backend, namespace, &receiver)).await;
    let mut client = support::connect_at(leaving.addr).await;
    client.subscribe_presence("presence-night", "nia").await;
    // Stopping closes nia's socket: removed and vacated join occupied and
    // added in the leaving node's hands, all undeliverable right now.
    leaving.shutdown().await;
    receiver.up().await;
    let mut marker = support::connect_at(staying.addr).await;
    marker.subscribe("marker-after").await;
    let expected = [
        "channel_occupied:presence-night",
        "channel_vacated:presence-night",
        "member_added:presence-night:nia",
        "member_removed:presence-night:nia",
    ];
    let mut seen = until_seen(&mut receiver, &["marker-after"], &expected).await;
    // Both nodes read the stream, so the order across them is not fixed;
    // each event arrives once.
    seen.sort();
    assert_eq!(seen, expected);
    staying.shutdown().await;
}
