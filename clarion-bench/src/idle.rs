//! Scenario `idle`: N connections, each subscribed to one of C public
//! channels (`idle-{i % C}`), held D seconds. Measures the connect rate and,
//! given the server's pid, its RSS and CPU per connection.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::progress::Progress;
use super::report::Report;
use super::stats::{self, Live};
use super::target::Target;
use super::{client, count_arg, fleet, proc_stats, secs_arg, BenchError};

/// Options of `clarion-bench idle`.
#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    /// Connections to open and hold.
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub connections: usize,
    /// Public channels to spread them over.
    #[arg(long, short = 'c', default_value_t = 100)]
    pub channels: usize,
    /// Seconds to hold the connections once all are subscribed.
    #[arg(long, short = 'd', default_value_t = 10.0)]
    pub duration: f64,
}

/// Runs the scenario.
pub(crate) async fn run(target: &Target, args: &IdleArgs) -> Result<Report, BenchError> {
    let n = count_arg("connections", args.connections)?;
    let channels = count_arg("channels", args.channels)?;
    let hold_for = secs_arg("duration", args.duration)?;
    target.check_fd_budget(n);
    let target = Arc::new(target.clone());
    let live = Live::new();
    let stop = CancellationToken::new();
    let server_before = target.server_sample();
    let bench_before = proc_stats::own_sample();
    let progress = Progress::start(target.progress, "idle", live.clone(), n as u64);

    let started = Instant::now();
    let body = {
        let (stop, live) = (stop.clone(), live.clone());
        move |_i: usize, conn: client::Conn| {
            let (stop, live) = (stop.clone(), live.clone());
            async move {
                let mut ws = conn.ws;
                if client::hold(&mut ws, &stop).await {
                    client::close(ws, Duration::from_secs(2)).await;
                } else {
                    Live::add(&live.dropped, 1);
                }
            }
        }
    };
    let mut set = fleet::spawn(
        &target,
        n,
        &live,
        |i| vec![format!("idle-{}", i % channels)],
        false,
        body,
    );
    let settled = fleet::settle(&target, &live, n, started).await;
    let server_ready = target.server_sample();
    let bench_ready = proc_stats::own_sample();
    let ready = Live::get(&live.ready);

    tokio::time::sleep(hold_for).await;
    let server_held = target.server_sample();
    let dropped = Live::get(&live.dropped);
    progress.stop();
    stop.cancel();
    fleet::join(&mut set, Duration::from_secs(15)).await;

    let mut r = Report::new("idle");
    r.set("params.connections", n);
    r.set("params.channels", channels);
    r.set_f("params.duration_secs", Some(hold_for.as_secs_f64()));
    r.set("connections.ready", ready);
    r.set("connections.failed", Live::get(&live.failed));
    r.set("connections.dropped_while_held", dropped);
    r.set("connections.settled", settled.complete);
    r.set_f("connect.secs", Some(settled.elapsed.as_secs_f64()));
    r.set_f(
        "connect.rate_per_s",
        Some(stats::rate(ready, settled.elapsed.as_secs_f64())),
    );
    if let (Some(b), Some(a)) = (server_before, server_ready) {
        r.set("server.rss_before_bytes", b.rss_bytes);
        r.set("server.rss_ready_bytes", a.rss_bytes);
        if let Some(h) = server_held {
            r.set("server.rss_after_hold_bytes", h.rss_bytes);
        }
        let grown = a.rss_bytes.saturating_sub(b.rss_bytes) as f64;
        r.set_f("server.rss_per_conn_bytes", stats::per_unit(grown, ready));
        if let Some((half_ready, h)) = settled.half {
            let marginal = a.rss_bytes.saturating_sub(h.rss_bytes) as f64;
            r.set_f(
                "server.rss_per_conn_marginal_bytes",
                stats::per_unit(marginal, ready.saturating_sub(half_ready)),
            );
        }
        let cpu = proc_stats::cpu_delta_us(&b, &a);
        r.set("server.connect_cpu_us", cpu);
        r.set_f("server.cpu_us_per_conn", stats::per_unit(cpu as f64, ready));
    }
    if let (Some(a), Some(h)) = (server_ready, server_held) {
        r.set_f(
            "server.hold_cores_used",
            Some(proc_stats::cores_used(&a, &h)),
        );
    }
    r.set_cpu("bench", bench_before, bench_ready, "per_conn", ready);
    r.set_failures(&live.failures());
    Ok(r)
}
