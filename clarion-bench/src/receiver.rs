//! The receive loop of a subscribed bench socket: bench events are counted
//! per sequence number and their latency recorded; `pusher:ping` is
//! answered; `pusher:error` is tallied. Shared by `fanout` and
//! `client-events`.

use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::client::{self, Ws};
use super::scan;
use super::stats::{LatencyRecorder, Live, SeqTracker};

/// What one receiver saw.
#[derive(Debug)]
pub(crate) struct Received {
    /// Index of the stream it listened to (channel or pair).
    pub stream: usize,
    /// Sequence accounting.
    pub seq: SeqTracker,
    /// Unix µs of the last bench event received (0 if none).
    pub last_rx_us: u64,
    /// Bench-named frames whose payload could not be read.
    pub unparsable: u64,
    /// Whether the socket closed or failed before `stop`.
    pub dropped: bool,
}

/// Reads `ws` until `stop`. Deliveries are added to `live.delivered` in
/// batches (and whenever the socket has nothing more to read), so the shared
/// counter is exact whenever the receivers are idle.
pub(crate) async fn receive(
    mut ws: Ws,
    stream: usize,
    event: Arc<str>,
    stop: CancellationToken,
    live: Arc<Live>,
    mut latency: LatencyRecorder,
) -> Received {
    let mut out = Received {
        stream,
        seq: SeqTracker::default(),
        last_rx_us: 0,
        unparsable: 0,
        dropped: false,
    };
    let mut pending: u64 = 0;
    loop {
        if stop.is_cancelled() {
            break;
        }
        let msg = match ws.next().now_or_never() {
            Some(msg) => msg,
            None => {
                Live::add(&live.delivered, std::mem::take(&mut pending));
                tokio::select! {
                    () = stop.cancelled() => break,
                    msg = ws.next() => msg,
                }
            }
        };
        let frame = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(_)) | Err(_)) | None => {
                out.dropped = true;
                break;
            }
            Some(Ok(_)) => continue,
        };
        match scan::event_name(&frame) {
            Some(name) if name == &*event => match scan::bench_payload(&frame) {
                Some((seq, ts)) => {
                    let now = scan::unix_micros();
                    out.seq.record(seq);
                    latency.record(now.saturating_sub(ts));
                    out.last_rx_us = now;
                    pending += 1;
                    if pending >= 64 {
                        Live::add(&live.delivered, std::mem::take(&mut pending));
                    }
                }
                None => out.unparsable += 1,
            },
            Some("pusher:ping") if client::pong(&mut ws).await.is_err() => {
                out.dropped = true;
                break;
            }
            Some("pusher:error") => live.fail("pusher_error", frame.as_str()),
            _ => {}
        }
    }
    Live::add(&live.delivered, pending);
    latency.flush();
    if out.dropped {
        Live::add(&live.dropped, 1);
    } else {
        client::close(ws, std::time::Duration::from_secs(2)).await;
    }
    out
}

/// Totals over many receivers, given for each stream the sequence numbers
/// sent (`0..sent`) and those whose publish failed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Bench frames received, duplicates included.
    pub delivered: u64,
    /// Accepted events never received, summed over receivers.
    pub lost: u64,
    /// Receivers that missed at least one event.
    pub receivers_with_loss: u64,
    /// Duplicate frames.
    pub duplicates: u64,
    /// Frames received after a higher sequence number.
    pub reordered: u64,
    /// Frames with an out-of-range sequence number.
    pub invalid: u64,
    /// Bench frames with an unreadable payload.
    pub unparsable: u64,
    /// Latest receive time, unix µs.
    pub last_rx_us: u64,
}

/// Sums `received` against what was sent per stream (`sent[stream]`).
pub(crate) fn totals(received: &[Received], sent: &[(u64, Vec<u64>)]) -> Totals {
    let mut t = Totals::default();
    for r in received {
        let (n, failed) = sent
            .get(r.stream)
            .map_or((0, &[][..]), |(n, f)| (*n, f.as_slice()));
        let lost = r.seq.lost(n, failed);
        t.delivered += r.seq.delivered;
        t.lost += lost;
        t.receivers_with_loss += u64::from(lost > 0);
        t.duplicates += r.seq.duplicates;
        t.reordered += r.seq.reordered;
        t.invalid += r.seq.invalid;
        t.unparsable += r.unparsable;
        t.last_rx_us = t.last_rx_us.max(r.last_rx_us);
    }
    t
}

#[cfg(test)]
mod tests;
