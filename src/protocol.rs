//! The Pusher Channels wire protocol, version 7, with no IO.
//!
//! Everything in here is pure: it turns the text of a client frame into a
//! [`ClientEvent`], turns a [`ServerEvent`] into the exact text a Pusher client
//! expects, classifies channel names, mints socket ids and names the error and
//! close codes. It depends on serde and serde_json only, never on tokio, hyper,
//! tungstenite or redis, so it can be tested and fuzzed in isolation.

pub(crate) mod channel_name;
pub(crate) mod client_event;
pub(crate) mod codes;
pub(crate) mod server_event;
pub(crate) mod socket_id;

#[cfg(test)]
mod tests;

pub(crate) use channel_name::ChannelKind;
pub use channel_name::{ChannelName, ChannelNameError};
pub use client_event::{ClientEvent, ParseError};
pub use codes::ErrorCode;
pub use server_event::{MemberRef, ServerEvent};
pub use socket_id::SocketId;

/// Whether JSON `text` is an object rather than an array: serde's derived
/// structs read both (an array field by field), and every message of the
/// protocol is an object. Only the first token is looked at; the parse
/// that follows checks the rest.
pub(crate) fn opens_object(text: &[u8]) -> bool {
    text.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|b| *b == b'{')
}

/// The protocol version this server speaks (`?protocol=7`).
pub const PROTOCOL_VERSION: u8 = 7;
