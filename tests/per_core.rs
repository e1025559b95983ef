//! `server.runtime = "per_core"`: one single-threaded runtime per worker
//! thread, each accepting on its own `SO_REUSEPORT` listener. Sockets that
//! landed on different runtimes get each other's broadcasts and client
//! events, and a shutdown closes the sockets of every runtime with 4200 and
//! stops every listener. (The other suites run in this mode with
//! `CLARION_RUNTIME=per_core`; see `scripts/test.sh`.)

mod support;

use clarion::config::{Config, RuntimeMode};
use serde_json::json;
use support::*;

/// Sockets per test: the kernel spreads them over the listeners by their
/// source ports, so with this many every runtime gets some (the chance
/// that 3 listeners see fewer than 3 of them is below 1e-8).
const SOCKETS: usize = 24;

fn per_core(runtimes: usize) -> Config {
    let mut config = config_with(app());
    config.server.runtime = RuntimeMode::PerCore;
    config.server.worker_threads = Some(runtimes);
    config
}

#[tokio::test]
async fn a_broadcast_reaches_the_sockets_of_every_runtime() {
    let server = TestServer::with_config(per_core(3)).await;
    let mut subscribers = Vec::new();
    for _ in 0..SOCKETS {
        let mut client = server.connect().await;
        client.subscribe("news").await;
        subscribers.push(client);
    }
    for n in 0..3 {
        server.trigger("news", "flash", &n.to_string()).await;
    }
    for client in &mut subscribers {
        for n in 0..3 {
            let frame = client.expect_event("flash").await;
            assert_eq!(frame["data"], n.to_string(), "in order");
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn client_events_cross_runtimes() {
    let server = TestServer::with_config(per_core(3)).await;
    let mut pairs = Vec::new();
    for i in 0..SOCKETS / 2 {
        let channel = format!("private-pair-{i}");
        let mut a = server.connect().await;
        a.subscribe_private(&channel).await;
        let mut b = server.connect().await;
        b.subscribe_private(&channel).await;
        pairs.push((channel, a, b));
    }
    for (channel, a, b) in &mut pairs {
        a.whisper(channel, "client-ping", json!({"from": a.socket_id}))
            .await;
        let frame = b.expect_event("client-ping").await;
        assert_eq!(frame["data"]["from"], a.socket_id.as_str());
        b.whisper(channel, "client-pong", json!({})).await;
        a.expect_event("client-pong").await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_runtime_s_sockets_and_listeners() {
    let server = TestServer::with_config(per_core(3)).await;
    let mut clients = Vec::new();
    for _ in 0..SOCKETS {
        let mut client = server.connect().await;
        client.subscribe("orders").await;
        clients.push(client);
    }
    let addr = server.addr;
    server.shutdown().await;
    for client in &mut clients {
        client.expect_refusal(4200, "Server shutting down").await;
    }
    for _ in 0..SOCKETS {
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "no listener is left"
        );
    }
}
