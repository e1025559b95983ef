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
