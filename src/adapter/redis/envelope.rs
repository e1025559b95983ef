//! The messages nodes exchange over the Redis pub/sub channel. JSON, one
//! message per `PUBLISH`, every message tagged with the sender's node id.

use serde::{Deserialize, Serialize};

use crate::apps::history::EventId;
use crate::channels::Member;

/// A presence member on the wire.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireMember {
    /// The user id's string form.
    pub id: String,
    /// The user id as raw JSON.
    #[serde(rename = "j")]
    pub id_json: String,
    /// `user_info` as raw JSON.
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub info_json: Option<String>,
}

impl From<&Member> for WireMember {
    fn from(m: &Member) -> Self {
        WireMember {
            id: m.user_id.to_string(),
            id_json: m.user_id_json.to_string(),
            info_json: m.user_info_json.as_deref().map(str::to_owned),
        }
    }
}

impl From<WireMember> for Member {
    fn from(w: WireMember) -> Self {
        Member {
            user_id: w.id.into(),
            user_id_json: w.id_json.into(),
            user_info_json: w.info_json.map(Into::into),
        }
    }
}

/// A cluster-wide question.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "k", rename_all = "snake_case")]
pub(crate) enum Query {
    /// Occupied channels with a name prefix.
    Channels {
        /// The prefix.
        prefix: String,
    },
    /// One channel's subscription count.
    Channel {
        /// The channel.
        name: String,
    },
    /// Live sockets.
    Connections,
}

/// One node's answer to a [`Query`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "k", rename_all = "snake_case")]
pub(crate) enum Answer {
    /// `(channel, local subscription count)` pairs.
    Channels {
        /// The node's occupied channels.
        list: Vec<(String, usize)>,
    },
    /// The node's subscription count, `None` when unoccupied there.
    Channel {
        /// The count.
        count: Option<usize>,
    },
    /// The node's live sockets.
    Connections {
        /// The count.
        count: usize,
    },
}

/// Every message between nodes, tagged `t`. Field names are short on the
/// wire (`n` node, `a` app, `c` channel, …): every event crosses Redis once
/// per node, and nodes of the previous release read the same bytes.
/// A node ignores its own messages (it delivered locally before publishing).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(crate) enum Envelope {
    /// An encoded event for a channel's subscribers, except one socket.
    Event {
        /// Sender node.
        #[serde(rename = "n")]
        node: u64,
        /// App id.
        #[serde(rename = "a")]
        app: String,
        /// Channel.
        #[serde(rename = "c")]
        channel: String,
        /// Excluded socket id.
        #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
        except: Option<String>,
        /// The frame text, ready to send.
        #[serde(rename = "f")]
        frame: String,
    },
    /// Close every socket of a user.
    Terminate {
        /// Sender node.
        #[serde(rename = "n")]
        node: u64,
        /// App id.
        #[serde(rename = "a")]
        app: String,
        /// User id.
        #[serde(rename = "u")]
        user: String,
    },
    /// A user's first socket on the sender joined a presence channel.
    Join {
        /// Sender node.
        #[serde(rename = "n")]
        node: u64,
        /// App id.
        #[serde(rename = "a")]
        app: String,
        /// Channel.
        #[serde(rename = "c")]
        channel: String,
        /// The member.
        #[serde(rename = "m")]
        member: WireMember,
    },
    /// A user's last socket on the sender left a presence channel.
    Leave {
        /// Sender node.
        #[serde(rename = "n")]
        node: u64,
        /// App id.
        #[serde(rename = "a")]
        app: String,
        /// Channel.
        #[serde(rename = "c")]
        channel: String,
        /// User id.
        #[serde(rename = "u")]
        user: String,
    },
    /// The sender's complete presence state; replaces what it said before.
    State {
        /// Sender node.
        #[serde(rename = "n")]
        node: u64,
        /// `(app id, channel, member)` for every local member.
        #[serde(rename = "p")]
        presence: Vec<(String, String, WireMember)>,
    },
    /// Asks every node to publish its `State`.
    Sync {
        /// Sender node.
        #[serde(rename = "n")]
        node: u64,
    },
    /// The sender is alive.
    Heartbeat {
        /// Sender node.
        #[serde(rename = "n")]
        node: u64,
    },
    /// The sender is shutting down: forget its members now.
    Bye {
        /// Sender node.
        #[serde(rename = "n")]
        node: u64,
    },
    /// A scatter-gather question.
    Query {
        /// Sender node.
        #[serde(rename = "n")]
        node: u64,
        /// Query id, unique per sender.
        id: u64,
        /// App id.
        #[serde(rename = "a")]
        app: String,
        /// The question.
        #[serde(rename = "q")]
        query: Query,
    },
    /// An answer to node `to`'s query `id`.
    Reply {
        /// Sender node.
        #[serde(rename = "n")]
        node: u64,
        /// The asking node.
        to: u64,
        /// Its query id.
        id: u64,
        /// The answer.
        #[serde(rename = "r")]
        answer: Answer,
    },
    // Online status (watchlists). Nodes of a release without watchlists
    // cannot parse these tags and skip them (logged at debug level).
    /// A user's first signed-in socket on the sender.
    Online {
        /// Sender node.
        #[serde(rename = "n")]
        node: u64,
        /// App id.
        #[serde(rename = "a")]
        app: String,
        /// User id.
        #[serde(rename = "u")]
        user: String,
    },
    /// A user's last signed-in socket on the sender closed.
    Offline {
        /// Sender node.
        #[serde(rename = "n")]
        node: u64,
        /// App id.
        #[serde(rename = "a")]
        app: String,
        /// User id.
        #[serde(rename = "u")]
        user: String,
    },
    /// Every user signed in on the sender for one app; replaces what the
    /// sender said before about that app. Sent with `State`.
    SignedIn {
        /// Sender node.
        #[serde(rename = "n")]
        node: u64,
        /// App id.
        #[serde(rename = "a")]
        app: String,
        /// User ids.
        #[serde(rename = "u", default)]
        users: Vec<String>,
    },
}

impl Envelope {
    /// The sender's node id.
    pub(crate) fn sender(&self) -> u64 {
        match self {
            Envelope::Event { node, .. }
            | Envelope::Terminate { node, .. }
            | Envelope::Join { node, .. }
            | Envelope::Leave { node, .. }
            | Envelope::State { node, .. }
            | Envelope::Sync { node }
            | Envelope::Heartbeat { node }
            | Envelope::Bye { node }
            | Envelope::Query { node, .. }
            | Envelope::Reply { node, .. }
            | Envelope::Online { node, .. }
            | Envelope::Offline { node, .. }
            | Envelope::SignedIn { node, .. } => *node,
        }
    }
}

/// Reads one message of the pub/sub channel: an envelope, or an event
/// prefixed with the id the app's history stream gave it
/// (`h{MS-SEQ} {envelope}`). A prefix whose id does not parse leaves the
/// id out, and the envelope after it is read as a plain one.
///
/// # Errors
/// The JSON error when the envelope does not parse.
pub(crate) fn decode(payload: &str) -> Result<(Option<EventId>, Envelope), serde_json::Error> {
    let (id, text) = match payload.strip_prefix('h').and_then(|p| p.split_once(' ')) {
        Some((id, text)) => (EventId::parse(id), text),
        None => (None, payload),
    };
    serde_json::from_str::<Envelope>(text).map(|envelope| (id, envelope))
}

#[cfg(test)]
mod tests;
