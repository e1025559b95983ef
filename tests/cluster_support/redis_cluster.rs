//! A real Redis Cluster for the tests: three masters and three replicas,
//! each a `redis-server --cluster-enabled yes` child on free loopback ports
//! (client port and cluster bus port) in its own temporary directory, joined
//! by `redis-cli --cluster create`. Masters can be killed (SIGKILL) and the
//! promotion of their replica awaited.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The cluster: six `redis-server` children, killed on drop.
pub(crate) struct RedisCluster {
    /// Client ports, in start order.
    pub ports: Vec<u16>,
    children: HashMap<u16, Child>,
    dir: PathBuf,
}

/// One node as `CLUSTER NODES` describes it.
#[derive(Debug, Clone)]
pub(crate) struct ClusterNode {
    pub port: u16,
    pub master: bool,
    pub failed: bool,
    /// Slot ranges served (masters).
    pub slots: Vec<(u16, u16)>,
}

impl RedisCluster {
    /// Starts six nodes, creates the cluster with one replica per master
    /// and waits until every node reports `cluster_state:ok`.
    pub(crate) async fn start() -> RedisCluster {
        let dir = std::env::temp_dir().join(format!(
            "clarion-redis-cluster-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut cluster = RedisCluster {
            ports: Vec::new(),
            children: HashMap::new(),
            dir,
        };
        // Twelve distinct ports (client and bus for each node): all bound
        // at once while choosing, so none is handed out twice.
        let held: Vec<std::net::TcpListener> = (0..12)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
            .collect();
        let mut ports: Vec<u16> = held
            .iter()
            .map(|l| l.local_addr().expect("bound").port())
            .collect();
        drop(held);
        while let (Some(bus), Some(port)) = (ports.pop(), ports.pop()) {
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--cluster-port",
                    &bus.to_string(),
                ])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--cluster-node-timeout", "1000"])
                // Replicas sync at once (not after the default 5 s wait for
                // more replicas), and one whose copy is old still stands
                // for election: a test kills masters seconds after start.
                .args(["--repl-diskless-sync-delay", "0"])
                .args(["--cluster-replica-validity-factor", "0"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&cluster.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server must be installed (scripts/test.sh installs it)");
            cluster.ports.push(port);
            cluster.children.insert(port, child);
        }
        for &port in &cluster.ports {
            wait_for(&format!("redis-server on {port}"), || async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
            })
            .await;
        }
        for (port, child) in &mut cluster.children {
            assert!(
                matches!(child.try_wait(), Ok(None)),
                "redis-server on {port} exited (its port was taken meanwhile?)"
            );
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli must be installed with redis-server");
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&created.stdout),
            String::from_utf8_lossy(&created.stderr)
        );
        cluster.wait_ok().await;
        cluster
    }

    /// Seed URLs for `scaling.cluster_nodes` (all six).
    pub(crate) fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// Ports of the nodes still running.
    pub(crate) fn live_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.children.keys().copied().collect();
        ports.sort_unstable();
        ports
    }

    /// A plain connection to the node on `port`.
    pub(crate) async fn node_conn(port: u16) -> redis::aio::MultiplexedConnection {
        redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to a cluster node")
    }

    /// Waits until every running node says `cluster_state:ok`, every
    /// replica has synced with its master, and all agree on which masters
    /// serve all 16384 slots.
    pub(crate) async fn wait_ok(&self) {
        let ports = self.live_ports();
        wait_for("the Redis Cluster is ok on every node", || {
            let ports = ports.clone();
            async move {
                let mut views = Vec::new();
                for port in ports {
                    let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}"))
                    else {
                        return false;
                    };
                    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                        return false;
                    };
                    let info: String = redis::cmd("CLUSTER")
                        .arg("INFO")
                        .query_async(&mut conn)
                        .await
                        .unwrap_or_default();
                    if !info.contains("cluster_state:ok") {
                        return false;
                    }
                    let replication: String = redis::cmd("INFO")
                        .arg("replication")
                        .query_async(&mut conn)
                        .await
                        .unwrap_or_default();
                    if replication.contains("role:slave")
                        && !replication.contains("master_link_status:up")
                    {
                        return false;
                    }
                    let mut masters: Vec<(u16, Vec<(u16, u16)>)> =
                        parse_nodes(&nodes_text(&mut conn).await)
                            .into_iter()
                            .filter(|n| n.master && !n.failed && !n.slots.is_empty())
                            .map(|n| (n.port, n.slots))
                            .collect();
                    masters.sort();
                    let covered: u32 = masters
                        .iter()
                        .flat_map(|(_, s)| s.iter())
                        .map(|(a, b)| u32::from(b - a) + 1)
                        .sum();
                    if covered != 16384 {
                        return false;
                    }
                    views.push(masters);
                }
                views.windows(2).all(|w| w[0] == w[1])
            }
        })
        .await;
    }

    /// The cluster's nodes as a running node sees them.
    pub(crate) async fn nodes(&self) -> Vec<ClusterNode> {
        let port = self.live_ports()[0];
        let mut conn = RedisCluster::node_conn(port).await;
        parse_nodes(&nodes_text(&mut conn).await)
    }

    /// The port of the master serving `slot`.
    pub(crate) async fn master_of(&self, slot: u16) -> u16 {
        self.serving(slot)
            .await
            .expect("a master serves every slot")
    }

    /// The port of the live master serving `slot`, if any (none while a
    /// failed master's replica is not yet promoted).
    pub(crate) async fn serving(&self, slot: u16) -> Option<u16> {
        self.nodes()
            .await
            .into_iter()
            .find(|n| n.master && !n.failed && n.slots.iter().any(|&(a, b)| a <= slot && slot <= b))
            .map(|n| n.port)
    }

    /// The slot of `key` (`CLUSTER KEYSLOT`).
    pub(crate) async fn keyslot(&self, key: &str) -> u16 {
        let mut conn = RedisCluster::node_conn(self.live_ports()[0]).await;
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut conn)
            .await
            .expect("CLUSTER KEYSLOT")
    }

    /// Subscribers of shard channel `key` on the master serving it
    /// (`PUBSUB SHARDNUMSUB`).
    pub(crate) async fn shard_subscribers(&self, key: &str) -> i64 {
        let master = self.master_of(self.keyslot(key).await).await;
        let mut conn = RedisCluster::node_conn(master).await;
        let reply: Vec<(String, i64)> = redis::cmd("PUBSUB")
            .arg("SHARDNUMSUB")
            .arg(key)
            .query_async(&mut conn)
            .await
            .expect("PUBSUB SHARDNUMSUB");
        reply.first().map_or(0, |(_, n)| *n)
    }

    /// SIGKILLs the node on `port`.
    pub(crate) fn kill(&mut self, port: u16) {
        if let Some(mut child) = self.children.remove(&port) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for (_, mut child) in self.children.drain() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn nodes_text(conn: &mut redis::aio::MultiplexedConnection) -> String {
    redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(conn)
        .await
        .unwrap_or_default()
}

/// Parses `CLUSTER NODES`: `id ip:port@bus flags master ping pong epoch
/// state slot…`.
fn parse_nodes(text: &str) -> Vec<ClusterNode> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let addr = fields.get(1)?;
            let port = addr.split('@').next()?.rsplit(':').next()?.parse().ok()?;
            let flags = fields.get(2)?;
            let slots = fields
                .iter()
                .skip(8)
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|a| (a, a)),
                })
                .collect();
            Some(ClusterNode {
                port,
                master: flags.contains("master"),
                failed: flags.contains("fail") && !flags.contains("fail?"),
                slots,
            })
        })
        .collect()
}

/// Polls `check` every 50 ms for at most 20 s.
async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
