//! The apps this server hosts, looked up by key (WebSocket) or id (HTTP
//! API), each with its own channels, sockets, user index and event cache,
//! so apps never see each other's channels or events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::time::Instant;

use crate::channels::ChannelRegistry;
use crate::config::AppConfig;
use crate::outbound::{Frame, SocketHandle};
use crate::protocol::{ChannelName, ErrorCode, SocketId};

/// How long a cache channel keeps its last event (Pusher: 30 minutes).
pub const CACHE_TTL: Duration = Duration::from_secs(30 * 60);

/// One app's configuration and live state.
#[derive(Debug)]
pub struct App {
    /// The app's settings.
    pub config: AppConfig,
    /// The app id, shared into lifecycle events.
    pub id: Arc<str>,
    /// Subscribers per channel.
    pub channels: ChannelRegistry,
    /// Every live socket of the app on this node.
    sockets: DashMap<SocketId, SocketHandle>,
    /// Sockets per user id (signed-in users and presence members), for
    /// `terminate_connections`. A socket appears once per association.
    users: DashMap<Arc<str>, Vec<SocketId>>,
    /// Last event of each cache channel, with when it was stored.
    cache: DashMap<ChannelName, (Frame, Instant)>,
    /// Live sockets, for the `max_connections` quota.
    connections: AtomicUsize,
    /// Cache writes since the last sweep of expired cache entries.
    cache_writes: AtomicUsize,
}

/// Cache writes between two sweeps of expired entries, so channels that are
/// published to once and never read do not accumulate.
const CACHE_SWEEP_EVERY: usize = 1024;

impl App {
    /// A new app with no sockets.
    pub fn new(config: AppConfig) -> Self {
        App {
            id: Arc::from(config.id.as_str()),
            config,
            channels: ChannelRegistry::new(),
            sockets: DashMap::new(),
            users: DashMap::new(),
            cache: DashMap::new(),
            connections: AtomicUsize::new(0),
            cache_writes: AtomicUsize::new(0),
        }
    }

    /// Registers a new socket under a fresh, unique socket id, unless the
    /// app is at its `max_connections`.
    ///
    /// # Errors
    /// [`ErrorCode::OverConnectionQuota`] when the app is full.
    pub fn add_socket(&self, handle: &SocketHandle) -> Result<SocketId, ErrorCode> {
        let count = self.connections.fetch_add(1, Ordering::AcqRel);
        if self.config.max_connections.is_some_and(|max| count >= max) {
            self.connections.fetch_sub(1, Ordering::AcqRel);
            return Err(ErrorCode::OverConnectionQuota);
        }
        loop {
            let id = SocketId::new(
                rand::random::<u32>() % 1_000_000_000,
                rand::random::<u32>() % 1_000_000_000,
            );
            if let dashmap::Entry::Vacant(slot) = self.sockets.entry(id) {
                slot.insert(handle.clone());
                return Ok(id);
            }
        }
    }

    /// Forgets a socket that has closed.
    pub fn remove_socket(&self, socket_id: SocketId) {
        if self.sockets.remove(&socket_id).is_some() {
            self.connections.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Live sockets of this app on this node.
    pub fn connection_count(&self) -> usize {
        self.sockets.len()
    }

    /// Records that `socket_id` acts as `user_id`.
    pub fn add_user_socket(&self, user_id: &Arc<str>, socket_id: SocketId) {
        self.users
            .entry(user_id.clone())
            .or_default()
            .push(socket_id);
    }

    /// Drops one association of `socket_id` with `user_id`.
    pub fn remove_user_socket(&self, user_id: &str, socket_id: SocketId) {
        if let Some(mut sockets) = self.users.get_mut(user_id) {
            if let Some(pos) = sockets.iter().position(|s| *s == socket_id) {
                sockets.swap_remove(pos);
            }
        }
        self.users
            .remove_if(user_id, |_, sockets| sockets.is_empty());
    }

    /// Closes every local socket of `user_id` with 4009; returns how many.
    pub fn terminate_user(&self, user_id: &str) -> usize {
        let mut ids: Vec<SocketId> = self
            .users
            .get(user_id)
            .map(|s| s.value().clone())
            .unwrap_or_default();
        ids.sort_unstable();
        ids.dedup();
        let mut closed = 0;
        for id in ids {
            if let Some(handle) = self.sockets.get(&id) {
                handle.close(ErrorCode::TerminatedByApp);
                closed += 1;
            }
        }
        closed
    }

    /// Closes every local socket with `reason`.
    pub fn close_all(&self, reason: ErrorCode) {
        for entry in self.sockets.iter() {
            entry.value().close(reason);
        }
    }

    /// Delivers an encoded event to this node's subscribers of `channel`
    /// (all but `except`) and, for cache channels, keeps it for later
    /// subscribers. Every adapter ends here: one delivery path.
    pub fn deliver(&self, channel: &ChannelName, frame: &Frame, except: Option<SocketId>) -> usize {
        if channel.is_cache() {
            self.cache
                .insert(channel.clone(), (frame.clone(), Instant::now()));
            if self.cache_writes.fetch_add(1, Ordering::Relaxed) % CACHE_SWEEP_EVERY
                == CACHE_SWEEP_EVERY - 1
            {
                self.cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            }
        }
        self.channels.broadcast(channel.as_str(), frame, except)
    }

    /// The cached last event of a cache channel, if fresh.
    pub fn cached(&self, channel: &str) -> Option<Frame> {
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
pub struct AppRegistry {
    by_key: HashMap<String, Arc<App>>,
    by_id: HashMap<String, Arc<App>>,
}

impl AppRegistry {
    /// Builds the registry from validated app configs.
    pub fn new(apps: &[AppConfig]) -> Self {
        let mut registry = AppRegistry::default();
        for config in apps {
            let app = Arc::new(App::new(config.clone()));
            registry.by_key.insert(config.key.clone(), app.clone());
            registry.by_id.insert(config.id.clone(), app);
        }
        registry
    }

    /// The app whose key is `key`.
    pub fn by_key(&self, key: &str) -> Option<&Arc<App>> {
        self.by_key.get(key)
    }

    /// The app whose id is `id`.
    pub fn by_id(&self, id: &str) -> Option<&Arc<App>> {
        self.by_id.get(id)
    }

    /// Every app.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<App>> {
        self.by_id.values()
    }
}

impl App {
    /// Whether a connection with this `Origin` header may connect: `*`
    /// allows every origin (and none); otherwise the origin's host must
    /// match an entry, where `*` in an entry matches any run of characters
    /// (`*.example.com` matches `a.example.com`, not `example.com`).
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
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
mod tests {
    use super::*;

    fn app(origins: &[&str]) -> App {
        App::new(AppConfig {
            allowed_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            ..AppConfig::development()
        })
    }

    #[test]
    fn origins_match_reverb_datasets() {
        let wildcard = app(&["*.laravel.com"]);
        assert!(wildcard.origin_allowed(Some("https://sub.laravel.com")));
        assert!(!wildcard.origin_allowed(Some("https://laravel.com")));
        let exact = app(&["laravel.com"]);
        assert!(exact.origin_allowed(Some("http://laravel.com:8000")));
        assert!(!exact.origin_allowed(Some("https://sub.laravel.com")));
        assert!(
            !exact.origin_allowed(None),
            "a missing Origin is refused unless *"
        );
        assert!(!exact.origin_allowed(Some("not a url")));
        assert!(app(&["*"]).origin_allowed(None));
    }

    #[tokio::test(start_paused = true)]
    async fn expired_cache_entries_are_swept_without_being_read() {
        let app = App::new(AppConfig::development());
        let frame = Frame::text("{}");
        let old = ChannelName::parse("cache-once").expect("valid");
        app.deliver(&old, &frame, None);
        tokio::time::advance(CACHE_TTL + Duration::from_secs(1)).await;
        let busy = ChannelName::parse("cache-busy").expect("valid");
        for _ in 0..CACHE_SWEEP_EVERY {
            app.deliver(&busy, &frame, None);
        }
        assert!(app.cache.get("cache-once").is_none(), "swept");
        assert!(app.cached("cache-busy").is_some(), "fresh entries stay");
    }

    #[test]
    fn quota_refuses_the_connection_over_the_limit() {
        let app = App::new(AppConfig {
            max_connections: Some(1),
            ..AppConfig::development()
        });
        let h = SocketHandle::new(4);
        let first = app.add_socket(&h).expect("first fits");
        assert_eq!(app.add_socket(&h), Err(ErrorCode::OverConnectionQuota));
        app.remove_socket(first);
        assert!(app.add_socket(&h).is_ok());
    }
}
