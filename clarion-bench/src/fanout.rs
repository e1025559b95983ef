//! Scenario `fanout`: S subscribers over C public channels receive events
//! published through the signed HTTP API at a fixed rate or as fast as
//! possible. Measures delivered/s, loss, duplicates, reordering,
//! publish→receive latency and server CPU per delivered message. With
//! `--stalled N`, N more sockets subscribe to every channel and never read
//! (slow consumers); the report adds the server's peak RSS over the run and
//! how many stalled sockets the server closed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use clap::Args;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::progress::Progress;
use super::publisher::{self, PublishPlan, PublishResult};
use super::receiver::{self, Received};
use super::report::Report;
use super::stats::{self, LatencyRecorder, Live};
use super::target::Target;
use super::{client, count_arg, fleet, proc_stats, scan, secs_arg, stalled, BenchError};

/// Options of `clarion-bench fanout`.
#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    /// Subscriber connections.
    #[arg(long, short = 's', default_value_t = 1000)]
    pub subscribers: usize,
    /// Public channels (`bench-0` …); subscriber i joins channel i % C.
    #[arg(long, short = 'c', default_value_t = 10)]
    pub channels: usize,
    /// Events published per second in total; 0 = as fast as possible.
    #[arg(long, short = 'r', default_value_t = 200.0)]
    pub rate: f64,
    /// Concurrent keep-alive HTTP connections publishing (at most C).
    #[arg(long, short = 'p', default_value_t = 2)]
    pub publishers: usize,
    /// Seconds of publishing.
    #[arg(long, short = 'd', default_value_t = 10.0)]
    pub duration: f64,
    /// Approximate size of each event's data, bytes.
    #[arg(long, default_value_t = 100)]
    pub payload_size: usize,
    /// Longest wait for deliveries after the last publish, seconds.
    #[arg(long, default_value_t = 5.0)]
    pub drain_timeout: f64,
    /// More subscribers, each on every channel, that never read after
    /// subscribing (slow consumers); not counted in delivery figures.
    #[arg(long, default_value_t = 0)]
    pub stalled: usize,
}

/// Event name of published bench events.
const EVENT: &str = "bench-event";

/// Runs the scenario.
pub(crate) async fn run(target: &Target, args: &FanoutArgs) -> Result<Report, BenchError> {
    let subs = count_arg("subscribers", args.subscribers)?;
    let channels = count_arg("channels", args.channels)?;
    let publishers = count_arg("publishers", args.publishers)?.min(channels);
    let duration = secs_arg("duration", args.duration)?;
    let drain_timeout = secs_arg("drain-timeout", args.drain_timeout)?;
    if !(args.rate.is_finite() && args.rate >= 0.0) {
        return Err(BenchError::Args("--rate must be ≥ 0".to_owned()));
    }
    target.check_fd_budget(subs + args.stalled + publishers);
    let target = Arc::new(target.clone());
    let live = Live::new();
    let stop = CancellationToken::new();
    let latency = stats::shared_histogram();
    let ready_on: Arc<Vec<AtomicU64>> =
        Arc::new((0..channels).map(|_| AtomicU64::new(0)).collect());
    let progress = Progress::start(target.progress, "fanout", live.clone(), subs as u64);

    let body = {
        let (stop, live, latency, ready_on) = (
            stop.clone(),
            live.clone(),
            latency.clone(),
            ready_on.clone(),
        );
        let event: Arc<str> = Arc::from(EVENT);
        move |i: usize, conn: client::Conn| {
            let c = i % channels;
            ready_on[c].fetch_add(1, Ordering::Relaxed);
            let rec = LatencyRecorder::new(latency.clone());
            receiver::receive(conn.ws, c, event.clone(), stop.clone(), live.clone(), rec)
        }
    };
    let started = Instant::now();
    let mut set = fleet::spawn(
        &target,
        subs,
        &live,
        {
            let target = target.clone();
            move |i| vec![publisher::channel_name(&target, i % channels)]
        },
        false,
        body,
    );
    let settled = fleet::settle(&target, &live, subs, started).await;
    fleet::require_some_ready(&live, "subscriber")?;
    let ready = Live::get(&live.ready);
    let stalled_conns = stalled::connect(&target, subs, args.stalled, channels)
        .await
        .map_err(|e| BenchError::Setup(format!("a stalled subscriber failed: {e}")))?;
    let rss_stop = CancellationToken::new();
    let rss_peak = stalled::peak_rss(target.clone(), rss_stop.clone());

    let server_before = target.server_sample();
    let bench_before = proc_stats::own_sample();
    let publish_start = Instant::now();
    let publish_start_us = scan::unix_micros();
    let pub_stop = CancellationToken::new();
    let mut pubs: JoinSet<PublishResult> = JoinSet::new();
    for p in 0..publishers {
        let plan = PublishPlan {
            channels: (0..channels).filter(|c| c % publishers == p).collect(),
            rate: args.rate / publishers as f64,
            payload_size: args.payload_size,
            event: EVENT.to_owned(),
        };
        pubs.spawn(publisher::run(
            target.clone(),
            plan,
            pub_stop.clone(),
            live.clone(),
        ));
    }
    tokio::time::sleep(duration).await;
    pub_stop.cancel();
    let mut results = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while let Ok(Some(Ok(r))) = tokio::time::timeout_at(deadline, pubs.join_next()).await {
        results.push(r);
    }
    pubs.abort_all();
    let publish_secs = publish_start.elapsed().as_secs_f64();

    // Per channel: sent count and failed sequence numbers.
    let mut sent = vec![(0u64, Vec::new()); channels];
    let (mut ok, mut failed, mut skipped) = (0, 0, 0);
    let mut http = stats::new_histogram();
    for r in &results {
        ok += r.ok;
        failed += r.failed;
        skipped += r.skipped;
        let _ = http.add(&r.http_latency);
        for (c, s) in &r.per_channel {
            sent[*c] = (s.sent, s.failed.clone());
        }
    }
    let expected: u64 = sent
        .iter()
        .zip(ready_on.iter())
        .map(|((n, f), r)| (n - f.len() as u64) * r.load(Ordering::Relaxed))
        .sum();

    let (drain_secs, drain_reason) = drain(&live, expected, drain_timeout).await;
    let server_after = target.server_sample();
    let bench_after = proc_stats::own_sample();
    rss_stop.cancel();
    let rss_peak = rss_peak.await.ok().flatten();
    let stalled_closed = stalled::closed_by_server(stalled_conns, Duration::from_millis(500)).await;
    progress.stop();
    stop.cancel();
    let received: Vec<Received> = fleet::join(&mut set, Duration::from_secs(15)).await;
    let t = receiver::totals(&received, &sent);
    let window_secs = t.last_rx_us.saturating_sub(publish_start_us) as f64 / 1e6;

    let mut r = Report::new("fanout");
    r.set("params.subscribers", subs);
    r.set("params.channels", channels);
    r.set_f("params.rate_per_s", Some(args.rate));
    r.set("params.publishers", publishers);
    r.set_f("params.duration_secs", Some(duration.as_secs_f64()));
    r.set("params.payload_bytes", args.payload_size);
    r.set("params.stalled", args.stalled);
    r.set("stalled.closed_by_server", stalled_closed);
    if let Some(before) = server_before.as_ref() {
        r.set("server.rss_before_bytes", before.rss_bytes);
    }
    if let Some(peak) = rss_peak {
        r.set("server.rss_peak_bytes", peak);
    }
    r.set("subscribers.ready", ready);
    r.set("subscribers.failed", Live::get(&live.failed));
    r.set("subscribers.dropped", Live::get(&live.dropped));
    r.set_f(
        "subscribers.connect_secs",
        Some(settled.elapsed.as_secs_f64()),
    );
    r.set("published.ok", ok);
    r.set("published.failed", failed);
    r.set("published.skipped_behind_schedule", skipped);
    r.set_f("published.rate_per_s", Some(stats::rate(ok, publish_secs)));
    r.set_latency("published.http_latency_us", &http);
    r.set("delivered.messages", t.delivered);
    r.set("delivered.expected", expected);
    r.set_f(
        "delivered.per_s",
        Some(stats::rate(t.delivered, window_secs)),
    );
    r.set("delivered.lost", t.lost);
    r.set("delivered.subscribers_with_loss", t.receivers_with_loss);
    r.set("delivered.duplicates", t.duplicates);
    r.set("delivered.reordered", t.reordered);
    r.set("delivered.invalid_seq", t.invalid);
    r.set("delivered.unparsable", t.unparsable);
    r.set_f("drain.secs", Some(drain_secs));
    r.set("drain.ended_by", drain_reason);
    {
        let h = latency.lock().unwrap_or_else(PoisonError::into_inner);
        r.set_latency("latency_us", &h);
    }
    r.set_cpu(
        "server",
        server_before,
        server_after,
        "per_message",
        t.delivered,
    );
    r.set_cpu(
        "bench",
        bench_before,
        bench_after,
        "per_message",
        t.delivered,
    );
    r.set_failures(&live.failures());
    Ok(r)
}

/// Waits until `expected` deliveries arrived, counts stop rising for 1 s,
/// or `limit` passes. Returns the time waited and why it ended.
async fn drain(live: &Live, expected: u64, limit: Duration) -> (f64, &'static str) {
    let start = Instant::now();
    let mut last = Live::get(&live.delivered);
    let mut last_rise = Instant::now();
    loop {
        let now = Live::get(&live.delivered);
        if now >= expected {
            return (start.elapsed().as_secs_f64(), "all_expected");
        }
        if now > last {
            last = now;
            last_rise = Instant::now();
        } else if last_rise.elapsed() >= Duration::from_secs(1) {
            return (start.elapsed().as_secs_f64(), "no_progress_1s");
        }
        if start.elapsed() >= limit {
            return (start.elapsed().as_secs_f64(), "timeout");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
