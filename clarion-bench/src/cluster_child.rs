//! The hidden scenario `cluster-child`: one process's share of a
//! `cluster-idle` run (one node's sockets, or up to `--per-child` of them),
//! started by the parent through `subprocess.rs` with `--url` set to its
//! node.
//!
//! It connects `--connections` sockets, each subscribed to the common
//! channel and (with `--channels C`) to one of C spread channels, then
//! speaks JSON lines on stdout:
//! - `{"ready":R,"failed":F,"connect_secs":S,"failures":{kind:n}}` once every
//!   socket is subscribed or failed;
//! - `{"complete":seq,"max_us":M}` when all R sockets have received the
//!   event numbered `seq` (M: the slowest one's publish→receive time, both
//!   ends on this machine's clock);
//! - after `stop` on stdin: `{"received":[n per seq],"max_us":[…],
//!   "latency":[[µs,count]…],"dropped":D}`, then it closes its sockets and
//!   exits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::{self, Ws};
use super::stats::{self, LatencyRecorder, Live};
use super::target::Target;
use super::{count_arg, fleet, scan, BenchError};

/// Event name of the events the parent publishes.
pub(crate) const EVENT: &str = "cluster-event";

/// Options of the hidden `clarion-bench cluster-child`.
#[derive(Debug, Clone, Args)]
pub struct ClusterChildArgs {
    /// Sockets to open on this process's node.
    #[arg(long)]
    pub connections: usize,
    /// Spread channels (`cluster-{i % C}`); 0 = the common channel only.
    #[arg(long, default_value_t = 0)]
    pub channels: usize,
    /// Number of this child's first socket among its node's sockets (so
    /// that several children of one node cover the spread channels evenly).
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// The channel every socket of every node subscribes to.
    #[arg(long)]
    pub common_channel: String,
    /// Events the parent will publish (sequence numbers `0..P`).
    #[arg(long)]
    pub publishes: usize,
}

/// Arrivals per sequence number, shared by every socket task.
#[derive(Debug)]
struct Arrivals {
    /// Ready sockets: an event is complete once this many received it.
    expected: AtomicU64,
    count: Vec<AtomicU64>,
    max_us: Vec<AtomicU64>,
}

impl Arrivals {
    fn new(publishes: usize) -> Self {
        Self {
            expected: AtomicU64::new(u64::MAX),
            count: (0..publishes).map(|_| AtomicU64::new(0)).collect(),
            max_us: (0..publishes).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Counts one arrival; the socket that completes `seq` announces it.
    fn record(&self, seq: u64, latency_us: u64) {
        let Ok(i) = usize::try_from(seq) else { return };
        let (Some(count), Some(max)) = (self.count.get(i), self.max_us.get(i)) else {
            return;
        };
        max.fetch_max(latency_us, Ordering::SeqCst);
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.expected.load(Ordering::SeqCst) {
            emit(&json!({"complete": seq, "max_us": max.load(Ordering::SeqCst)}));
        }
    }

    fn snapshot(list: &[AtomicU64]) -> Vec<u64> {
        list.iter().map(|a| a.load(Ordering::SeqCst)).collect()
    }
}

/// Writes one protocol line on stdout (line-buffered, so whole lines).
fn emit(v: &Value) {
    println!("{v}");
}

/// A histogram as `[[value, count]…]` of its recorded values.
pub(crate) fn histogram_to_json(h: &Histogram<u64>) -> Value {
    h.iter_recorded()
        .map(|v| json!([v.value_iterated_to(), v.count_at_value()]))
        .collect()
}

/// Adds the `[[value, count]…]` of [`histogram_to_json`] into `h`.
pub(crate) fn add_histogram(h: &mut Histogram<u64>, v: &Value) {
    for pair in v.as_array().into_iter().flatten() {
        if let (Some(value), Some(count)) = (pair[0].as_u64(), pair[1].as_u64()) {
            let _ = h.record_n(value.max(1), count);
        }
    }
}

/// One socket: counts the parent's events until `stop`, answers pings.
/// Returns whether it was dropped first.
async fn receive(
    mut ws: Ws,
    stop: CancellationToken,
    arrivals: Arc<Arrivals>,
    mut latency: LatencyRecorder,
) -> bool {
    let dropped = loop {
        let msg = tokio::select! {
            () = stop.cancelled() => break false,
            msg = client::next_text(&mut ws) => msg,
        };
        let Ok(Some(frame)) = msg else { break true };
        match scan::event_name(&frame) {
            Some(EVENT) => {
                if let Some((seq, ts)) = scan::bench_payload(&frame) {
                    let us = scan::unix_micros().saturating_sub(ts);
                    latency.record(us);
                    arrivals.record(seq, us);
                }
            }
            Some("pusher:ping") if client::pong(&mut ws).await.is_err() => break true,
            _ => {}
        }
    };
    latency.flush();
    if !dropped {
        client::close(ws, Duration::from_secs(2)).await;
    }
    dropped
}

/// Waits for `stop` (or the end of input) on stdin.
async fn stop_requested() {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim() == "stop" {
            return;
        }
    }
}

/// Runs the child's part.
pub(crate) async fn run(target: &Target, args: &ClusterChildArgs) -> Result<(), BenchError> {
    let n = count_arg("connections", args.connections)?;
    target.check_fd_budget(n);
    let target = Arc::new(target.clone());
    let live = Live::new();
    let stop = CancellationToken::new();
    let latency = stats::shared_histogram();
    let arrivals = Arc::new(Arrivals::new(args.publishes));
    let body = {
        let (stop, arrivals, latency) = (stop.clone(), arrivals.clone(), latency.clone());
        move |_i: usize, conn: client::Conn| {
            let rec = LatencyRecorder::new(latency.clone());
            receive(conn.ws, stop.clone(), arrivals.clone(), rec)
        }
    };
    let channels_of = {
        let (target, spread, offset) = (target.clone(), args.channels, args.offset);
        let common = target.channel(&args.common_channel);
        move |i: usize| {
            let mut list = vec![common.clone()];
            if spread > 0 {
                list.push(target.channel(&format!("cluster-{}", (offset + i) % spread)));
            }
            list
        }
    };
    let started = Instant::now();
    let mut set = fleet::spawn(&target, n, &live, channels_of, false, body);
    let settled = fleet::settle(&target, &live, n, started).await;
    let ready = Live::get(&live.ready);
    arrivals.expected.store(ready, Ordering::SeqCst);
    let failures: serde_json::Map<String, Value> = live
        .failures()
        .into_iter()
        .map(|(kind, count, _)| (kind.to_owned(), Value::from(count)))
        .collect();
    let sample = live.failures().first().map(|f| f.2.clone());
    emit(&json!({
        "ready": ready,
        "failed": Live::get(&live.failed),
        "connect_secs": settled.elapsed.as_secs_f64(),
        "failures": failures,
        "failure_sample": sample,
    }));

    stop_requested().await;
    stop.cancel();
    let outcomes: Vec<bool> = fleet::join(&mut set, Duration::from_secs(15)).await;
    let dropped = outcomes.iter().filter(|d| **d).count();
    let histogram = latency
        .lock()
        .map(|h| histogram_to_json(&h))
        .unwrap_or_default();
    emit(&json!({
        "received": Arrivals::snapshot(&arrivals.count),
        "max_us": Arrivals::snapshot(&arrivals.max_us),
        "latency": histogram,
        "dropped": dropped,
    }));
    Ok(())
}

#[cfg(test)]
mod tests;
