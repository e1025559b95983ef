//! `clarion-bench`: a load generator for any Pusher Channels protocol 7 server
//! (Clarion, sockudo, Laravel Reverb, soketi), shipped with Clarion the way
//! `redis-benchmark` ships with Redis. It is its own crate of the workspace,
//! depending on the server crate only for request and channel signatures, so
//! the `clarion` server binary does not link its HTTP client or HdrHistogram
//! (`cargo build --release -p clarion-bench`).
//!
//! It measures from outside, over loopback or a network, given the server's
//! WebSocket URL and an app's credentials:
//!
//! ```text
//! clarion-bench [COMMON OPTIONS] <SCENARIO> [SCENARIO OPTIONS]
//!
//! clarion-bench idle          --connections 5000 --channels 100 --duration 10
//! clarion-bench fanout        --subscribers 1000 --channels 10 --rate 200 --duration 10
//! clarion-bench fanout        --subscribers 1000 --channels 10 --rate 0 --publishers 4
//! clarion-bench client-events --pairs 200 --rate 10 --duration 10
//! clarion-bench churn         --workers 50 --duration 10
//! clarion-bench presence      --members 1000
//! clarion-bench soak          --duration 1800 --pids PID[,PID]
//! clarion-bench cluster-idle  --urls ws://A,ws://B --redis HOST:PORT -n 19000 -c 100 -p 20
//! clarion-bench cluster-presence --urls ws://A,ws://B -m 10000 -c 1000 [--restart-node 1 --restart-cmd CMD]
//! clarion-bench floor fanout  --subscribers 2000 --channels 10 --rate 200
//! ```
//!
//! Common options: `--url ws://127.0.0.1:8080` (WebSocket base, may carry a
//! path prefix such as Reverb's `path`; the HTTP API base is derived as
//! `http://host:port/prefix` unless `--http-url` is given; signatures always
//! cover the unprefixed `/apps/…` path), `--app-id`, `--key`, `--secret`
//! (defaults `1000`/`app-key`/`app-secret`), `--server-pid PID` (adds the
//! server's CPU time, utime+stime from `/proc/PID/stat` at 10 ms resolution,
//! and RSS from `/proc/PID/status`), `--json` (one JSON report on stdout
//! instead of the human table; keys carry their unit), `--source-addrs
//! 127.0.0.1,127.0.0.2` (bind client sockets round-robin to these addresses
//! before connecting: each address has its own ~28k ephemeral ports),
//! `--connect-concurrency` (default 100: more handshakes in flight than the
//! server's listen backlog, often 128, get SYNs dropped and retried after
//! 1 s), `--connect-timeout`, `--no-progress` (otherwise a progress line goes
//! to stderr once per second).
//!
//! Scenarios:
//! - **idle**: N connections, each subscribed to one of C public channels,
//!   held D seconds. Reports the connect rate, failures, connections dropped
//!   while held and, with `--server-pid`, the server's RSS before, at ready and
//!   after the hold, RSS per connection (average and marginal over the second
//!   half) and server CPU per connection (connect + subscribe).
//! - **fanout**: S subscribers over C public channels (`bench-0` …); events are
//!   published through the signed HTTP API (`POST /apps/{id}/events`, one
//!   channel per event, channels round-robin) at `--rate` events/s (`0` = as
//!   fast as possible) over `--publishers` keep-alive HTTP/1.1 connections for
//!   D seconds. Each event's data is the JSON string
//!   `{"seq":n,"ts":<unix µs>,"pad":"x…"}` (`--payload-size` bytes) with a
//!   per-channel sequence number; publisher p owns the channels `c % P == p`,
//!   so each channel's events leave in order. Subscribers track the sequence
//!   numbers: delivered messages, delivered/s, loss (events accepted for its
//!   channel and never received), duplicates, reordering, and the
//!   publish→receive latency (HdrHistogram, µs; both ends read this machine's
//!   clock), plus server CPU µs per delivered message. Publishing starts only
//!   once every subscription succeeded; requests use the SDKs' form
//!   (`{"name","channels":[c],"data"}`, signed with `auth_key`,
//!   `auth_timestamp`, `auth_version`, `body_md5`). After the last publish
//!   the bench waits until every expected message arrived, counts stop
//!   rising for 1 s, or `--drain-timeout` passes.
//!   `--stalled N` adds N subscribers on every channel that never read
//!   after subscribing (slow consumers, outside the delivery figures): the
//!   report adds `stalled.closed_by_server` and, with `--server-pid`, the
//!   server's peak RSS sampled every 100 ms (`server.rss_peak_bytes`).
//! - **client-events**: P pairs of sockets on `private-bench-{i}` (authorised
//!   with the socket id from `connection_established`); one of each pair sends
//!   `client-bench` events at `--rate` per second, the other receives them.
//!   Reports delivered/s, loss, latency and server CPU per delivered event.
//!   The server must relay client events from subscribed members.
//! - **churn**: K workers loop connect → subscribe → wait for
//!   `subscription_succeeded` → unsubscribe → close for D seconds. Reports
//!   cycles/s, failures by stage, cycle latency and server CPU per cycle.
//! - **presence**: M members (distinct `user_id`s) join one presence channel at
//!   once; each tracks its roster from `subscription_succeeded`'s
//!   `presence.hash` plus `member_added`/`member_removed`. Reports how many
//!   members end with an incomplete roster (the goal is 0) and the time until
//!   all rosters were complete. Rosters are frozen before any member leaves,
//!   so the bench's own shutdown cannot cause `member_removed` noise.
//! - **soak**: fanout, churn, client-events and presence churn together for
//!   `--duration` seconds, sampling each server's RSS and open descriptors
//!   (`--pids`) every `--sample-every` seconds; reports first/after the first
//!   tenth/last/min/max and the series, with each part's own figures (loss,
//!   duplicates and reordering among the steady subscribers).
//! - **cluster-idle**: N idle sockets on every node of `--urls`, held by
//!   child processes of the bench (one per node, or per `--per-child`
//!   sockets) so no process passes its descriptor limit; every socket is on
//!   a common channel (and one of C spread channels). Events published one
//!   at a time through the nodes' HTTP APIs: time until every socket had
//!   each, latency of every delivery, loss, each node's RSS per connection
//!   and CPU per message (pids from `--pids` or found from the ports), and
//!   Redis's CPU, commands and output (`--redis`, read with `INFO`).
//! - **cluster-presence**: M presence members over C channels and the
//!   nodes of `--urls`, joining at once: incomplete rosters, each node's
//!   RSS, Redis commands and bytes per join, a new member's roster on every
//!   node, and with `--restart-node` the time a SIGKILLed and restarted
//!   node needs until its `user_count`s equal the others'.
//! - **floor**: `floor fanout …` or `floor client-events …` runs that
//!   scenario, unchanged, against a minimal server inside the bench process
//!   (one thread; one `write` per delivery, nothing else), and reports the
//!   same figures with that thread's CPU as the server's: the floor that a
//!   server's figures on the same pattern are divided by.
//!
//! Sockets are closed with a close frame, then the bench waits for the server
//! to close TCP first: TIME_WAIT stays on the server's port, so long churn
//! runs do not exhaust this machine's ephemeral ports.
//!
//! Only `ws://` is supported (no TLS). The client side is deliberately lean
//! (4 KiB tungstenite read buffers, boxed streams, one task per socket, frames
//! scanned with substring searches instead of full JSON parsing) so that one
//! process can hold ~19,000 sockets and stay a small share of the machine.

mod churn;
mod client;
mod client_events;
mod cluster_child;
mod cluster_idle;
mod cluster_presence;
mod converge;
mod discover;
mod fanout;
mod fleet;
mod floor;
mod idle;
mod nodes;
mod presence;
mod proc_stats;
mod progress;
mod publisher;
mod receiver;
mod redis_info;
mod report;
mod roster;
mod scan;
mod soak;
mod stalled;
mod stats;
mod subprocess;
mod target;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Load-test a Pusher-protocol server (Clarion, sockudo, Reverb…).
#[derive(Debug, Clone, Parser)]
#[command(name = "clarion-bench", version)]
pub struct BenchArgs {
    /// Options shared by every scenario.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The scenario to run.
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// Options shared by every scenario (accepted before or after the scenario).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Common options")]
pub struct CommonArgs {
    /// WebSocket base URL of the server (may carry a path prefix).
    #[arg(long, global = true, default_value = "ws://127.0.0.1:8080")]
    pub url: String,
    /// HTTP API base URL; derived from --url when absent.
    #[arg(long, global = true)]
    pub http_url: Option<String>,
    /// App id (HTTP API).
    #[arg(long, global = true, default_value = "1000")]
    pub app_id: String,
    /// App key (WebSocket path, signatures).
    #[arg(long, global = true, default_value = "app-key")]
    pub key: String,
    /// App secret (signatures).
    #[arg(long, global = true, default_value = "app-secret")]
    pub secret: String,
    /// Server process id: enables server CPU and RSS figures (Linux /proc).
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,
    /// Print one JSON report on stdout instead of the human table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Local addresses to bind client sockets to, round-robin (comma list).
    #[arg(long, global = true, value_delimiter = ',')]
    pub source_addrs: Vec<std::net::IpAddr>,
    /// Maximum WebSocket handshakes in flight at once (keep it below the
    /// server's listen backlog, often 128, or SYNs are dropped and retried
    /// after 1 s).
    #[arg(long, global = true, default_value_t = 100)]
    pub connect_concurrency: usize,
    /// Seconds allowed for one connect + subscribe.
    #[arg(long, global = true, default_value_t = 10.0)]
    pub connect_timeout: f64,
    /// Do not print the once-per-second progress line on stderr.
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Prefix of every channel name the bench uses, so that two bench
    /// processes against one cluster never share a channel.
    #[arg(long, global = true, default_value = "")]
    pub channel_prefix: String,
}

/// The scenario to run.
#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// N subscribed connections held idle: connect rate, RSS and CPU per connection.
    Idle(idle::IdleArgs),
    /// Subscribers receive events published through the HTTP API.
    Fanout(fanout::FanoutArgs),
    /// Pairs of sockets exchange client events on private channels.
    ClientEvents(client_events::ClientEventsArgs),
    /// Workers loop connect/subscribe/unsubscribe/close.
    Churn(churn::ChurnArgs),
    /// Members join one presence channel at once; every roster must complete.
    Presence(presence::PresenceArgs),
    /// Everything at once for a long time: memory, descriptors, no loss.
    Soak(soak::SoakArgs),
    /// Idle subscribed sockets on every node of a cluster (child processes
    /// past one process's descriptor limit), then events to all of them.
    ClusterIdle(cluster_idle::ClusterIdleArgs),
    /// Presence members over many channels and nodes: rosters, RSS, Redis
    /// traffic per join, resynchronisation of a restarted node.
    ClusterPresence(cluster_presence::ClusterPresenceArgs),
    /// One child process of `cluster-idle` (started by it).
    #[command(hide = true)]
    ClusterChild(cluster_child::ClusterChildArgs),
    /// A scenario's load against a minimal in-process server: the floor.
    Floor(floor::FloorArgs),
}

/// Why a bench run could not be carried out (failures of individual
/// connections or requests are counted in the report instead).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A command-line value is unusable.
    #[error("invalid argument: {0}")]
    Args(String),
    /// A URL could not be parsed or resolved.
    #[error("bad URL `{url}`: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading /proc or writing the report failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The scenario could not get going (e.g. no connection succeeded).
    #[error("{0}")]
    Setup(String),
}

fn main() -> ExitCode {
    let args = BenchArgs::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clarion-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clarion-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one bench scenario and prints its report (stdout), with progress on
/// stderr.
///
/// # Errors
/// [`BenchError`] when the arguments are unusable or the run cannot start.
pub async fn run(args: BenchArgs) -> Result<(), BenchError> {
    let target = target::Target::new(&args.common).await?;
    let report = match &args.scenario {
        Scenario::Idle(a) => idle::run(&target, a).await?,
        Scenario::Fanout(a) => fanout::run(&target, a).await?,
        Scenario::ClientEvents(a) => client_events::run(&target, a).await?,
        Scenario::Churn(a) => churn::run(&target, a).await?,
        Scenario::Presence(a) => presence::run(&target, a).await?,
        Scenario::Soak(a) => soak::run(&target, a).await?,
        Scenario::ClusterIdle(a) => cluster_idle::run(&args.common, a).await?,
        Scenario::ClusterPresence(a) => cluster_presence::run(&args.common, a).await?,
        Scenario::ClusterChild(a) => return cluster_child::run(&target, a).await,
        Scenario::Floor(a) => floor::run(&target, a).await?,
    };
    let text = if args.common.json {
        report.to_json()
    } else {
        report.to_human()
    };
    println!("{text}");
    Ok(())
}

/// Converts a seconds argument into a [`Duration`], refusing negative,
/// non-finite or absurd values.
fn secs_arg(name: &str, secs: f64) -> Result<Duration, BenchError> {
    if secs.is_finite() && (0.0..=86_400.0).contains(&secs) {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(BenchError::Args(format!(
            "--{name} must be between 0 and 86400 seconds, got {secs}"
        )))
    }
}

/// Refuses a zero count argument.
fn count_arg(name: &str, n: usize) -> Result<usize, BenchError> {
    if n == 0 {
        Err(BenchError::Args(format!("--{name} must be at least 1")))
    } else {
        Ok(n)
    }
}
