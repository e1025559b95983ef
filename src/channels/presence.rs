//! Presence rosters: who is on a presence channel, unique by `user_id`, with
//! the number of sockets each user has there, so `member_added` fires on a
//! user's first socket and `member_removed` on their last.

use std::sync::Arc;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::protocol::server_event::MemberRef;

/// A presence member as its signed `channel_data` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The user id's string form: `1` and `"1"` are the same user.
    pub(crate) user_id: Arc<str>,
    /// The user id as raw JSON, so it goes back out in its original type.
    pub(crate) user_id_json: Box<str>,
    /// `user_info` as raw JSON, if any.
    pub user_info_json: Option<Box<str>>,
}

/// Why `channel_data` does not describe a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("channel_data must be a JSON object with a string or number user_id")]
pub(crate) struct InvalidMember;

#[derive(Deserialize)]
struct ChannelData<'a> {
    #[serde(borrow)]
    user_id: Option<&'a RawValue>,
    #[serde(borrow)]
    user_info: Option<&'a RawValue>,
}

impl Member {
    /// Reads a member from presence `channel_data`.
    ///
    /// # Errors
    /// [`InvalidMember`] when there is no usable `user_id`.
    pub(crate) fn from_channel_data(channel_data: &str) -> Result<Self, InvalidMember> {
        // An array would be read field by field: `["1", {}]` is no member.
        if !crate::protocol::opens_object(channel_data.as_bytes()) {
            return Err(InvalidMember);
        }
        let data: ChannelData<'_> =
            serde_json::from_str(channel_data).map_err(|_| InvalidMember)?;
        let raw = data.user_id.ok_or(InvalidMember)?;
        let user_id: Arc<str> = match serde_json::from_str::<serde_json::Value>(raw.get()) {
            Ok(serde_json::Value::String(s)) if !s.is_empty() => Arc::from(s),
            Ok(serde_json::Value::Number(n)) => Arc::from(n.to_string()),
            _ => return Err(InvalidMember),
        };
        Ok(Member {
            user_id,
            user_id_json: raw.get().into(),
            user_info_json: data.user_info.map(|i| i.get().into()),
        })
    }

    /// The wire view of this member.
    pub(crate) fn as_ref(&self) -> MemberRef<'_> {
        MemberRef {
            user_id_json: &self.user_id_json,
            user_id: &self.user_id,
            user_info_json: self.user_info_json.as_deref(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    member: Member,
    /// Sockets of this user subscribed on this node.
    sockets: u32,
    /// Other nodes where this user has at least one socket (cluster mode).
    nodes: Vec<u64>,
}

impl Entry {
    fn present(&self) -> bool {
        self.sockets > 0 || !self.nodes.is_empty()
    }
}

/// What a local join changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Joined {
    /// The user was absent from the roster (announce `member_added`).
    pub added: bool,
    /// This is the user's first socket on this node (tell other nodes).
    pub first_local: bool,
}

/// What a local leave changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Left {
    /// The user is now absent from the roster (announce `member_removed`).
    pub removed: Option<Member>,
    /// That was the user's last socket on this node (tell other nodes).
    pub last_local: bool,
}

/// The members of one presence channel in join order: this node's sockets
/// and, in cluster mode, the users other nodes reported.
#[derive(Debug, Default)]
pub(crate) struct PresenceRoster {
    members: IndexMap<Arc<str>, Entry>,
}

impl PresenceRoster {
    /// Records one more local socket of `member`.
    pub(crate) fn join(&mut self, member: &Member) -> Joined {
        match self.members.get_mut(&member.user_id) {
            Some(entry) => {
                entry.sockets += 1;
                Joined {
                    added: false,
                    first_local: entry.sockets == 1,
                }
            }
            None => {
                self.members.insert(
                    member.user_id.clone(),
                    Entry {
                        member: member.clone(),
                        sockets: 1,
                        nodes: Vec::new(),
                    },
                );
                Joined {
                    added: true,
                    first_local: true,
                }
            }
        }
    }

    /// Records one local socket of `user_id` leaving.
    pub(crate) fn leave(&mut self, user_id: &str) -> Left {
        let Some(entry) = self.members.get_mut(user_id) else {
            return Left::default();
        };
        // A user only other nodes report has no socket here to leave: not
        // a no-op, this would tell the cluster its last local socket left.
        if entry.sockets == 0 {
            return Left::default();
        }
        entry.sockets -= 1;
        let last_local = entry.sockets == 0;
        let removed = if entry.present() {
            None
        } else {
            self.members.shift_remove(user_id).map(|e| e.member)
        };
        Left {
            removed,
            last_local,
        }
    }

    /// Another node reports `member` present; `true` if the user was absent.
    pub(crate) fn remote_join(&mut self, node: u64, member: &Member) -> bool {
        match self.members.get_mut(&member.user_id) {
            Some(entry) => {
                let was_present = entry.present();
                if !entry.nodes.contains(&node) {
                    entry.nodes.push(node);
                }
                !was_present
            }
            None => {
                self.members.insert(
                    member.user_id.clone(),
                    Entry {
                        member: member.clone(),
                        sockets: 0,
                        nodes: vec![node],
                    },
                );
                true
            }
        }
    }

    /// Another node reports `user_id` gone; returns the member if the user
    /// is now absent everywhere.
    pub(crate) fn remote_leave(&mut self, node: u64, user_id: &str) -> Option<Member> {
        let entry = self.members.get_mut(user_id)?;
        entry.nodes.retain(|n| *n != node);
        if entry.present() {
            return None;
        }
        self.members.shift_remove(user_id).map(|e| e.member)
    }

    /// Users reported by `node` (for a node that is gone or resent its state).
    pub(crate) fn users_on(&self, node: u64) -> Vec<Arc<str>> {
        self.members
            .iter()
            .filter(|(_, e)| e.nodes.contains(&node))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Members with at least one socket on this node.
    pub(crate) fn local_members(&self) -> impl Iterator<Item = &Member> {
        self.members
            .values()
            .filter(|e| e.sockets > 0)
            .map(|e| &e.member)
    }

    /// Whether `user_id` would be a new member of a roster that already
    /// has `max` members.
    pub(crate) fn is_full(&self, user_id: &str, max: usize) -> bool {
        self.members.len() >= max && !self.members.contains_key(user_id)
    }

    /// Number of distinct users.
    pub(crate) fn user_count(&self) -> usize {
        self.members.len()
    }

    /// Whether nobody is present.
    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Members in join order.
    pub(crate) fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values().map(|e| &e.member)
    }
}

#[cfg(test)]
mod tests;
