//! Scenario `cluster-idle`: N idle subscribed sockets on every node of a
//! cluster (`--urls`), more than one process may hold, then events
//! published to a channel that every socket of every node is subscribed to.
//!
//! The sockets live in child processes (`cluster_child.rs`), one per node
//! or per `--per-child` sockets, so no process passes its descriptor limit.
//! Every socket subscribes to the common channel `cluster-all` and to one
//! of `--channels` spread channels (`cluster-{i % C}`). Once all are ready
//! (and `--settle` seconds later) each node's RSS is sampled; then the
//! parent publishes `--publishes` events through the HTTP API, one at a
//! time and round-robin over the nodes, each carrying its publish time; the
//! next leaves `--gap-ms` after every child reported that all its sockets
//! have the previous one. Reports: the time until every socket had each
//! event (min/median/max over the publishes), the publish→receive latency of
//! every delivery (p50/p99/max), loss, each node's RSS per connection and
//! CPU, and Redis's CPU, commands and output bytes (`--redis`, through
//! `INFO`).

use std::time::Duration;

use clap::Args;
use serde_json::Value;
use tokio::time::Instant;

use super::cluster_child::{self, EVENT};
use super::nodes::{self, Node};
use super::proc_stats::{self, ProcSample};
use super::publisher;
use super::redis_info::{self, Counters};
use super::report::Report;
use super::subprocess::Children;
use super::{count_arg, scan, secs_arg, stats, BenchError, CommonArgs};

/// Options of `clarion-bench cluster-idle`.
#[derive(Debug, Clone, Args)]
pub struct ClusterIdleArgs {
    /// WebSocket base URL of every node (comma list, or repeated).
    #[arg(long, value_delimiter = ',', required = true)]
    pub urls: Vec<String>,
    /// Server pid of every node, in `--urls` order (default: the process
    /// listening on the node's port, found through /proc).
    #[arg(long, value_delimiter = ',')]
    pub pids: Vec<u32>,
    /// Redis `host:port`, read with `INFO` for its CPU, commands and bytes.
    #[arg(long)]
    pub redis: Option<String>,
    /// Sockets per node.
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub connections: usize,
    /// Most sockets one child process opens (below its open-file limit).
    #[arg(long, default_value_t = 19_000)]
    pub per_child: usize,
    /// Spread channels each socket also joins one of; 0 = none.
    #[arg(long, short = 'c', default_value_t = 100)]
    pub channels: usize,
    /// Events to publish, one at a time.
    #[arg(long, short = 'p', default_value_t = 20)]
    pub publishes: usize,
    /// Milliseconds between an event reaching every socket and the next.
    #[arg(long, default_value_t = 500)]
    pub gap_ms: u64,
    /// Seconds one event may take to reach every socket.
    #[arg(long, default_value_t = 30.0)]
    pub publish_timeout: f64,
    /// Seconds to hold once every socket is ready, before sampling RSS.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
    /// Approximate size of each event's data, bytes.
    #[arg(long, default_value_t = 100)]
    pub payload_size: usize,
}

/// The common channel's name (before `--channel-prefix`).
const COMMON: &str = "cluster-all";

/// The command line of one child: the common options with its node's URL.
fn child_args(
    common: &CommonArgs,
    node: &Node,
    args: &ClusterIdleArgs,
    sockets: usize,
    offset: usize,
) -> Vec<String> {
    let mut out: Vec<String> = [
        "--url",
        &node.url,
        "--app-id",
        &common.app_id,
        "--key",
        &common.key,
        "--secret",
        &common.secret,
        "--channel-prefix",
        &common.channel_prefix,
        "--no-progress",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    out.push(format!(
        "--connect-concurrency={}",
        common.connect_concurrency
    ));
    out.push(format!("--connect-timeout={}", common.connect_timeout));
    if !common.source_addrs.is_empty() {
        let list: Vec<String> = common.source_addrs.iter().map(|a| a.to_string()).collect();
        out.push(format!("--source-addrs={}", list.join(",")));
    }
    out.extend([
        "cluster-child".to_owned(),
        format!("--connections={sockets}"),
        format!("--channels={}", args.channels),
        format!("--offset={offset}"),
        format!("--common-channel={COMMON}"),
        format!("--publishes={}", args.publishes),
    ]);
    out
}

/// What one child said when it was ready.
#[derive(Debug, Clone, Default)]
struct ChildReady {
    node: usize,
    ready: u64,
    failed: u64,
    failures: Vec<(String, u64)>,
    sample: Option<String>,
}

async fn redis_counters(redis: Option<&String>) -> Option<Counters> {
    redis_info::counters(redis?).await.ok()
}

/// Waits for every child's `ready` line.
async fn await_ready(
    children: &mut Children,
    of_node: &[usize],
    deadline: Instant,
) -> Vec<ChildReady> {
    let mut ready: Vec<Option<ChildReady>> = vec![None; children.len()];
    while ready.iter().any(Option::is_none) {
        let Some((c, v)) = children.next(deadline).await else {
            break;
        };
        if v.get("ready").is_none() {
            continue;
        }
        let failures = v["failures"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        ready[c] = Some(ChildReady {
            node: of_node[c],
            ready: v["ready"].as_u64().unwrap_or(0),
            failed: v["failed"].as_u64().unwrap_or(0),
            failures,
            sample: v["failure_sample"].as_str().map(str::to_owned),
        });
    }
    ready
        .into_iter()
        .enumerate()
        .map(|(c, r)| {
            r.unwrap_or(ChildReady {
                node: of_node[c],
                ..ChildReady::default()
            })
        })
        .collect()
}

/// Publishes event `seq` through `node` and waits until every child with
/// ready sockets reported it complete. Returns the slowest socket's
/// publish→receive time, or `None` if the publish failed or timed out.
async fn publish_one(
    node: &Node,
    sender: &mut Option<publisher::Sender>,
    children: &mut Children,
    waiting_on: &[bool],
    seq: u64,
    args: &ClusterIdleArgs,
    timeout: Duration,
) -> Result<Option<u64>, String> {
    let target = &node.target;
    let mut s = match sender.take().filter(|s| !s.is_closed()) {
        Some(s) => s,
        None => publisher::open(target).await?,
    };
    let channel = target.channel(COMMON);
    let body = publisher::event_body(EVENT, &channel, seq, scan::unix_micros(), args.payload_size);
    let path = format!("/apps/{}/events", target.app_id);
    let deadline = Instant::now() + timeout;
    let posted =
        tokio::time::timeout_at(deadline, publisher::post(&mut s, target, &path, body)).await;
    *sender = Some(s);
    posted.map_err(|_| "no response".to_owned())??;
    let mut pending: Vec<bool> = waiting_on.to_vec();
    let mut slowest = 0u64;
    while pending.iter().any(|p| *p) {
        let Some((c, v)) = children.next(deadline).await else {
            return Ok(None);
        };
        if v["complete"].as_u64() == Some(seq) {
            pending[c] = false;
            slowest = slowest.max(v["max_us"].as_u64().unwrap_or(0));
        }
    }
    Ok(Some(slowest))
}

/// Runs the scenario.
pub(crate) async fn run(common: &CommonArgs, args: &ClusterIdleArgs) -> Result<Report, BenchError> {
    let per_node = count_arg("connections", args.connections)?;
    let per_child = count_arg("per-child", args.per_child)?;
    let publishes = count_arg("publishes", args.publishes)?;
    let settle = secs_arg("settle", args.settle)?;
    let publish_timeout = secs_arg("publish-timeout", args.publish_timeout)?;
    let connect_timeout = secs_arg("connect-timeout", common.connect_timeout)?;
    let nodes = nodes::resolve(common, &args.urls, &args.pids).await?;
    if !nodes::await_linked(&nodes, Duration::from_secs(15)).await {
        eprintln!("warning: a node does not answer cluster queries (is it linked to Redis?)");
    }
    let redis = args.redis.as_ref();

    let before: Vec<Option<ProcSample>> = nodes.iter().map(Node::sample).collect();
    let redis_before = redis_counters(redis).await;
    let mut children = Children::new();
    let mut of_node = Vec::new();
    for node in &nodes {
        let mut offset = 0;
        while offset < per_node {
            let take = per_child.min(per_node - offset);
            children.spawn(&child_args(common, node, args, take, offset))?;
            of_node.push(node.index);
            offset += take;
        }
    }
    let started = Instant::now();
    let waves = (per_child / common.connect_concurrency.max(1) + 1) as u32;
    let deadline = started + connect_timeout * waves.saturating_mul(2) + Duration::from_secs(30);
    let ready = await_ready(&mut children, &of_node, deadline).await;
    let connect_secs = started.elapsed().as_secs_f64();
    // Redis's own rate while nothing happens (its timers, the nodes'
    // heartbeats), to tell the events' cost from it.
    let redis_idle = redis_counters(redis).await;
    let idle_from = Instant::now();
    tokio::time::sleep(settle).await;
    let at_ready: Vec<Option<ProcSample>> = nodes.iter().map(Node::sample).collect();
    let redis_ready = redis_counters(redis).await;
    let idle_secs = idle_from.elapsed().as_secs_f64();
    let publish_from = Instant::now();

    // Publish one event at a time and wait until every socket has it.
    let waiting_on: Vec<bool> = ready.iter().map(|r| r.ready > 0).collect();
    let mut senders: Vec<Option<publisher::Sender>> = nodes.iter().map(|_| None).collect();
    let mut all_have_it = stats::new_histogram();
    let (mut published, mut incomplete) = (Vec::new(), 0u64);
    let mut publish_errors = Vec::new();
    for seq in 0..publishes as u64 {
        let n = (seq as usize) % nodes.len();
        let outcome = publish_one(
            &nodes[n],
            &mut senders[n],
            &mut children,
            &waiting_on,
            seq,
            args,
            publish_timeout,
        )
        .await;
        match outcome {
            Ok(Some(us)) => {
                published.push(seq);
                let _ = all_have_it.record(us.max(1));
            }
            Ok(None) => {
                published.push(seq);
                incomplete += 1;
            }
            Err(e) => publish_errors.push(e),
        }
        tokio::time::sleep(Duration::from_millis(args.gap_ms)).await;
    }
    let after: Vec<Option<ProcSample>> = nodes.iter().map(Node::sample).collect();
    let redis_after = redis_counters(redis).await;
    let publish_secs = publish_from.elapsed().as_secs_f64();

    // Collect every child's final report.
    children.send_all("stop").await;
    let mut latency = stats::new_histogram();
    let (mut delivered, mut dropped, mut reports) = (0u64, 0u64, 0usize);
    let report_deadline = Instant::now() + Duration::from_secs(60);
    while reports < children.len() {
        let Some((_, v)) = children.next(report_deadline).await else {
            break;
        };
        let Some(received) = v["received"].as_array() else {
            continue;
        };
        reports += 1;
        delivered += published
            .iter()
            .filter_map(|s| received.get(*s as usize).and_then(Value::as_u64))
            .sum::<u64>();
        dropped += v["dropped"].as_u64().unwrap_or(0);
        cluster_child::add_histogram(&mut latency, &v["latency"]);
    }
    children.finish(Duration::from_secs(20)).await;

    let total_ready: u64 = ready.iter().map(|r| r.ready).sum();
    let expected = total_ready * published.len() as u64;
    let mut r = Report::new("cluster-idle");
    r.set("params.nodes", nodes.len());
    r.set("params.connections_per_node", per_node);
    r.set("params.child_processes", ready.len());
    r.set("params.channels", args.channels);
    r.set("params.publishes", publishes);
    r.set("connections.ready", total_ready);
    r.set(
        "connections.failed",
        ready.iter().map(|c| c.failed).sum::<u64>(),
    );
    r.set("connections.dropped", dropped);
    r.set_f("connect.secs", Some(connect_secs));
    r.set_f(
        "connect.rate_per_s",
        Some(stats::rate(total_ready, connect_secs)),
    );
    for c in &ready {
        for (kind, n) in &c.failures {
            r.set(&format!("failures.node{}.{kind}", c.node), *n);
        }
        if let Some(sample) = &c.sample {
            r.set(&format!("failure_samples.node{}", c.node), sample.as_str());
        }
    }
    r.set("published.events", published.len());
    r.set("published.failed", publish_errors.len());
    if let Some(e) = publish_errors.first() {
        r.set("published.first_error", e.as_str());
    }
    r.set("published.not_everywhere_in_time", incomplete);
    r.set("delivered.messages", delivered);
    r.set("delivered.expected", expected);
    r.set("delivered.lost", expected.saturating_sub(delivered));
    r.set_latency("all_sockets_have_it_us", &all_have_it);
    r.set("all_sockets_have_it_us.min", all_have_it.min());
    r.set_latency("latency_us", &latency);
    for node in &nodes {
        let i = node.index;
        let on_node: u64 = ready.iter().filter(|c| c.node == i).map(|c| c.ready).sum();
        let key = format!("nodes.{i}");
        r.set(&format!("{key}.url"), node.url.as_str());
        r.set(&format!("{key}.ready"), on_node);
        if let Some(pid) = node.pid {
            r.set(&format!("{key}.pid"), pid);
        }
        if let (Some(b), Some(a)) = (before[i], at_ready[i]) {
            r.set(&format!("{key}.rss_before_bytes"), b.rss_bytes);
            r.set(&format!("{key}.rss_ready_bytes"), a.rss_bytes);
            let grown = a.rss_bytes.saturating_sub(b.rss_bytes) as f64;
            r.set_f(
                &format!("{key}.rss_per_conn_bytes"),
                stats::per_unit(grown, on_node),
            );
            r.set(
                &format!("{key}.connect_cpu_us"),
                proc_stats::cpu_delta_us(&b, &a),
            );
        }
        if let (Some(a), Some(z)) = (at_ready[i], after[i]) {
            let cpu = proc_stats::cpu_delta_us(&a, &z);
            r.set(&format!("{key}.publish_cpu_us"), cpu);
            let messages = on_node * published.len() as u64;
            r.set_f(
                &format!("{key}.cpu_us_per_message"),
                stats::per_unit(cpu as f64, messages),
            );
        }
    }
    if let (Some(b), Some(a)) = (redis_before, redis_ready) {
        let d = b.delta(&a);
        r.set("redis.connect_phase.cpu_us", d.cpu_us);
        r.set("redis.connect_phase.commands", d.commands);
        r.set("redis.connect_phase.subscribe_commands", d.subscribes);
    }
    let idle_rate = match (redis_idle, redis_ready) {
        (Some(a), Some(z)) if idle_secs > 0.0 => {
            let rate = a.delta(&z).cpu_us as f64 / idle_secs;
            r.set_f("redis.idle.cpu_us_per_s", Some(rate));
            rate
        }
        _ => 0.0,
    };
    if let (Some(a), Some(z)) = (redis_ready, redis_after) {
        let d = a.delta(&z);
        let n = published.len() as u64;
        let above_idle = (d.cpu_us as f64 - idle_rate * publish_secs).max(0.0);
        r.set_f("redis.publish_phase.secs", Some(publish_secs));
        r.set("redis.publish_phase.cpu_us", d.cpu_us);
        r.set_f(
            "redis.publish_phase.cpu_us_per_event",
            stats::per_unit(d.cpu_us as f64, n),
        );
        r.set_f(
            "redis.publish_phase.cpu_us_per_event_above_idle",
            stats::per_unit(above_idle, n),
        );
        r.set("redis.publish_phase.publish_commands", d.publishes);
        r.set("redis.publish_phase.commands", d.commands);
        r.set_f(
            "redis.publish_phase.output_bytes_per_event",
            stats::per_unit(d.output_bytes as f64, n),
        );
    }
    Ok(r)
}
