//! Publishing bench events through the signed HTTP API
//! (`POST /apps/{id}/events`, one channel per event) over one keep-alive
//! HTTP/1.1 connection per publisher.
//!
//! hyper's low-level `client::conn::http1` is used rather than a hand-rolled
//! client: it handles `Content-Length`, chunked and `Connection: close`
//! responses (Reverb closes after every response; the bench then simply
//! reconnects), and its per-request cost (a few µs) is small beside the
//! WebSocket deliveries each publish causes. No connection pool: each
//! publisher owns its connection and keeps one request in flight, so each
//! channel's events reach the server in sequence order.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::scan;
use super::stats::{self, Live};
use super::target::Target;

/// Longest wait for one HTTP response.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What one publisher should do.
#[derive(Debug, Clone)]
pub(crate) struct PublishPlan {
    /// Channel indices this publisher owns (it alone numbers their events).
    pub channels: Vec<usize>,
    /// Events per second for this publisher; 0 = as fast as possible.
    pub rate: f64,
    /// Approximate size of each event's data, bytes.
    pub payload_size: usize,
    /// Event name.
    pub event: String,
}

/// Per-channel outcome of a publisher's work.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChannelSent {
    /// Sequence numbers used: `0..sent`.
    pub sent: u64,
    /// Sequence numbers whose request failed (not expected at receivers).
    pub failed: Vec<u64>,
}

/// A publisher's results.
#[derive(Debug)]
pub(crate) struct PublishResult {
    /// Indexed like [`PublishPlan::channels`].
    pub per_channel: Vec<(usize, ChannelSent)>,
    /// Requests answered 2xx.
    pub ok: u64,
    /// Requests that failed (status or transport).
    pub failed: u64,
    /// Scheduled sends skipped because the publisher fell > 1 s behind.
    pub skipped: u64,
    /// Request → response time, µs.
    pub http_latency: hdrhistogram::Histogram<u64>,
}

/// The channel name for channel index `c`.
pub(crate) fn channel_name(target: &Target, c: usize) -> String {
    target.channel(&format!("bench-{c}"))
}

/// The `/events` request body for one bench event, in the form the official
/// SDKs send (`channels` array, `data` a JSON string).
pub(crate) fn event_body(event: &str, channel: &str, seq: u64, ts: u64, size: usize) -> String {
    format!(
        r#"{{"name":"{event}","channels":["{channel}"],"data":"{}"}}"#,
        scan::payload_escaped(seq, ts, size)
    )
}

/// One keep-alive HTTP/1.1 connection to the HTTP API.
pub(crate) type Sender = SendRequest<Full<Bytes>>;

/// Opens one keep-alive HTTP/1.1 connection to the target's HTTP API.
pub(crate) async fn open(target: &Target) -> Result<SendRequest<Full<Bytes>>, String> {
    let tcp = TcpStream::connect(target.http_addr)
        .await
        .map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one signed POST; `Ok` on 2xx, else a short description.
pub(crate) async fn post(
    sender: &mut SendRequest<Full<Bytes>>,
    target: &Target,
    path: &str,
    body: String,
) -> Result<(), String> {
    let query = clarion::auth::http_signature::signed_query(
        &target.key,
        &target.secret,
        "POST",
        path,
        &[],
        body.as_bytes(),
        scan::unix_micros() / 1_000_000,
    );
    let req = hyper::Request::post(format!("{}{path}?{query}", target.http_prefix))
        .header(hyper::header::HOST, &target.http_host)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if status.is_success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        Err(format!("HTTP {status}: {text}"))
    }
}

/// Sends one signed GET of the HTTP API (`path` unprefixed, `params` the
/// request's own query parameters) and returns its JSON body on 2xx.
pub(crate) async fn get_json(
    sender: &mut SendRequest<Full<Bytes>>,
    target: &Target,
    path: &str,
    params: &[(&str, &str)],
) -> Result<serde_json::Value, String> {
    let query = clarion::auth::http_signature::signed_query(
        &target.key,
        &target.secret,
        "GET",
        path,
        params,
        b"",
        scan::unix_micros() / 1_000_000,
    );
    let req = hyper::Request::get(format!("{}{path}?{query}", target.http_prefix))
        .header(hyper::header::HOST, &target.http_host)
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        return Err(format!("HTTP {status}: {text}"));
    }
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}

/// Publishes per `plan` until `stop` is cancelled; counts successful
/// publishes in `live.done`.
pub(crate) async fn run(
    target: Arc<Target>,
    plan: PublishPlan,
    stop: CancellationToken,
    live: Arc<Live>,
) -> PublishResult {
    let path = format!("/apps/{}/events", target.app_id);
    let names: Vec<String> = plan
        .channels
        .iter()
        .map(|c| channel_name(&target, *c))
        .collect();
    let mut per_channel: Vec<(usize, ChannelSent)> = plan
        .channels
        .iter()
        .map(|c| (*c, ChannelSent::default()))
        .collect();
    let mut res = PublishResult {
        per_channel: Vec::new(),
        ok: 0,
        failed: 0,
        skipped: 0,
        http_latency: stats::new_histogram(),
    };
    let period = (plan.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / plan.rate));
    let start = Instant::now();
    let mut slot: u64 = 0;
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    while !stop.is_cancelled() && !names.is_empty() {
        if let Some(period) = period {
            let due = start + period.mul_f64(slot as f64);
            let now = Instant::now();
            if due > now {
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep_until(due) => {}
                }
            } else if now - due > Duration::from_secs(1) {
                let caught_up = (now - start).as_secs_f64() / period.as_secs_f64();
                res.skipped += (caught_up as u64).saturating_sub(slot);
                slot = caught_up as u64;
            }
        }
        let live_sender = match sender.take().filter(|s| !s.is_closed()) {
            Some(s) => s,
            None => match open(&target).await {
                Ok(s) => s,
                Err(e) => {
                    live.fail("http_connect", e);
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                    continue;
                }
            },
        };
        let mut s = live_sender;
        let i = (slot % names.len() as u64) as usize;
        slot += 1;
        let entry = &mut per_channel[i].1;
        let seq = entry.sent;
        entry.sent += 1;
        let sent_at = Instant::now();
        let body = event_body(
            &plan.event,
            &names[i],
            seq,
            scan::unix_micros(),
            plan.payload_size,
        );
        match tokio::time::timeout(REQUEST_TIMEOUT, post(&mut s, &target, &path, body)).await {
            Ok(Ok(())) => {
                res.ok += 1;
                Live::add(&live.done, 1);
                res.http_latency
                    .saturating_record(sent_at.elapsed().as_micros() as u64);
                sender = Some(s);
            }
            Ok(Err(e)) => {
                res.failed += 1;
                entry.failed.push(seq);
                live.fail("http_publish", e);
                sender = Some(s);
            }
            Err(_) => {
                res.failed += 1;
                entry.failed.push(seq);
                live.fail("http_publish", "no response within 10 s");
            }
        }
    }
    res.per_channel = per_channel;
    res
}

#[cfg(test)]
mod tests;
