//! The subscribe/unsubscribe seam: the one place where a subscriber joins or
//! leaves a channel, whatever its transport.
//!
//! A subscribe does, in this order:
//! 1. the channel registry: the subscriber is inserted and its
//!    acknowledgement (with the roster, on presence channels) and any
//!    `member_added` to the others are queued under the channel's guard;
//! 2. the app's user index: a presence member's socket is recorded under
//!    its user id (for `terminate_connections`);
//! 3. the cluster: a user's first socket on this node is announced;
//! 4. a cache channel's last event (or `pusher:cache_miss`) is queued to the
//!    subscriber;
//! 5. the cluster adapter hears of occupancy changes (with channel routing
//!    it links to or unlinks from the channel's events: see
//!    `adapter::redis::interest`), then the lifecycle bus (channel occupied,
//!    member added) and the webhooks, which get this node's transitions and
//!    have Redis arbitrate the cluster-level ones (see `webhooks`).
//!
//! Before step 1 the caller awaits `Adapter::link` for the channel, so this
//! node already receives the other nodes' events on it when the
//! acknowledgement goes out.
//!
//! An unsubscribe undoes 1–3 in the same order and announces member removed,
//! then channel vacated. Both return a [`Transition`]: what changed for the
//! channel, stated once, so observers (metrics, webhooks, SSE streams) read
//! one result instead of re-deriving it.
//!
//! Nothing here awaits or does IO; frames go into the subscriber's own
//! queue, in order with everything else it receives.

use std::sync::Arc;

use crate::apps::App;
use crate::channels::Member;
use crate::lifecycle::LifecycleEvent;
use crate::metrics::Limit;
use crate::node::Node;
use crate::outbound::{Frame, SocketHandle};
use crate::protocol::{ChannelName, ServerEvent, SocketId};

/// The channel's occupancy changed on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Occupancy {
    /// The channel got its first subscriber.
    Occupied,
    /// The channel lost its last subscriber.
    Vacated,
}

/// A presence roster changed for every subscriber of the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MemberChange {
    /// The user's first socket joined (absent → present).
    Added(Arc<str>),
    /// The user's last socket left (present → absent).
    Removed(Arc<str>),
}

/// What one subscribe or unsubscribe changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Transition {
    /// The subscription itself changed: `false` for a repeated subscribe
    /// (only the acknowledgement is sent again) or an unsubscribe from a
    /// channel the socket was not on.
    pub(crate) changed: bool,
    /// The channel became occupied or vacant on this node.
    pub(crate) occupancy: Option<Occupancy>,
    /// A member appeared in or disappeared from the roster this node
    /// shows (which, with scaling on, includes other nodes' members).
    pub(crate) member: Option<MemberChange>,
    /// The user's first socket on this node joined, or its last left: what
    /// the cluster (and the webhooks' arbiter) is told.
    pub(crate) node_member: Option<MemberChange>,
    /// Subscriptions on the channel on this node after the change.
    pub(crate) subscription_count: usize,
    /// The subscribe was refused: the presence channel is at the app's
    /// `max_presence_members` and the user is not on it yet. Nothing
    /// changed and nothing was sent.
    pub(crate) full: bool,
}

/// Subscribes `socket_id` (whose queue is `handle`) to `channel`, as
/// `member` on presence channels. The caller has authorised it.
pub(crate) fn subscribe(
    node: &Node,
    app: &App,
    socket_id: SocketId,
    handle: &SocketHandle,
    channel: &ChannelName,
    member: Option<&Member>,
) -> Transition {
    // Register before acknowledging: the ack is queued by the registry
    // under the channel's guard, after the socket is in place.
    let (count_events, max_members) = {
        let config = app.config();
        (
            config.subscription_count_events,
            config.max_presence_members,
        )
    };
    let Some(outcome) = app.channels.subscribe_within(
        channel,
        socket_id,
        handle,
        member,
        count_events,
        max_members,
    ) else {
        app.metrics.limited(Limit::PresenceMembers);
        return Transition {
            full: true,
            ..Transition::default()
        };
    };
    if outcome.already {
        return Transition {
            subscription_count: outcome.subscription_count,
            ..Transition::default()
        };
    }
    app.metrics.subscribed(channel.kind(), outcome.occupied);
    let mut node_member = None;
    if let Some(member) = member {
        app.sockets.add_user(&member.user_id, socket_id);
        if outcome.first_local {
            node.adapter.member_joined(app, channel, member);
            node_member = Some(MemberChange::Added(member.user_id.clone()));
        }
    }
    if channel.is_cache() {
        match app.cached(channel.as_str()) {
            Some(frame) => {
                let _ = handle.send(&frame);
            }
            None => {
                let miss = ServerEvent::CacheMiss {
                    channel: channel.as_str(),
                };
                let _ = handle.send(&Frame::from(miss.to_json()));
                node.webhooks.cache_miss(app, channel);
            }
        }
    }
    let transition = Transition {
        changed: true,
        occupancy: outcome.occupied.then_some(Occupancy::Occupied),
        member: outcome.member_added.map(MemberChange::Added),
        node_member,
        subscription_count: outcome.subscription_count,
        full: false,
    };
    announce(node, app, channel, &transition);
    transition
}

/// Unsubscribes `socket_id` from `channel`; a socket that is not subscribed
/// is a no-op (`changed` is false).
pub(crate) fn unsubscribe(
    node: &Node,
    app: &App,
    socket_id: SocketId,
    channel: &ChannelName,
) -> Transition {
    let outcome = app.channels.unsubscribe(
        channel.as_str(),
        socket_id,
        app.config().subscription_count_events,
    );
    if !outcome.removed {
        return Transition::default();
    }
    app.metrics.unsubscribed(channel.kind(), outcome.vacated);
    let mut node_member = None;
    if let Some(user_id) = &outcome.user_id {
        app.sockets.remove_user(user_id, socket_id);
        if outcome.last_local {
            node.adapter.member_left(app, channel, user_id);
            node_member = Some(MemberChange::Removed(user_id.clone()));
        }
    }
    let transition = Transition {
        changed: true,
        occupancy: outcome.vacated.then_some(Occupancy::Vacated),
        member: outcome.member_removed.map(MemberChange::Removed),
        node_member,
        subscription_count: outcome.subscription_count,
        full: false,
    };
    announce(node, app, channel, &transition);
    transition
}

/// Puts a transition on the lifecycle bus, in the order observers rely on:
/// occupied before member added, member removed before vacated (events are
/// built only when someone observes), and hands it to the webhooks.
fn announce(node: &Node, app: &App, channel: &ChannelName, transition: &Transition) {
    if transition.occupancy.is_some() {
        node.adapter.occupancy_changed(app, channel);
    }
    node.webhooks.observe(app, channel, transition);
    let bus = &node.lifecycle;
    let ids = || (app.id.clone(), channel.clone());
    if transition.occupancy == Some(Occupancy::Occupied) {
        bus.emit_with(|| {
            let (app_id, channel) = ids();
            LifecycleEvent::ChannelOccupied { app_id, channel }
        });
    }
    match &transition.member {
        Some(MemberChange::Added(user_id)) => bus.emit_with(|| {
            let (app_id, channel) = ids();
            let user_id = user_id.clone();
            LifecycleEvent::MemberAdded {
                app_id,
                channel,
                user_id,
            }
        }),
        Some(MemberChange::Removed(user_id)) => bus.emit_with(|| {
            let (app_id, channel) = ids();
            let user_id = user_id.clone();
            LifecycleEvent::MemberRemoved {
                app_id,
                channel,
                user_id,
            }
        }),
        None => {}
    }
    if transition.occupancy == Some(Occupancy::Vacated) {
        bus.emit_with(|| {
            let (app_id, channel) = ids();
            LifecycleEvent::ChannelVacated { app_id, channel }
        });
    }
}

#[cfg(test)]
mod tests;
