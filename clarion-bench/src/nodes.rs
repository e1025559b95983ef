//! The nodes of a cluster under test (`--urls a,b,c`): one [`Target`] per
//! node, built from the common options with that node's URL, and the pid of
//! each node's server process (`--pids`, or discovered from the listening
//! port through `/proc`), for per-node RSS and CPU.

use std::sync::Arc;

use tokio::time::{Duration, Instant};

use super::proc_stats::{self, ProcSample};
use super::publisher;
use super::target::Target;
use super::{discover, BenchError, CommonArgs};

/// One node of the cluster.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Position in `--urls`.
    pub index: usize,
    /// Its WebSocket base URL, as given.
    pub url: String,
    /// How to reach it (HTTP API derived from the URL).
    pub target: Arc<Target>,
    /// Its server process, when given or found.
    pub pid: Option<u32>,
}

impl Node {
    /// Samples the node's /proc figures.
    pub(crate) fn sample(&self) -> Option<ProcSample> {
        self.pid.and_then(|pid| proc_stats::sample(pid).ok())
    }

    /// Looks for the process now listening on the node's port (after a
    /// restart) and remembers it.
    pub(crate) fn rediscover(&mut self) -> Option<u32> {
        self.pid = discover::listener_pid(self.target.ws_addr.port());
        self.pid
    }
}

/// Resolves every node of `urls`. `pids[i]` is node i's pid; without it the
/// pid is looked up from the node's port (only found for a local process of
/// this user; figures that need it are left out otherwise).
///
/// # Errors
/// [`BenchError`] when no URL is given, a URL is unusable or a pid cannot
/// be read.
pub(crate) async fn resolve(
    common: &CommonArgs,
    urls: &[String],
    pids: &[u32],
) -> Result<Vec<Node>, BenchError> {
    if urls.is_empty() {
        return Err(BenchError::Args(
            "--urls needs at least one node".to_owned(),
        ));
    }
    if !pids.is_empty() && pids.len() != urls.len() {
        return Err(BenchError::Args(format!(
            "--pids names {} processes for {} nodes",
            pids.len(),
            urls.len()
        )));
    }
    let mut nodes = Vec::with_capacity(urls.len());
    for (index, url) in urls.iter().enumerate() {
        let mut args = common.clone();
        args.url = url.clone();
        args.http_url = None;
        args.server_pid = pids.get(index).copied();
        let target = Target::new(&args).await?;
        let pid = target
            .server_pid
            .or_else(|| discover::listener_pid(target.ws_addr.port()));
        nodes.push(Node {
            index,
            url: url.clone(),
            target: Arc::new(target),
            pid,
        });
    }
    Ok(nodes)
}

/// Waits until every node answers a channels query of the HTTP API, which a
/// Clarion node refuses while its Redis link is down; gives up after
/// `within` and returns whether all answered.
pub(crate) async fn await_linked(nodes: &[Node], within: Duration) -> bool {
    let deadline = Instant::now() + within;
    for node in nodes {
        let path = format!("/apps/{}/channels", node.target.app_id);
        loop {
            let answered = match publisher::open(&node.target).await {
                Ok(mut s) => publisher::get_json(&mut s, &node.target, &path, &[])
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            if answered {
                break;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    true
}
