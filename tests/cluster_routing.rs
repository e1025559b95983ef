//! Channel routing through a real Redis: a node receives a channel's events
//! only while it has subscribers on it, the first subscriber is linked
//! before its acknowledgement (so a publish on another node right after it
//! is never missed), and broadcast routing still reaches every node.

mod cluster_support;
mod support;

use std::time::Duration;

use clarion::config::Routing;

use cluster_support::{node_config, scenarios, Redis};
use support::TestServer;

/// Subscribers of one Redis pub/sub channel (`PUBSUB NUMSUB`).
async fn numsub(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    let reply: Vec<(String, i64)> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(key)
        .query_async(conn)
        .await
        .expect("PUBSUB NUMSUB");
    reply.first().map_or(0, |(_, n)| *n)
}

async fn redis_conn(redis: &Redis) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis")
}

/// Waits until `key` has `want` subscribers.
async fn numsub_becomes(conn: &mut redis::aio::MultiplexedConnection, key: &str, want: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = numsub(conn, key).await;
        if n == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{key} has {n} subscribers, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_receives_a_channel_only_while_it_has_subscribers_there() {
    let redis = Redis::start().await;
    let a = TestServer::clustered(node_config(&redis, "r1")).await;
    let b = TestServer::clustered(node_config(&redis, "r1")).await;
    let mut conn = redis_conn(&redis).await;
    let key = "r1:clarion:1000:news";
    assert_eq!(numsub(&mut conn, key).await, 0);

    let mut on_b = support::connect_at(b.addr).await;
    on_b.subscribe("news").await;
    // Linked before the acknowledgement, not eventually.
    assert_eq!(numsub(&mut conn, key).await, 1);
    let mut on_b2 = support::connect_at(b.addr).await;
    on_b2.subscribe("news").await;
    assert_eq!(numsub(&mut conn, key).await, 1, "one link per node");
    let mut on_a = support::connect_at(a.addr).await;
    on_a.subscribe("news").await;
    assert_eq!(numsub(&mut conn, key).await, 2);

    a.trigger("news", "headline", "{}").await;
    on_b.expect_event("headline").await;
    on_b2.expect_event("headline").await;
    on_a.expect_event("headline").await;

    // B keeps the link while one of its sockets is subscribed.
    on_b.unsubscribe("news").await;
    a.trigger("news", "second", "{}").await;
    on_b2.expect_event("second").await;
    assert_eq!(numsub(&mut conn, key).await, 2);
    on_b2.close().await;
    numsub_becomes(&mut conn, key, 1).await;
    on_a.close().await;
    numsub_becomes(&mut conn, key, 0).await;

    // Publishing to a channel nobody subscribes costs the others nothing:
    // nobody receives it from Redis.
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("r1:clarion:1000:nobody")
        .arg("{}")
        .query_async(&mut conn)
        .await
        .expect("publish");
    assert_eq!(receivers, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_right_after_a_subscribe_on_another_node_is_delivered() {
    let redis = Redis::start().await;
    scenarios::a_publish_right_after_a_subscribe_on_another_node_is_delivered(&redis, "r2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubscribing_while_the_unlink_is_under_way_keeps_receiving() {
    let redis = Redis::start().await;
    let a = TestServer::clustered(node_config(&redis, "r3")).await;
    let b = TestServer::clustered(node_config(&redis, "r3")).await;
    let mut on_b = support::connect_at(b.addr).await;
    for i in 0..25 {
        on_b.subscribe("flicker").await;
        on_b.unsubscribe("flicker").await;
        on_b.subscribe("flicker").await;
        let event = format!("e{i}");
        a.trigger("flicker", &event, "{}").await;
        on_b.try_event(&event, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{event} was lost"));
        on_b.unsubscribe("flicker").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_routing_sends_every_event_to_every_node() {
    let redis = Redis::start().await;
    let mut config = node_config(&redis, "r4");
    config.scaling.routing = Routing::Broadcast;
    let a = TestServer::clustered(config.clone()).await;
    let b = TestServer::clustered(config).await;
    let mut conn = redis_conn(&redis).await;
    let mut on_b = support::connect_at(b.addr).await;
    on_b.subscribe("news").await;
    support::linked(a.addr, &mut on_b, "news").await;
    assert_eq!(
        numsub(&mut conn, "r4:clarion:1000:news").await,
        0,
        "no per-channel link"
    );
    assert_eq!(numsub(&mut conn, "r4:clarion").await, 2);
    a.trigger("news", "headline", "{}").await;
    on_b.expect_event("headline").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_channel_gives_the_clusters_last_event_on_any_node() {
    let redis = Redis::start().await;
    let a = TestServer::clustered(node_config(&redis, "r5")).await;
    let b = TestServer::clustered(node_config(&redis, "r5")).await;
    // Published on A while nobody anywhere subscribes.
    a.trigger("cache-status", "status", r#"{"v":1}"#).await;
    let mut on_b = support::connect_at(b.addr).await;
    on_b.subscribe("cache-status").await;
    let first = on_b.expect_event("status").await;
    assert_eq!(first["data"], r#"{"v":1}"#, "not a cache miss: {first}");

    // B stops receiving the channel; A publishes again; B's next
    // subscriber gets the new event, not B's old copy.
    on_b.unsubscribe("cache-status").await;
    on_b.close().await;
    let mut conn = redis_conn(&redis).await;
    numsub_becomes(&mut conn, "r5:clarion:1000:cache-status", 0).await;
    a.trigger("cache-status", "status", r#"{"v":2}"#).await;
    let (status, info) = b
        .api(
            "GET",
            "/apps/1000/channels/cache-status",
            &[("info", "cache")],
            "",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(info["cache"]["data"], r#"{"v":2}"#, "{info}");
    let mut again = support::connect_at(b.addr).await;
    again.subscribe("cache-status").await;
    let latest = again.expect_event("status").await;
    assert_eq!(latest["data"], r#"{"v":2}"#);
    // And then the live events.
    a.trigger("cache-status", "status", r#"{"v":3}"#).await;
    let live = again.expect_event("status").await;
    assert_eq!(live["data"], r#"{"v":3}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_inspector_on_a_node_without_subscribers_sees_the_clusters_events() {
    let redis = Redis::start().await;
    let a = TestServer::clustered(node_config(&redis, "r6")).await;
    let mut config = node_config(&redis, "r6");
    config.dashboard.enabled = true;
    config.dashboard.token = Some("op-token".to_owned());
    let b = TestServer::clustered(config).await;
    let mut inspector = support::SseClient::open(
        b.addr,
        "/dashboard/inspect?app=1000&channel=orders&token=op-token",
    )
    .await;
    assert!(
        inspector.head.starts_with("HTTP/1.1 200"),
        "{}",
        inspector.head
    );
    inspector.until("retry: 2000\n\n").await;
    // Nobody subscribes anywhere; the open inspector links node B.
    let mut conn = redis_conn(&redis).await;
    assert_eq!(numsub(&mut conn, "r6:clarion:1000:orders").await, 1);
    a.trigger("orders", "order-placed", r#"{"id":7}"#).await;
    let data = inspector.until("\n\n").await;
    assert!(data.contains("order-placed"), "{data}");
    drop(inspector);
    numsub_becomes(&mut conn, "r6:clarion:1000:orders", 0).await;
}
