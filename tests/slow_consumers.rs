//! Slow consumers (issue 10, item 3): a subscriber that stops reading is
//! evicted with 4100 as soon as its bounded queue overflows (not only when
//! the write timeout ends the wait), or after `server.write_timeout` when
//! its kernel buffers are full and the queue never overflows; each
//! eviction is counted with its reason; every other subscriber receives
//! every event meanwhile, and the process's memory does not grow with what
//! the stalled socket failed to take.

mod support;

use serde_json::json;
use support::raw_ws::{fin, RawWs, TEXT};
use support::*;

async fn server_with(f: impl FnOnce(&mut clarion::config::Config)) -> TestServer {
    let mut config = config_with(app());
    f(&mut config);
    TestServer::with_config(config).await
}

/// A subscriber to `channel` with a 4 KiB receive buffer that never reads
/// again once subscribed.
async fn stalled(server: &TestServer, channel: &str) -> RawWs {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = socket.connect(server.addr).await.expect("connect");
    let mut ws = RawWs::handshake(stream, server.addr).await;
    let subscribe = json!({"event":"pusher:subscribe","data":{"channel":channel}}).to_string();
    ws.send(&fin(TEXT, subscribe.as_bytes())).await;
    let ack = ws.read_frame().await.expect("ack");
    assert!(
        ack.text()
            .contains("pusher_internal:subscription_succeeded"),
        "{ack:?}"
    );
    ws
}

/// This process's resident set, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

/// Publishes `count` events of about `size` bytes on `channel`; `reader`
/// must receive each one.
async fn publish(
    server: &TestServer,
    reader: &mut Client,
    channel: &str,
    count: usize,
    size: usize,
) {
    let body = json!({"name":"burst","channel":channel,"data":"x".repeat(size)}).to_string();
    for _ in 0..count {
        let (status, _) = server.api("POST", "/apps/1000/events", &[], &body).await;
        assert_eq!(status, 200);
        assert_eq!(reader.frame().await["event"], "burst");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_is_evicted_when_its_queue_fills() {
    let server = server_with(|c| {
        c.server.outbound_queue_capacity = 8;
        // Long enough that only the overflow can explain a prompt eviction.
        c.server.write_timeout = 60;
        c.server.max_request_size = 100_000;
    })
    .await;
    let _stalled = stalled(&server, "a").await;
    let mut fine = server.connect().await;
    fine.subscribe("a").await;
    let before = rss();
    // 400 events of 60 KB: 24 MB that the stalled socket never takes.
    publish(&server, &mut fine, "a", 400, 60_000).await;
    let evicted = "clarion_queue_evictions_total{app_id=\"1000\",reason=\"queue_full\"}";
    server.wait_for_metric(evicted, 1.0).await;
    let closed = "clarion_connections_closed_total{app_id=\"1000\",code=\"4100\"}";
    assert_eq!(server.metric(closed).await, Some(1.0));
    let grown = rss().saturating_sub(before);
    assert!(
        grown < 10 << 20,
        "RSS grew by {} MiB for 24 MB the stalled socket never took",
        grown >> 20
    );
    let (_, connections) = server.api("GET", "/apps/1000/connections", &[], "").await;
    assert_eq!(connections, json!({"connections":1}));
    server.trigger("a", "after", "x").await;
    assert_eq!(fine.expect_event("after").await["data"], "x");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_whose_writes_stall_is_evicted_after_the_write_timeout() {
    let server = server_with(|c| {
        // A queue that never overflows here: only the timeout can evict.
        c.server.outbound_queue_capacity = 100_000;
        c.server.write_timeout = 1;
        c.server.max_request_size = 100_000;
    })
    .await;
    let _stalled = stalled(&server, "a").await;
    let mut fine = server.connect().await;
    fine.subscribe("a").await;
    // Enough to fill the kernel buffers of the stalled socket (a few MB).
    publish(&server, &mut fine, "a", 150, 60_000).await;
    let evicted = "clarion_queue_evictions_total{app_id=\"1000\",reason=\"write_timeout\"}";
    server.wait_for_metric(evicted, 1.0).await;
    let full = "clarion_queue_evictions_total{app_id=\"1000\",reason=\"queue_full\"}";
    assert_eq!(server.metric(full).await, Some(0.0));
    let closed = "clarion_connections_closed_total{app_id=\"1000\",code=\"4100\"}";
    assert_eq!(server.metric(closed).await, Some(1.0));
    server.trigger("a", "after", "x").await;
    assert_eq!(fine.expect_event("after").await["data"], "x");
    server.shutdown().await;
}
