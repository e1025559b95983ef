//! Scenario `churn`: K workers loop connect → subscribe → wait for
//! `subscription_succeeded` → unsubscribe → close for D seconds. Measures
//! cycles/s, failures by stage, cycle latency and server CPU per cycle.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use clap::Args;
use tokio::task::JoinSet;

use super::client::{self, ClientError};
use super::progress::Progress;
use super::report::Report;
use super::stats::{self, LatencyRecorder, Live};
use super::target::Target;
use super::{count_arg, proc_stats, secs_arg, BenchError};

/// Options of `clarion-bench churn`.
#[derive(Debug, Clone, Args)]
pub struct ChurnArgs {
    /// Concurrent workers, each looping over full connection cycles.
    #[arg(long, short = 'k', default_value_t = 50)]
    pub workers: usize,
    /// Seconds to run.
    #[arg(long, short = 'd', default_value_t = 10.0)]
    pub duration: f64,
    /// Milliseconds each worker pauses between cycles (0: none, as fast as
    /// the server allows).
    #[arg(long, default_value_t = 0)]
    pub pause_ms: u64,
}

/// Longest wait for the server to close the TCP connection after our close
/// frame; a cycle whose server is slower still counts, tallied apart.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// One full cycle on socket `index`; returns whether the server closed the
/// TCP connection within [`CLOSE_WAIT`].
async fn cycle(target: &Target, index: usize, channel: &str) -> Result<bool, ClientError> {
    let mut conn = client::connect(target, index).await?;
    client::subscribe(&mut conn, target, channel, false, None).await?;
    client::unsubscribe(&mut conn.ws, channel).await?;
    Ok(client::close(conn.ws, CLOSE_WAIT).await)
}

/// Runs the scenario.
pub(crate) async fn run(target: &Target, args: &ChurnArgs) -> Result<Report, BenchError> {
    let workers = count_arg("workers", args.workers)?;
    let duration = secs_arg("duration", args.duration)?;
    target.check_fd_budget(workers);
    let target = Arc::new(target.clone());
    let pause = Duration::from_millis(args.pause_ms);
    let live = Live::new();
    let latency = stats::shared_histogram();
    let slow_closes = Arc::new(Mutex::new(0u64));
    let progress = Progress::start(target.progress, "churn", live.clone(), workers as u64);
    let server_before = target.server_sample();
    let bench_before = proc_stats::own_sample();
    let started = Instant::now();
    let deadline = started + duration;

    let mut set = JoinSet::new();
    for w in 0..workers {
        let (target, live, slow) = (target.clone(), live.clone(), slow_closes.clone());
        let mut rec = LatencyRecorder::new(latency.clone());
        set.spawn(async move {
            let channel = target.channel(&format!("churn-{w}"));
            let mut index = w;
            let mut slow_here = 0u64;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let res =
                    tokio::time::timeout(target.connect_timeout, cycle(&target, index, &channel))
                        .await
                        .unwrap_or(Err(ClientError::Timeout("a full cycle")));
                index += workers;
                if pause > Duration::ZERO {
                    tokio::time::sleep(pause).await;
                }
                match res {
                    Ok(closed_in_time) => {
                        rec.record(t0.elapsed().as_micros() as u64);
                        Live::add(&live.done, 1);
                        slow_here += u64::from(!closed_in_time);
                    }
                    Err(e) => {
                        Live::add(&live.failed, 1);
                        live.fail(e.kind(), e);
                        // Do not spin on a server that refuses at once.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            rec.flush();
            *slow.lock().unwrap_or_else(PoisonError::into_inner) += slow_here;
        });
    }
    let hard_stop = deadline + target.connect_timeout + Duration::from_secs(5);
    while let Ok(Some(_)) = tokio::time::timeout_at(hard_stop, set.join_next()).await {}
    set.abort_all();
    let elapsed = started.elapsed().as_secs_f64();
    let server_after = target.server_sample();
    let bench_after = proc_stats::own_sample();
    progress.stop();
    let cycles = Live::get(&live.done);

    let mut r = Report::new("churn");
    r.set("params.workers", workers);
    r.set_f("params.duration_secs", Some(duration.as_secs_f64()));
    r.set("params.pause_ms", args.pause_ms);
    r.set("cycles.completed", cycles);
    r.set("cycles.failed", Live::get(&live.failed));
    r.set(
        "cycles.server_close_slower_than_1s",
        *slow_closes.lock().unwrap_or_else(PoisonError::into_inner),
    );
    r.set_f("cycles.per_s", Some(stats::rate(cycles, elapsed)));
    {
        let h = latency.lock().unwrap_or_else(PoisonError::into_inner);
        r.set_latency("cycle_latency_us", &h);
    }
    r.set_cpu("server", server_before, server_after, "per_cycle", cycles);
    r.set_cpu("bench", bench_before, bench_after, "per_cycle", cycles);
    r.set_failures(&live.failures());
    Ok(r)
}
