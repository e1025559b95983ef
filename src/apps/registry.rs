//! `AppRegistry`: every hosted app by key (WebSocket, event streams) and by
//! id (HTTP API, cluster envelopes), and the one place a reloaded app list
//! is applied.
//!
//! The maps are immutable and swapped whole ([`ArcSwap`]): a lookup is one
//! lock-free load, a hash lookup and an `Arc` clone, with no allocation, so
//! the node, the Redis adapter and every task share one
//! `Arc<AppRegistry>` and all see a reload at their next lookup. Reloads
//! are applied one at a time (the SIGHUP task); readers never wait.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::App;
use crate::config::AppConfig;
use crate::metrics::Metrics;
use crate::protocol::ErrorCode;

/// The development app's id before it became numeric (official SDKs such
/// as Python's accept only numeric app ids).
pub(crate) const LEGACY_DEVELOPMENT_APP_ID: &str = "app-id";

/// Every app, by key and by id.
#[derive(Debug, Default)]
pub(crate) struct AppRegistry {
    apps: ArcSwap<Apps>,
    /// Where apps (also those a reload adds) count; `None` when metrics
    /// are off.
    metrics: Option<Arc<Metrics>>,
    /// Event history ids come from the cluster (Redis); apps added by a
    /// reload are switched too.
    cluster_ids: AtomicBool,
}

/// One version of the app list.
#[derive(Debug, Default)]
struct Apps {
    /// In configuration order.
    list: Vec<Arc<App>>,
    by_key: HashMap<String, Arc<App>>,
    by_id: HashMap<String, Arc<App>>,
    /// The development app, when it is served, also answers to the id it
    /// had before it became numeric, so earlier scripts keep working.
    legacy_development: Option<Arc<App>>,
}

impl Apps {
    fn insert(&mut self, config: &AppConfig, app: Arc<App>) {
        if *config == AppConfig::development() {
            self.legacy_development = Some(app.clone());
        }
        self.by_key.insert(config.key.clone(), app.clone());
        self.by_id.insert(config.id.clone(), app.clone());
        self.list.push(app);
    }
}

/// What a reload did to the app list, by app id.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct AppChanges {
    /// Apps that are new: usable from now on.
    pub(crate) added: Vec<String>,
    /// Apps whose settings changed; their sockets stay connected.
    pub(crate) changed: Vec<String>,
    /// Apps that are gone; their sockets were closed with 4001.
    pub(crate) removed: Vec<String>,
    /// Sockets (WebSocket and event streams) closed because their app was
    /// removed.
    pub(crate) closed_sockets: usize,
}

impl AppRegistry {
    /// Builds the registry from validated app configs, without metrics.
    #[cfg(test)]
    pub(crate) fn new(configs: &[AppConfig]) -> Self {
        AppRegistry::with_metrics(configs, None)
    }

    /// Builds the registry, each app counting into `metrics` when given.
    pub(crate) fn with_metrics(configs: &[AppConfig], metrics: Option<Arc<Metrics>>) -> Self {
        let registry = AppRegistry {
            apps: ArcSwap::default(),
            metrics,
            cluster_ids: AtomicBool::new(false),
        };
        let mut apps = Apps::default();
        for config in configs {
            apps.insert(config, registry.build(config));
        }
        registry.apps.store(Arc::new(apps));
        registry
    }

    /// A new app for `config`, counting into the registry's metrics.
    fn build(&self, config: &AppConfig) -> Arc<App> {
        let counters = self
            .metrics
            .as_ref()
            .map(|m| m.app(&config.id))
            .unwrap_or_default();
        Arc::new(App::with_metrics(config.clone(), counters))
    }

    /// The app whose key is `key`.
    pub(crate) fn by_key(&self, key: &str) -> Option<Arc<App>> {
        self.apps.load().by_key.get(key).cloned()
    }

    /// The app whose id is `id`.
    pub(crate) fn by_id(&self, id: &str) -> Option<Arc<App>> {
        let apps = self.apps.load();
        apps.by_id
            .get(id)
            .or_else(|| {
                (id == LEGACY_DEVELOPMENT_APP_ID)
                    .then_some(apps.legacy_development.as_ref())
                    .flatten()
            })
            .cloned()
    }

    /// Every app now, in configuration order (a snapshot: a reload while
    /// it is iterated does not change it).
    pub(crate) fn iter(&self) -> impl Iterator<Item = Arc<App>> {
        let apps = self.apps.load_full();
        (0..apps.list.len()).filter_map(move |i| apps.list.get(i).cloned())
    }

    /// From now on every app's event history, also of apps a reload adds,
    /// takes its ids from the cluster (see `History::use_cluster_ids`).
    pub(crate) fn use_cluster_ids(&self) {
        self.cluster_ids.store(true, Ordering::SeqCst);
        for app in self.iter() {
            app.history.use_cluster_ids();
        }
    }

    /// Replaces the app list with `configs` (validated): an app keeps its
    /// identity, sockets and channels across a reload when its id is kept
    /// and only takes the new settings; new ids are added; apps whose id is
    /// gone stop answering lookups and their sockets are closed with 4001.
    pub(crate) fn reload(&self, configs: &[AppConfig]) -> AppChanges {
        let current = self.apps.load_full();
        let mut next = Apps::default();
        let mut changes = AppChanges::default();
        for config in configs {
            let app = match current.by_id.get(&config.id) {
                Some(app) => {
                    if app.reconfigure(config.clone()) {
                        changes.changed.push(config.id.clone());
                    }
                    app.clone()
                }
                None => {
                    let app = self.build(config);
                    if self.cluster_ids.load(Ordering::SeqCst) {
                        app.history.use_cluster_ids();
                    }
                    changes.added.push(config.id.clone());
                    app
                }
            };
            next.insert(config, app);
        }
        let removed: Vec<Arc<App>> = current
            .list
            .iter()
            .filter(|app| !next.by_id.contains_key(&*app.id))
            .cloned()
            .collect();
        self.apps.store(Arc::new(next));
        // After the swap, so no new socket finds a removed app; one that
        // found it just before is refused by `App::add_socket`.
        for app in removed {
            changes.closed_sockets += app.remove(ErrorCode::ApplicationDoesNotExist);
            changes.removed.push(app.id.to_string());
        }
        changes
    }
}

#[cfg(test)]
mod tests;
