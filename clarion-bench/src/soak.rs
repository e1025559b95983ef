//! Scenario `soak`: everything at once for a long time, to show that a
//! server's memory and file descriptors stay flat and that subscribers who
//! stay connected lose nothing.
//!
//! Runs together, for `--duration` seconds: `fanout` (steady subscribers,
//! events through the HTTP API, loss/duplicates/reordering tracked per
//! channel), `churn` (connect/subscribe/unsubscribe/close cycles),
//! `client-events` (pairs on private channels) and presence churn (workers
//! join and leave presence channels as ever new users). Every
//! `--sample-every` seconds it records each server's RSS and open file
//! descriptors (`--pids`, or `--server-pid`), and reports the first, last,
//! lowest and highest of each, and the series.
//!
//! Against a cluster, point `--url` at one node and `--http-url` at
//! another: the steady subscribers then receive every event through Redis.
//! Run a second process the other way round with another
//! `--channel-prefix` to load both nodes.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::churn::{self, ChurnArgs};
use super::client::{self, ClientError};
use super::client_events::{self, ClientEventsArgs};
use super::fanout::{self, FanoutArgs};
use super::proc_stats;
use super::report::Report;
use super::target::Target;
use super::{count_arg, secs_arg, BenchError};

/// Options of `clarion-bench soak`.
#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// Seconds to run.
    #[arg(long, short = 'd', default_value_t = 60.0)]
    pub duration: f64,
    /// Steady subscribers (fanout), connected for the whole run.
    #[arg(long, default_value_t = 200)]
    pub subscribers: usize,
    /// Public channels of the steady subscribers.
    #[arg(long, default_value_t = 10)]
    pub channels: usize,
    /// Events per second published through the HTTP API.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Workers looping connect/subscribe/unsubscribe/close.
    #[arg(long, default_value_t = 10)]
    pub churn_workers: usize,
    /// Pairs exchanging client events.
    #[arg(long, default_value_t = 20)]
    pub pairs: usize,
    /// Client events per second per sender.
    #[arg(long, default_value_t = 5.0)]
    pub client_rate: f64,
    /// Workers looping presence join/leave as new users.
    #[arg(long, default_value_t = 10)]
    pub presence_workers: usize,
    /// Milliseconds each churn and presence worker pauses between cycles.
    #[arg(long, default_value_t = 20)]
    pub pause_ms: u64,
    /// Seconds between samples of the servers' RSS and open descriptors.
    #[arg(long, default_value_t = 10.0)]
    pub sample_every: f64,
    /// Server pids to sample (comma list); default: `--server-pid`.
    #[arg(long, value_delimiter = ',')]
    pub pids: Vec<u32>,
}

/// One sample of one server.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at_secs: f64,
    rss_bytes: u64,
    fds: u64,
}

/// Open file descriptors of `pid`.
fn open_fds(pid: u32) -> Option<u64> {
    let entries = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(entries.count() as u64)
}

/// Presence churn: each worker joins `presence-soak-{w % 4}` as a new user,
/// waits for `subscription_succeeded`, leaves and closes, until `deadline`.
async fn presence_churn(
    target: Arc<Target>,
    workers: usize,
    pause: Duration,
    deadline: Instant,
) -> (u64, u64) {
    let mut set = JoinSet::new();
    for w in 0..workers {
        let target = target.clone();
        set.spawn(async move {
            let channel = target.channel(&format!("presence-soak-{}", w % 4));
            let (mut done, mut failed) = (0u64, 0u64);
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let user = format!(r#"{{"user_id":"soak-{w}-{n}","user_info":{{"w":{w}}}}}"#);
                let cycle = async {
                    let mut conn = client::connect(&target, w).await?;
                    client::subscribe(&mut conn, &target, &channel, true, Some(&user)).await?;
                    client::unsubscribe(&mut conn.ws, &channel).await?;
                    client::close(conn.ws, Duration::from_secs(1)).await;
                    Ok::<_, ClientError>(())
                };
                match tokio::time::timeout(target.connect_timeout, cycle).await {
                    Ok(Ok(())) => done += 1,
                    _ => failed += 1,
                }
                tokio::time::sleep(pause.max(Duration::from_millis(1))).await;
            }
            (done, failed)
        });
    }
    let mut total = (0, 0);
    while let Some(joined) = set.join_next().await {
        if let Ok((done, failed)) = joined {
            total.0 += done;
            total.1 += failed;
        }
    }
    total
}

/// Runs the scenario.
pub(crate) async fn run(target: &Target, args: &SoakArgs) -> Result<Report, BenchError> {
    let duration = secs_arg("duration", args.duration)?;
    let every = secs_arg("sample-every", args.sample_every)?.max(Duration::from_millis(100));
    count_arg("subscribers", args.subscribers)?;
    let pids: Vec<u32> = if args.pids.is_empty() {
        target.server_pid.into_iter().collect()
    } else {
        args.pids.clone()
    };
    let started = Instant::now();
    let deadline = started + duration;

    // Samples until the other parts are done.
    let sampling = tokio_util::sync::CancellationToken::new();
    let sampler = {
        let (pids, stop) = (pids.clone(), sampling.clone());
        tokio::spawn(async move {
            let mut series: Vec<Vec<Sample>> = vec![Vec::new(); pids.len()];
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = stop.cancelled() => {}
                }
                for (i, pid) in pids.iter().enumerate() {
                    let rss = proc_stats::sample(*pid).map(|s| s.rss_bytes).unwrap_or(0);
                    let fds = open_fds(*pid).unwrap_or(0);
                    series[i].push(Sample {
                        at_secs: started.elapsed().as_secs_f64(),
                        rss_bytes: rss,
                        fds,
                    });
                }
                if stop.is_cancelled() {
                    return series;
                }
            }
        })
    };

    let secs = duration.as_secs_f64();
    let fanout_args = FanoutArgs {
        subscribers: args.subscribers,
        channels: args.channels,
        rate: args.rate,
        publishers: 2,
        duration: secs,
        payload_size: 100,
        drain_timeout: 10.0,
        stalled: 0,
    };
    let churn_args = ChurnArgs {
        workers: args.churn_workers,
        duration: secs,
        pause_ms: args.pause_ms,
    };
    let client_args = ClientEventsArgs {
        pairs: args.pairs,
        rate: args.client_rate,
        duration: secs,
        payload_size: 100,
    };
    let shared = Arc::new(target.clone());
    let (fanout, churn, client, presence) = tokio::join!(
        fanout::run(target, &fanout_args),
        async {
            if args.churn_workers == 0 {
                return Ok(None);
            }
            churn::run(target, &churn_args).await.map(Some)
        },
        async {
            if args.pairs == 0 {
                return Ok(None);
            }
            client_events::run(target, &client_args).await.map(Some)
        },
        presence_churn(
            shared,
            args.presence_workers,
            Duration::from_millis(args.pause_ms),
            deadline
        ),
    );
    sampling.cancel();
    let series = sampler.await.unwrap_or_default();

    let mut r = Report::new("soak");
    r.set_f("params.duration_secs", Some(secs));
    r.set_f("elapsed_secs", Some(started.elapsed().as_secs_f64()));
    r.nest("fanout", &fanout?);
    if let Some(churn) = churn? {
        r.nest("churn", &churn);
    }
    if let Some(client) = client? {
        r.nest("client_events", &client);
    }
    r.set("presence_churn.cycles", presence.0);
    r.set("presence_churn.failed", presence.1);
    for (pid, samples) in pids.iter().zip(&series) {
        let key = format!("server_{pid}");
        let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
            continue;
        };
        let rss: Vec<u64> = samples.iter().map(|s| s.rss_bytes).collect();
        let fds: Vec<u64> = samples.iter().map(|s| s.fds).collect();
        r.set(&format!("{key}.samples"), samples.len());
        r.set(&format!("{key}.rss_bytes.first"), first.rss_bytes);
        // After the first tenth of the run: the baseline once every part
        // has connected and warmed up.
        let warm = samples
            .iter()
            .find(|s| s.at_secs >= secs / 10.0)
            .unwrap_or(first);
        r.set(
            &format!("{key}.rss_bytes.after_first_tenth"),
            warm.rss_bytes,
        );
        r.set(&format!("{key}.fds.after_first_tenth"), warm.fds);
        r.set(&format!("{key}.rss_bytes.last"), last.rss_bytes);
        r.set(
            &format!("{key}.rss_bytes.min"),
            rss.iter().min().copied().unwrap_or(0),
        );
        r.set(
            &format!("{key}.rss_bytes.max"),
            rss.iter().max().copied().unwrap_or(0),
        );
        r.set(&format!("{key}.fds.first"), first.fds);
        r.set(&format!("{key}.fds.last"), last.fds);
        r.set(
            &format!("{key}.fds.max"),
            fds.iter().max().copied().unwrap_or(0),
        );
        let points: Vec<serde_json::Value> = samples
            .iter()
            .map(|s| serde_json::json!([(s.at_secs * 10.0).round() / 10.0, s.rss_bytes, s.fds]))
            .collect();
        r.set(&format!("{key}.series_secs_rss_fds"), points);
    }
    Ok(r)
}
