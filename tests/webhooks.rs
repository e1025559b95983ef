//! Webhooks through real sockets and a real receiver: Pusher's body and
//! headers, every event kind, filters, batching, retries while the
//! receiver is down, dead letters through the signed API, and events kept
//! across a graceful restart.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};

use clarion::config::{Config, WebhookConfig, WebhookEventKind};
use support::receiver::Receiver;
use support::{app, config_with, TestServer};

/// Long enough for a retry schedule of a few hundred ms on a busy machine.
const DELIVERY: Duration = Duration::from_secs(10);

fn config(hooks: Vec<WebhookConfig>) -> Config {
    let mut app = app();
    app.webhooks = hooks;
    let mut config = config_with(app);
    config.server.shutdown_grace_period = 3;
    config.webhooks.batch_wait_ms = 50;
    config.webhooks.retry_initial_ms = 100;
    config.webhooks.retry_max_ms = 400;
    config.webhooks.outbox_file = std::env::temp_dir().join(format!(
        "clarion-test-outbox-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    config
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

fn names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["name"].as_str().unwrap_or("?"),
                e["channel"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[tokio::test]
async fn occupancy_and_presence_arrive_signed_in_pushers_format() {
    let mut receiver = Receiver::start().await;
    let server = TestServer::with_config(config(vec![WebhookConfig::to(receiver.url())])).await;
    let mut alice = server.connect().await;
    alice.subscribe_presence("presence-room", "alice").await;

    let hook = receiver
        .next_within(DELIVERY)
        .await
        .expect("a webhook request");
    assert_eq!(hook.headers["content-type"], "application/json");
    assert_eq!(hook.headers["x-pusher-key"], "app-key");
    assert!(
        hook.signed_with("app-secret"),
        "signature must be the body's HMAC"
    );
    let body: Value = serde_json::from_str(&hook.body).expect("json");
    assert!(body["time_ms"].as_u64().expect("time_ms") > 1_600_000_000_000);
    let mut events = hook.events();
    if events.len() < 2 {
        events.extend(receiver.delivered_events(1, DELIVERY).await);
    }
    assert_eq!(events[0]["name"], "channel_occupied");
    assert_eq!(events[0]["channel"], "presence-room");
    assert_eq!(events[1]["name"], "member_added");
    assert_eq!(events[1]["user_id"], "alice");
    let ids: HashSet<&str> = events
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 2, "every event has its own idempotency id");

    alice.unsubscribe("presence-room").await;
    let events = receiver.delivered_events(2, DELIVERY).await;
    assert_eq!(
        names(&events),
        [
            "member_removed:presence-room",
            "channel_vacated:presence-room"
        ]
    );
    assert_eq!(events[0]["user_id"], "alice");
    server.shutdown().await;
}

#[tokio::test]
async fn client_events_cache_misses_and_counts_with_filters() {
    let mut everything = Receiver::start().await;
    let mut filtered = Receiver::start().await;
    let mut only_presence = WebhookConfig::to(filtered.url());
    only_presence.event_types = vec![WebhookEventKind::ClientEvent];
    only_presence.filter.channel_name_starts_with = Some("presence-".to_owned());
    let mut all = WebhookConfig::to(everything.url());
    all.event_types = vec![
        WebhookEventKind::ClientEvent,
        WebhookEventKind::CacheMiss,
        WebhookEventKind::SubscriptionCount,
    ];
    let server = TestServer::with_config(config(vec![all, only_presence])).await;

    let mut a = server.connect().await;
    a.subscribe("cache-prices").await;
    a.expect_event("pusher:cache_miss").await;
    let events = everything.delivered_events(2, DELIVERY).await;
    let mut seen = names(&events);
    seen.sort();
    assert_eq!(
        seen,
        ["cache_miss:cache-prices", "subscription_count:cache-prices"]
    );
    let count = events
        .iter()
        .find(|e| e["name"] == "subscription_count")
        .expect("count");
    assert_eq!(count["subscription_count"], 1);

    a.subscribe_presence("presence-chat", "ann").await;
    a.send_json(json!({"event":"client-typing","channel":"presence-chat","data":{"typing":true}}))
        .await;
    let events = filtered.delivered_events(1, DELIVERY).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["name"], "client_event");
    assert_eq!(events[0]["event"], "client-typing");
    assert_eq!(events[0]["user_id"], "ann");
    assert_eq!(events[0]["socket_id"], a.socket_id.as_str());
    let data: Value = serde_json::from_str(events[0]["data"].as_str().expect("data is a string"))
        .expect("data is the event's JSON");
    assert_eq!(data, json!({"typing": true}));
    let events = everything.delivered_events(1, DELIVERY).await;
    assert_eq!(names(&events), ["client_event:presence-chat"]);
    server.shutdown().await;
}

#[tokio::test]
async fn events_are_batched_up_to_the_batch_size() {
    let mut receiver = Receiver::start().await;
    let mut cfg = config(vec![WebhookConfig::to(receiver.url())]);
    cfg.webhooks.batch_size = 5;
    cfg.webhooks.batch_wait_ms = 300;
    cfg.apps[0].webhooks[0].event_types = vec![WebhookEventKind::ChannelOccupied];
    let server = TestServer::with_config(cfg).await;
    let mut a = server.connect().await;
    for i in 0..12 {
        a.subscribe(&format!("room-{i}")).await;
    }
    let mut sizes = Vec::new();
    let mut channels = HashSet::new();
    while channels.len() < 12 {
        let hook = receiver.next_within(DELIVERY).await.expect("webhook");
        sizes.push(hook.events().len());
        for event in hook.events() {
            channels.insert(event["channel"].as_str().expect("channel").to_owned());
        }
    }
    assert!(sizes.iter().all(|&n| n <= 5), "batches {sizes:?}");
    assert!(sizes.len() <= 6, "12 events in few requests, got {sizes:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_events_when_it_comes_back() {
    let mut receiver = Receiver::down_on_free_port();
    let server = TestServer::with_config(config(vec![WebhookConfig::to(receiver.url())])).await;
    let mut a = server.connect().await;
    a.subscribe("orders").await;
    // Refused connections are retried with backoff; let a few fail.
    let mut failing = server.connect().await;
    failing.subscribe("orders").await;
    receiver.up().await;
    receiver.answer(503);
    let hook = receiver
        .next_within(DELIVERY)
        .await
        .expect("a retry reaches the receiver");
    assert_eq!(hook.status, 503);
    let first_id = hook.events()[0]["id"].clone();
    receiver.answer(200);
    let events = receiver.delivered_events(1, DELIVERY).await;
    assert_eq!(names(&events)[0], "channel_occupied:orders");
    assert_eq!(
        events[0]["id"], first_id,
        "a retry keeps the idempotency id"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn undeliverable_batches_become_dead_letters_listed_by_the_api() {
    let mut receiver = Receiver::start().await;
    receiver.answer(500);
    let mut cfg = config(vec![WebhookConfig::to(receiver.url())]);
    cfg.webhooks.retry_for = 1;
    let server = TestServer::with_config(cfg).await;
    let mut a = server.connect().await;
    a.subscribe("doomed").await;
    assert!(receiver.next_within(DELIVERY).await.is_some());
    let letters = support::eventually(DELIVERY, || async {
        let (status, body) = server
            .api("GET", "/apps/1000/webhooks/dead_letters", &[], "")
            .await;
        assert_eq!(status, 200, "{body}");
        let letters = body["dead_letters"].as_array().cloned().unwrap_or_default();
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    let letter = &letters[0];
    assert_eq!(letter["url"], receiver.url());
    assert_eq!(letter["error"], "HTTP 500");
    assert!(letter["attempts"].as_u64().expect("attempts") >= 2);
    assert_eq!(letter["events"][0]["name"], "channel_occupied");

    let (status, body) = server
        .api_as(
            "app-key",
            "wrong-secret",
            "GET",
            "/apps/1000/webhooks/dead_letters",
            &[],
            "",
        )
        .await;
    assert_eq!(status, 401, "a wrong signature is refused: {body}");
    let (status, body) = server
        .api("DELETE", "/apps/1000/webhooks/dead_letters", &[], "")
        .await;
    assert_eq!((status, body["cleared"].as_u64()), (200, Some(1)));
    let (_, body) = server
        .api("GET", "/apps/1000/webhooks/dead_letters", &[], "")
        .await;
    assert_eq!(body["dead_letters"], json!([]));
    server.shutdown().await;
}

#[tokio::test]
async fn events_undelivered_at_shutdown_are_delivered_after_the_restart() {
    let mut receiver = Receiver::down_on_free_port();
    let cfg = config(vec![WebhookConfig::to(receiver.url())]);
    let outbox = cfg.webhooks.outbox_file.clone();
    let server = TestServer::with_config(cfg.clone()).await;
    let mut a = server.connect().await;
    a.subscribe_presence("presence-ops", "olga").await;
    // The receiver is down through the whole shutdown: occupied, added,
    // removed and vacated are all kept in the outbox file.
    server.shutdown().await;
    let kept = std::fs::read_to_string(&outbox).expect("the outbox file is written");
    assert_eq!(kept.lines().count(), 4, "{kept}");

    receiver.up().await;
    let restarted = TestServer::with_config(cfg).await;
    let events = receiver.delivered_events(4, DELIVERY).await;
    assert_eq!(
        names(&events),
        [
            "channel_occupied:presence-ops",
            "member_added:presence-ops",
            "member_removed:presence-ops",
            "channel_vacated:presence-ops"
        ]
    );
    assert!(!outbox.exists(), "the outbox file is removed once read");
    restarted.shutdown().await;
}
