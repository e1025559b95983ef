//! Channel-occupancy and presence transitions as explicit events that other
//! parts of the server (webhooks, metrics, a dashboard) can observe.
//!
//! The registry reports what each subscribe or unsubscribe changed; the
//! connection turns those changes into [`LifecycleEvent`]s on the
//! [`LifecycleBus`]. Publishing with no observer costs one failed send.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::protocol::{ChannelName, SocketId};

/// A transition inside the server, for observers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifecycleEvent {
    /// A channel got its first subscriber.
    ChannelOccupied {
        /// The app.
        app_id: Arc<str>,
        /// The channel.
        channel: ChannelName,
    },
    /// A channel lost its last subscriber.
    ChannelVacated {
        /// The app.
        app_id: Arc<str>,
        /// The channel.
        channel: ChannelName,
    },
    /// A user's first socket joined a presence channel.
    MemberAdded {
        /// The app.
        app_id: Arc<str>,
        /// The presence channel.
        channel: ChannelName,
        /// The user.
        user_id: Arc<str>,
    },
    /// A user's last socket left a presence channel.
    MemberRemoved {
        /// The app.
        app_id: Arc<str>,
        /// The presence channel.
        channel: ChannelName,
        /// The user.
        user_id: Arc<str>,
    },
    /// A client event was accepted for relay.
    ClientEvent {
        /// The app.
        app_id: Arc<str>,
        /// The channel.
        channel: ChannelName,
        /// The event name.
        event: Arc<str>,
        /// The sender.
        socket_id: SocketId,
    },
}

/// Fan-out of [`LifecycleEvent`]s to any number of observers.
#[derive(Debug, Clone)]
pub struct LifecycleBus {
    sender: broadcast::Sender<LifecycleEvent>,
}

impl Default for LifecycleBus {
    fn default() -> Self {
        LifecycleBus {
            sender: broadcast::channel(4096).0,
        }
    }
}

impl LifecycleBus {
    /// Builds and announces an event only when someone observes: the
    /// per-message path pays nothing (not even an allocation) otherwise.
    pub(crate) fn emit_with(&self, event: impl FnOnce() -> LifecycleEvent) {
        if self.sender.receiver_count() > 0 {
            let _ = self.sender.send(event());
        }
    }

    /// A new observer; it sees events emitted from now on. A slow observer
    /// loses the oldest events (`RecvError::Lagged`) rather than slowing
    /// the server.
    pub fn subscribe(&self) -> broadcast::Receiver<LifecycleEvent> {
        self.sender.subscribe()
    }
}
