//! Scenario `client-events`: P pairs of sockets, both members of
//! `private-bench-{k}` (authorised with their socket ids); one of each pair
//! sends `client-bench` events at `--rate` per second, the other receives.
//! Measures delivered/s, loss, latency and server CPU per delivered event.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use clap::Args;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::client::{self, Conn};
use super::progress::Progress;
use super::receiver::{self, Received};
use super::report::Report;
use super::stats::{self, LatencyRecorder, Live};
use super::target::Target;
use super::{count_arg, fleet, proc_stats, scan, secs_arg, BenchError};

/// Options of `clarion-bench client-events`.
#[derive(Debug, Clone, Args)]
pub struct ClientEventsArgs {
    /// Sender/receiver pairs (2 sockets each).
    #[arg(long, short = 'P', default_value_t = 100)]
    pub pairs: usize,
    /// Client events per second sent by each sender (Pusher allows 10).
    #[arg(long, short = 'r', default_value_t = 10.0)]
    pub rate: f64,
    /// Seconds of sending.
    #[arg(long, short = 'd', default_value_t = 10.0)]
    pub duration: f64,
    /// Approximate size of each event's data object, bytes.
    #[arg(long, default_value_t = 100)]
    pub payload_size: usize,
}

const EVENT: &str = "client-bench";

/// Shared state of one run.
#[derive(Debug)]
struct Shared {
    go: CancellationToken,
    stop_sending: CancellationToken,
    stop: CancellationToken,
    live: Arc<Live>,
    sent: Vec<AtomicU64>,
    rx_ready: Vec<AtomicU64>,
    tx_ready: AtomicU64,
    senders_done: AtomicU64,
    rate: f64,
    payload_size: usize,
    /// `--channel-prefix`.
    prefix: String,
}

/// Runs the scenario.
pub(crate) async fn run(target: &Target, args: &ClientEventsArgs) -> Result<Report, BenchError> {
    let pairs = count_arg("pairs", args.pairs)?;
    let duration = secs_arg("duration", args.duration)?;
    if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 100_000.0) {
        return Err(BenchError::Args("--rate must be in (0, 100000]".to_owned()));
    }
    target.check_fd_budget(2 * pairs);
    let target = Arc::new(target.clone());
    let live = Live::new();
    let latency = stats::shared_histogram();
    let shared = Arc::new(Shared {
        go: CancellationToken::new(),
        stop_sending: CancellationToken::new(),
        stop: CancellationToken::new(),
        live: live.clone(),
        sent: (0..pairs).map(|_| AtomicU64::new(0)).collect(),
        rx_ready: (0..pairs).map(|_| AtomicU64::new(0)).collect(),
        tx_ready: AtomicU64::new(0),
        senders_done: AtomicU64::new(0),
        rate: args.rate,
        payload_size: args.payload_size,
        prefix: target.channel_prefix.clone(),
    });
    let progress = Progress::start(
        target.progress,
        "client-events",
        live.clone(),
        2 * pairs as u64,
    );

    let body = {
        let (shared, latency) = (shared.clone(), latency.clone());
        move |i: usize, conn: Conn| {
            let (shared, latency) = (shared.clone(), latency.clone());
            async move {
                let pair = i / 2;
                if i % 2 == 0 {
                    shared.rx_ready[pair].fetch_add(1, Ordering::Relaxed);
                    let rec = LatencyRecorder::new(latency);
                    let (stop, live) = (shared.stop.clone(), shared.live.clone());
                    Some(receiver::receive(conn.ws, pair, Arc::from(EVENT), stop, live, rec).await)
                } else {
                    send(conn, pair, &shared).await;
                    None
                }
            }
        }
    };
    let started = Instant::now();
    let channel_of = {
        let target = target.clone();
        move |i: usize| vec![target.channel(&format!("private-bench-{}", i / 2))]
    };
    let mut set = fleet::spawn(&target, 2 * pairs, &live, channel_of, true, body);
    let settled = fleet::settle(&target, &live, 2 * pairs, started).await;
    fleet::require_some_ready(&live, "socket")?;
    let ready = Live::get(&live.ready);
    let senders = shared.tx_ready.load(Ordering::Relaxed);

    let server_before = target.server_sample();
    let bench_before = proc_stats::own_sample();
    let go_at = Instant::now();
    shared.go.cancel();
    tokio::time::sleep(duration).await;
    shared.stop_sending.cancel();
    let send_secs = go_at.elapsed().as_secs_f64();
    // Wait (bounded) until the senders have stopped, so the totals are final.
    let deadline = Instant::now() + Duration::from_secs(2);
    while shared.senders_done.load(Ordering::Relaxed) < senders && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent: Vec<(u64, Vec<u64>)> = shared
        .sent
        .iter()
        .map(|s| (s.load(Ordering::Relaxed), Vec::new()))
        .collect();
    let expected: u64 = sent
        .iter()
        .zip(&shared.rx_ready)
        .map(|((n, _), r)| n * r.load(Ordering::Relaxed))
        .sum();
    let drain_start = Instant::now();
    let mut last = (Live::get(&live.delivered), Instant::now());
    while drain_start.elapsed() < Duration::from_secs(5) {
        let now = Live::get(&live.delivered);
        if now >= expected || last.1.elapsed() >= Duration::from_secs(1) {
            break;
        }
        if now > last.0 {
            last = (now, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let server_after = target.server_sample();
    let bench_after = proc_stats::own_sample();
    progress.stop();
    shared.stop.cancel();
    let received: Vec<Received> = fleet::join(&mut set, Duration::from_secs(15))
        .await
        .into_iter()
        .flatten()
        .collect();
    let t = receiver::totals(&received, &sent);
    let total_sent: u64 = sent.iter().map(|s| s.0).sum();

    let mut r = Report::new("client-events");
    r.set("params.pairs", pairs);
    r.set_f("params.rate_per_sender_per_s", Some(args.rate));
    r.set_f("params.duration_secs", Some(duration.as_secs_f64()));
    r.set("params.payload_bytes", args.payload_size);
    r.set("sockets.ready", ready);
    r.set("sockets.failed", Live::get(&live.failed));
    r.set("sockets.dropped", Live::get(&live.dropped));
    r.set_f("sockets.connect_secs", Some(settled.elapsed.as_secs_f64()));
    r.set("sent.events", total_sent);
    r.set_f("sent.per_s", Some(stats::rate(total_sent, send_secs)));
    r.set("delivered.messages", t.delivered);
    r.set("delivered.expected", expected);
    r.set_f("delivered.per_s", Some(stats::rate(t.delivered, send_secs)));
    r.set("delivered.lost", t.lost);
    r.set("delivered.receivers_with_loss", t.receivers_with_loss);
    r.set("delivered.duplicates", t.duplicates);
    r.set("delivered.reordered", t.reordered);
    r.set("delivered.unparsable", t.unparsable);
    {
        let h = latency.lock().unwrap_or_else(PoisonError::into_inner);
        r.set_latency("latency_us", &h);
    }
    r.set_cpu(
        "server",
        server_before,
        server_after,
        "per_event",
        t.delivered,
    );
    r.set_cpu("bench", bench_before, bench_after, "per_event", t.delivered);
    r.set_failures(&live.failures());
    Ok(r)
}

/// The client event frame carrying sequence number `seq`.
fn event_frame(channel: &str, seq: u64, ts: u64, size: usize) -> String {
    format!(
        r#"{{"event":"{EVENT}","channel":"{channel}","data":{}}}"#,
        scan::payload_object(seq, ts, size)
    )
}

/// A sender: waits for `go`, sends at the configured rate until
/// `stop_sending`, then holds its membership until `stop`.
async fn send(conn: Conn, pair: usize, shared: &Shared) {
    shared.tx_ready.fetch_add(1, Ordering::Relaxed);
    let mut ws = conn.ws;
    let channel = format!("private-{}bench-{pair}", shared.prefix);
    let live = &shared.live;
    let mut ok = tokio::select! {
        () = shared.go.cancelled() => true,
        alive = client::hold(&mut ws, &shared.stop) => alive,
    };
    let period = Duration::from_secs_f64(1.0 / shared.rate);
    // Spread the senders over one period so they do not fire together.
    let start = Instant::now() + period.mul_f64(rand::random::<f64>());
    let mut seq: u64 = 0;
    while ok && !shared.stop_sending.is_cancelled() {
        let due = start + period.mul_f64(seq as f64);
        tokio::select! {
            () = shared.stop_sending.cancelled() => break,
            () = tokio::time::sleep_until(due) => {
                let frame = event_frame(&channel, seq, scan::unix_micros(), shared.payload_size);
                if let Err(e) = ws.send(Message::text(frame)).await {
                    live.fail("send", e);
                    ok = false;
                } else {
                    seq += 1;
                    shared.sent[pair].fetch_add(1, Ordering::Relaxed);
                }
            }
            msg = client::next_text(&mut ws) => match msg {
                Ok(Some(f)) => match scan::event_name(&f) {
                    Some("pusher:ping") => ok = client::pong(&mut ws).await.is_ok(),
                    Some("pusher:error") => live.fail("pusher_error", f.as_str()),
                    _ => {}
                },
                Ok(None) | Err(_) => ok = false,
            },
        }
    }
    shared.senders_done.fetch_add(1, Ordering::Relaxed);
    if ok && client::hold(&mut ws, &shared.stop).await {
        client::close(ws, Duration::from_secs(2)).await;
    } else {
        Live::add(&live.dropped, 1);
    }
}

#[cfg(test)]
mod tests;
