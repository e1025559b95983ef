//! The fan-out seam: how an event reaches every subscriber on every node,
//! and how queries that span the cluster are answered.
//!
//! [`local::LocalAdapter`] serves a single node. A Redis adapter plugs in
//! here for several replicas; whatever the adapter, delivery on each node
//! ends in [`App::deliver`], so there is one delivery path.

pub(crate) mod local;
pub(crate) mod redis;

use std::fmt::Debug;

use async_trait::async_trait;

use crate::apps::history::EventId;
use crate::apps::App;
use crate::channels::{ChannelStats, Member};
use crate::outbound::Frame;
use crate::protocol::{ChannelName, SocketId};

/// What happened to a publication beyond this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Single node: local delivery is all there is.
    Local,
    /// Handed to the other nodes.
    Cluster,
    /// Delivered locally, but the other nodes could not be reached.
    LocalOnly,
}

/// An event from the cluster's history.
#[derive(Debug, Clone)]
pub(crate) struct HistoricEvent {
    /// Its id in the app's history.
    pub(crate) id: EventId,
    /// Its channel.
    pub(crate) channel: ChannelName,
    /// The Pusher message.
    pub(crate) frame: Frame,
}

/// Keeps a channel's cluster link up while a subscribe completes: from
/// [`Adapter::link`] until the subscriber is in the channel registry, so the
/// link cannot be dropped in between (the channel is not occupied yet).
#[derive(Default)]
pub(crate) struct Link {
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Link {
    /// A link that holds nothing (single node, or broadcast routing).
    pub(crate) fn none() -> Self {
        Link::default()
    }

    /// A link that runs `release` when dropped.
    pub(crate) fn held(release: impl FnOnce() + Send + Sync + 'static) -> Self {
        Link {
            release: Some(Box::new(release)),
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

impl Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("held", &self.release.is_some())
            .finish()
    }
}

/// Why a cluster-wide query could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AdapterError {
    /// The cluster transport (e.g. Redis) is unavailable.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
}

/// Fan-out and cluster-wide queries for one deployment.
///
/// Implementations must deliver each publication to each subscriber exactly
/// once, in publish order per publisher, and answer queries within a
/// bounded time even when a node is slow or gone.
#[async_trait]
pub(crate) trait Adapter: Send + Sync + Debug + 'static {
    /// Delivers an encoded event to every subscriber of `channel` on every
    /// node, except the socket `except` wherever it lives.
    fn publish(
        &self,
        app: &App,
        channel: &ChannelName,
        frame: &Frame,
        except: Option<SocketId>,
    ) -> Reach;

    /// Makes sure this node receives the other nodes' events on `channel`
    /// before a subscriber is added to it, so an event published after the
    /// subscriber's acknowledgement is never missed. Resolves at once when
    /// the channel is already linked (or there is no cluster); otherwise
    /// after one round trip to the cluster, or its timeout. Hold the
    /// returned [`Link`] until the subscribe is done.
    async fn link(&self, _app: &App, _channel: &ChannelName) -> Link {
        Link::none()
    }

    /// The last event of cache channel `channel` over the cluster, if fresh
    /// (`info=cache` of the HTTP API).
    async fn cached(&self, app: &App, channel: &ChannelName) -> Option<Frame> {
        app.cached(channel.as_str())
    }

    /// The channel got its first subscriber on this node, or lost its last
    /// (from the subscribe/unsubscribe seam). Single node: nothing to do.
    fn occupancy_changed(&self, _app: &App, _channel: &ChannelName) {}

    /// A user's first socket on this node joined presence `channel`; other
    /// nodes must count the user present. Single node: nothing to do.
    fn member_joined(&self, _app: &App, _channel: &ChannelName, _member: &Member) {}

    /// A user's last socket on this node left presence `channel`.
    fn member_left(&self, _app: &App, _channel: &ChannelName, _user_id: &str) {}

    /// A user's first signed-in socket on this node; other nodes must count
    /// the user online (watchlists). Single node: nothing to do.
    fn user_online(&self, _app: &App, _user_id: &str) {}

    /// A user's last signed-in socket on this node closed.
    fn user_offline(&self, _app: &App, _user_id: &str) {}

    /// Closes every socket of `user_id` on every node.
    fn terminate_user(&self, app: &App, user_id: &str) -> Reach;

    /// Occupied channels whose name starts with `prefix`, with stats summed
    /// over the cluster.
    async fn channels(
        &self,
        app: &App,
        prefix: &str,
    ) -> Result<Vec<(ChannelName, ChannelStats)>, AdapterError>;

    /// Stats of one channel over the cluster; `None` when unoccupied.
    async fn channel(&self, app: &App, channel: &str)
        -> Result<Option<ChannelStats>, AdapterError>;

    /// Members of a presence channel over the cluster, unique by user id;
    /// `None` when unoccupied.
    async fn members(&self, app: &App, channel: &str) -> Result<Option<Vec<Member>>, AdapterError>;

    /// Distinct live sockets of the app over the cluster.
    async fn connections(&self, app: &App) -> Result<usize, AdapterError>;

    /// Events of `app` published after `after`, oldest first, from the
    /// cluster's history — for an event stream that resumes on a node that
    /// did not log them. `None` when they are not all kept (or there is no
    /// cluster history).
    async fn history_after(&self, _app: &App, _after: EventId) -> Option<Vec<HistoricEvent>> {
        None
    }

    /// Tells the other nodes this one is leaving and stops background
    /// tasks. Called once, after every socket has closed.
    async fn shutdown(&self) {}
}
