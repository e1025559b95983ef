//! The webhook events, in Pusher's JSON (`{"name": "channel_occupied",
//! "channel": …}`), and the outbox entry that carries one to a target.

use serde::{Deserialize, Serialize};

use crate::config::WebhookEventKind;

/// One webhook event as Pusher documents it; `name` is the tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub(crate) enum WebhookEvent {
    /// The channel's first subscriber in the cluster arrived.
    ChannelOccupied {
        /// The channel.
        channel: String,
    },
    /// The channel's last subscriber in the cluster left.
    ChannelVacated {
        /// The channel.
        channel: String,
    },
    /// A user's first socket in the cluster joined a presence channel.
    MemberAdded {
        /// The presence channel.
        channel: String,
        /// The user.
        user_id: String,
    },
    /// A user's last socket in the cluster left a presence channel.
    MemberRemoved {
        /// The presence channel.
        channel: String,
        /// The user.
        user_id: String,
    },
    /// A client event was relayed.
    ClientEvent {
        /// The channel.
        channel: String,
        /// The event name (`client-…`).
        event: String,
        /// The event's data as a string: a string the client sent as is,
        /// anything else as its JSON text.
        data: String,
        /// The sender.
        socket_id: String,
        /// The sender's user id, on presence channels.
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
    },
    /// A cache channel was subscribed to while it held no event.
    CacheMiss {
        /// The channel.
        channel: String,
    },
    /// The channel's subscription count changed.
    SubscriptionCount {
        /// The channel.
        channel: String,
        /// Subscriptions in the cluster after the change.
        subscription_count: usize,
    },
}

impl WebhookEvent {
    /// The event's JSON object.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("plain strings serialise"))
    }
}

/// The two fields of a stored event that route it to targets.
#[derive(Debug, Deserialize)]
pub(crate) struct Routing {
    /// The event kind.
    pub(crate) name: WebhookEventKind,
    /// The channel.
    pub(crate) channel: String,
}

/// One event waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Where the outbox keeps it (a Redis stream id, or a local sequence
    /// number); acknowledged by this.
    #[serde(skip)]
    pub(crate) key: String,
    /// The app whose targets receive it.
    pub(crate) app_id: String,
    /// The idempotency id receivers deduplicate on; it survives retries,
    /// restarts and a takeover by another node.
    pub(crate) id: String,
    /// The event's JSON object, without the id.
    pub(crate) event: String,
}

impl Entry {
    /// Where the entry goes, or `None` when the stored event is not one
    /// of ours (it is then acknowledged and dropped).
    pub(crate) fn routing(&self) -> Option<Routing> {
        // An array would be read field by field and route, with no body.
        if !crate::protocol::opens_object(self.event.as_bytes()) {
            return None;
        }
        serde_json::from_str(&self.event).ok()
    }

    /// The event's JSON with the idempotency id as its first field, as it
    /// appears in the request body. JSON whitespace before the object is
    /// dropped: such an entry routes, so it must not lose its body.
    pub(crate) fn with_id(&self) -> Option<String> {
        let json_whitespace: &[char] = &[' ', '\t', '\n', '\r'];
        let rest = self
            .event
            .trim_start_matches(json_whitespace)
            .strip_prefix('{')?;
        if !rest.trim_start().starts_with('"') {
            return None;
        }
        let id = serde_json::to_string(&self.id).ok()?;
        Some(format!("{{\"id\":{id},{rest}"))
    }
}
