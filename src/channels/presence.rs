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
    pub user_id: Arc<str>,
    /// The user id as raw JSON, so it goes back out in its original type.
    pub user_id_json: Box<str>,
    /// `user_info` as raw JSON, if any.
    pub user_info_json: Option<Box<str>>,
}

/// Why `channel_data` does not describe a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("channel_data must be a JSON object with a string or number user_id")]
pub struct InvalidMember;

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
    pub fn from_channel_data(channel_data: &str) -> Result<Self, InvalidMember> {
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
    pub fn as_ref(&self) -> MemberRef<'_> {
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
}

/// The members of one presence channel in join order.
#[derive(Debug, Default)]
pub struct PresenceRoster {
    members: IndexMap<Arc<str>, Entry>,
}

impl PresenceRoster {
    /// Records one more socket of `member`; `true` if the user is new here
    /// (the caller then announces `member_added`).
    pub fn join(&mut self, member: &Member) -> bool {
        match self.members.get_mut(&member.user_id) {
            Some(entry) => {
                entry.sockets += 1;
                false
            }
            None => {
                self.members.insert(
                    member.user_id.clone(),
                    Entry {
                        member: member.clone(),
                        sockets: 1,
                    },
                );
                true
            }
        }
    }

    /// Records one socket of `user_id` leaving; returns the member if it was
    /// the user's last socket (the caller then announces `member_removed`).
    pub fn leave(&mut self, user_id: &str) -> Option<Member> {
        let entry = self.members.get_mut(user_id)?;
        entry.sockets = entry.sockets.saturating_sub(1);
        if entry.sockets > 0 {
            return None;
        }
        self.members.shift_remove(user_id).map(|e| e.member)
    }

    /// Number of distinct users.
    pub fn user_count(&self) -> usize {
        self.members.len()
    }

    /// Members in join order.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values().map(|e| &e.member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(json: &str) -> Member {
        Member::from_channel_data(json).expect("valid member")
    }

    #[test]
    fn user_ids_compare_by_string_form() {
        let a = member(r#"{"user_id":1,"user_info":{"n":"a"}}"#);
        let b = member(r#"{"user_id":"1"}"#);
        assert_eq!(a.user_id, b.user_id);
        assert_eq!(&*a.user_id_json, "1");
        assert_eq!(&*b.user_id_json, "\"1\"");
        let mut roster = PresenceRoster::default();
        assert!(roster.join(&a));
        assert!(!roster.join(&b));
        assert_eq!(roster.user_count(), 1);
        assert_eq!(roster.leave("1"), None);
        assert_eq!(roster.leave("1").map(|m| m.user_id), Some(Arc::from("1")));
        assert_eq!(roster.user_count(), 0);
    }

    #[test]
    fn channel_data_without_user_id_is_refused() {
        for bad in [
            r#"{"user_info":{}}"#,
            "[]",
            "\"x\"",
            r#"{"user_id":""}"#,
            r#"{"user_id":{}}"#,
            "not json",
        ] {
            assert_eq!(Member::from_channel_data(bad), Err(InvalidMember), "{bad}");
        }
    }

    #[test]
    fn join_order_is_kept() {
        let mut roster = PresenceRoster::default();
        for id in ["3", "1", "2"] {
            roster.join(&member(&format!(r#"{{"user_id":"{id}"}}"#)));
        }
        let ids: Vec<&str> = roster.members().map(|m| &*m.user_id).collect();
        assert_eq!(ids, ["3", "1", "2"]);
    }
}
