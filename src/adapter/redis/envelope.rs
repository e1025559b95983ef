//! The messages nodes exchange over the Redis pub/sub channel. JSON, one
//! message per `PUBLISH`, every message tagged with the sender's node id.

use serde::{Deserialize, Serialize};

use crate::channels::Member;

/// A presence member on the wire.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireMember {
    /// The user id's string form.
    pub id: String,
    /// The user id as raw JSON.
    pub j: String,
    /// `user_info` as raw JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub i: Option<String>,
}

impl From<&Member> for WireMember {
    fn from(m: &Member) -> Self {
        WireMember {
            id: m.user_id.to_string(),
            j: m.user_id_json.to_string(),
            i: m.user_info_json.as_deref().map(str::to_owned),
        }
    }
}

impl From<WireMember> for Member {
    fn from(w: WireMember) -> Self {
        Member {
            user_id: w.id.into(),
            user_id_json: w.j.into(),
            user_info_json: w.i.map(Into::into),
        }
    }
}

/// A cluster-wide question.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Query {
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
pub enum Answer {
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

/// Every message between nodes. `n` is the sender's node id; a node ignores
/// its own messages (it delivered locally before publishing).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Envelope {
    /// An encoded event for a channel's subscribers, except one socket.
    Event {
        /// Sender node.
        n: u64,
        /// App id.
        a: String,
        /// Channel.
        c: String,
        /// Excluded socket id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        x: Option<String>,
        /// The frame text, ready to send.
        f: String,
    },
    /// Close every socket of a user.
    Terminate {
        /// Sender node.
        n: u64,
        /// App id.
        a: String,
        /// User id.
        u: String,
    },
    /// A user's first socket on the sender joined a presence channel.
    Join {
        /// Sender node.
        n: u64,
        /// App id.
        a: String,
        /// Channel.
        c: String,
        /// The member.
        m: WireMember,
    },
    /// A user's last socket on the sender left a presence channel.
    Leave {
        /// Sender node.
        n: u64,
        /// App id.
        a: String,
        /// Channel.
        c: String,
        /// User id.
        u: String,
    },
    /// The sender's complete presence state; replaces what it said before.
    State {
        /// Sender node.
        n: u64,
        /// `(app id, channel, member)` for every local member.
        p: Vec<(String, String, WireMember)>,
    },
    /// Asks every node to publish its `State`.
    Sync {
        /// Sender node.
        n: u64,
    },
    /// The sender is alive.
    Heartbeat {
        /// Sender node.
        n: u64,
    },
    /// The sender is shutting down: forget its members now.
    Bye {
        /// Sender node.
        n: u64,
    },
    /// A scatter-gather question.
    Query {
        /// Sender node.
        n: u64,
        /// Query id, unique per sender.
        id: u64,
        /// App id.
        a: String,
        /// The question.
        q: Query,
    },
    /// An answer to node `to`'s query `id`.
    Reply {
        /// Sender node.
        n: u64,
        /// The asking node.
        to: u64,
        /// Its query id.
        id: u64,
        /// The answer.
        r: Answer,
    },
}

impl Envelope {
    /// The sender's node id.
    pub fn sender(&self) -> u64 {
        match self {
            Envelope::Event { n, .. }
            | Envelope::Terminate { n, .. }
            | Envelope::Join { n, .. }
            | Envelope::Leave { n, .. }
            | Envelope::State { n, .. }
            | Envelope::Sync { n }
            | Envelope::Heartbeat { n }
            | Envelope::Bye { n }
            | Envelope::Query { n, .. }
            | Envelope::Reply { n, .. } => *n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_envelope_round_trips() {
        let e = Envelope::Event {
            n: 7,
            a: "app".to_owned(),
            c: "orders".to_owned(),
            x: Some("1.2".to_owned()),
            f: r#"{"event":"e","channel":"orders","data":"{}"}"#.to_owned(),
        };
        let text = serde_json::to_string(&e).expect("serialise");
        assert!(text.starts_with(r#"{"t":"event","n":7"#), "{text}");
        assert_eq!(serde_json::from_str::<Envelope>(&text).expect("parse"), e);
    }

    #[test]
    fn member_survives_the_wire() {
        let m = Member::from_channel_data(r#"{"user_id":5,"user_info":{"a":1}}"#).expect("member");
        let back: Member = WireMember::from(&m).into();
        assert_eq!(back, m);
    }
}
