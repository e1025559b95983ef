//! Server → client frames, encoded to the exact text Pusher clients expect.
//!
//! Pusher's quirks are kept: `data` of `pusher:*` and `pusher_internal:*`
//! events is a JSON-*encoded string*, a published event's `data` string is
//! passed through verbatim (as a JSON string), and a relayed client event's
//! `data` stays the JSON value the sender sent.

use std::sync::Arc;

use super::codes::ErrorCode;
use super::socket_id::SocketId;

/// One member of a presence roster, as the wire needs it.
#[derive(Debug, Clone, Copy)]
pub struct MemberRef<'a> {
    /// The `user_id` as raw JSON (`"1"` or `1`), kept in its original type.
    pub user_id_json: &'a str,
    /// The user id's string form, used as the `hash` key.
    pub user_id: &'a str,
    /// `user_info` as raw JSON, `None` when the member sent none.
    pub user_info_json: Option<&'a str>,
}

/// A frame the server sends. Borrowed, so building one never copies payloads.
#[derive(Debug, Clone, Copy)]
pub enum ServerEvent<'a> {
    /// First frame on every accepted socket.
    ConnectionEstablished {
        /// The new socket's id.
        socket_id: SocketId,
        /// Seconds of silence after which the client should ping.
        activity_timeout: u64,
    },
    /// `pusher:error` with a code and message.
    Error(ErrorCode),
    /// `pusher:pong`, the answer to `pusher:ping`.
    Pong,
    /// `pusher:ping`, sent to a silent socket.
    Ping,
    /// `pusher_internal:subscription_succeeded` for a non-presence channel.
    SubscriptionSucceeded {
        /// The channel subscribed to.
        channel: &'a str,
    },
    /// `pusher_internal:subscription_succeeded` for a presence channel.
    PresenceSubscriptionSucceeded {
        /// The channel subscribed to.
        channel: &'a str,
        /// Every member, unique by user id, in join order.
        members: &'a [MemberRef<'a>],
    },
    /// `pusher_internal:member_added`.
    MemberAdded {
        /// The presence channel.
        channel: &'a str,
        /// The member that joined.
        member: MemberRef<'a>,
    },
    /// `pusher_internal:member_removed`.
    MemberRemoved {
        /// The presence channel.
        channel: &'a str,
        /// The raw JSON user id of the member that left.
        user_id_json: &'a str,
    },
    /// `pusher:cache_miss`: a cache channel has no cached event.
    CacheMiss {
        /// The cache channel.
        channel: &'a str,
    },
    /// `pusher_internal:subscription_count` (per-app opt-in).
    SubscriptionCount {
        /// The channel whose count changed.
        channel: &'a str,
        /// The new number of subscriptions.
        count: usize,
    },
    /// `pusher:signin_success` with the user data that was signed.
    SigninSuccess {
        /// The `user_data` string exactly as the client sent it.
        user_data: &'a str,
    },
    /// `pusher_internal:watchlist_events`: users of the socket's watchlist
    /// that came online or went offline. No channel: it concerns the
    /// signed-in connection. An empty list is left out of `events`.
    WatchlistEvents {
        /// User ids now online.
        online: &'a [Arc<str>],
        /// User ids now offline.
        offline: &'a [Arc<str>],
    },
    /// An event published through the HTTP API; `data` is the publisher's
    /// string, sent as a JSON string.
    Published {
        /// Event name.
        event: &'a str,
        /// Channel name.
        channel: &'a str,
        /// The publisher's `data` string, verbatim.
        data: &'a str,
    },
    /// A relayed `client-*` event; `data_json` is raw JSON.
    ClientRelay {
        /// Event name (`client-…`).
        event: &'a str,
        /// Channel name.
        channel: &'a str,
        /// The sender's `data`, raw JSON.
        data_json: &'a str,
        /// The sender's presence user id, when it has one on this channel.
        user_id: Option<&'a str>,
    },
}

impl ServerEvent<'_> {
    /// Encodes the frame to its wire text.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(96);
        self.write_json(&mut out);
        out
    }

    /// Appends the frame's wire text to `out`.
    pub(crate) fn write_json(&self, out: &mut String) {
        match *self {
            ServerEvent::ConnectionEstablished {
                socket_id,
                activity_timeout,
            } => {
                let data = format!(
                    "{{\"socket_id\":\"{socket_id}\",\"activity_timeout\":{activity_timeout}}}"
                );
                frame(out, "pusher:connection_established", None, Some(&data));
            }
            ServerEvent::Error(code) => {
                let mut data = String::with_capacity(64);
                data.push_str("{\"code\":");
                data.push_str(&code.code().to_string());
                data.push_str(",\"message\":");
                push_json_str(&mut data, code.message());
                data.push('}');
                frame(out, "pusher:error", None, Some(&data));
            }
            ServerEvent::Pong => frame(out, "pusher:pong", None, None),
            ServerEvent::Ping => frame(out, "pusher:ping", None, None),
            ServerEvent::SubscriptionSucceeded { channel } => frame(
                out,
                "pusher_internal:subscription_succeeded",
                Some(channel),
                Some("{}"),
            ),
            ServerEvent::PresenceSubscriptionSucceeded { channel, members } => {
                let mut data = String::with_capacity(64 + members.len() * 48);
                data.push_str("{\"presence\":{\"count\":");
                data.push_str(&members.len().to_string());
                data.push_str(",\"ids\":[");
                for (i, m) in members.iter().enumerate() {
                    if i > 0 {
                        data.push(',');
                    }
                    data.push_str(m.user_id_json);
                }
                data.push_str("],\"hash\":{");
                for (i, m) in members.iter().enumerate() {
                    if i > 0 {
                        data.push(',');
                    }
                    push_json_str(&mut data, m.user_id);
                    data.push(':');
                    data.push_str(m.user_info_json.unwrap_or("null"));
                }
                data.push_str("}}}");
                frame(
                    out,
                    "pusher_internal:subscription_succeeded",
                    Some(channel),
                    Some(&data),
                );
            }
            ServerEvent::MemberAdded { channel, member } => {
                let mut data = String::with_capacity(48);
                data.push_str("{\"user_id\":");
                data.push_str(member.user_id_json);
                data.push_str(",\"user_info\":");
                data.push_str(member.user_info_json.unwrap_or("null"));
                data.push('}');
                frame(
                    out,
                    "pusher_internal:member_added",
                    Some(channel),
                    Some(&data),
                );
            }
            ServerEvent::MemberRemoved {
                channel,
                user_id_json,
            } => {
                let data = format!("{{\"user_id\":{user_id_json}}}");
                frame(
                    out,
                    "pusher_internal:member_removed",
                    Some(channel),
                    Some(&data),
                );
            }
            ServerEvent::CacheMiss { channel } => {
                frame(out, "pusher:cache_miss", Some(channel), None)
            }
            ServerEvent::SubscriptionCount { channel, count } => {
                let data = format!("{{\"subscription_count\":{count}}}");
                frame(
                    out,
                    "pusher_internal:subscription_count",
                    Some(channel),
                    Some(&data),
                );
            }
            ServerEvent::SigninSuccess { user_data } => {
                let mut data = String::with_capacity(user_data.len() + 24);
                data.push_str("{\"user_data\":");
                push_json_str(&mut data, user_data);
                data.push('}');
                frame(out, "pusher:signin_success", None, Some(&data));
            }
            ServerEvent::WatchlistEvents { online, offline } => {
                let mut data = String::with_capacity(64);
                data.push_str("{\"events\":[");
                for (name, user_ids) in [("online", online), ("offline", offline)] {
                    if user_ids.is_empty() {
                        continue;
                    }
                    if !data.ends_with('[') {
                        data.push(',');
                    }
                    data.push_str("{\"name\":\"");
                    data.push_str(name);
                    data.push_str("\",\"user_ids\":[");
                    for (i, user_id) in user_ids.iter().enumerate() {
                        if i > 0 {
                            data.push(',');
                        }
                        push_json_str(&mut data, user_id);
                    }
                    data.push_str("]}");
                }
                data.push_str("]}");
                frame(out, "pusher_internal:watchlist_events", None, Some(&data));
            }
            ServerEvent::Published {
                event,
                channel,
                data,
            } => frame(out, event, Some(channel), Some(data)),
            ServerEvent::ClientRelay {
                event,
                channel,
                data_json,
                user_id,
            } => {
                out.push_str("{\"event\":");
                push_json_str(out, event);
                out.push_str(",\"channel\":");
                push_json_str(out, channel);
                out.push_str(",\"data\":");
                out.push_str(data_json);
                if let Some(user_id) = user_id {
                    out.push_str(",\"user_id\":");
                    push_json_str(out, user_id);
                }
                out.push('}');
            }
        }
    }
}

/// `{"event":E[,"channel":C][,"data":"<data as a JSON string>"]}`.
fn frame(out: &mut String, event: &str, channel: Option<&str>, data: Option<&str>) {
    out.push_str("{\"event\":");
    push_json_str(out, event);
    if let Some(channel) = channel {
        out.push_str(",\"channel\":");
        push_json_str(out, channel);
    }
    if let Some(data) = data {
        out.push_str(",\"data\":");
        push_json_str(out, data);
    }
    out.push('}');
}

/// Appends `s` as a JSON string literal (quotes and escapes included),
/// exactly as serde_json writes it.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    // Serializing a `&str` cannot fail.
    if let Ok(json) = serde_json::to_string(s) {
        out.push_str(&json);
    }
}

#[cfg(test)]
mod tests;
