//! A presence member's view of the channel's roster, kept the way pusher-js
//! keeps it: replaced by `subscription_succeeded`'s `presence.hash` (and
//! `ids`), then updated by `member_added` / `member_removed`. Bench user ids
//! are `u{index}`, so a roster is a bitmap over member indices.

use std::time::Duration;

use super::scan;

/// A member's roster and the anomalies seen while building it.
#[derive(Debug, Clone)]
pub(crate) struct Roster {
    bits: Vec<u64>,
    len: usize,
    members: usize,
    /// Time from joining until the roster first held every member.
    pub completed_after: Option<Duration>,
    /// `member_added` for a user already present.
    pub duplicate_added: u64,
    /// `member_removed` events received.
    pub removed: u64,
    /// User ids that are not bench members.
    pub foreign: u64,
}

/// What a frame did to a roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// `subscription_succeeded`: roster replaced.
    Succeeded,
    /// `member_added`.
    Added,
    /// `member_removed`.
    Removed,
    /// Any other frame.
    Other,
}

impl Roster {
    /// An empty roster for a channel of `members` bench members.
    pub(crate) fn new(members: usize) -> Self {
        Self {
            bits: vec![0; members.div_ceil(64)],
            len: 0,
            members,
            completed_after: None,
            duplicate_added: 0,
            removed: 0,
            foreign: 0,
        }
    }

    /// A roster holding exactly `indices`.
    pub(crate) fn from_indices(members: usize, indices: &[usize]) -> Self {
        let mut r = Self::new(members);
        indices.iter().for_each(|i| {
            r.insert(*i);
        });
        r
    }

    /// Adds member `i`; false if already present or out of range.
    pub(crate) fn insert(&mut self, i: usize) -> bool {
        if i >= self.members || self.bits[i / 64] & (1 << (i % 64)) != 0 {
            return false;
        }
        self.bits[i / 64] |= 1 << (i % 64);
        self.len += 1;
        true
    }

    /// Removes member `i`; false if absent.
    pub(crate) fn remove(&mut self, i: usize) -> bool {
        if i >= self.members || self.bits[i / 64] & (1 << (i % 64)) == 0 {
            return false;
        }
        self.bits[i / 64] &= !(1 << (i % 64));
        self.len -= 1;
        true
    }

    /// Members present.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// (entries of `expected` missing here, entries here not in `expected`).
    pub(crate) fn diff(&self, expected: &Roster) -> (u64, u64) {
        self.bits
            .iter()
            .zip(&expected.bits)
            .fold((0, 0), |(miss, extra), (have, want)| {
                (
                    miss + u64::from((want & !have).count_ones()),
                    extra + u64::from((have & !want).count_ones()),
                )
            })
    }

    fn clear(&mut self) {
        self.bits.iter_mut().for_each(|w| *w = 0);
        self.len = 0;
    }

    fn add_id(&mut self, id: &str) -> bool {
        match user_index(id) {
            Some(i) if i < self.members => self.insert(i),
            _ => {
                self.foreign += 1;
                false
            }
        }
    }
}

/// The presence `channel_data` of member `i`.
pub(crate) fn channel_data(i: usize) -> String {
    format!(r#"{{"user_id":"u{i}","user_info":{{"n":{i}}}}}"#)
}

/// Member index of bench user id `u{i}`.
pub(crate) fn user_index(id: &str) -> Option<usize> {
    id.strip_prefix('u')?.parse().ok()
}

/// The `user_id` value in a member_added/removed frame, found by scanning
/// (the `data` string holds `\"user_id\":\"u12\"`).
fn scan_user_id(frame: &str) -> Option<&str> {
    let at = frame.find("user_id")? + "user_id".len();
    let rest = frame[at..].trim_start_matches(['\\', '"', ':', ' ']);
    let end = rest.find(['\\', '"', ',', '}'])?;
    Some(&rest[..end])
}

/// Ids in a `subscription_succeeded` frame: `presence.hash` keys and
/// `presence.ids` (strings or numbers).
fn succeeded_ids(frame: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(frame) else {
        return Vec::new();
    };
    let data = match &v["data"] {
        serde_json::Value::String(s) => serde_json::from_str(s).unwrap_or_default(),
        other => other.clone(),
    };
    let presence = &data["presence"];
    let mut ids: Vec<String> = presence["hash"]
        .as_object()
        .map(|h| h.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(list) = presence["ids"].as_array() {
        ids.extend(list.iter().map(|id| match id {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }));
    }
    ids
}

/// Applies one received frame to `roster`.
pub(crate) fn apply(roster: &mut Roster, frame: &str) -> Applied {
    match scan::event_name(frame) {
        Some("pusher_internal:subscription_succeeded") => {
            roster.clear();
            for id in succeeded_ids(frame) {
                // hash keys and ids name the same users: no double counting.
                match user_index(&id) {
                    Some(i) if i < roster.members => {
                        roster.insert(i);
                    }
                    _ => roster.foreign += 1,
                }
            }
            Applied::Succeeded
        }
        Some("pusher_internal:member_added") => {
            match scan_user_id(frame) {
                Some(id) => {
                    let known = user_index(id).is_some_and(|i| i < roster.members);
                    if !roster.add_id(id) && known {
                        roster.duplicate_added += 1;
                    }
                }
                None => roster.foreign += 1,
            }
            Applied::Added
        }
        Some("pusher_internal:member_removed") => {
            roster.removed += 1;
            if let Some(i) = scan_user_id(frame).and_then(user_index) {
                roster.remove(i);
            }
            Applied::Removed
        }
        _ => Applied::Other,
    }
}

#[cfg(test)]
mod tests;
