//! The multi-node scenarios at a small scale: a real `redis-server` on an
//! ephemeral port, two Clarion nodes in this process with scaling on, and
//! the built `clarion-bench` run against both (`cluster-idle` through its
//! child processes, `cluster-presence` in one process).

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clarion::config::{AppConfig, Config};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A `redis-server` child on a free loopback port, killed when dropped.
struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    async fn start() -> Redis {
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        // Owned at once, so a failed start still kills and reaps it.
        let redis = Redis { port, child };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return redis;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a node of the cluster on `redis`; returns its WebSocket URL.
async fn node(redis: &Redis, namespace: &str, stop: &CancellationToken) -> String {
    let mut config = Config::default();
    config.server.host = "127.0.0.1".to_owned();
    config.server.port = 0;
    config.server.drain_pause = 0;
    config.server.drain_spread = Some(0);
    config.apps = vec![AppConfig::development()];
    config.scaling.enabled = true;
    config.scaling.channel = namespace.to_owned();
    config.scaling.url = Some(format!("redis://127.0.0.1:{}/0", redis.port));
    let listener = clarion::server::bind(&config).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let node = clarion::server::build_node(&config).expect("node");
    let stopped = stop.clone();
    tokio::spawn(async move {
        clarion::server::run(listener, node, async move { stopped.cancelled().await }).await;
    });
    format!("ws://{addr}")
}

/// Runs the bench with `args` and parses its JSON report.
async fn bench(args: Vec<String>) -> Value {
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_clarion-bench"))
            .args(["--json", "--no-progress"])
            .args(&args)
            .output()
            .expect("run clarion-bench")
    })
    .await
    .expect("join");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "clarion-bench failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(text.trim()).expect("one JSON report")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_idle_reaches_every_socket_of_every_node() {
    let redis = Redis::start().await;
    let stop = CancellationToken::new();
    let urls = [
        node(&redis, "b1", &stop).await,
        node(&redis, "b1", &stop).await,
    ];
    let report = bench(
        [
            "cluster-idle",
            &format!("--urls={}", urls.join(",")),
            &format!("--redis=127.0.0.1:{}", redis.port),
            "-n",
            "50",
            // Two child processes for each node's 50 sockets.
            "--per-child",
            "30",
            "-c",
            "5",
            "-p",
            "3",
            "--settle",
            "0",
            "--gap-ms",
            "0",
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .await;
    stop.cancel();
    assert_eq!(report["params"]["child_processes"], 4, "{report}");
    assert_eq!(report["connections"]["ready"], 100, "{report}");
    assert_eq!(report["published"]["events"], 3, "{report}");
    assert_eq!(report["published"]["not_everywhere_in_time"], 0, "{report}");
    assert_eq!(report["delivered"]["messages"], 300, "{report}");
    assert_eq!(report["delivered"]["lost"], 0, "{report}");
    assert_eq!(report["all_sockets_have_it_us"]["count"], 3, "{report}");
    assert_eq!(report["latency_us"]["count"], 300, "{report}");
    assert_eq!(report["nodes"]["1"]["ready"], 50, "{report}");
    assert!(report["nodes"]["0"]["pid"].as_u64().is_some(), "{report}");
    assert!(report["redis"]["publish_phase"]["publish_commands"].as_u64() >= Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_presence_rosters_are_complete_on_every_node() {
    let redis = Redis::start().await;
    let stop = CancellationToken::new();
    let urls = [
        node(&redis, "b2", &stop).await,
        node(&redis, "b2", &stop).await,
    ];
    let report = bench(
        [
            "cluster-presence",
            &format!("--urls={}", urls.join(",")),
            &format!("--redis=127.0.0.1:{}", redis.port),
            "--scaling-channel=b2",
            "-m",
            "60",
            "-c",
            "10",
            "--probes",
            "3",
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .await;
    stop.cancel();
    assert_eq!(report["members"]["subscribed"], 60, "{report}");
    assert_eq!(report["rosters"]["all_complete"], true, "{report}");
    assert_eq!(report["rosters"]["incomplete"], 0, "{report}");
    assert_eq!(report["probes"]["checked"], 6, "{report}");
    assert_eq!(report["probes"]["incomplete"], 0, "{report}");
    // Each join is announced once on the control channel, which both nodes
    // (and nothing else) listen to.
    assert_eq!(
        report["redis"]["control_channel_subscribers"], 2,
        "{report}"
    );
    assert!(report["redis"]["per_join"]["publishes"].as_f64() >= Some(1.0));
}
