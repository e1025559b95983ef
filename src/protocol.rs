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

/// The protocol version this server speaks (`?protocol=7`).
pub const PROTOCOL_VERSION: u8 = 7;
