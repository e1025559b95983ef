//! The Redis link in `GET /metrics`, against a real `redis-server`:
//! `clarion_redis_connected` follows the link through an outage and
//! `clarion_redis_roundtrip_seconds` times the heartbeat's `PING`, and
//! `clarion_redis_channels` counts the channels received (again after a
//! reconnection).

mod cluster_support;
mod support;

use std::time::Duration;

use cluster_support::{node_config, Redis};
use support::TestServer;

/// Waits up to `limit` for `series` to satisfy `check`; its last value.
async fn wait_until(
    node: &TestServer,
    series: &str,
    limit: Duration,
    check: impl Fn(f64) -> bool,
) -> f64 {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let value = node.metric(series).await;
        if let Some(value) = value.filter(|v| check(*v)) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{series} is {value:?} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_link_state_and_round_trip_are_exported() {
    let mut redis = Redis::start().await;
    let node = TestServer::clustered(node_config(&redis, "metrics")).await;
    let connected = "clarion_redis_connected";
    let pings = "clarion_redis_roundtrip_seconds_count";
    wait_until(&node, connected, Duration::from_secs(10), |v| v == 1.0).await;
    // Every heartbeat times one PING.
    wait_until(&node, pings, Duration::from_secs(10), |v| v >= 1.0).await;
    let sum = node.metric("clarion_redis_roundtrip_seconds_sum").await;
    assert!(
        sum.is_some_and(|s| s > 0.0 && s < 1.0),
        "a loopback PING takes well under a second: {sum:?}"
    );

    // Interest routing: one channel received while a socket is on it.
    let channels = "clarion_redis_channels";
    let mut client = support::connect_at(node.addr).await;
    client.subscribe("news").await;
    wait_until(&node, channels, Duration::from_secs(10), |v| v == 1.0).await;

    redis.kill();
    wait_until(&node, connected, Duration::from_secs(10), |v| v == 0.0).await;
    redis.restart().await;
    wait_until(&node, connected, Duration::from_secs(15), |v| v == 1.0).await;
    // Subscribed again after the reconnection.
    let commands = "clarion_redis_channel_commands_total";
    wait_until(&node, commands, Duration::from_secs(10), |v| v >= 2.0).await;
    wait_until(&node, channels, Duration::from_secs(10), |v| v == 1.0).await;
    client.unsubscribe("news").await;
    wait_until(&node, channels, Duration::from_secs(10), |v| v == 0.0).await;
    node.shutdown().await;
}
