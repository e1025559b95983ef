//! The channel registry: which subscribers are on which channel of one app,
//! and each presence channel's roster.
//!
//! Every method does its work under one DashMap shard guard and returns
//! before any `.await`: a guard is never held across an await point (clippy's
//! `await-holding-invalid-types` enforces it). Presence frames
//! (`subscription_succeeded`, `member_added`, `member_removed`) are queued
//! while the channel's guard is held, so every subscriber sees the roster
//! and its changes in one consistent order.
//!
//! Subscribers are [`SocketHandle`]s, which any transport can drain; the
//! registry never knows it is talking to a WebSocket.

mod presence;

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::Arc;

use dashmap::DashMap;

use crate::outbound::{Frame, SocketHandle};
use crate::protocol::server_event::MemberRef;
use crate::protocol::{ChannelName, ServerEvent, SocketId};
pub use presence::Member;
pub(crate) use presence::{InvalidMember, PresenceRoster};

impl Borrow<str> for ChannelName {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

#[derive(Debug)]
struct Subscriber {
    handle: SocketHandle,
    /// The presence user id this socket subscribed with, if any.
    user_id: Option<Arc<str>>,
}

#[derive(Debug, Default)]
struct Channel {
    subscribers: HashMap<SocketId, Subscriber>,
    /// Present on presence channels only.
    roster: Option<PresenceRoster>,
}

/// What a subscribe changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Subscribed {
    /// The socket was already subscribed (the ack is re-sent, nothing else).
    pub already: bool,
    /// The channel had no subscribers before (channel occupied).
    pub occupied: bool,
    /// A user new to the presence channel (member added).
    pub member_added: Option<Arc<str>>,
    /// The user's first socket on this node: other nodes must be told.
    pub first_local: bool,
    /// Subscriptions on the channel after the change.
    pub subscription_count: usize,
}

/// What an unsubscribe changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Unsubscribed {
    /// The socket was subscribed.
    pub removed: bool,
    /// The presence user id the socket had subscribed with.
    pub user_id: Option<Arc<str>>,
    /// The channel has no subscribers left (channel vacated).
    pub vacated: bool,
    /// The user's last socket left the presence channel (member removed).
    pub member_removed: Option<Arc<str>>,
    /// The user's last socket on this node left: other nodes must be told.
    pub last_local: bool,
    /// Subscriptions on the channel after the change.
    pub subscription_count: usize,
}

/// A snapshot of one channel for the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChannelStats {
    /// Subscriptions (sockets) on the channel.
    pub subscription_count: usize,
    /// Distinct users, for presence channels.
    pub user_count: Option<usize>,
}

/// Subscribers of every channel of one app.
#[derive(Debug, Default)]
pub struct ChannelRegistry {
    channels: DashMap<ChannelName, Channel>,
}

impl ChannelRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        ChannelRegistry::default()
    }

    /// Subscribes `socket` to `channel` and queues the acknowledgement to it.
    ///
    /// For presence channels `member` is required: the socket receives the
    /// roster, and the other subscribers `member_added` if the user is new.
    /// With `count_events`, every subscriber of a non-presence channel gets
    /// `pusher_internal:subscription_count` when the count changes.
    pub fn subscribe(
        &self,
        channel: &ChannelName,
        socket_id: SocketId,
        handle: &SocketHandle,
        member: Option<&Member>,
        count_events: bool,
    ) -> Subscribed {
        // With no member limit nothing is refused.
        self.subscribe_within(channel, socket_id, handle, member, count_events, 0)
            .unwrap_or_default()
    }

    /// [`subscribe`](Self::subscribe), refusing a user new to a presence
    /// channel that already has `max_members` members (0: unlimited):
    /// `None`, and nothing changed or sent. The roster holds every member
    /// this node knows of, other nodes' included, and the check is made
    /// under the channel's guard, so two sockets of this node can never
    /// both take the last place.
    pub(crate) fn subscribe_within(
        &self,
        channel: &ChannelName,
        socket_id: SocketId,
        handle: &SocketHandle,
        member: Option<&Member>,
        count_events: bool,
        max_members: usize,
    ) -> Option<Subscribed> {
        let mut entry = self.channels.entry(channel.clone()).or_default();
        let ch = entry.value_mut();
        let occupied = ch.subscribers.is_empty();
        let already = ch.subscribers.contains_key(&socket_id);
        if let (Some(member), Some(roster), false) = (member, &ch.roster, already) {
            if max_members > 0 && roster.is_full(&member.user_id, max_members) {
                return None;
            }
        }
        let mut out = Subscribed {
            already,
            occupied,
            ..Subscribed::default()
        };
        if !already {
            ch.subscribers.insert(
                socket_id,
                Subscriber {
                    handle: handle.clone(),
                    user_id: member.map(|m| m.user_id.clone()),
                },
            );
        }
        out.subscription_count = ch.subscribers.len();
        match member {
            Some(member) => {
                let roster = ch.roster.get_or_insert_with(PresenceRoster::default);
                let joined = if already {
                    Default::default()
                } else {
                    roster.join(member)
                };
                out.first_local = joined.first_local;
                let is_new = joined.added;
                let members: Vec<MemberRef<'_>> = roster.members().map(Member::as_ref).collect();
                let ack = ServerEvent::PresenceSubscriptionSucceeded {
                    channel: channel.as_str(),
                    members: &members,
                };
                let _ = handle.send(&Frame::from(ack.to_json()));
                if is_new {
                    let added = ServerEvent::MemberAdded {
                        channel: channel.as_str(),
                        member: member.as_ref(),
                    };
                    send_all(ch, &Frame::from(added.to_json()), Some(socket_id));
                    out.member_added = Some(member.user_id.clone());
                }
            }
            None => {
                let ack = ServerEvent::SubscriptionSucceeded {
                    channel: channel.as_str(),
                };
                let _ = handle.send(&Frame::from(ack.to_json()));
                if count_events && !already {
                    send_count(channel, ch);
                }
            }
        }
        Some(out)
    }

    /// Removes `socket_id` from `channel`; unknown channels and sockets are a
    /// no-op. Announces `member_removed` for a user's last socket.
    pub(crate) fn unsubscribe(
        &self,
        channel: &str,
        socket_id: SocketId,
        count_events: bool,
    ) -> Unsubscribed {
        let mut out = Unsubscribed::default();
        let Some(mut entry) = self.channels.get_mut(channel) else {
            return out;
        };
        let name = entry.key().clone();
        let ch = entry.value_mut();
        let Some(sub) = ch.subscribers.remove(&socket_id) else {
            return out;
        };
        out.removed = true;
        out.user_id = sub.user_id.clone();
        out.subscription_count = ch.subscribers.len();
        if let (Some(roster), Some(user_id)) = (ch.roster.as_mut(), sub.user_id.as_ref()) {
            let left = roster.leave(user_id);
            out.last_local = left.last_local;
            if let Some(gone) = left.removed {
                let removed = ServerEvent::MemberRemoved {
                    channel: name.as_str(),
                    user_id_json: &gone.user_id_json,
                };
                send_all(ch, &Frame::from(removed.to_json()), None);
                out.member_removed = Some(gone.user_id);
            }
        } else if count_events && !ch.subscribers.is_empty() {
            send_count(&name, ch);
        }
        if ch.subscribers.is_empty() {
            drop(entry);
            out.vacated = true;
            self.remove_if_unused(channel);
        }
        out
    }

    /// Drops a channel with no local subscribers and nobody present.
    /// Re-checks under the write guard: someone may have subscribed since.
    fn remove_if_unused(&self, channel: &str) {
        self.channels.remove_if(channel, |_, ch| {
            ch.subscribers.is_empty() && ch.roster.as_ref().is_none_or(PresenceRoster::is_empty)
        });
    }

    /// Another node reports `member` on presence `channel`: local
    /// subscribers get `member_added` if the user was absent.
    pub(crate) fn remote_join(&self, channel: &ChannelName, node: u64, member: &Member) {
        let mut entry = self.channels.entry(channel.clone()).or_default();
        let ch = entry.value_mut();
        let roster = ch.roster.get_or_insert_with(PresenceRoster::default);
        if roster.remote_join(node, member) {
            let added = ServerEvent::MemberAdded {
                channel: channel.as_str(),
                member: member.as_ref(),
            };
            send_all(ch, &Frame::from(added.to_json()), None);
        }
    }

    /// Another node reports `user_id` gone from `channel`: local
    /// subscribers get `member_removed` if the user is now absent.
    pub(crate) fn remote_leave(&self, channel: &str, node: u64, user_id: &str) {
        let Some(mut entry) = self.channels.get_mut(channel) else {
            return;
        };
        let name = entry.key().clone();
        let ch = entry.value_mut();
        let Some(gone) = ch
            .roster
            .as_mut()
            .and_then(|r| r.remote_leave(node, user_id))
        else {
            return;
        };
        let removed = ServerEvent::MemberRemoved {
            channel: name.as_str(),
            user_id_json: &gone.user_id_json,
        };
        send_all(ch, &Frame::from(removed.to_json()), None);
        drop(entry);
        self.remove_if_unused(channel);
    }

    /// Every (channel, user) that `node` reported, e.g. to forget a node.
    pub(crate) fn remote_users(&self, node: u64) -> Vec<(ChannelName, Arc<str>)> {
        let mut out = Vec::new();
        for entry in self.channels.iter() {
            if let Some(roster) = &entry.roster {
                for user in roster.users_on(node) {
                    out.push((entry.key().clone(), user));
                }
            }
        }
        out
    }

    /// Presence members with a socket on this node, per channel: the state
    /// this node reports to the others.
    pub(crate) fn local_presence(&self) -> Vec<(ChannelName, Member)> {
        let mut out = Vec::new();
        for entry in self.channels.iter() {
            if let Some(roster) = &entry.roster {
                for member in roster.local_members() {
                    out.push((entry.key().clone(), member.clone()));
                }
            }
        }
        out
    }

    /// Queues `frame` to every subscriber of `channel` but `except`; returns
    /// how many subscribers it was queued for. No allocation per subscriber:
    /// each gets a reference-counted clone of the same bytes.
    pub fn broadcast(&self, channel: &str, frame: &Frame, except: Option<SocketId>) -> usize {
        match self.channels.get(channel) {
            Some(ch) => send_all(&ch, frame, except),
            None => 0,
        }
    }

    /// Whether `socket_id` is subscribed to `channel`, and with which
    /// presence user id: `None` if not subscribed.
    pub(crate) fn subscription(
        &self,
        channel: &str,
        socket_id: SocketId,
    ) -> Option<Option<Arc<str>>> {
        let ch = self.channels.get(channel)?;
        ch.subscribers.get(&socket_id).map(|s| s.user_id.clone())
    }

    /// Stats of one channel, `None` when nobody is subscribed. The
    /// subscription count is this node's; the user count covers every
    /// member known here (all nodes, in cluster mode).
    pub(crate) fn stats(&self, channel: &str) -> Option<ChannelStats> {
        self.channels.get(channel).map(|ch| stats_of(&ch))
    }

    /// Every occupied channel whose name starts with `prefix`, sorted by name.
    pub(crate) fn list(&self, prefix: &str) -> Vec<(ChannelName, ChannelStats)> {
        let mut out: Vec<(ChannelName, ChannelStats)> = self
            .channels
            .iter()
            .filter(|e| {
                e.key().as_str().starts_with(prefix)
                    && (!e.subscribers.is_empty()
                        || e.roster.as_ref().is_some_and(|r| !r.is_empty()))
            })
            .map(|e| (e.key().clone(), stats_of(e.value())))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The members of a presence channel in join order, `None` if the
    /// channel has no subscribers and no members.
    pub(crate) fn members(&self, channel: &str) -> Option<Vec<Member>> {
        let ch = self.channels.get(channel)?;
        if ch.subscribers.is_empty() && ch.roster.as_ref().is_none_or(PresenceRoster::is_empty) {
            return None;
        }
        Some(
            ch.roster
                .as_ref()
                .map(|r| r.members().cloned().collect())
                .unwrap_or_default(),
        )
    }
}

fn stats_of(ch: &Channel) -> ChannelStats {
    ChannelStats {
        subscription_count: ch.subscribers.len(),
        user_count: ch.roster.as_ref().map(PresenceRoster::user_count),
    }
}

fn send_all(ch: &Channel, frame: &Frame, except: Option<SocketId>) -> usize {
    let mut sent = 0;
    for (id, sub) in &ch.subscribers {
        if Some(*id) != except && sub.handle.send(frame).is_ok() {
            sent += 1;
        }
    }
    sent
}

fn send_count(name: &ChannelName, ch: &Channel) {
    let event = ServerEvent::SubscriptionCount {
        channel: name.as_str(),
        count: ch.subscribers.len(),
    };
    send_all(ch, &Frame::from(event.to_json()), None);
}

#[cfg(test)]
mod tests;
