//! Every metric Clarion exports, named in one place: the node's
//! [`Metrics`] registry, rendered as the Prometheus text format for
//! `GET /metrics`, and the per-app handles ([`AppMetrics`]) the server
//! updates. No logic lives here beyond counting.
//!
//! **Why prometheus-client, one registry per node.** The `metrics` crate
//! installs one process-global recorder, and the integration tests run
//! several in-process servers in one test binary; with a registry per
//! [`Node`](crate::node::Node) every test server counts on its own, so tests
//! assert exact values. The same registry feeds the dashboard, which reads
//! the handles directly.
//!
//! **Hot path.** Each app's handles are looked up once, when the app is
//! created: counting is an atomic add on a handle, never a label lookup. A
//! broadcast is counted once with its number of recipients
//! (`messages_sent += n`, `bytes_sent += n × frame length`), never per
//! subscriber. The delivery-latency histogram is sampled, not recorded
//! per write: one observation per broadcast and one per queued write batch
//! (see [`AppMetrics::delivered`] and `README.md`, "Metrics"). With metrics
//! off an [`AppMetrics`] is empty and every call is one branch.

pub(crate) mod latency;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use tokio::time::Instant;

use crate::protocol::ChannelKind;
pub(crate) use latency::{Latency, Reading};

/// `Content-Type` of the Prometheus text format (0.0.4).
pub(crate) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The `kind` label of each channel kind a client can subscribe to, in
/// [`kind_index`] order.
const KINDS: [&str; 5] = [
    "public",
    "private",
    "private-encrypted",
    "presence",
    "server-to-user",
];

/// Where a channel kind's gauges are in the per-kind arrays; `None` for
/// reserved `#` names, which nobody subscribes to.
fn kind_index(kind: ChannelKind) -> Option<usize> {
    match kind {
        ChannelKind::Public => Some(0),
        ChannelKind::Private => Some(1),
        ChannelKind::PrivateEncrypted => Some(2),
        ChannelKind::Presence => Some(3),
        ChannelKind::ServerToUser => Some(4),
        ChannelKind::Reserved => None,
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabel {
    app_id: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CloseLabel {
    app_id: String,
    code: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    app_id: String,
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabel {
    app_id: String,
    endpoint: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabel {
    app_id: String,
    limit: &'static str,
}

/// Which of an app's limits refused something: the `limit` label of
/// `clarion_rate_limited_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// Reverb's per-socket message limit (`rate_limiting`).
    Messages,
    /// `client_events_per_second`.
    ClientEvents,
    /// `subscriptions_per_second`.
    Subscriptions,
    /// `max_channels_per_socket`.
    Channels,
    /// `max_presence_members`.
    PresenceMembers,
    /// `max_user_info_bytes`.
    UserInfo,
    /// `http_api_requests_per_second`.
    HttpApi,
}

impl Limit {
    /// Every limit, in the order of the per-app counters.
    const ALL: [Limit; 7] = [
        Limit::Messages,
        Limit::ClientEvents,
        Limit::Subscriptions,
        Limit::Channels,
        Limit::PresenceMembers,
        Limit::UserInfo,
        Limit::HttpApi,
    ];

    /// The label value.
    fn as_str(self) -> &'static str {
        match self {
            Limit::Messages => "messages",
            Limit::ClientEvents => "client_events",
            Limit::Subscriptions => "subscriptions",
            Limit::Channels => "channels",
            Limit::PresenceMembers => "presence_members",
            Limit::UserInfo => "user_info",
            Limit::HttpApi => "http_api",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EvictionLabel {
    app_id: String,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    stage: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    app_id: String,
    outcome: &'static str,
}

type Per<L, M> = Family<L, M>;

/// Every metric family; each app takes its handles from these once.
#[derive(Debug, Clone)]
struct Families {
    connections: Per<AppLabel, Gauge>,
    opened: Per<AppLabel, Counter>,
    closed: Per<CloseLabel, Counter>,
    subscriptions: Per<KindLabel, Gauge>,
    channels: Per<KindLabel, Gauge>,
    broadcasts: Per<AppLabel, Counter>,
    messages_sent: Per<AppLabel, Counter>,
    bytes_sent: Per<AppLabel, Counter>,
    messages_received: Per<AppLabel, Counter>,
    bytes_received: Per<AppLabel, Counter>,
    http_requests: Per<HttpLabel, Counter>,
    delivery_latency: Family<AppLabel, Latency, fn() -> Latency>,
    evictions: Per<EvictionLabel, Counter>,
    rate_limited: Per<LimitLabel, Counter>,
    handshake_timeouts: Per<StageLabel, Counter>,
    webhook_deliveries: Per<OutcomeLabel, Counter>,
    webhook_retries: Per<AppLabel, Counter>,
    webhook_dead_letters: Per<AppLabel, Counter>,
}

impl Families {
    fn new() -> Self {
        Families {
            connections: Family::default(),
            opened: Family::default(),
            closed: Family::default(),
            subscriptions: Family::default(),
            channels: Family::default(),
            broadcasts: Family::default(),
            messages_sent: Family::default(),
            bytes_sent: Family::default(),
            messages_received: Family::default(),
            bytes_received: Family::default(),
            http_requests: Family::default(),
            delivery_latency: Family::new_with_constructor(Latency::delivery),
            evictions: Family::default(),
            rate_limited: Family::default(),
            handshake_timeouts: Family::default(),
            webhook_deliveries: Family::default(),
            webhook_retries: Family::default(),
            webhook_dead_letters: Family::default(),
        }
    }
}

/// The metrics of one node: a registry and the families in it.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    families: Families,
    redis: RedisMetrics,
    sockets: SocketMetrics,
}

impl Metrics {
    /// A registry with every Clarion metric, no app in it yet.
    pub(crate) fn new() -> Self {
        let families = Families::new();
        let redis = RedisHandles {
            connected: Gauge::default(),
            roundtrip: Latency::new(latency::ROUNDTRIP_BOUNDS),
            channels: Gauge::default(),
            channel_commands: Counter::default(),
        };
        let sockets = SocketHandles {
            open: Gauge::default(),
            refused: Counter::default(),
        };
        let mut registry = Registry::with_prefix("clarion");
        let f = families.clone();
        let r = &mut registry;
        r.register(
            "connections",
            "Open connections (WebSockets and event streams) of the app on this node",
            f.connections,
        );
        r.register(
            "connections_opened",
            "WebSocket connections accepted for the app, refused ones included",
            f.opened,
        );
        r.register(
            "connections_closed",
            "WebSocket connections closed, by the close code the server sent (1006: the peer went away without one)",
            f.closed,
        );
        r.register(
            "subscriptions",
            "Subscriptions on this node, by channel kind",
            f.subscriptions,
        );
        r.register(
            "channels",
            "Channels with at least one subscriber on this node, by channel kind",
            f.channels,
        );
        r.register(
            "broadcasts",
            "Events delivered to the app's channels on this node, one per channel, from any source",
            f.broadcasts,
        );
        r.register(
            "messages_sent",
            "Event messages handed to subscribers' sockets (a broadcast to n subscribers counts n)",
            f.messages_sent,
        );
        r.register_with_unit(
            "messages_sent",
            "Bytes of event messages handed to subscribers' sockets, WebSocket framing included",
            Unit::Bytes,
            f.bytes_sent,
        );
        r.register(
            "messages_received",
            "WebSocket messages received from clients",
            f.messages_received,
        );
        r.register_with_unit(
            "messages_received",
            "Payload bytes of WebSocket messages received from clients",
            Unit::Bytes,
            f.bytes_received,
        );
        r.register(
            "http_requests",
            "HTTP API requests, by endpoint and response status",
            f.http_requests,
        );
        r.register_with_unit(
            "delivery_latency",
            "Publish to socket write, sampled: one observation per broadcast and one per queued write batch",
            Unit::Seconds,
            f.delivery_latency,
        );
        r.register(
            "queue_evictions",
            "Slow subscribers closed with 4100, by reason: queue_full (outbound queue overflowed) or write_timeout (no write progress for server.write_timeout)",
            f.evictions,
        );
        r.register(
            "handshake_timeouts",
            "Connections closed for being too slow before they were of use, by stage: headers (request head not complete within server.handshake_timeout), body (request body), first_frame (WebSocket silent through its first ping)",
            f.handshake_timeouts.clone(),
        );
        r.register(
            "rate_limited",
            "Requests refused by one of the app's limits, by limit",
            f.rate_limited,
        );
        r.register(
            "webhook_deliveries",
            "Webhook requests, by outcome (delivered or failed)",
            f.webhook_deliveries,
        );
        r.register(
            "webhook_retries",
            "Webhook requests retried",
            f.webhook_retries,
        );
        r.register(
            "webhook_dead_letters",
            "Webhooks given up after their last retry",
            f.webhook_dead_letters,
        );
        r.register(
            "redis_connected",
            "1 while the node is linked to Redis (scaling on), else 0",
            redis.connected.clone(),
        );
        r.register_with_unit(
            "redis_roundtrip",
            "Round trip of a PING to Redis, timed with every heartbeat",
            Unit::Seconds,
            redis.roundtrip.clone(),
        );
        r.register(
            "redis_channels",
            "Pusher channels whose events this node receives from Redis (channel routing: those it has subscribers on)",
            redis.channels.clone(),
        );
        r.register(
            "redis_channel_commands",
            "SUBSCRIBE and UNSUBSCRIBE commands sent for channel routing (pipelined in rounds)",
            redis.channel_commands.clone(),
        );
        r.register(
            "sockets_open",
            "TCP connections open (WebSockets, HTTP requests, event streams), counted against server.max_sockets",
            sockets.open.clone(),
        );
        r.register(
            "sockets_refused",
            "TCP connections answered 503 and closed at once: the process held server.max_sockets connections",
            sockets.refused.clone(),
        );
        Metrics {
            registry,
            families,
            redis: RedisMetrics(Some(Arc::new(redis))),
            sockets: SocketMetrics(Some(Arc::new(sockets))),
        }
    }

    /// The handles of app `app_id`; its series exist (at zero) from now on.
    pub(crate) fn app(&self, app_id: &str) -> AppMetrics {
        let f = &self.families;
        let app = AppLabel {
            app_id: app_id.to_owned(),
        };
        let per_kind = |family: &Per<KindLabel, Gauge>| {
            KINDS.map(|kind| {
                family.get_or_create_owned(&KindLabel {
                    app_id: app_id.to_owned(),
                    kind,
                })
            })
        };
        let eviction = |reason| {
            f.evictions.get_or_create_owned(&EvictionLabel {
                app_id: app_id.to_owned(),
                reason,
            })
        };
        let outcome = |outcome| {
            f.webhook_deliveries.get_or_create_owned(&OutcomeLabel {
                app_id: app_id.to_owned(),
                outcome,
            })
        };
        AppMetrics(Some(Box::new(AppHandles {
            app_id: app_id.to_owned(),
            connections: f.connections.get_or_create_owned(&app),
            opened: f.opened.get_or_create_owned(&app),
            closed: f.closed.clone(),
            subscriptions: per_kind(&f.subscriptions),
            channels: per_kind(&f.channels),
            broadcasts: f.broadcasts.get_or_create_owned(&app),
            messages_sent: f.messages_sent.get_or_create_owned(&app),
            bytes_sent: f.bytes_sent.get_or_create_owned(&app),
            messages_received: f.messages_received.get_or_create_owned(&app),
            bytes_received: f.bytes_received.get_or_create_owned(&app),
            http_requests: f.http_requests.clone(),
            latency: f.delivery_latency.get_or_create_owned(&app),
            evicted_queue_full: eviction(Eviction::QueueFull.label()),
            evicted_write_timeout: eviction(Eviction::WriteTimeout.label()),
            rate_limited: Limit::ALL.map(|limit| {
                f.rate_limited.get_or_create_owned(&LimitLabel {
                    app_id: app_id.to_owned(),
                    limit: limit.as_str(),
                })
            }),
            webhook_delivered: outcome("delivered"),
            webhook_failed: outcome("failed"),
            webhook_retries: f.webhook_retries.get_or_create_owned(&app),
            webhook_dead_letters: f.webhook_dead_letters.get_or_create_owned(&app),
        })))
    }

    /// A connection was closed for being too slow at `stage`.
    pub(crate) fn handshake_timeout(&self, stage: HandshakeStage) {
        self.families
            .handshake_timeouts
            .get_or_create(&StageLabel {
                stage: stage.label(),
            })
            .inc();
    }

    /// The Redis link's handles.
    pub(crate) fn redis(&self) -> RedisMetrics {
        self.redis.clone()
    }

    /// The socket budget's handles.
    pub(crate) fn sockets(&self) -> SocketMetrics {
        self.sockets.clone()
    }

    /// Every metric in the Prometheus text format (0.0.4).
    pub(crate) fn render(&self) -> String {
        let mut text = String::with_capacity(8 * 1024);
        // Writing to a `String` cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

/// One app's metric handles; empty (every call a no-op) when metrics are
/// off.
#[derive(Debug, Default)]
pub(crate) struct AppMetrics(Option<Box<AppHandles>>);

#[derive(Debug)]
struct AppHandles {
    app_id: String,
    connections: Gauge,
    opened: Counter,
    /// Looked up per close (by code), not per message.
    closed: Per<CloseLabel, Counter>,
    subscriptions: [Gauge; KINDS.len()],
    channels: [Gauge; KINDS.len()],
    broadcasts: Counter,
    messages_sent: Counter,
    bytes_sent: Counter,
    messages_received: Counter,
    bytes_received: Counter,
    /// Looked up per request (by endpoint and status).
    http_requests: Per<HttpLabel, Counter>,
    latency: Latency,
    evicted_queue_full: Counter,
    evicted_write_timeout: Counter,
    /// One per [`Limit`], in [`Limit::ALL`] order.
    rate_limited: [Counter; Limit::ALL.len()],
    webhook_delivered: Counter,
    webhook_failed: Counter,
    webhook_retries: Counter,
    webhook_dead_letters: Counter,
}

/// Why a slow subscriber was evicted (closed with 4100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Eviction {
    /// Its outbound queue overflowed.
    QueueFull,
    /// A write made no progress for `server.write_timeout`.
    WriteTimeout,
}

impl Eviction {
    fn label(self) -> &'static str {
        match self {
            Eviction::QueueFull => "queue_full",
            Eviction::WriteTimeout => "write_timeout",
        }
    }
}

/// Where a connection was found too slow (`handshake_timeouts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandshakeStage {
    /// The request head was not complete within `server.handshake_timeout`.
    Headers,
    /// The request body was not complete within `server.handshake_timeout`.
    Body,
    /// A WebSocket that never sent a frame stayed silent through its first
    /// ping.
    FirstFrame,
}

impl HandshakeStage {
    fn label(self) -> &'static str {
        match self {
            HandshakeStage::Headers => "headers",
            HandshakeStage::Body => "body",
            HandshakeStage::FirstFrame => "first_frame",
        }
    }
}

/// What happened to one webhook request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WebhookOutcome {
    /// The endpoint answered 2xx.
    Delivered,
    /// It did not (error status, timeout, connection refused).
    Failed,
}

/// Counter values of one app, read together for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppReading {
    /// Events delivered to the app's channels on this node.
    pub(crate) broadcasts: u64,
    /// Event messages handed to subscribers.
    pub(crate) messages_sent: u64,
    /// Messages received from clients.
    pub(crate) messages_received: u64,
    /// Channels with subscribers on this node.
    pub(crate) channels: i64,
    /// The delivery-latency histogram.
    pub(crate) latency: Reading,
}

impl AppMetrics {
    fn on(&self) -> Option<&AppHandles> {
        self.0.as_deref()
    }

    /// The time now when metrics are on: the start of a delivery, for
    /// [`AppMetrics::delivered`] and the frames it stamps.
    pub(crate) fn clock(&self) -> Option<Instant> {
        self.on().map(|_| Instant::now())
    }

    /// A WebSocket connection for this app was accepted (it may still be
    /// refused: quota, origin, capacity).
    pub(crate) fn connection_opened(&self) {
        if let Some(m) = self.on() {
            m.opened.inc();
        }
    }

    /// A WebSocket connection closed with `code` (1006: no close frame).
    pub(crate) fn connection_closed(&self, code: u16) {
        if let Some(m) = self.on() {
            let label = CloseLabel {
                app_id: m.app_id.clone(),
                code,
            };
            m.closed.get_or_create(&label).inc();
        }
    }

    /// A socket (WebSocket or event stream) joined the app's live sockets.
    pub(crate) fn socket_added(&self) {
        if let Some(m) = self.on() {
            m.connections.inc();
        }
    }

    /// A socket left the app's live sockets.
    pub(crate) fn socket_removed(&self) {
        if let Some(m) = self.on() {
            m.connections.dec();
        }
    }

    /// A subscription was added to a channel of `kind`; `occupied`: the
    /// channel had none before.
    pub(crate) fn subscribed(&self, kind: ChannelKind, occupied: bool) {
        if let (Some(m), Some(i)) = (self.on(), kind_index(kind)) {
            m.subscriptions[i].inc();
            if occupied {
                m.channels[i].inc();
            }
        }
    }

    /// A subscription left a channel of `kind`; `vacated`: it was the last.
    pub(crate) fn unsubscribed(&self, kind: ChannelKind, vacated: bool) {
        if let (Some(m), Some(i)) = (self.on(), kind_index(kind)) {
            m.subscriptions[i].dec();
            if vacated {
                m.channels[i].dec();
            }
        }
    }

    /// One broadcast of a `frame_len`-byte frame reached `recipients`
    /// subscribers. With `started` (from [`AppMetrics::clock`]) and at
    /// least one recipient, records one latency sample: from the start of
    /// the delivery until the frame was written to, or queued for, its
    /// last subscriber.
    pub(crate) fn delivered(&self, recipients: usize, frame_len: usize, started: Option<Instant>) {
        let Some(m) = self.on() else { return };
        m.broadcasts.inc();
        if recipients == 0 {
            return;
        }
        let n = recipients as u64;
        m.messages_sent.inc_by(n);
        m.bytes_sent.inc_by(n.saturating_mul(frame_len as u64));
        if let Some(started) = started {
            m.latency.observe(started.elapsed());
        }
    }

    /// A queued write batch went out; `oldest` is when the delivery of its
    /// oldest event frame started. One sample per batch.
    pub(crate) fn batch_written(&self, oldest: Instant) {
        if let Some(m) = self.on() {
            m.latency.observe(oldest.elapsed());
        }
    }

    /// A client sent a `len`-byte message.
    pub(crate) fn received(&self, len: usize) {
        if let Some(m) = self.on() {
            m.messages_received.inc();
            m.bytes_received.inc_by(len as u64);
        }
    }

    /// A slow subscriber was closed with 4100, for `why`.
    pub(crate) fn evicted(&self, why: Eviction) {
        if let Some(m) = self.on() {
            match why {
                Eviction::QueueFull => m.evicted_queue_full.inc(),
                Eviction::WriteTimeout => m.evicted_write_timeout.inc(),
            };
        }
    }

    /// Something was refused by the app's `limit`.
    pub(crate) fn limited(&self, limit: Limit) {
        if let Some(m) = self.on() {
            m.rate_limited[limit as usize].inc();
        }
    }

    /// An HTTP API request to `endpoint` was answered with `status`.
    pub(crate) fn http_request(&self, endpoint: &'static str, status: u16) {
        if let Some(m) = self.on() {
            let label = HttpLabel {
                app_id: m.app_id.clone(),
                endpoint,
                status,
            };
            m.http_requests.get_or_create(&label).inc();
        }
    }

    /// One webhook request ended with `outcome`.
    pub(crate) fn webhook_delivery(&self, outcome: WebhookOutcome) {
        if let Some(m) = self.on() {
            match outcome {
                WebhookOutcome::Delivered => m.webhook_delivered.inc(),
                WebhookOutcome::Failed => m.webhook_failed.inc(),
            };
        }
    }

    /// A webhook request is retried.
    pub(crate) fn webhook_retry(&self) {
        if let Some(m) = self.on() {
            m.webhook_retries.inc();
        }
    }

    /// A webhook was given up after its last retry.
    pub(crate) fn webhook_dead_letter(&self) {
        if let Some(m) = self.on() {
            m.webhook_dead_letters.inc();
        }
    }

    /// The counters the dashboard charts; `None` when metrics are off.
    pub(crate) fn read(&self) -> Option<AppReading> {
        let m = self.on()?;
        Some(AppReading {
            broadcasts: m.broadcasts.get(),
            messages_sent: m.messages_sent.get(),
            messages_received: m.messages_received.get(),
            channels: m.channels.iter().map(Gauge::get).sum(),
            latency: m.latency.read(),
        })
    }
}

/// The Redis link's handles (node-wide, no `app_id`); empty when metrics
/// are off. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct RedisMetrics(Option<Arc<RedisHandles>>);

#[derive(Debug)]
struct RedisHandles {
    connected: Gauge,
    roundtrip: Latency,
    channels: Gauge,
    channel_commands: Counter,
}

impl RedisMetrics {
    /// The link to Redis came up (`true`) or went down.
    pub(crate) fn connected(&self, up: bool) {
        if let Some(m) = &self.0 {
            m.connected.set(i64::from(up));
        }
    }

    /// A PING to Redis took `elapsed`.
    pub(crate) fn roundtrip(&self, elapsed: Duration) {
        if let Some(m) = &self.0 {
            m.roundtrip.observe(elapsed);
        }
    }

    /// A round of channel routing subscribed and unsubscribed this many
    /// channels; `linked` are received now.
    pub(crate) fn interest(&self, subscribed: usize, unsubscribed: usize, linked: usize) {
        if let Some(m) = &self.0 {
            let sent = u64::try_from(subscribed + unsubscribed).unwrap_or(u64::MAX);
            m.channel_commands.inc_by(sent);
            m.channels.set(i64::try_from(linked).unwrap_or(i64::MAX));
        }
    }
}

/// The socket budget's handles (node-wide, no `app_id`); empty when
/// metrics are off. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct SocketMetrics(Option<Arc<SocketHandles>>);

#[derive(Debug)]
struct SocketHandles {
    open: Gauge,
    refused: Counter,
}

impl SocketMetrics {
    /// A connection took a place in the budget.
    pub(crate) fn opened(&self) {
        if let Some(m) = &self.0 {
            m.open.inc();
        }
    }

    /// A connection left the budget.
    pub(crate) fn closed(&self) {
        if let Some(m) = &self.0 {
            m.open.dec();
        }
    }

    /// A connection was refused with 503: the budget was spent.
    pub(crate) fn refused(&self) {
        if let Some(m) = &self.0 {
            m.refused.inc();
        }
    }
}

#[cfg(test)]
mod tests;
