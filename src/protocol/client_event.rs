//! Client → server frames: the text of a WebSocket message parsed into a
//! [`ClientEvent`].

use serde::Deserialize;
use serde_json::value::RawValue;

/// The longest event name accepted (soketi and sockudo use 200).
pub(crate) const MAX_EVENT_NAME_LEN: usize = 200;

/// One message from a client, as the connection acts on it.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// `pusher:ping`: answer with `pusher:pong`.
    Ping,
    /// `pusher:pong`: the client answered our ping; nothing to send.
    Pong,
    /// `pusher:subscribe`.
    Subscribe {
        /// The channel name as sent (validated later).
        channel: String,
        /// `"<key>:<hex signature>"` for private and presence channels.
        auth: Option<String>,
        /// Presence member data: the exact JSON *string* that was signed.
        channel_data: Option<String>,
    },
    /// `pusher:unsubscribe`.
    Unsubscribe {
        /// The channel to leave.
        channel: String,
    },
    /// `pusher:signin` (user authentication).
    Signin {
        /// `"<key>:<hex signature>"` over `socket_id::user::user_data`.
        auth: String,
        /// The exact JSON string that was signed; must hold a string `id`.
        user_data: String,
    },
    /// A `client-*` event to relay to the channel's other subscribers.
    Client {
        /// The event name, starting with `client-`.
        event: String,
        /// The channel to relay on.
        channel: String,
        /// The `data` JSON text exactly as received (`null` when absent).
        data: String,
    },
    /// Any other event name: ignored, as Reverb and Pusher do.
    Ignored,
}

/// Why a frame is not a valid Pusher message; every variant is answered with
/// `pusher:error` 4200 and the socket stays open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON, or not a JSON object.
    #[error("frame is not a JSON object")]
    NotJson,
    /// `event` missing or not a string.
    #[error("`event` must be a string")]
    EventNotString,
    /// An unknown `pusher:*` event.
    #[error("unsupported event `{0}`")]
    UnknownPusherEvent(String),
    /// A field has the wrong type or is missing.
    #[error("invalid `{0}` field")]
    InvalidField(&'static str),
    /// An event name over `MAX_EVENT_NAME_LEN` (200) bytes.
    #[error("event name is too long")]
    EventNameTooLong,
}

#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(borrow)]
    channel: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct SubscribeData {
    channel: Option<serde_json::Value>,
    auth: Option<serde_json::Value>,
    channel_data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct SigninData {
    auth: Option<serde_json::Value>,
    user_data: Option<serde_json::Value>,
}

impl ClientEvent {
    /// Parses one text frame.
    ///
    /// # Errors
    /// [`ParseError`] for anything that is not a well-formed Pusher message.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if !super::opens_object(text.as_bytes()) {
            return Err(ParseError::NotJson);
        }
        let frame: RawFrame<'_> = serde_json::from_str(text).map_err(|_| ParseError::NotJson)?;
        let event: String = frame
            .event
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .ok_or(ParseError::EventNotString)?;
        if event.len() > MAX_EVENT_NAME_LEN {
            return Err(ParseError::EventNameTooLong);
        }
        if let Some(name) = event.strip_prefix("pusher:") {
            return parse_pusher_event(name, &event, frame.data);
        }
        if !event.starts_with("client-") {
            return Ok(ClientEvent::Ignored);
        }
        let channel = frame
            .channel
            .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
            .ok_or(ParseError::InvalidField("channel"))?;
        let data = frame.data.map_or("null", RawValue::get).to_owned();
        Ok(ClientEvent::Client {
            event,
            channel,
            data,
        })
    }
}

fn parse_pusher_event(
    name: &str,
    event: &str,
    data: Option<&RawValue>,
) -> Result<ClientEvent, ParseError> {
    match name {
        "ping" => Ok(ClientEvent::Ping),
        "pong" => Ok(ClientEvent::Pong),
        "subscribe" | "unsubscribe" => {
            let d: SubscribeData = decode_data(data)?;
            let channel =
                string_field(d.channel, "channel")?.ok_or(ParseError::InvalidField("channel"))?;
            if name == "unsubscribe" {
                return Ok(ClientEvent::Unsubscribe { channel });
            }
            let auth = string_field(d.auth, "auth")?;
            let channel_data = string_field(d.channel_data, "channel_data")?;
            if let Some(cd) = &channel_data {
                if serde_json::from_str::<serde_json::Value>(cd).is_err() {
                    return Err(ParseError::InvalidField("channel_data"));
                }
            }
            Ok(ClientEvent::Subscribe {
                channel,
                auth,
                channel_data,
            })
        }
        "signin" => {
            let d: SigninData = decode_data(data)?;
            let auth = string_field(d.auth, "auth")?.ok_or(ParseError::InvalidField("auth"))?;
            let user_data = string_field(d.user_data, "user_data")?
                .ok_or(ParseError::InvalidField("user_data"))?;
            Ok(ClientEvent::Signin { auth, user_data })
        }
        _ => Err(ParseError::UnknownPusherEvent(event.to_owned())),
    }
}

/// Decodes `data` as an object, first unwrapping it if it was sent as a
/// JSON-encoded string (Reverb accepts both). Absent `data` is `{}`; an
/// array is refused (serde would read it field by field).
fn decode_data<T: for<'de> Deserialize<'de>>(data: Option<&RawValue>) -> Result<T, ParseError> {
    let text = data.map_or("{}", RawValue::get);
    let inner: String;
    let text = if text.starts_with('"') {
        inner = serde_json::from_str(text).map_err(|_| ParseError::InvalidField("data"))?;
        inner.as_str()
    } else {
        text
    };
    if !super::opens_object(text.as_bytes()) {
        return Err(ParseError::InvalidField("data"));
    }
    serde_json::from_str(text).map_err(|_| ParseError::InvalidField("data"))
}

/// A field that may be absent or null, but must be a string when present.
fn string_field(
    value: Option<serde_json::Value>,
    name: &'static str,
) -> Result<Option<String>, ParseError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ParseError::InvalidField(name)),
    }
}

#[cfg(test)]
mod tests;
