//! The apps this server hosts, looked up by key (WebSocket) or id (HTTP
//! API), each with its own channels, sockets, user index and event cache,
//! so apps never see each other's channels or events.
//!
//! `sockets.rs` owns the app's live sockets and which user each acts as;
//! `history.rs` keeps the recent events of channels read by event streams;
//! `taps.rs` lets the dashboard's inspector watch a channel's events.

pub(crate) mod history;
mod sockets;
pub(crate) mod taps;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::time::Instant;

use crate::auth::jwt::Verifier;
use crate::channels::ChannelRegistry;
use crate::config::AppConfig;
use crate::metrics::{AppMetrics, Metrics};
use crate::outbound::{Frame, SocketHandle};
use crate::protocol::{ChannelName, ErrorCode, SocketId};
pub(crate) use sockets::SocketIndex;

/// How long a cache channel keeps its last event (Pusher: 30 minutes).
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(30 * 60);

/// One app's configuration and live state.
#[derive(Debug)]
pub(crate) struct App {
    /// The app's settings.
    pub config: AppConfig,
    /// The app id, shared into lifecycle events.
    pub id: Arc<str>,
    /// Subscribers per channel.
    pub channels: ChannelRegistry,
    /// Every live socket of the app on this node and the user each acts
    /// as: the quota, the connection count and `terminate_connections`.
    pub(crate) sockets: SocketIndex,
    /// Last event of each cache channel, with when it was stored.
    cache: DashMap<ChannelName, (Frame, Instant)>,
    /// Recent events of channels read by event streams, for resume.
    pub(crate) history: history::History,
    /// Cache writes since the last sweep of expired cache entries.
    cache_writes: AtomicUsize,
    /// Verifies the bearer tokens of the built-in channel-authorisation
    /// endpoint; `None` when the endpoint is off.
    pub(crate) auth_endpoint: Option<Verifier>,
    /// The app's metric handles (empty when metrics are off).
    pub(crate) metrics: AppMetrics,
    /// Observers of single channels (the dashboard's inspector).
    pub(crate) taps: taps::Taps,
}

/// Cache writes between two sweeps of expired entries, so channels that are
/// published to once and never read do not accumulate.
const CACHE_SWEEP_EVERY: usize = 1024;

impl App {
    /// A new app with no sockets and no metrics.
    #[cfg(test)]
    pub(crate) fn new(config: AppConfig) -> Self {
        App::with_metrics(config, AppMetrics::default())
    }

    /// A new app with no sockets, counting into `metrics`.
    pub(crate) fn with_metrics(config: AppConfig, metrics: AppMetrics) -> Self {
        let history = history::History::new(
            config.event_history,
            Duration::from_secs(config.event_history_max_age),
        );
        // `config::load` has checked the key; a config built by hand with
        // an unusable one leaves the endpoint off.
        let auth_endpoint = config.auth.as_ref().and_then(|auth| {
            auth.verifier()
                .map_err(|e| {
                    tracing::error!(app = %config.id, error = %e, "auth endpoint off: unusable key");
                })
                .ok()
        });
        App {
            auth_endpoint,
            id: Arc::from(config.id.as_str()),
            config,
            channels: ChannelRegistry::new(),
            sockets: SocketIndex::default(),
            cache: DashMap::new(),
            history,
            cache_writes: AtomicUsize::new(0),
            metrics,
            taps: taps::Taps::default(),
        }
    }

    /// Registers a new socket under a fresh, unique socket id, unless the
    /// app is at its `max_connections`.
    ///
    /// # Errors
    /// [`ErrorCode::OverConnectionQuota`] when the app is full.
    pub(crate) fn add_socket(&self, handle: &SocketHandle) -> Result<SocketId, ErrorCode> {
        let added = self.sockets.add(handle, self.config.max_connections);
        if added.is_ok() {
            self.metrics.socket_added();
        }
        added
    }

    /// Forgets a socket that has closed.
    pub(crate) fn remove_socket(&self, socket_id: SocketId) {
        if self.sockets.remove(socket_id) {
            self.metrics.socket_removed();
        }
    }

    /// Live sockets of this app on this node.
    pub(crate) fn connection_count(&self) -> usize {
        self.sockets.count()
    }

    /// Closes every local socket of `user_id` with 4009; returns how many.
    pub(crate) fn terminate_user(&self, user_id: &str) -> usize {
        self.sockets.close_user(user_id, ErrorCode::TerminatedByApp)
    }

    /// Delivers an encoded event to this node's subscribers of `channel`
    /// (all but `except`) and, for cache channels, keeps it for later
    /// subscribers. Every adapter ends here: one delivery path.
    pub(crate) fn deliver(
        &self,
        channel: &ChannelName,
        frame: &Frame,
        except: Option<SocketId>,
    ) -> usize {
        if channel.is_cache() {
            self.cache
                .insert(channel.clone(), (frame.clone(), Instant::now()));
            if self.cache_writes.fetch_add(1, Ordering::Relaxed) % CACHE_SWEEP_EVERY
                == CACHE_SWEEP_EVERY - 1
            {
                self.cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            }
        }
        // Logged before it is queued, so a stream woken by this frame
        // finds it in the log.
        self.history.record(channel, frame);
        self.taps.record(channel, frame);
        // With metrics on, the frame subscribers get carries when its
        // delivery started, for the latency of queued writes.
        let started = self.metrics.clock();
        let stamped = started.map(|at| frame.published_at(at));
        let frame = stamped.as_ref().unwrap_or(frame);
        let sent = self.channels.broadcast(channel.as_str(), frame, except);
        self.metrics.delivered(sent, frame.wire().len(), started);
        sent
    }

    /// The cached last event of a cache channel, if fresh.
    pub(crate) fn cached(&self, channel: &str) -> Option<Frame> {
        let entry = self.cache.get(channel)?;
        let (frame, at) = entry.value();
        if at.elapsed() < CACHE_TTL {
            Some(frame.clone())
        } else {
            drop(entry);
            self.cache.remove(channel);
            None
        }
    }
}

/// Every app, by key and by id.
#[derive(Debug, Default)]
pub(crate) struct AppRegistry {
    by_key: HashMap<String, Arc<App>>,
    by_id: HashMap<String, Arc<App>>,
    /// The development app, when it is served, also answers to the id it
    /// had before it became numeric, so earlier scripts keep working.
    legacy_development: Option<Arc<App>>,
}

/// The development app's id before it became numeric (official SDKs such
/// as Python's accept only numeric app ids).
pub(crate) const LEGACY_DEVELOPMENT_APP_ID: &str = "app-id";

impl AppRegistry {
    /// Builds the registry from validated app configs, without metrics.
    #[cfg(test)]
    pub(crate) fn new(apps: &[AppConfig]) -> Self {
        AppRegistry::with_metrics(apps, None)
    }

    /// Builds the registry, each app counting into `metrics` when given.
    pub(crate) fn with_metrics(apps: &[AppConfig], metrics: Option<&Metrics>) -> Self {
        let mut registry = AppRegistry::default();
        for config in apps {
            let counters = metrics.map(|m| m.app(&config.id)).unwrap_or_default();
            let app = Arc::new(App::with_metrics(config.clone(), counters));
            if *config == AppConfig::development() {
                registry.legacy_development = Some(app.clone());
            }
            registry.by_key.insert(config.key.clone(), app.clone());
            registry.by_id.insert(config.id.clone(), app);
        }
        registry
    }

    /// The app whose key is `key`.
    pub(crate) fn by_key(&self, key: &str) -> Option<&Arc<App>> {
        self.by_key.get(key)
    }

    /// The app whose id is `id`.
    pub(crate) fn by_id(&self, id: &str) -> Option<&Arc<App>> {
        self.by_id.get(id).or_else(|| {
            (id == LEGACY_DEVELOPMENT_APP_ID)
                .then_some(self.legacy_development.as_ref())
                .flatten()
        })
    }

    /// Every app.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<App>> {
        self.by_id.values()
    }
}

impl App {
    /// Whether a connection with this `Origin` header may connect: `*`
    /// allows every origin (and none); otherwise the origin's host must
    /// match an entry, where `*` in an entry matches any run of characters
    /// (`*.example.com` matches `a.example.com`, not `example.com`).
    pub(crate) fn origin_allowed(&self, origin: Option<&str>) -> bool {
        let allowed = &self.config.allowed_origins;
        if allowed.iter().any(|o| o == "*") {
            return true;
        }
        let Some(host) = origin.and_then(origin_host) else {
            return false;
        };
        allowed.iter().any(|pattern| glob_match(pattern, &host))
    }
}

fn origin_host(origin: &str) -> Option<String> {
    url::Url::parse(origin)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
}

/// Matches `text` against `pattern`, where `*` matches any run of characters.
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests;
