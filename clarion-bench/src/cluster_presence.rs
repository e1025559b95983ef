//! Scenario `cluster-presence`: presence at cluster scale. M members (user
//! ids `u{i}`) over C presence channels (`presence-cp-{i % C}`), member i on
//! node `(i / C) % N`, so every channel has members on every node.
//!
//! 1. Every member connects, then all join at once; each tracks its roster
//!    (`roster.rs`). Reported: rosters incomplete at the end (goal 0) and
//!    the time until all were complete; each node's RSS before, connected
//!    and joined; Redis's commands, `PUBLISH`es, output bytes and CPU per
//!    join (`--redis`, through `INFO`, between "connected" and "joined").
//! 2. `--probes` channels per node: a new member joins there and its
//!    `subscription_succeeded` must list every member of the cluster.
//! 3. With `--restart-node K --restart-cmd CMD`: node K is killed (SIGKILL);
//!    the time until every other node's `user_count`s drop its members; then
//!    CMD (run with `sh -c`, it must start the node again on the same port,
//!    e.g. `exec clarion --port …`) and the time until the restarted node's
//!    `user_count` equals the expected one on every channel (it has no
//!    member of its own: its rosters come from the others), its RSS, the
//!    Redis traffic of the resynchronisation, and the probes again on it.
//!    The bench stops the process it started at the end.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use clap::Args;
use futures_util::SinkExt;
use tokio::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::client::{self, Conn};
use super::converge::{self, Counts};
use super::nodes::{self, Node};
use super::proc_stats::ProcSample;
use super::redis_info::{self, Counters};
use super::report::Report;
use super::roster::{self, Roster};
use super::stats::{self, Live};
use super::{count_arg, scan, secs_arg, BenchError, CommonArgs};

/// Options of `clarion-bench cluster-presence`.
#[derive(Debug, Clone, Args)]
pub struct ClusterPresenceArgs {
    /// WebSocket base URL of every node (comma list, or repeated).
    #[arg(long, value_delimiter = ',', required = true)]
    pub urls: Vec<String>,
    /// Server pid of every node, in `--urls` order (default: found from
    /// the node's port).
    #[arg(long, value_delimiter = ',')]
    pub pids: Vec<u32>,
    /// Redis `host:port`, read with `INFO` and `PUBSUB NUMSUB`.
    #[arg(long)]
    pub redis: Option<String>,
    /// The nodes' `scaling.channel` (their control channel is `{it}:clarion`).
    #[arg(long, default_value = "reverb")]
    pub scaling_channel: String,
    /// Presence members in all.
    #[arg(long, short = 'm', default_value_t = 1000)]
    pub members: usize,
    /// Presence channels they are spread over.
    #[arg(long, short = 'c', default_value_t = 100)]
    pub channels: usize,
    /// Channels per node where a new member checks its roster.
    #[arg(long, default_value_t = 20)]
    pub probes: usize,
    /// Longest wait for every roster to complete, seconds.
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// Node (index in `--urls`) to kill and restart.
    #[arg(long, requires = "restart_cmd")]
    pub restart_node: Option<usize>,
    /// Shell command that starts that node again on the same port.
    #[arg(long)]
    pub restart_cmd: Option<String>,
}

/// State shared by the member tasks.
#[derive(Debug)]
struct Shared {
    nodes: Vec<Node>,
    members: usize,
    channels: usize,
    go: CancellationToken,
    /// Freeze: rosters are final, members stop reading.
    stop: CancellationToken,
    /// Close: members leave.
    close: CancellationToken,
    connected: AtomicU32,
    frozen: AtomicU32,
    live: Arc<Live>,
    /// Roster size per member, for the completion check.
    counts: Vec<AtomicU32>,
    /// Members per channel.
    sizes: Vec<usize>,
}

impl Shared {
    fn node_of(&self, i: usize) -> usize {
        (i / self.channels) % self.nodes.len()
    }

    fn channel_name(&self, c: usize) -> String {
        self.nodes[0].target.channel(&format!("presence-cp-{c}"))
    }

    /// Bench members of channel `c`, except those on node `without`.
    fn members_of(&self, c: usize, without: Option<usize>) -> Vec<usize> {
        (c..self.members)
            .step_by(self.channels)
            .filter(|i| Some(self.node_of(*i)) != without)
            .collect()
    }

    /// Expected `user_count` of every channel, except node `without`'s members.
    fn expected_counts(&self, without: Option<usize>) -> Counts {
        (0..self.channels)
            .map(|c| {
                (
                    self.channel_name(c),
                    self.members_of(c, without).len() as u64,
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// What one member ended with.
#[derive(Debug)]
struct Member {
    index: usize,
    subscribed: bool,
    roster: Roster,
}

/// One member: connects, waits for `go`, joins, tracks its roster until
/// `stop`, holds its membership until `close`.
async fn member(
    i: usize,
    shared: Arc<Shared>,
    gate: Arc<tokio::sync::Semaphore>,
) -> Option<Member> {
    let live = &shared.live;
    let node = &shared.nodes[shared.node_of(i)];
    let permit = gate.acquire_owned().await.ok()?;
    let conn = tokio::time::timeout(
        node.target.connect_timeout,
        client::connect(&node.target, i),
    )
    .await
    .unwrap_or(Err(client::ClientError::Timeout("connection_established")));
    drop(permit);
    let Conn { mut ws, socket_id } = match conn {
        Ok(conn) => conn,
        Err(e) => {
            Live::add(&live.failed, 1);
            live.fail(e.kind(), e);
            return None;
        }
    };
    shared.connected.fetch_add(1, Ordering::Relaxed);
    let channel = shared.channel_name(i % shared.channels);
    let mut out = Member {
        index: i,
        subscribed: false,
        roster: Roster::new(shared.members),
    };
    let alive = tokio::select! {
        () = shared.go.cancelled() => true,
        alive = client::hold(&mut ws, &shared.stop) => alive,
    };
    let data = roster::channel_data(i);
    let auth = clarion::auth::channel_auth_token(
        &node.target.key,
        &node.target.secret,
        &socket_id,
        &channel,
        Some(&data),
    );
    let frame = client::subscribe_frame(&channel, Some(&auth), Some(&data));
    let want = shared.sizes[i % shared.channels];
    let go_at = Instant::now();
    if alive && ws.send(Message::text(frame)).await.is_ok() {
        loop {
            let msg = tokio::select! {
                biased;
                () = shared.stop.cancelled() => break,
                msg = client::next_text(&mut ws) => msg,
            };
            let Ok(Some(frame)) = msg else {
                Live::add(&live.dropped, 1);
                break;
            };
            match roster::apply(&mut out.roster, &frame) {
                roster::Applied::Succeeded => {
                    out.subscribed = true;
                    Live::add(&live.ready, 1);
                }
                roster::Applied::Other => match scan::event_name(&frame) {
                    Some("pusher:ping") => {
                        let _ = client::pong(&mut ws).await;
                    }
                    Some("pusher:error") => live.fail("pusher_error", frame.as_str()),
                    _ => {}
                },
                _ => {}
            }
            shared.counts[i].store(out.roster.len() as u32, Ordering::Relaxed);
            if out.roster.len() == want && out.roster.completed_after.is_none() {
                out.roster.completed_after = Some(go_at.elapsed());
            }
        }
    } else {
        Live::add(&live.dropped, 1);
    }
    shared.frozen.fetch_add(1, Ordering::Relaxed);
    shared.close.cancelled().await;
    client::close(ws, Duration::from_secs(2)).await;
    Some(out)
}

/// Waits until `done()` or `deadline`; returns whether it happened.
async fn wait_until(deadline: Instant, done: impl Fn() -> bool) -> bool {
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

fn samples(nodes: &[Node]) -> Vec<Option<ProcSample>> {
    nodes.iter().map(Node::sample).collect()
}

async fn redis_counters(redis: Option<&String>) -> Option<Counters> {
    redis_info::counters(redis?).await.ok()
}

/// Probes `probes` channels on `node`; returns (probes run, incomplete, failed).
async fn probe_node(
    shared: &Shared,
    node: &Node,
    probes: usize,
    without: Option<usize>,
    tag: &str,
) -> (u64, u64, u64) {
    let (mut run, mut incomplete, mut failed) = (0, 0, 0);
    for j in 0..probes.min(shared.channels) {
        let c = (j * shared.channels / probes.max(1) + node.index) % shared.channels;
        let expected = Roster::from_indices(shared.members, &shared.members_of(c, without));
        let user = format!("probe-{tag}-{}-{j}", node.index);
        match converge::probe(
            node,
            &shared.channel_name(c),
            &user,
            shared.members,
            &expected,
        )
        .await
        {
            Ok(p) => {
                run += 1;
                incomplete += u64::from(p.missing + p.extra > 0);
            }
            Err(e) => {
                failed += 1;
                shared.live.fail("probe", e);
            }
        }
    }
    (run, incomplete, failed)
}

/// Runs the scenario.
pub(crate) async fn run(
    common: &CommonArgs,
    args: &ClusterPresenceArgs,
) -> Result<Report, BenchError> {
    let m = count_arg("members", args.members)?;
    let channels = count_arg("channels", args.channels)?;
    let timeout = secs_arg("timeout", args.timeout)?;
    let mut nodes = nodes::resolve(common, &args.urls, &args.pids).await?;
    if !nodes::await_linked(&nodes, Duration::from_secs(15)).await {
        eprintln!("warning: a node does not answer cluster queries (is it linked to Redis?)");
    }
    if let Some(k) = args.restart_node {
        if k >= nodes.len() {
            return Err(BenchError::Args(format!(
                "--restart-node {k}: no such node"
            )));
        }
    }
    nodes[0].target.check_fd_budget(m + 64);
    let redis = args.redis.as_ref();
    let live = Live::new();
    let shared = Arc::new(Shared {
        nodes: nodes.clone(),
        members: m,
        channels,
        go: CancellationToken::new(),
        stop: CancellationToken::new(),
        close: CancellationToken::new(),
        connected: AtomicU32::new(0),
        frozen: AtomicU32::new(0),
        live: live.clone(),
        counts: (0..m).map(|_| AtomicU32::new(0)).collect(),
        sizes: (0..channels)
            .map(|c| (c..m).step_by(channels).count())
            .collect(),
    });
    let mut r = Report::new("cluster-presence");
    r.set("params.nodes", nodes.len());
    r.set("params.members", m);
    r.set("params.channels", channels);

    // 1. Connect, then join all at once.
    let rss_before = samples(&nodes);
    let gate = Arc::new(tokio::sync::Semaphore::new(common.connect_concurrency));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..m {
        set.spawn(member(i, shared.clone(), gate.clone()));
    }
    let connect_bound = Instant::now()
        + nodes[0].target.connect_timeout * (m / common.connect_concurrency.max(1) + 1) as u32 * 2;
    wait_until(connect_bound, || {
        u64::from(shared.connected.load(Ordering::Relaxed)) + Live::get(&live.failed) >= m as u64
    })
    .await;
    let rss_connected = samples(&nodes);
    let redis_connected = redis_counters(redis).await;
    let go_at = Instant::now();
    shared.go.cancel();
    let complete = wait_until(go_at + timeout, || {
        let subscribed = Live::get(&live.ready);
        let settled = subscribed + Live::get(&live.failed) >= m as u64;
        settled
            && (0..m).all(|i| {
                shared.counts[i].load(Ordering::Relaxed) as usize == shared.sizes[i % channels]
            })
    })
    .await;
    let all_complete_after = go_at.elapsed();
    // Let the last announcements land before reading the counters.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_joined = samples(&nodes);
    let redis_joined = redis_counters(redis).await;
    let control = format!("{}:clarion", args.scaling_channel);
    let listeners = match redis {
        Some(addr) => redis_info::numsub(addr, &control).await.ok(),
        None => None,
    };
    shared.stop.cancel();
    let connected = shared.connected.load(Ordering::Relaxed);
    wait_until(Instant::now() + Duration::from_secs(10), || {
        shared.frozen.load(Ordering::Relaxed) >= connected
    })
    .await;

    // 2. A new member's roster on every node.
    let (mut probed, mut probe_bad, mut probe_failed) = (0, 0, 0);
    for node in &nodes {
        let (n, bad, failed) = probe_node(&shared, node, args.probes, None, "a").await;
        probed += n;
        probe_bad += bad;
        probe_failed += failed;
        r.set(&format!("probes.node{}.incomplete", node.index), bad);
    }
    r.set("probes.checked", probed);
    r.set("probes.incomplete", probe_bad);
    r.set("probes.failed", probe_failed);

    // 3. Kill a node, let the others drop its members, restart it.
    let mut restarted: Option<tokio::process::Child> = None;
    if let (Some(k), Some(cmd)) = (args.restart_node, args.restart_cmd.as_ref()) {
        restarted = restart(&shared, &mut nodes, k, cmd, args.probes, redis, &mut r).await?;
    }

    shared.close.cancel();
    let members: Vec<Member> = super::fleet::join(&mut set, Duration::from_secs(20)).await;
    if let Some(mut child) = restarted {
        // The command may have forked the server rather than exec'd it.
        let server = args
            .restart_node
            .and_then(|k| nodes.get(k))
            .and_then(|n| n.pid);
        if server.is_some() && server != child.id() {
            let pid = server.unwrap_or_default().to_string();
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid])
                .status();
        }
        let _ = child.kill().await;
    }

    // Report.
    let mut incomplete = 0u64;
    let (mut missing_entries, mut extra_entries) = (0u64, 0u64);
    let mut completion = stats::new_histogram();
    for x in members.iter().filter(|x| x.subscribed) {
        let expected = Roster::from_indices(m, &shared.members_of(x.index % channels, None));
        let (missing, extra) = x.roster.diff(&expected);
        missing_entries += missing;
        extra_entries += extra;
        incomplete += u64::from(missing + extra > 0);
        if let Some(t) = x.roster.completed_after {
            completion.saturating_record(t.as_micros() as u64);
        }
    }
    r.set("members.connected", connected);
    r.set(
        "members.subscribed",
        members.iter().filter(|x| x.subscribed).count(),
    );
    r.set("members.failed", Live::get(&live.failed));
    r.set("members.dropped", Live::get(&live.dropped));
    r.set("rosters.incomplete", incomplete);
    r.set("rosters.missing_entries", missing_entries);
    r.set("rosters.extra_entries", extra_entries);
    r.set("rosters.all_complete", complete);
    r.set_f(
        "rosters.all_complete_after_ms",
        Some(all_complete_after.as_secs_f64() * 1e3),
    );
    r.set_latency("rosters.member_complete_after_us", &completion);
    for (i, node) in nodes.iter().enumerate() {
        let key = format!("nodes.{i}");
        let local = (0..m).filter(|x| shared.node_of(*x) == i).count();
        r.set(&format!("{key}.url"), node.url.as_str());
        r.set(&format!("{key}.local_members"), local);
        if let (Some(b), Some(c), Some(j)) = (rss_before[i], rss_connected[i], rss_joined[i]) {
            r.set(&format!("{key}.rss_before_bytes"), b.rss_bytes);
            r.set(&format!("{key}.rss_connected_bytes"), c.rss_bytes);
            r.set(&format!("{key}.rss_joined_bytes"), j.rss_bytes);
            let grown = j.rss_bytes.saturating_sub(c.rss_bytes) as f64;
            r.set_f(
                &format!("{key}.join_rss_per_cluster_member_bytes"),
                stats::per_unit(grown, m as u64),
            );
        }
    }
    if let (Some(a), Some(z)) = (redis_connected, redis_joined) {
        let d = a.delta(&z);
        let joins = m as u64;
        r.set("redis.join_phase.commands", d.commands);
        r.set("redis.join_phase.publish_commands", d.publishes);
        r.set("redis.join_phase.subscribe_commands", d.subscribes);
        r.set("redis.join_phase.output_bytes", d.output_bytes);
        r.set("redis.join_phase.cpu_us", d.cpu_us);
        r.set_f(
            "redis.per_join.commands",
            stats::per_unit(d.commands as f64, joins),
        );
        r.set_f(
            "redis.per_join.publishes",
            stats::per_unit(d.publishes as f64, joins),
        );
        r.set_f(
            "redis.per_join.output_bytes",
            stats::per_unit(d.output_bytes as f64, joins),
        );
        r.set_f(
            "redis.per_join.cpu_us",
            stats::per_unit(d.cpu_us as f64, joins),
        );
        if let Some(n) = listeners {
            r.set("redis.control_channel_subscribers", n);
            r.set_f(
                "redis.per_join.messages_delivered",
                stats::per_unit((d.publishes * n) as f64, joins),
            );
        }
    }
    r.set_failures(&live.failures());
    Ok(r)
}

/// Phase 3: SIGKILL node `k`, time the others' reaping, restart it with
/// `cmd`, time its resynchronisation and probe it. Returns the started
/// process (the caller stops it).
async fn restart(
    shared: &Shared,
    nodes: &mut [Node],
    k: usize,
    cmd: &str,
    probes: usize,
    redis: Option<&String>,
    r: &mut Report,
) -> Result<Option<tokio::process::Child>, BenchError> {
    let Some(pid) = nodes[k].pid else {
        return Err(BenchError::Setup(format!(
            "node {k}'s pid is unknown: pass --pids"
        )));
    };
    let prefix = shared.nodes[0].target.channel("presence-cp-");
    let poll = Duration::from_millis(20);
    let expected = shared.expected_counts(Some(k));
    let killed_at = Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    let mut reaped = Duration::ZERO;
    for node in nodes.iter().filter(|n| n.index != k) {
        let deadline = killed_at + Duration::from_secs(120);
        match converge::until_counts(node, &prefix, &expected, killed_at, deadline, poll).await {
            Ok((_, done)) => reaped = reaped.max(done),
            Err((_, wrong)) => {
                r.set(&format!("restart.node{}_channels_wrong", node.index), wrong);
            }
        }
    }
    r.set("restart.node", k);
    r.set_f(
        "restart.others_dropped_its_members_secs",
        Some(reaped.as_secs_f64()),
    );

    let redis_before = redis_counters(redis).await;
    let started_at = Instant::now();
    let child = tokio::process::Command::new("sh")
        .args(["-c", cmd])
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| BenchError::Setup(format!("--restart-cmd: {e}")))?;
    let deadline = started_at + Duration::from_secs(120);
    match converge::until_counts(&nodes[k], &prefix, &expected, started_at, deadline, poll).await {
        Ok((answered, done)) => {
            r.set_f(
                "restart.api_answering_after_secs",
                Some(answered.as_secs_f64()),
            );
            r.set_f(
                "restart.resynchronised_after_secs",
                Some(done.as_secs_f64()),
            );
        }
        Err((answered, wrong)) => {
            r.set_f(
                "restart.api_answering_after_secs",
                answered.map(|d| d.as_secs_f64()),
            );
            r.set("restart.channels_still_wrong", wrong);
        }
    }
    let redis_after = redis_counters(redis).await;
    if let (Some(a), Some(z)) = (redis_before, redis_after) {
        let d = a.delta(&z);
        r.set("restart.redis.publish_commands", d.publishes);
        r.set("restart.redis.output_bytes", d.output_bytes);
    }
    nodes[k].rediscover();
    if let Some(s) = nodes[k].sample() {
        r.set("restart.rss_after_resync_bytes", s.rss_bytes);
    }
    let (n, bad, failed) = probe_node(shared, &nodes[k], probes, Some(k), "b").await;
    r.set("restart.probes.checked", n);
    r.set("restart.probes.incomplete", bad);
    r.set("restart.probes.failed", failed);
    Ok(Some(child))
}
