//! Scenario `presence`: M members (user ids `u0` … `u{M-1}`) connect, then
//! all subscribe to one presence channel at once. Each member tracks its
//! roster from `subscription_succeeded`'s `presence.hash`/`ids` plus
//! `member_added`/`member_removed`; the report says how many rosters are
//! incomplete at the end (goal: 0) and how long until all were complete.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use clap::Args;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::client::{self, Conn};
use super::progress::Progress;
use super::report::Report;
use super::roster::{self, Roster};
use super::stats::{self, Live};
use super::target::Target;
use super::{count_arg, proc_stats, scan, secs_arg, BenchError};

/// Options of `clarion-bench presence`.
#[derive(Debug, Clone, Args)]
pub struct PresenceArgs {
    /// Members joining the channel at once.
    #[arg(long, short = 'm', default_value_t = 100)]
    pub members: usize,
    /// The presence channel.
    #[arg(long, default_value = "presence-bench")]
    pub channel: String,
    /// Longest wait for every roster to complete, seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Extra wait after completion to catch late member_removed, seconds.
    #[arg(long, default_value_t = 1.0)]
    pub settle: f64,
}

#[derive(Debug)]
struct Shared {
    target: Arc<Target>,
    channel: String,
    members: usize,
    go: CancellationToken,
    /// Freeze: members stop applying frames (rosters are final).
    stop: CancellationToken,
    /// Close: given once every member froze, so no member's leaving can
    /// reach a roster still being evaluated.
    close: CancellationToken,
    frozen: AtomicU32,
    live: Arc<Live>,
    /// Roster size per member, for the orchestrator's completion check.
    counts: Vec<AtomicU32>,
}

/// What one member ended with.
#[derive(Debug)]
struct Member {
    index: usize,
    subscribed: bool,
    roster: Roster,
}

/// Runs the scenario.
pub(crate) async fn run(target: &Target, args: &PresenceArgs) -> Result<Report, BenchError> {
    let m = count_arg("members", args.members)?;
    let timeout = secs_arg("timeout", args.timeout)?;
    let settle = secs_arg("settle", args.settle)?;
    if !args.channel.starts_with("presence-") {
        return Err(BenchError::Args(
            "--channel must start with presence-".to_owned(),
        ));
    }
    target.check_fd_budget(m);
    let live = Live::new();
    let shared = Arc::new(Shared {
        target: Arc::new(target.clone()),
        channel: args.channel.clone(),
        members: m,
        go: CancellationToken::new(),
        stop: CancellationToken::new(),
        close: CancellationToken::new(),
        frozen: AtomicU32::new(0),
        live: live.clone(),
        counts: (0..m).map(|_| AtomicU32::new(0)).collect(),
    });
    let progress = Progress::start(target.progress, "presence", live.clone(), m as u64);
    let gate = Arc::new(tokio::sync::Semaphore::new(target.connect_concurrency));
    let connected = Arc::new(AtomicU32::new(0));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..m {
        let (shared, gate, connected) = (shared.clone(), gate.clone(), connected.clone());
        set.spawn(async move {
            let permit = gate.acquire_owned().await.ok()?;
            let conn = tokio::time::timeout(
                shared.target.connect_timeout,
                client::connect(&shared.target, i),
            )
            .await
            .unwrap_or(Err(client::ClientError::Timeout("connection_established")));
            drop(permit);
            match conn {
                Ok(conn) => {
                    connected.fetch_add(1, Ordering::Relaxed);
                    Some(member(conn, i, &shared).await)
                }
                Err(e) => {
                    Live::add(&shared.live.failed, 1);
                    shared.live.fail(e.kind(), e);
                    None
                }
            }
        });
    }
    // Phase 1: every member connected (or failed).
    let started = Instant::now();
    let bound = target.connect_timeout * (m / target.connect_concurrency + 1) as u32 * 2;
    while u64::from(connected.load(Ordering::Relaxed)) + Live::get(&live.failed) < m as u64
        && started.elapsed() < bound
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let joined_attempts = connected.load(Ordering::Relaxed);
    let server_before = target.server_sample();
    let bench_before = proc_stats::own_sample();

    // Phase 2: everyone subscribes at once; wait for complete rosters.
    let go_at = Instant::now();
    shared.go.cancel();
    let mut all_complete_after: Option<Duration> = None;
    while go_at.elapsed() < timeout {
        let subscribed = Live::get(&live.ready);
        let settled = subscribed + Live::get(&live.failed) >= m as u64;
        let complete = shared
            .counts
            .iter()
            .filter(|c| u64::from(c.load(Ordering::Relaxed)) == subscribed)
            .count() as u64;
        live.done.store(complete.min(subscribed), Ordering::Relaxed);
        if settled && subscribed > 0 && complete >= subscribed {
            all_complete_after = Some(go_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(settle).await;
    let server_after = target.server_sample();
    let bench_after = proc_stats::own_sample();
    progress.stop();
    shared.stop.cancel();
    let freeze_deadline = Instant::now() + Duration::from_secs(5);
    while shared.frozen.load(Ordering::Relaxed) < connected.load(Ordering::Relaxed)
        && Instant::now() < freeze_deadline
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shared.close.cancel();
    let members: Vec<Member> = super::fleet::join(&mut set, Duration::from_secs(15)).await;

    let joined: Vec<usize> = members
        .iter()
        .filter(|x| x.subscribed)
        .map(|x| x.index)
        .collect();
    let expected = Roster::from_indices(m, &joined);
    let mut incomplete = 0u64;
    let mut missing_entries = 0u64;
    let mut extra_entries = 0u64;
    let mut completion = stats::new_histogram();
    let (mut dup_added, mut removed, mut foreign) = (0u64, 0u64, 0u64);
    for x in members.iter().filter(|x| x.subscribed) {
        let (missing, extra) = x.roster.diff(&expected);
        missing_entries += missing;
        extra_entries += extra;
        incomplete += u64::from(missing + extra > 0);
        if let Some(t) = x.roster.completed_after {
            completion.saturating_record(t.as_micros() as u64);
        }
        dup_added += x.roster.duplicate_added;
        removed += x.roster.removed;
        foreign += x.roster.foreign;
    }

    let mut r = Report::new("presence");
    r.set("params.members", m);
    r.set("params.channel", args.channel.as_str());
    r.set("members.connected", joined_attempts);
    r.set("members.subscribed", joined.len());
    r.set("members.failed", Live::get(&live.failed));
    r.set("members.dropped", Live::get(&live.dropped));
    r.set("rosters.incomplete", incomplete);
    r.set("rosters.missing_entries", missing_entries);
    r.set("rosters.extra_entries", extra_entries);
    r.set("rosters.duplicate_member_added", dup_added);
    r.set("rosters.member_removed_events", removed);
    r.set("rosters.unknown_user_ids", foreign);
    r.set_f(
        "rosters.all_complete_after_ms",
        all_complete_after.map(|d| d.as_secs_f64() * 1e3),
    );
    r.set_latency("rosters.member_complete_after_us", &completion);
    r.set_cpu(
        "server",
        server_before,
        server_after,
        "per_member",
        joined.len() as u64,
    );
    r.set_cpu(
        "bench",
        bench_before,
        bench_after,
        "per_member",
        joined.len() as u64,
    );
    r.set_failures(&live.failures());
    Ok(r)
}

/// One member: waits for `go`, joins, tracks its roster until `stop`.
async fn member(conn: Conn, index: usize, shared: &Shared) -> Member {
    let mut ws = conn.ws;
    let live = &shared.live;
    let mut out = Member {
        index,
        subscribed: false,
        roster: Roster::new(shared.members),
    };
    let alive = tokio::select! {
        () = shared.go.cancelled() => true,
        alive = client::hold(&mut ws, &shared.stop) => alive,
    };
    let channel_data = roster::channel_data(index);
    let auth = clarion::auth::channel_auth_token(
        &shared.target.key,
        &shared.target.secret,
        &conn.socket_id,
        &shared.channel,
        Some(&channel_data),
    );
    let frame = client::subscribe_frame(&shared.channel, Some(&auth), Some(&channel_data));
    if !alive || ws.send(Message::text(frame)).await.is_err() {
        Live::add(&live.dropped, 1);
        shared.frozen.fetch_add(1, Ordering::Relaxed);
        return out;
    }
    let go_at = Instant::now();
    loop {
        let msg = tokio::select! {
            biased;
            () = shared.stop.cancelled() => break,
            msg = client::next_text(&mut ws) => msg,
        };
        let Ok(Some(frame)) = msg else {
            Live::add(&live.dropped, 1);
            shared.frozen.fetch_add(1, Ordering::Relaxed);
            return out;
        };
        if roster::apply(&mut out.roster, &frame) == roster::Applied::Succeeded {
            out.subscribed = true;
            Live::add(&live.ready, 1);
        } else if scan::event_name(&frame) == Some("pusher:ping") {
            if client::pong(&mut ws).await.is_err() {
                Live::add(&live.dropped, 1);
                shared.frozen.fetch_add(1, Ordering::Relaxed);
                return out;
            }
        } else if scan::event_name(&frame) == Some("pusher:error") {
            Live::add(&live.failed, 1);
            live.fail("pusher_error", frame.as_str());
        }
        shared.counts[index].store(out.roster.len() as u32, Ordering::Relaxed);
        if out.roster.len() == shared.members && out.roster.completed_after.is_none() {
            out.roster.completed_after = Some(go_at.elapsed());
        }
    }
    shared.frozen.fetch_add(1, Ordering::Relaxed);
    // Keep the membership (unread) until every roster is frozen.
    shared.close.cancelled().await;
    client::close(ws, Duration::from_secs(2)).await;
    out
}
