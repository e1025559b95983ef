//! The apps this server hosts, looked up by key (WebSocket) or id (HTTP
//! API), each with its own channels, sockets, user index and event cache,
//! so apps never see each other's channels or events.
//!
//! `sockets.rs` owns the app's live sockets and which user each acts as;
//! `history.rs` keeps the recent events of channels read by event streams;
//! `registry.rs` finds apps by key and id and applies a reloaded app list;
//! `watchlist.rs` tracks who is online and tells watchers; `taps.rs` lets
//! the dashboard's inspector watch a channel's events.
//!
//! An app's settings can change while it runs (SIGHUP): read them through
//! [`App::config`], a lock-free load of the current version.

pub(crate) mod history;
mod registry;
mod sockets;
pub(crate) mod taps;
pub(crate) mod watchlist;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption, Guard};
use dashmap::DashMap;
use tokio::time::Instant;

use crate::auth::jwt::Verifier;
use crate::channels::ChannelRegistry;
use crate::config::AppConfig;
use crate::metrics::AppMetrics;
use crate::outbound::{Frame, SocketHandle};
use crate::protocol::{ChannelName, ErrorCode, SocketId};
pub(crate) use registry::AppRegistry;
pub(crate) use sockets::SocketIndex;

/// How long a cache channel keeps its last event (Pusher: 30 minutes).
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(30 * 60);

/// One app's configuration and live state.
#[derive(Debug)]
pub(crate) struct App {
    /// The app's settings, replaced whole by a reload; read them with
    /// [`App::config`].
    config: ArcSwap<AppConfig>,
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
    /// Who is online (signed in) and which sockets watch whom.
    pub(crate) watchlists: watchlist::Watchlists,
    /// Cache writes since the last sweep of expired cache entries.
    cache_writes: AtomicUsize,
    /// Verifies the bearer tokens of the built-in channel-authorisation
    /// endpoint; `None` when the endpoint is off. Rebuilt by a reload that
    /// changes `[apps.auth]`; read it with [`App::auth_endpoint`].
    auth_endpoint: ArcSwapOption<Verifier>,
    /// Set when a reload removed the app: no socket may join it any more.
    removed: AtomicBool,
    /// The app's metric handles (empty when metrics are off).
    pub(crate) metrics: AppMetrics,
    /// Observers of single channels (the dashboard's inspector).
    pub(crate) taps: taps::Taps,
    /// The app's HTTP API request rate (`http_api_requests_per_second`),
    /// shared lock-free by every request; kept across reloads.
    pub(crate) http_rate: crate::limits::RateGate,
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
        App {
            auth_endpoint: ArcSwapOption::new(verifier(&config).map(Arc::new)),
            id: Arc::from(config.id.as_str()),
            config: ArcSwap::from_pointee(config),
            channels: ChannelRegistry::new(),
            sockets: SocketIndex::default(),
            cache: DashMap::new(),
            history,
            watchlists: watchlist::Watchlists::default(),
            cache_writes: AtomicUsize::new(0),
            removed: AtomicBool::new(false),
            metrics,
            taps: taps::Taps::default(),
            http_rate: crate::limits::RateGate::new(),
        }
    }

    /// The app's current settings: one lock-free, allocation-free load.
    /// The guard keeps this version alive while it is held (it is not a
    /// lock: a reload can store a newer one meanwhile); hold it for one
    /// message or request, not across an `.await` that may last, so a
    /// long-lived task sees a reload at its next read.
    pub(crate) fn config(&self) -> Guard<Arc<AppConfig>> {
        self.config.load()
    }

    /// The verifier of the built-in channel-authorisation endpoint, if it
    /// is on.
    pub(crate) fn auth_endpoint(&self) -> Option<Arc<Verifier>> {
        self.auth_endpoint.load_full()
    }

    /// Takes `config` (the same app id) for every later read, without
    /// touching the app's sockets, channels or cache; rebuilds the
    /// endpoint's verifier and resizes the event history when those
    /// settings changed. Returns whether anything changed.
    pub(crate) fn reconfigure(&self, config: AppConfig) -> bool {
        let current = self.config.load_full();
        if *current == config {
            return false;
        }
        if current.auth != config.auth {
            self.auth_endpoint.store(verifier(&config).map(Arc::new));
        }
        self.history.resize(
            config.event_history,
            Duration::from_secs(config.event_history_max_age),
        );
        self.config.store(Arc::new(config));
        true
    }

    /// Marks the app removed and closes every socket it has here with
    /// `reason`; returns how many. A socket that joins concurrently is
    /// refused by [`App::add_socket`].
    pub(crate) fn remove(&self, reason: ErrorCode) -> usize {
        self.removed.store(true, Ordering::SeqCst);
        self.sockets.close_all(reason)
    }

    /// Registers a new socket under a fresh, unique socket id, unless the
    /// app is at its `max_connections`.
    ///
    /// # Errors
    /// [`ErrorCode::OverConnectionQuota`] when the app is full.
    ///
    /// [`ErrorCode::ApplicationDoesNotExist`] when a reload removed the app.
    pub(crate) fn add_socket(&self, handle: &SocketHandle) -> Result<SocketId, ErrorCode> {
        let id = self.sockets.add(handle, self.config().max_connections)?;
        // Checked after the insert: `remove` sets the flag before it closes
        // the sockets it finds, so a socket is either found or refused.
        if self.removed.load(Ordering::SeqCst) {
            self.sockets.remove(id);
            return Err(ErrorCode::ApplicationDoesNotExist);
        }
        self.metrics.socket_added();
        Ok(id)
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

    /// Keeps `frame` as a cache channel's last event unless this node has
    /// one already (it is newer: it came from the cluster after the node
    /// linked to the channel). For the cluster's copy, read on linking.
    pub(crate) fn cache_if_absent(&self, channel: &ChannelName, frame: Frame) {
        self.cache
            .entry(channel.clone())
            .or_insert_with(|| (frame, Instant::now()));
    }

    /// Drops this node's copy of a cache channel's last event: the node no
    /// longer receives the channel's events, so the copy would go stale.
    pub(crate) fn forget_cached(&self, channel: &ChannelName) {
        self.cache.remove(channel);
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

impl App {
    /// Whether a connection with this `Origin` header may connect: `*`
    /// allows every origin (and none); otherwise the origin's host must
    /// match an entry, where `*` in an entry matches any run of characters
    /// (`*.example.com` matches `a.example.com`, not `example.com`).
    pub(crate) fn origin_allowed(&self, origin: Option<&str>) -> bool {
        let config = self.config();
        let allowed = &config.allowed_origins;
        if allowed.iter().any(|o| o == "*") {
            return true;
        }
        let Some(host) = origin.and_then(origin_host) else {
            return false;
        };
        allowed.iter().any(|pattern| glob_match(pattern, &host))
    }
}

/// The verifier `config.auth` describes. `config::load` has checked the
/// key; a config built by hand with an unusable one leaves the endpoint off.
fn verifier(config: &AppConfig) -> Option<Verifier> {
    let auth = config.auth.as_ref()?;
    auth.verifier()
        .map_err(|e| {
            tracing::error!(app = %config.id, error = %e, "auth endpoint off: unusable key");
        })
        .ok()
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
