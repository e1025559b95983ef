//! Cluster harness: a real `redis-server` on an ephemeral port (killable and
//! restartable) or a real Redis Cluster (`redis_cluster.rs`), Clarion nodes
//! with scaling on, in-process or as separate processes of the built
//! binary, and the scenarios both kinds of Redis run (`scenarios.rs`).
#![allow(dead_code)]

pub(crate) mod hook_scenarios;
pub(crate) mod redis_cluster;
pub(crate) mod scenarios;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clarion::config::{AppConfig, Config};

/// A `redis-server` child process on a free loopback port.
pub(crate) struct Redis {
    pub port: u16,
    child: Option<Child>,
}

pub(crate) fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Redis {
    pub(crate) async fn start() -> Redis {
        let mut redis = Redis {
            port: free_port(),
            child: None,
        };
        redis.restart().await;
        redis
    }

    /// (Re)starts the server on the same port and waits until it answers.
    pub(crate) async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start");
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Where the nodes of a scenario meet: a single Redis or a Redis Cluster.
pub(crate) trait Backend {
    /// A config for one node of the default app in deployment `namespace`.
    fn node_config(&self, namespace: &str) -> Config;
}

impl Backend for Redis {
    fn node_config(&self, namespace: &str) -> Config {
        node_config(self, namespace)
    }
}

impl Backend for redis_cluster::RedisCluster {
    fn node_config(&self, namespace: &str) -> Config {
        let mut config = base_config(namespace);
        config.scaling.cluster_nodes = self.urls();
        config
    }
}

/// A config for one cluster node of the default app.
pub(crate) fn node_config(redis: &Redis, namespace: &str) -> Config {
    let mut config = base_config(namespace);
    config.scaling.url = Some(redis.url());
    config
}

/// A node of the default app with scaling on, Redis not yet chosen.
fn base_config(namespace: &str) -> Config {
    let mut config = Config::default();
    config.server.host = "127.0.0.1".to_owned();
    config.server.port = 0;
    config.server.shutdown_grace_period = 5;
    // Stop at once: no drain pause, no spread of the closes.
    config.server.drain_pause = 0;
    config.server.drain_spread = Some(0);
    config.apps = vec![AppConfig::development()];
    config.scaling.enabled = true;
    config.scaling.channel = namespace.to_owned();
    config.scaling.heartbeat_interval_ms = 300;
    config.scaling.node_timeout_ms = 2_000;
    config.scaling.query_timeout_ms = 1_000;
    config
}

/// A node running as a separate process of the built binary.
pub(crate) struct ProcessNode {
    pub addr: SocketAddr,
    child: Child,
}

impl ProcessNode {
    pub(crate) async fn start(redis: &Redis, namespace: &str) -> ProcessNode {
        ProcessNode::start_with(&redis.url(), namespace, &[]).await
    }

    /// A node on `redis_url` with extra environment variables.
    pub(crate) async fn start_with(
        redis_url: &str,
        namespace: &str,
        env: &[(&str, &str)],
    ) -> ProcessNode {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(env!("CARGO_BIN_EXE_clarion"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .env_clear()
            .env("REVERB_APP_ID", "1000")
            .env("REVERB_APP_KEY", "app-key")
            .env("REVERB_APP_SECRET", "app-secret")
            .env("REVERB_SCALING_ENABLED", "true")
            .env("REVERB_SCALING_CHANNEL", namespace)
            .env("REDIS_URL", redis_url)
            .env("RUST_LOG", "info")
            // Stop at once on SIGTERM: no drain pause, no spread.
            .env("CLARION_DRAIN_PAUSE", "0")
            .env("CLARION_DRAIN_SPREAD", "0")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn clarion");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let addr = addr.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .ok()
            .and_then(|a| a.parse().ok());
        let Some(addr) = addr else {
            // Never leave a stray server behind a failed start.
            let _ = child.kill();
            let _ = child.wait();
            panic!("the node did not report a listening address");
        };
        ProcessNode { addr, child }
    }

    /// Sends `signal` (e.g. `STOP`, `CONT`) to the node process. After
    /// `STOP`, waits until every thread of the process is stopped: signal
    /// delivery is asynchronous, and a thread still running could answer
    /// one more message.
    pub(crate) fn signal(&self, signal: &str) {
        let pid = self.child.id();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} failed");
        if signal == "STOP" {
            let all_stopped = || {
                let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                    return false;
                };
                tasks.filter_map(Result::ok).all(|task| {
                    std::fs::read_to_string(task.path().join("stat"))
                        .ok()
                        .and_then(|stat| {
                            let state = stat.rsplit_once(") ")?.1.chars().next()?;
                            Some(state == 'T' || state == 't')
                        })
                        .unwrap_or(false)
                })
            };
            for _ in 0..200 {
                if all_stopped() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            panic!("the node did not stop");
        }
    }

    /// SIGKILL: no goodbye, no cleanup.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ProcessNode {
    fn drop(&mut self) {
        self.kill();
    }
}
