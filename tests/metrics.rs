//! `GET /metrics` over real sockets. Every in-process test server has a
//! registry of its own (prometheus-client, one per node), so the values
//! asserted here are exact even with several servers in this binary.

mod support;

use serde_json::json;
use support::*;

const APP: &str = "app_id=\"1000\"";

fn series(name: &str, labels: &str) -> String {
    if labels.is_empty() {
        format!("{name}{{{APP}}}")
    } else {
        format!("{name}{{{APP},{labels}}}")
    }
}

#[tokio::test]
async fn a_broadcast_is_counted_once_with_its_recipients() {
    let server = TestServer::start().await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = server.connect().await;
        client.subscribe("news").await;
        clients.push(client);
    }
    let mut member = server.connect().await;
    member.subscribe_presence("presence-room", "7").await;
    server.trigger("news", "e", "hello").await;
    let mut length = 0;
    for client in &mut clients {
        let text = client.ws_text().await;
        assert!(text.contains("hello"), "{text}");
        length = text.len();
    }
    // A socket's subscription is acknowledged before its gauges are
    // updated; with more than one server thread (CLARION_RUNTIME=per_core)
    // the update may still be running when the test reads.
    let text = eventually(WAIT, || async {
        let text = server.metrics().await;
        let settled = ["clarion_subscriptions", "clarion_channels"]
            .iter()
            .all(|name| sample(&text, &series(name, "kind=\"presence\"")) == Some(1.0));
        settled.then_some(text)
    })
    .await;
    let value = |name: &str, labels: &str| sample(&text, &series(name, labels));
    assert_eq!(value("clarion_broadcasts_total", ""), Some(1.0));
    assert_eq!(value("clarion_messages_sent_total", ""), Some(3.0));
    // Each frame: the payload and a 2-byte WebSocket header.
    assert_eq!(
        value("clarion_messages_sent_bytes_total", ""),
        Some(3.0 * (length + 2) as f64)
    );
    assert_eq!(value("clarion_connections", ""), Some(4.0));
    assert_eq!(value("clarion_subscriptions", "kind=\"public\""), Some(3.0));
    assert_eq!(value("clarion_channels", "kind=\"public\""), Some(1.0));
    assert_eq!(
        value("clarion_subscriptions", "kind=\"presence\""),
        Some(1.0)
    );
    assert_eq!(value("clarion_channels", "kind=\"presence\""), Some(1.0));
    assert_eq!(value("clarion_channels", "kind=\"private\""), Some(0.0));
    // Four subscribe messages came from clients.
    assert_eq!(value("clarion_messages_received_total", ""), Some(4.0));
    assert!(value("clarion_messages_received_bytes_total", "").is_some_and(|b| b > 100.0));
    assert_eq!(
        value(
            "clarion_http_requests_total",
            "endpoint=\"events\",status=\"200\""
        ),
        Some(1.0)
    );
    let latency = value("clarion_delivery_latency_seconds_count", "");
    assert!(latency.is_some_and(|n| n >= 1.0), "{latency:?}");
    assert!(
        text.lines()
            .any(|l| l == "# TYPE clarion_delivery_latency_seconds histogram"),
        "{text}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn connections_are_counted_open_and_closed_by_code() {
    let mut config = config_with(app());
    config.apps[0].max_connections = Some(2);
    let server = TestServer::with_config(config).await;
    let clean = server.connect().await;
    let dropped = server.connect().await;
    let mut refused = server.connect_raw("app-key").await;
    refused
        .expect_refusal(4004, "Application is over connection quota")
        .await;
    server
        .wait_for_metric(
            &series("clarion_connections_closed_total", "code=\"4004\""),
            1.0,
        )
        .await;
    assert_eq!(
        server.metric(&series("clarion_connections", "")).await,
        Some(2.0)
    );
    clean.close().await;
    drop(dropped);
    server
        .wait_for_metric(&series("clarion_connections", ""), 0.0)
        .await;
    let text = server.metrics().await;
    let value = |name: &str, labels: &str| sample(&text, &series(name, labels));
    assert_eq!(value("clarion_connections_opened_total", ""), Some(3.0));
    assert_eq!(
        value("clarion_connections_closed_total", "code=\"1000\""),
        Some(1.0)
    );
    assert_eq!(
        value("clarion_connections_closed_total", "code=\"1006\""),
        Some(1.0),
        "a socket dropped without a close frame"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn http_api_calls_are_counted_by_endpoint_and_status() {
    let server = TestServer::start().await;
    let body = json!({"name":"e","channel":"a","data":"x"}).to_string();
    let (status, _) = server
        .api_as("app-key", "wrong", "POST", "/apps/1000/events", &[], &body)
        .await;
    assert_eq!(status, 401);
    let (status, _) = server
        .api("GET", "/apps/1000/channels/presence-x", &[], "")
        .await;
    assert_eq!(status, 200);
    let (status, _) = server.api("GET", "/apps/1000/nowhere", &[], "").await;
    assert_eq!(status, 404);
    let (status, _) = server.api("GET", "/apps/9999/channels", &[], "").await;
    assert_eq!(status, 404);
    let text = server.metrics().await;
    for (labels, count) in [
        ("endpoint=\"events\",status=\"401\"", 1.0),
        ("endpoint=\"channel\",status=\"200\"", 1.0),
        ("endpoint=\"unknown\",status=\"404\"", 1.0),
    ] {
        assert_eq!(
            sample(&text, &series("clarion_http_requests_total", labels)),
            Some(count),
            "{labels}\n{text}"
        );
    }
    // A request for an app this server does not host has no app_id.
    let counted: usize = text
        .lines()
        .filter(|l| l.starts_with("clarion_http_requests_total{"))
        .count();
    assert_eq!(counted, 3, "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let mut config = config_with(app());
    config.metrics.enabled = false;
    let server = TestServer::with_config(config).await;
    let (status, _) = server.http("GET", "/metrics", "").await;
    assert_eq!(status, 404);
    // The server still works without them.
    let mut client = server.connect().await;
    client.subscribe("a").await;
    server.trigger("a", "e", "x").await;
    assert_eq!(client.frame().await["event"], "e");
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let mut config = config_with(app());
    config.server.path = "/ws".to_owned();
    config.metrics.port = Some(0);
    let server = TestServer::with_config(config).await;
    let listener = clarion::server::bind_metrics(&server.config)
        .await
        .expect("bind")
        .expect("a metrics listener");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(clarion::server::serve_metrics(
        listener,
        server.node.clone(),
    ));
    let own = raw_request(
        addr,
        &[b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
    )
    .await;
    assert_eq!(own.status, 200);
    assert_eq!(
        own.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        own.body.contains("clarion_connections{app_id=\"1000\"} 0"),
        "{}",
        own.body
    );
    let other = raw_http(addr, "GET", "/apps/1000/channels", "").await;
    assert_eq!(other.0, 404, "the metrics listener serves nothing else");
    // Not on the main listener any more, with or without the path prefix.
    assert_eq!(server.http("GET", "/ws/metrics", "").await.0, 404);
    assert_eq!(server.http("GET", "/metrics", "").await.0, 404);
    server.shutdown().await;
    // The metrics listener stops with the server.
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "still listening");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn metrics_follow_the_path_prefix_on_the_main_listener() {
    let mut config = config_with(app());
    config.server.path = "/ws".to_owned();
    let server = TestServer::with_config(config).await;
    let (status, text) = server.http("GET", "/ws/metrics", "").await;
    assert_eq!(status, 200);
    assert!(text.contains("# TYPE clarion_connections gauge"), "{text}");
    assert_eq!(server.http("POST", "/ws/metrics", "").await.0, 405);
    server.shutdown().await;
}
