//! Channel names and the kind of channel each prefix denotes.

use std::fmt;
use std::sync::Arc;

/// The longest channel name accepted (Pusher documents 164; soketi and
/// sockudo accept 200, which this server follows so no working name breaks).
pub(crate) const MAX_CHANNEL_NAME_LEN: usize = 200;

/// What a channel's prefix makes it: who may subscribe and whether its last
/// event is cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ChannelKind {
    /// Anyone may subscribe.
    Public,
    /// `private-`: subscription needs a signature over `socket_id:channel`.
    Private,
    /// `private-encrypted-`: like private, but payloads are end-to-end
    /// encrypted, so client events are refused.
    PrivateEncrypted,
    /// `presence-`: signed `channel_data` names the member.
    Presence,
    /// `#server-to-user-{id}`: only the socket signed in as `id` may subscribe.
    ServerToUser,
    /// Any other `#` name: reserved, never subscribable by a client.
    Reserved,
}

/// A validated channel name, cheap to clone (shared string).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(Arc<str>);

/// Why a channel name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelNameError {
    /// Empty names are never valid.
    #[error("channel name is empty")]
    Empty,
    /// Longer than `MAX_CHANNEL_NAME_LEN` (200) bytes.
    #[error("channel name is longer than {MAX_CHANNEL_NAME_LEN} characters")]
    TooLong,
    /// A character outside `[A-Za-z0-9_\-=@,.;]` (plus a leading `#`).
    #[error("channel name contains characters outside [A-Za-z0-9_-=@,.;]")]
    BadCharacter,
}

impl ChannelName {
    /// Validates `name` as Pusher does: `^#?[-a-zA-Z0-9_=@,.;]+$`, at most
    /// `MAX_CHANNEL_NAME_LEN` (200) bytes.
    ///
    /// # Errors
    /// [`ChannelNameError`] says which rule the name breaks.
    pub fn parse(name: &str) -> Result<Self, ChannelNameError> {
        if name.is_empty() {
            return Err(ChannelNameError::Empty);
        }
        if name.len() > MAX_CHANNEL_NAME_LEN {
            return Err(ChannelNameError::TooLong);
        }
        let body = name.strip_prefix('#').unwrap_or(name);
        if body.is_empty() || !body.bytes().all(is_channel_byte) {
            return Err(ChannelNameError::BadCharacter);
        }
        Ok(ChannelName(Arc::from(name)))
    }

    /// The name as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The kind of channel, from its prefix.
    pub(crate) fn kind(&self) -> ChannelKind {
        let n = self.as_str();
        if n.starts_with("#server-to-user-") && n.len() > "#server-to-user-".len() {
            ChannelKind::ServerToUser
        } else if n.starts_with('#') {
            ChannelKind::Reserved
        } else if n.starts_with("private-encrypted-") {
            ChannelKind::PrivateEncrypted
        } else if n.starts_with("private-") {
            ChannelKind::Private
        } else if n.starts_with("presence-") {
            ChannelKind::Presence
        } else {
            ChannelKind::Public
        }
    }

    /// Whether the channel keeps its last event for new subscribers
    /// (`cache-`, `private-cache-`, `private-encrypted-cache-`, `presence-cache-`).
    pub(crate) fn is_cache(&self) -> bool {
        let n = self.as_str();
        n.starts_with("cache-")
            || n.starts_with("private-cache-")
            || n.starts_with("private-encrypted-cache-")
            || n.starts_with("presence-cache-")
    }

    /// The user id of a `#server-to-user-{id}` channel.
    pub(crate) fn server_to_user_id(&self) -> Option<&str> {
        self.as_str()
            .strip_prefix("#server-to-user-")
            .filter(|id| !id.is_empty())
    }
}

fn is_channel_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'@' | b',' | b'.' | b';')
}

impl fmt::Debug for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests;
