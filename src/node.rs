//! `Node`: the state every task of this process shares — the apps, the
//! adapter, the lifecycle bus, the webhooks, shutdown, the process-wide
//! connection capacity, and the metrics registry and dashboard access.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::adapter::Adapter;
use crate::apps::AppRegistry;
use crate::config::ServerConfig;
use crate::dashboard::Access;
use crate::lifecycle::LifecycleBus;
use crate::limits::sockets::SocketBudget;
use crate::metrics::{Metrics, SocketMetrics};
use crate::shutdown::Shutdown;
use crate::tls::Tls;
use crate::webhooks::Webhooks;

/// Shared state of one Clarion process.
#[derive(Debug)]
pub struct Node {
    /// Listener and process-wide settings.
    pub(crate) server: ServerConfig,
    /// Every hosted app.
    pub(crate) apps: Arc<AppRegistry>,
    /// How events reach other nodes.
    pub(crate) adapter: Arc<dyn Adapter>,
    /// Occupancy and presence transitions, for observers.
    pub lifecycle: LifecycleBus,
    /// Shutdown signal and the tracker of every connection task.
    pub(crate) shutdown: Shutdown,
    /// Occupancy, presence and client events for the apps' webhook targets.
    pub(crate) webhooks: Webhooks,
    /// WebSocket connections currently open on this process.
    open: AtomicUsize,
    /// Most WebSocket connections this process accepts.
    pub(crate) capacity: usize,
    /// Every TCP connection this process holds, against
    /// `server.max_sockets`.
    pub(crate) sockets: Arc<SocketBudget>,
    /// The metrics registry, while metrics or the dashboard are on.
    pub(crate) metrics: Option<Arc<Metrics>>,
    /// `GET /metrics` is served on the main listener (metrics on, no
    /// `metrics.port`).
    pub(crate) metrics_route: bool,
    /// Who may use the dashboard; `None` while it is off.
    pub(crate) dashboard: Option<Access>,
    /// The listener's TLS (`[server.tls]`); `None` serves plain TCP.
    pub(crate) tls: Option<Arc<Tls>>,
}

impl Node {
    /// Builds the node state.
    pub(crate) fn new(
        server: ServerConfig,
        apps: Arc<AppRegistry>,
        adapter: Arc<dyn Adapter>,
        webhooks: Webhooks,
        capacity: usize,
    ) -> Self {
        let sockets = Arc::new(SocketBudget::new(
            server.max_sockets,
            SocketMetrics::default(),
        ));
        Node {
            sockets,
            server,
            apps,
            adapter,
            lifecycle: LifecycleBus::default(),
            shutdown: Shutdown::default(),
            webhooks,
            open: AtomicUsize::new(0),
            capacity,
            metrics: None,
            metrics_route: false,
            dashboard: None,
            tls: None,
        }
    }

    /// The same node, serving TLS with `tls`.
    pub(crate) fn with_tls(mut self, tls: Option<Arc<Tls>>) -> Self {
        self.tls = tls;
        self
    }

    /// The same node, with its metrics registry (served on the main
    /// listener when `route`) and dashboard access.
    pub(crate) fn observed(
        mut self,
        metrics: Option<Arc<Metrics>>,
        route: bool,
        dashboard: Option<Access>,
    ) -> Self {
        self.metrics_route = route && metrics.is_some();
        if let Some(metrics) = &metrics {
            let budget = SocketBudget::new(self.server.max_sockets, metrics.sockets());
            self.sockets = Arc::new(budget);
        }
        self.metrics = metrics;
        self.dashboard = dashboard;
        self
    }

    /// Takes one connection slot; `None` when the process is full.
    pub(crate) fn claim_slot(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let before = self.open.fetch_add(1, Ordering::AcqRel);
        if before >= self.capacity {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(ConnectionSlot { node: self.clone() })
    }

    /// WebSocket connections open now.
    pub(crate) fn open_connections(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Cuts a drain short: every socket closes with 4200 now instead of at
    /// its moment within the spread: what a second SIGTERM/SIGINT does
    /// once the drain has begun.
    pub fn close_now(&self) {
        self.shutdown.close_now();
    }
}

/// One claimed connection slot; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct ConnectionSlot {
    node: Arc<Node>,
}

impl ConnectionSlot {
    /// The node this slot belongs to.
    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.node
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.node.open.fetch_sub(1, Ordering::AcqRel);
    }
}
