//! Typed, validated configuration with defaults.
//!
//! Sources, in increasing precedence: built-in defaults, a TOML file
//! (`clarion --config FILE`), a Laravel `.env` file (`--env-file`), and the
//! process environment using **Reverb's own variable names**
//! (`REVERB_APP_KEY`, `REVERB_SERVER_PORT`, …). Nothing reads the
//! environment after start-up: [`load`] produces a [`Config`] once.
//! `config/clarion.toml` documents every option with its default.

pub(crate) mod load;
mod redact;

pub use load::{load, uses_development_app, ConfigError, Sources};

use std::path::PathBuf;

use serde::Deserialize;

pub use crate::auth::jwt::JwtAlgorithm;
use crate::auth::jwt::{JwtKey, Verifier};

/// The whole configuration of one Clarion process.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listener and process-wide settings.
    pub server: ServerConfig,
    /// The apps this server hosts; lookups by key (WebSocket) and id (HTTP).
    pub apps: Vec<AppConfig>,
    /// Horizontal scaling through Redis (off by default).
    pub scaling: ScalingConfig,
    /// How webhooks are batched, retried and kept (`[webhooks]`); the
    /// targets themselves are per app (`[[apps.webhooks]]`).
    pub webhooks: WebhooksConfig,
    /// Prometheus metrics at `GET /metrics` (on by default).
    pub metrics: MetricsConfig,
    /// The live operator dashboard at `/dashboard` (off by default).
    pub dashboard: DashboardConfig,
}

/// Listener and process-wide settings (`[server]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to bind (`REVERB_SERVER_HOST`).
    pub host: String,
    /// Port to bind (`REVERB_SERVER_PORT`); 0 picks a free port.
    pub port: u16,
    /// Prefix for every route, e.g. `/ws` (`REVERB_SERVER_PATH`).
    pub path: String,
    /// Largest HTTP request (headers and body) in bytes (`REVERB_MAX_REQUEST_SIZE`).
    pub max_request_size: usize,
    /// Seconds to wait for sockets and requests to finish on shutdown,
    /// counted from the end of the drain pause.
    pub shutdown_grace_period: u64,
    /// Seconds a stopping node keeps serving while `/ready` answers 503, so
    /// load balancers stop sending it new clients (`CLARION_DRAIN_PAUSE`).
    pub drain_pause: u64,
    /// Seconds over which the sockets of a stopping node are closed (4200),
    /// each at its own random moment; `None` is 80 % of
    /// `shutdown_grace_period` (`CLARION_DRAIN_SPREAD`).
    pub drain_spread: Option<u64>,
    /// Most WebSocket connections this process holds (4100 beyond it);
    /// `None` derives it from the open-file limit.
    pub max_connections: Option<usize>,
    /// Most TCP connections of any kind (WebSockets, HTTP requests, event
    /// streams) this process holds; beyond it new ones get 503 at once.
    /// `None` derives it from the open-file limit (see `limits/sockets.rs`).
    pub max_sockets: Option<usize>,
    /// Frames queued for one socket before it counts as a slow consumer
    /// and is closed with 4100.
    pub outbound_queue_capacity: usize,
    /// Seconds a write to one socket may take before it is closed.
    pub write_timeout: u64,
    /// Seconds a new connection may take to send its request headers
    /// (also an idle keep-alive connection's next request, and a request
    /// body); slower ones are closed (`CLARION_HANDSHAKE_TIMEOUT`).
    pub handshake_timeout: u64,
    /// Allowed skew of an HTTP API `auth_timestamp`, in seconds; 0 disables.
    pub auth_timestamp_window: u64,
    /// Runtime worker threads; `None` is one per CPU core. With
    /// `runtime = "per_core"`, the number of runtimes.
    pub worker_threads: Option<usize>,
    /// How the threads serve sockets (`CLARION_RUNTIME`): one shared
    /// work-stealing runtime, or one single-threaded runtime per core, each
    /// with its own `SO_REUSEPORT` listener (see `server/per_core.rs`).
    pub runtime: RuntimeMode,
    /// Serve `wss://` and `https://` on the same port instead of plain
    /// `ws://`/`http://` (`[server.tls]`); off when absent.
    pub tls: Option<TlsConfig>,
}

/// How the server's threads share the sockets (`server.runtime`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeMode {
    /// One multi-threaded runtime: any worker runs any socket's task, idle
    /// workers steal work (the default).
    #[default]
    Shared,
    /// One single-threaded runtime per worker thread, each accepting on its
    /// own `SO_REUSEPORT` listener; a socket stays on the runtime that
    /// accepted it.
    PerCore,
}

impl std::str::FromStr for RuntimeMode {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "shared" => Ok(Self::Shared),
            "per_core" => Ok(Self::PerCore),
            _ => Err(()),
        }
    }
}

/// TLS on the main listener (`[server.tls]`): a PEM certificate chain and
/// its private key. The files' contents are read again on SIGHUP.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the certificate chain, leaf first (`CLARION_TLS_CERT`);
    /// a relative path is taken from the config file's directory.
    pub cert: PathBuf,
    /// PEM file of the private key: PKCS#8, PKCS#1 or SEC1
    /// (`CLARION_TLS_KEY`); relative as `cert`.
    pub key: PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "0.0.0.0".to_owned(),
            port: 8080,
            path: String::new(),
            max_request_size: 10_000,
            shutdown_grace_period: 10,
            drain_pause: 2,
            drain_spread: None,
            max_connections: None,
            max_sockets: None,
            outbound_queue_capacity: 1_000,
            write_timeout: 10,
            handshake_timeout: 10,
            auth_timestamp_window: 600,
            worker_threads: None,
            runtime: RuntimeMode::Shared,
            tls: None,
        }
    }
}

/// Prometheus metrics (`[metrics]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Count and serve metrics (`CLARION_METRICS_ENABLED`).
    pub enabled: bool,
    /// Serve `GET /metrics` on this port of the server's host, and only
    /// there, instead of on the main port (`CLARION_METRICS_PORT`).
    pub port: Option<u16>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            port: None,
        }
    }
}

/// The live operator dashboard (`[dashboard]`).
#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    /// Serve `/dashboard` (`CLARION_DASHBOARD_ENABLED`).
    pub enabled: bool,
    /// The bearer token every dashboard route requires
    /// (`CLARION_DASHBOARD_TOKEN`); required when enabled.
    pub token: Option<String>,
}

impl std::fmt::Debug for DashboardConfig {
    /// Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardConfig")
            .field("enabled", &self.enabled)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Who may send client events (`accept_client_events_from`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClientEventsFrom {
    /// Only sockets subscribed to the channel (default, Pusher's rule).
    #[default]
    Members,
    /// Any socket of the app, subscribed or not (Reverb's `all`).
    All,
    /// Client events are refused with 4301.
    None,
}

/// Reverb's opt-in per-socket message rate limit (`rate_limiting`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimiting {
    /// Off by default, as in Reverb.
    pub enabled: bool,
    /// Messages allowed per window.
    pub max_attempts: u32,
    /// The window, in seconds.
    pub decay_seconds: u64,
    /// Close the socket (4301) instead of only refusing the message.
    pub terminate_on_limit: bool,
}

impl Default for RateLimiting {
    fn default() -> Self {
        RateLimiting {
            enabled: false,
            max_attempts: 60,
            decay_seconds: 60,
            terminate_on_limit: false,
        }
    }
}

/// One app (`[[apps]]`): credentials and per-app limits.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AppConfig {
    /// App id, used in HTTP API paths (`REVERB_APP_ID`).
    pub id: String,
    /// Public key, used in `/app/{key}` (`REVERB_APP_KEY`).
    pub key: String,
    /// Secret for every signature (`REVERB_APP_SECRET`).
    pub secret: String,
    /// Seconds of silence before the server pings a socket (`REVERB_APP_PING_INTERVAL`).
    pub ping_interval: u64,
    /// Seconds the client waits before pinging, sent in the handshake (`REVERB_APP_ACTIVITY_TIMEOUT`).
    pub activity_timeout: u64,
    /// Most connections of this app on this node (`REVERB_APP_MAX_CONNECTIONS`).
    pub max_connections: Option<usize>,
    /// Largest inbound WebSocket message in bytes (`REVERB_APP_MAX_MESSAGE_SIZE`).
    pub max_message_size: usize,
    /// Who may send client events (`REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM`).
    pub accept_client_events_from: ClientEventsFrom,
    /// Allow client events on public channels (Reverb's looser rule).
    pub client_events_on_public_channels: bool,
    /// Origin hosts allowed to connect; `*` allows all, `*.example.com` globs.
    pub allowed_origins: Vec<String>,
    /// Opt-in per-socket message rate limit.
    pub rate_limiting: RateLimiting,
    /// Close sockets that have not signed in after this many seconds.
    pub user_authentication_timeout: Option<u64>,
    /// Send `pusher_internal:subscription_count` when a channel's count changes.
    pub subscription_count_events: bool,
    /// Largest `data` of one published event in bytes (413 above it).
    pub max_event_payload: Option<usize>,
    /// Most channels in one `POST /events`.
    pub max_channels_per_event: usize,
    /// Most events in one `POST /batch_events`.
    pub max_batch_size: usize,
    /// Recent events kept for event streams to resume (`Last-Event-ID`),
    /// over every channel a stream reads; 0 turns resume off.
    pub event_history: usize,
    /// Seconds an event (and a channel no stream reads any more) is kept.
    pub event_history_max_age: u64,
    /// Most channels one socket may be subscribed to at once (4004
    /// beyond it; Pusher: 100). 0: unlimited.
    pub max_channels_per_socket: usize,
    /// Most distinct users on one presence channel, as far as this node
    /// knows the cluster's roster (4004 beyond it; Pusher: 100).
    /// 0: unlimited.
    pub max_presence_members: usize,
    /// Largest `user_info` of a presence member, in bytes of its JSON text
    /// (4004 beyond it; Pusher: 1 KB). 0: unlimited.
    pub max_user_info_bytes: usize,
    /// Client events one socket may send per second (4301 beyond it;
    /// Pusher's rule is 10). 0, the default: unlimited, as in Reverb.
    pub client_events_per_second: u32,
    /// Subscription requests one socket may send per second, after a burst
    /// of `max_channels_per_socket` (4301 beyond it). 0: unlimited.
    pub subscriptions_per_second: u32,
    /// Signed HTTP API requests the app may make per second, on this node
    /// (429 beyond it). 0: unlimited.
    pub http_api_requests_per_second: u32,
    /// The built-in channel-authorisation endpoint (`[apps.auth]`); off
    /// when absent.
    pub auth: Option<AuthEndpointConfig>,
    /// Where this app's webhooks go (`[[apps.webhooks]]`); none by default.
    pub webhooks: Vec<WebhookConfig>,
}

/// The built-in channel-authorisation endpoint of one app (`[apps.auth]`):
/// `POST /app/{key}/auth` and `/user-auth` sign subscriptions for bearers
/// of a JWT verified with exactly one of `jwt_secret` or `jwt_public_key`.
#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthEndpointConfig {
    /// Shared secret of HS256 tokens (`CLARION_AUTH_JWT_SECRET`).
    pub jwt_secret: Option<String>,
    /// PEM file of an RSA or EC public key (`CLARION_AUTH_JWT_PUBLIC_KEY`);
    /// a relative path is taken from the config file's directory.
    pub jwt_public_key: Option<PathBuf>,
    /// The one algorithm accepted (`CLARION_AUTH_JWT_ALGORITHM`); by
    /// default HS256 for a secret, RS256 for an RSA key, ES256 for an EC key.
    pub algorithm: Option<JwtAlgorithm>,
    /// Required `iss` claim (`CLARION_AUTH_JWT_ISSUER`).
    pub issuer: Option<String>,
    /// Required `aud` claim (`CLARION_AUTH_JWT_AUDIENCE`).
    pub audience: Option<String>,
    /// The text of `jwt_public_key`, read by [`load`] at start-up.
    #[serde(skip)]
    pub jwt_public_key_pem: Option<String>,
}

impl AuthEndpointConfig {
    /// The verifier these settings describe, once [`load`] has read the key.
    ///
    /// # Errors
    /// What is wrong with the key settings, in words for the operator.
    pub(crate) fn verifier(&self) -> Result<Verifier, String> {
        let key = match (
            &self.jwt_secret,
            &self.jwt_public_key,
            &self.jwt_public_key_pem,
        ) {
            (Some(_), Some(_), _) => {
                return Err("set jwt_secret or jwt_public_key, not both".to_owned())
            }
            (Some(secret), None, _) => JwtKey::Secret(secret),
            (None, Some(_), Some(pem)) => JwtKey::PublicKeyPem(pem),
            (None, Some(path), None) => {
                return Err(format!("jwt_public_key {} was not read", path.display()))
            }
            (None, None, _) => {
                return Err("the endpoint needs jwt_secret or jwt_public_key".to_owned())
            }
        };
        let issuer = self.issuer.as_deref();
        let audience = self.audience.as_deref();
        Verifier::new(key, self.algorithm, issuer, audience).map_err(|e| {
            match &self.jwt_public_key {
                Some(path) if self.jwt_secret.is_none() => format!("{e} ({})", path.display()),
                _ => e.to_string(),
            }
        })
    }
}

impl std::fmt::Debug for AuthEndpointConfig {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthEndpointConfig")
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "***"))
            .field("jwt_public_key", &self.jwt_public_key)
            .field("algorithm", &self.algorithm)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            id: String::new(),
            key: String::new(),
            secret: String::new(),
            ping_interval: 60,
            activity_timeout: 30,
            max_connections: None,
            max_message_size: 10_000,
            accept_client_events_from: ClientEventsFrom::Members,
            client_events_on_public_channels: false,
            allowed_origins: vec!["*".to_owned()],
            rate_limiting: RateLimiting::default(),
            user_authentication_timeout: None,
            subscription_count_events: false,
            max_event_payload: None,
            max_channels_per_event: 100,
            max_batch_size: 100,
            event_history: 1000,
            event_history_max_age: 300,
            max_channels_per_socket: 0,
            max_presence_members: 0,
            max_user_info_bytes: 0,
            client_events_per_second: 0,
            subscriptions_per_second: 0,
            http_api_requests_per_second: 0,
            auth: None,
            webhooks: Vec::new(),
        }
    }
}

impl AppConfig {
    /// The development app used when nothing configures one.
    pub fn development() -> Self {
        AppConfig {
            id: "1000".to_owned(),
            key: "app-key".to_owned(),
            secret: "app-secret".to_owned(),
            ..AppConfig::default()
        }
    }
}

/// The kinds of webhook event Pusher defines (`event_types`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEventKind {
    /// A channel got its first subscriber in the cluster.
    ChannelOccupied,
    /// A channel lost its last subscriber in the cluster.
    ChannelVacated,
    /// A user joined a presence channel (their first socket in the cluster).
    MemberAdded,
    /// A user left a presence channel (their last socket in the cluster).
    MemberRemoved,
    /// A client event was relayed.
    ClientEvent,
    /// A cache channel was subscribed to while it held no event.
    CacheMiss,
    /// A channel's subscription count changed.
    SubscriptionCount,
}

impl WebhookEventKind {
    /// Every kind, in Pusher's order.
    pub const ALL: [WebhookEventKind; 7] = [
        WebhookEventKind::ChannelOccupied,
        WebhookEventKind::ChannelVacated,
        WebhookEventKind::MemberAdded,
        WebhookEventKind::MemberRemoved,
        WebhookEventKind::ClientEvent,
        WebhookEventKind::CacheMiss,
        WebhookEventKind::SubscriptionCount,
    ];

    /// The name in webhook bodies and in `event_types`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEventKind::ChannelOccupied => "channel_occupied",
            WebhookEventKind::ChannelVacated => "channel_vacated",
            WebhookEventKind::MemberAdded => "member_added",
            WebhookEventKind::MemberRemoved => "member_removed",
            WebhookEventKind::ClientEvent => "client_event",
            WebhookEventKind::CacheMiss => "cache_miss",
            WebhookEventKind::SubscriptionCount => "subscription_count",
        }
    }
}

/// Which channels a webhook target hears about (`filter`); both parts
/// must match when both are set.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookFilter {
    /// Only channels whose name starts with this.
    pub channel_name_starts_with: Option<String>,
    /// Only channels whose name ends with this.
    pub channel_name_ends_with: Option<String>,
}

/// One webhook target of an app (`[[apps.webhooks]]`).
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where the signed `POST` goes (`http://` or `https://`).
    pub url: String,
    /// The events this target receives; all of them when absent.
    #[serde(default = "all_webhook_kinds")]
    pub event_types: Vec<WebhookEventKind>,
    /// Which channels' events it receives; all when absent.
    #[serde(default)]
    pub filter: WebhookFilter,
    /// Extra request headers (e.g. a tenant id or a bearer token).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
}

fn all_webhook_kinds() -> Vec<WebhookEventKind> {
    WebhookEventKind::ALL.to_vec()
}

impl WebhookConfig {
    /// A target at `url` for every event kind and channel.
    pub fn to(url: impl Into<String>) -> Self {
        WebhookConfig {
            url: url.into(),
            event_types: all_webhook_kinds(),
            filter: WebhookFilter::default(),
            headers: std::collections::BTreeMap::new(),
        }
    }

    /// Whether this target receives `kind` events of `channel`.
    pub fn wants(&self, kind: WebhookEventKind, channel: &str) -> bool {
        self.event_types.contains(&kind)
            && self
                .filter
                .channel_name_starts_with
                .as_deref()
                .is_none_or(|p| channel.starts_with(p))
            && self
                .filter
                .channel_name_ends_with
                .as_deref()
                .is_none_or(|s| channel.ends_with(s))
    }
}

/// How webhooks are batched, retried and kept (`[webhooks]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Most events in one request (Pusher: 20).
    pub batch_size: usize,
    /// Milliseconds an event may wait for others to share its request
    /// (Pusher: 250).
    pub batch_wait_ms: u64,
    /// Milliseconds one request may take before it counts as failed.
    pub timeout_ms: u64,
    /// Seconds a failing batch is retried before it becomes a dead letter.
    pub retry_for: u64,
    /// Milliseconds before the first retry; each next wait doubles.
    pub retry_initial_ms: u64,
    /// Longest wait between two attempts, in milliseconds.
    pub retry_max_ms: u64,
    /// With scaling on: milliseconds after which a batch whose node went
    /// silent is taken over by another node.
    pub claim_after_ms: u64,
    /// Dead letters kept per app, newest first.
    pub dead_letters: usize,
    /// Without scaling: the file where events still undelivered at
    /// shutdown are kept until the next start. Relative to the working
    /// directory.
    pub outbox_file: PathBuf,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            batch_size: 20,
            batch_wait_ms: 250,
            timeout_ms: 5_000,
            retry_for: 300,
            retry_initial_ms: 1_000,
            retry_max_ms: 60_000,
            claim_after_ms: 30_000,
            dead_letters: 1_000,
            outbox_file: PathBuf::from("clarion-webhooks.outbox"),
        }
    }
}

/// Horizontal scaling through Redis pub/sub (`[scaling]`).
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScalingConfig {
    /// Fan out through Redis (`REVERB_SCALING_ENABLED`).
    pub enabled: bool,
    /// Redis pub/sub channel prefix, one per deployment (`REVERB_SCALING_CHANNEL`).
    pub channel: String,
    /// Full Redis URL (`REDIS_URL`); built from the parts below when absent.
    pub url: Option<String>,
    /// `REDIS_HOST`.
    pub host: String,
    /// `REDIS_PORT`.
    pub port: u16,
    /// `REDIS_USERNAME`.
    pub username: Option<String>,
    /// `REDIS_PASSWORD`.
    pub password: Option<String>,
    /// `REDIS_DB`.
    pub database: u32,
    /// Use TLS (`rediss://`) when building the URL from parts.
    pub tls: bool,
    /// Milliseconds a cluster-wide query waits for other nodes.
    pub query_timeout_ms: u64,
    /// Milliseconds between node heartbeats.
    pub heartbeat_interval_ms: u64,
    /// Milliseconds without a heartbeat after which a node counts as dead.
    pub node_timeout_ms: u64,
    /// How events travel between nodes (`CLARION_SCALING_ROUTING`).
    pub routing: Routing,
    /// Redis Cluster seed nodes (`REDIS_CLUSTER_NODES`, comma-separated
    /// URLs). When set, the node speaks Redis Cluster with sharded pub/sub
    /// and `url`, `host`, `port`, `database` and `tls` are not used.
    pub cluster_nodes: Vec<String>,
}

/// How a node receives other nodes' events (`scaling.routing`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Routing {
    /// A Redis pub/sub channel per Pusher channel: a node subscribes to a
    /// channel's events only while it has subscribers on it, so each node
    /// pays for its own subscribers alone.
    #[default]
    Channel,
    /// Every event on the one control channel, received by every node
    /// (Reverb's and earlier Clarion's design; for comparison, and for a
    /// rolling upgrade from a version that only spoke this).
    Broadcast,
}

impl std::str::FromStr for Routing {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "channel" => Ok(Routing::Channel),
            "broadcast" => Ok(Routing::Broadcast),
            _ => Err(()),
        }
    }
}

impl Default for ScalingConfig {
    fn default() -> Self {
        ScalingConfig {
            enabled: false,
            channel: "reverb".to_owned(),
            url: None,
            host: "127.0.0.1".to_owned(),
            port: 6379,
            username: None,
            password: None,
            database: 0,
            tls: false,
            query_timeout_ms: 1_000,
            heartbeat_interval_ms: 2_000,
            node_timeout_ms: 10_000,
            routing: Routing::Channel,
            cluster_nodes: Vec::new(),
        }
    }
}

impl ScalingConfig {
    /// Whether the node speaks Redis Cluster (`cluster_nodes` is set).
    pub(crate) fn redis_cluster(&self) -> bool {
        !self.cluster_nodes.is_empty()
    }

    /// The Redis URL to connect to.
    pub(crate) fn redis_url(&self) -> String {
        if let Some(url) = &self.url {
            return url.clone();
        }
        let scheme = if self.tls { "rediss" } else { "redis" };
        let auth = match (&self.username, &self.password) {
            (Some(u), Some(p)) => format!("{u}:{p}@"),
            (None, Some(p)) => format!(":{p}@"),
            (Some(u), None) => format!("{u}@"),
            (None, None) => String::new(),
        };
        format!(
            "{scheme}://{auth}{}:{}/{}",
            self.host, self.port, self.database
        )
    }
}
