//! `GET /dashboard/stream`: Server-Sent Events, one `snapshot` event per
//! second (the first at once) holding every app's figures on this node:
//!
//! ```json
//! {"time": 1700000000000, "apps": [{"id": "1000", "connections": 3,
//!   "channels": 2, "members": 1, "published_per_second": 4.0,
//!   "delivered_per_second": 12.0, "received_per_second": 0.0,
//!   "latency_p50_ms": 0.21, "latency_p99_ms": 0.9}]}
//! ```
//!
//! Rates are the change of the app's counters since the previous snapshot
//! of the same stream, per second; the latency quantiles come from the
//! delivery-latency histogram's samples in between (`null` when there were
//! none), interpolated inside their bucket.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::Response;
use serde::Serialize;
use tokio::time::{Instant, MissedTickBehavior};

use crate::apps::App;
use crate::metrics::AppReading;
use crate::node::Node;
use crate::sse::{self, Body};

/// How often a snapshot is sent.
pub(super) const EVERY: Duration = Duration::from_secs(1);

/// Serves the snapshot stream until the client goes away or shutdown.
pub(super) fn stream(node: &Arc<Node>) -> Response<Body> {
    let sampler = Sampler::new(node);
    let shutdown = node.shutdown.token.clone();
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let chunks = futures_util::stream::unfold(
        (sampler, tick, shutdown),
        |(mut sampler, mut tick, shutdown)| async move {
            tokio::select! {
                _ = shutdown.cancelled() => None,
                _ = tick.tick() => {
                    let json = serde_json::to_string(&sampler.sample()).unwrap_or_default();
                    let chunk = format!("event: snapshot\ndata: {json}\n\n");
                    Some((chunk.into(), (sampler, tick, shutdown)))
                }
            }
        },
    );
    sse::event_stream(chunks)
}

/// Takes snapshots and remembers the last counters of each app.
#[derive(Debug)]
pub(super) struct Sampler {
    /// Every app, sorted by id, with its counters at the last snapshot.
    apps: Vec<(Arc<App>, Option<AppReading>)>,
    /// When the last snapshot was taken.
    at: Instant,
}

/// Every app's figures at one moment.
#[derive(Debug, Serialize)]
pub(super) struct Snapshot {
    /// Milliseconds since the Unix epoch.
    pub(super) time: u64,
    pub(super) apps: Vec<AppSnapshot>,
}

/// One app's figures on this node.
#[derive(Debug, Serialize)]
pub(super) struct AppSnapshot {
    pub(super) id: String,
    /// Open WebSockets and event streams.
    pub(super) connections: usize,
    /// Channels with at least one subscriber here.
    pub(super) channels: usize,
    /// Distinct users over every presence channel (the whole cluster's
    /// roster, with scaling on).
    pub(super) members: usize,
    /// Events delivered to the app's channels.
    pub(super) published_per_second: f64,
    /// Messages handed to subscribers.
    pub(super) delivered_per_second: f64,
    /// Messages received from clients.
    pub(super) received_per_second: f64,
    pub(super) latency_p50_ms: Option<f64>,
    pub(super) latency_p99_ms: Option<f64>,
}

impl Sampler {
    pub(super) fn new(node: &Node) -> Self {
        let mut apps: Vec<(Arc<App>, Option<AppReading>)> =
            node.apps.iter().map(|app| (app.clone(), None)).collect();
        apps.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        Sampler {
            apps,
            at: Instant::now(),
        }
    }

    /// Every app's figures now; rates since the previous call.
    pub(super) fn sample(&mut self) -> Snapshot {
        let now = Instant::now();
        let seconds = now.duration_since(self.at).as_secs_f64();
        self.at = now;
        let apps = self
            .apps
            .iter_mut()
            .map(|(app, last)| {
                let reading = app.metrics.read();
                let figures = figures(app, reading.as_ref(), last.as_ref(), seconds);
                *last = reading;
                figures
            })
            .collect();
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Snapshot { time, apps }
    }
}

fn figures(
    app: &App,
    now: Option<&AppReading>,
    before: Option<&AppReading>,
    seconds: f64,
) -> AppSnapshot {
    let rate = |count: fn(&AppReading) -> u64| match (now, before) {
        (Some(now), Some(before)) if seconds > 0.0 => {
            count(now).saturating_sub(count(before)) as f64 / seconds
        }
        _ => 0.0,
    };
    let quantile = |q| {
        let (now, before) = (now?, before?);
        let at = now.latency.quantile_since(&before.latency, q)?;
        Some((at.as_secs_f64() * 1e6).round() / 1e3)
    };
    let presence = app.channels.list("presence-");
    AppSnapshot {
        id: app.id.to_string(),
        connections: app.connection_count(),
        channels: now.map_or_else(
            || app.channels.list("").len(),
            |r| usize::try_from(r.channels).unwrap_or(0),
        ),
        members: presence
            .iter()
            .filter_map(|(_, stats)| stats.user_count)
            .sum(),
        published_per_second: rate(|r| r.broadcasts),
        delivered_per_second: rate(|r| r.messages_sent),
        received_per_second: rate(|r| r.messages_received),
        latency_p50_ms: quantile(0.5),
        latency_p99_ms: quantile(0.99),
    }
}
