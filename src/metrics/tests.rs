//! Unit tests of the metric handles and their rendering.

use std::time::Duration;

use super::*;

#[test]
fn an_app_is_counted_once_per_broadcast_with_its_recipients() {
    let metrics = Metrics::new();
    let app = metrics.app("a1");
    let started = app.clock();
    assert!(started.is_some());
    app.delivered(1_000, 120, started);
    app.delivered(0, 120, started);
    let reading = app.read().expect("metrics on");
    assert_eq!(reading.broadcasts, 2);
    assert_eq!(reading.messages_sent, 1_000);
    assert_eq!(
        reading.latency.count(),
        1,
        "one sample, for the broadcast that reached someone"
    );
    let text = metrics.render();
    for line in [
        "clarion_broadcasts_total{app_id=\"a1\"} 2",
        "clarion_messages_sent_total{app_id=\"a1\"} 1000",
        "clarion_messages_sent_bytes_total{app_id=\"a1\"} 120000",
        "clarion_delivery_latency_seconds_count{app_id=\"a1\"} 1",
        "# TYPE clarion_delivery_latency_seconds histogram",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
}

#[test]
fn gauges_follow_sockets_subscriptions_and_channels_by_kind() {
    let metrics = Metrics::new();
    let app = metrics.app("a1");
    app.socket_added();
    app.socket_added();
    app.socket_removed();
    app.subscribed(ChannelKind::Presence, true);
    app.subscribed(ChannelKind::Presence, false);
    app.subscribed(ChannelKind::Public, true);
    app.unsubscribed(ChannelKind::Public, true);
    app.subscribed(ChannelKind::Reserved, true);
    assert_eq!(app.read().expect("on").channels, 1);
    let text = metrics.render();
    for line in [
        "clarion_connections{app_id=\"a1\"} 1",
        "clarion_subscriptions{app_id=\"a1\",kind=\"presence\"} 2",
        "clarion_channels{app_id=\"a1\",kind=\"presence\"} 1",
        "clarion_subscriptions{app_id=\"a1\",kind=\"public\"} 0",
        "clarion_channels{app_id=\"a1\",kind=\"public\"} 0",
        "clarion_channels{app_id=\"a1\",kind=\"private-encrypted\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
}

#[test]
fn every_documented_metric_is_exported() {
    let metrics = Metrics::new();
    let app = metrics.app("a1");
    app.connection_opened();
    app.connection_closed(4100);
    app.received(10);
    app.evicted(Eviction::QueueFull);
    app.evicted(Eviction::WriteTimeout);
    app.evicted(Eviction::WriteTimeout);
    metrics.handshake_timeout(HandshakeStage::Headers);
    app.limited(Limit::Messages);
    app.limited(Limit::HttpApi);
    app.limited(Limit::HttpApi);
    app.http_request("events", 200);
    app.webhook_delivery(WebhookOutcome::Delivered);
    app.webhook_delivery(WebhookOutcome::Failed);
    app.webhook_retry();
    app.webhook_dead_letter();
    metrics.redis().connected(true);
    metrics.redis().roundtrip(Duration::from_micros(300));
    let sockets = metrics.sockets();
    sockets.opened();
    sockets.opened();
    sockets.closed();
    sockets.refused();
    let text = metrics.render();
    for line in [
        "clarion_connections_opened_total{app_id=\"a1\"} 1",
        "clarion_connections_closed_total{app_id=\"a1\",code=\"4100\"} 1",
        "clarion_messages_received_total{app_id=\"a1\"} 1",
        "clarion_messages_received_bytes_total{app_id=\"a1\"} 10",
        "clarion_queue_evictions_total{app_id=\"a1\",reason=\"queue_full\"} 1",
        "clarion_queue_evictions_total{app_id=\"a1\",reason=\"write_timeout\"} 2",
        "clarion_handshake_timeouts_total{stage=\"headers\"} 1",
        "clarion_rate_limited_total{app_id=\"a1\",limit=\"messages\"} 1",
        "clarion_rate_limited_total{app_id=\"a1\",limit=\"http_api\"} 2",
        "clarion_rate_limited_total{app_id=\"a1\",limit=\"user_info\"} 0",
        "clarion_http_requests_total{app_id=\"a1\",endpoint=\"events\",status=\"200\"} 1",
        "clarion_webhook_deliveries_total{app_id=\"a1\",outcome=\"delivered\"} 1",
        "clarion_webhook_deliveries_total{app_id=\"a1\",outcome=\"failed\"} 1",
        "clarion_webhook_retries_total{app_id=\"a1\"} 1",
        "clarion_webhook_dead_letters_total{app_id=\"a1\"} 1",
        "clarion_redis_connected 1",
        "clarion_redis_roundtrip_seconds_count 1",
        "clarion_sockets_open 1",
        "clarion_sockets_refused_total 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    // Every documented name (README, "Metrics") has a TYPE line.
    let readme = include_str!("../../README.md");
    let section = readme
        .split("## Metrics")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has a Metrics section");
    let documented: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `clarion_"))
        .filter_map(|l| l.split('`').next())
        .collect();
    // And every exported metric is documented.
    for exported in text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE clarion_"))
    {
        let name = exported.split(' ').next().unwrap_or_default();
        assert!(
            documented.contains(&name),
            "clarion_{name} is not in the README"
        );
    }
    for name in documented {
        let exported = text.lines().any(|l| {
            l.starts_with(&format!("# TYPE clarion_{name} "))
                || l.starts_with(&format!("clarion_{name}{{"))
                || l.starts_with(&format!("clarion_{name} "))
        });
        assert!(exported, "clarion_{name} is documented but not exported");
    }
}

#[test]
fn metrics_off_counts_nothing() {
    let app = AppMetrics::default();
    assert_eq!(app.clock(), None);
    app.delivered(10, 10, None);
    app.connection_closed(1000);
    app.http_request("events", 200);
    assert_eq!(app.read(), None);
    RedisMetrics::default().connected(true);
}
