//! `POST /events` and `POST /batch_events`: publish through the adapter,
//! encoding each event once per channel and sharing the bytes with every
//! subscriber.

use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::queries::channel_info;
use super::{json, ApiError, Call, HttpResponse};
use crate::adapter::Reach;
use crate::config::AppConfig;
use crate::outbound::Frame;
use crate::protocol::{ChannelName, ServerEvent, SocketId};

#[derive(Deserialize)]
struct EventBody {
    name: Option<Value>,
    data: Option<Value>,
    channels: Option<Value>,
    channel: Option<Value>,
    socket_id: Option<Value>,
    info: Option<Value>,
}

#[derive(Deserialize)]
struct BatchBody {
    batch: Option<Vec<EventBody>>,
}

/// One validated event ready to publish.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) name: String,
    pub(crate) data: String,
    pub(crate) channels: Vec<ChannelName>,
    pub(crate) except: Option<SocketId>,
    pub(crate) info: Option<String>,
}

fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

fn optional_string(value: Option<Value>, field: &str) -> Result<Option<String>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(unprocessable(format!(
            "The {field} field must be a string."
        ))),
    }
}

impl Event {
    fn validate(body: EventBody, config: &AppConfig) -> Result<Event, ApiError> {
        let name = optional_string(body.name, "name")?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| unprocessable("The name field is required."))?;
        if name.len() > crate::protocol::client_event::MAX_EVENT_NAME_LEN {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Event name is too long (max 200 characters).",
            ));
        }
        // Pusher SDKs send `data` as a string; a JSON value is accepted and
        // encoded to one, so no publisher is refused for it.
        let data = match body.data {
            Some(Value::String(s)) => s,
            None | Some(Value::Null) => return Err(unprocessable("The data field is required.")),
            Some(other) => other.to_string(),
        };
        if config.max_event_payload.is_some_and(|max| data.len() > max) {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Event data is {} bytes; the limit is {} (max_event_payload).",
                    data.len(),
                    config.max_event_payload.unwrap_or_default()
                ),
            ));
        }
        let names: Vec<String> = match (body.channels, body.channel) {
            (Some(Value::Array(list)), _) => list
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(unprocessable(
                        "The channels field must be an array of strings.",
                    )),
                })
                .collect::<Result<_, _>>()?,
            (Some(_), _) => {
                return Err(unprocessable(
                    "The channels field must be an array of strings.",
                ))
            }
            (None, Some(Value::String(c))) => vec![c],
            (None, Some(_)) => return Err(unprocessable("The channel field must be a string.")),
            (None, None) => return Err(unprocessable("The channels field is required.")),
        };
        if names.is_empty() {
            return Err(unprocessable(
                "The channels field must name at least one channel.",
            ));
        }
        if names.len() > config.max_channels_per_event {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "Too many channels: {} (max_channels_per_event is {}).",
                    names.len(),
                    config.max_channels_per_event
                ),
            ));
        }
        let channels = names
            .iter()
            .map(|n| {
                ChannelName::parse(n).map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("Invalid channel name {n:?}: {e}."),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let except = match optional_string(body.socket_id, "socket_id")? {
            None => None,
            Some(s) => Some(SocketId::parse(&s).ok_or_else(|| {
                ApiError::new(StatusCode::BAD_REQUEST, format!("Invalid socket_id {s:?}."))
            })?),
        };
        let info = optional_string(body.info, "info")?;
        Ok(Event {
            name,
            data,
            channels,
            except,
            info,
        })
    }

    /// Publishes to every channel; returns whether any channel's delivery
    /// could not cross to other nodes.
    fn publish(&self, call: &Call<'_>) -> bool {
        let mut local_only = false;
        let mut text = String::with_capacity(self.data.len() + self.name.len() + 64);
        for channel in &self.channels {
            text.clear();
            ServerEvent::Published {
                event: &self.name,
                channel: channel.as_str(),
                data: &self.data,
            }
            .write_json(&mut text);
            let frame = Frame::from(text.as_str());
            let reach = call
                .node
                .adapter
                .publish(call.app, channel, &frame, self.except);
            local_only |= reach == Reach::LocalOnly;
        }
        local_only
    }

    async fn info(&self, call: &Call<'_>) -> Result<Value, ApiError> {
        let Some(info) = &self.info else {
            return Ok(Value::Object(Map::new()));
        };
        let mut channels = Map::new();
        for channel in &self.channels {
            channels.insert(
                channel.to_string(),
                channel_info(call, channel.as_str(), info, false).await?,
            );
        }
        Ok(Value::Object(channels))
    }
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    let invalid = |reason: String| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("The request body is not valid JSON: {reason}."),
        )
    };
    // serde's derived structs also read a JSON array, field by field; the
    // API takes objects only.
    if !body.trim_ascii().is_empty() && !crate::protocol::opens_object(body) {
        return Err(invalid("expected a JSON object".to_owned()));
    }
    serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))
}

/// The event of a `POST /events` body, validated against the app's limits.
///
/// # Errors
/// [`ApiError`] with the status the publisher is answered with.
pub(crate) fn read_event(body: &[u8], config: &AppConfig) -> Result<Event, ApiError> {
    Event::validate(parse(body)?, config)
}

/// The events of a `POST /batch_events` body, every one validated before
/// any is published.
///
/// # Errors
/// [`ApiError`] naming the first refused item (`batch[i]: …`).
pub(crate) fn read_batch(body: &[u8], config: &AppConfig) -> Result<Vec<Event>, ApiError> {
    let body: BatchBody = parse(body)?;
    let items = body
        .batch
        .ok_or_else(|| unprocessable("The batch field is required."))?;
    let max = config.max_batch_size;
    if items.len() > max {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "Batch too large: {} events (max_batch_size is {max}).",
                items.len()
            ),
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            Event::validate(item, config)
                .map_err(|e| ApiError::new(e.status, format!("batch[{i}]: {}", e.message)))
        })
        .collect()
}

fn published(local_only: bool, body: Value) -> HttpResponse {
    if local_only {
        // Delivered here, but the other nodes could not be reached.
        let mut body = body;
        if let Value::Object(map) = &mut body {
            map.insert(
                "error".to_owned(),
                Value::from("Delivered on this node only: the cluster transport is unavailable."),
            );
        }
        return json(StatusCode::SERVICE_UNAVAILABLE, body.to_string());
    }
    json(StatusCode::OK, body.to_string())
}

/// `POST /apps/{id}/events`.
pub(super) async fn trigger(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let event = read_event(&call.body, &call.app.config())?;
    let local_only = event.publish(call);
    let body = match &event.info {
        Some(_) => serde_json::json!({ "channels": event.info(call).await? }),
        None => Value::Object(Map::new()),
    };
    Ok(published(local_only, body))
}

/// `POST /apps/{id}/batch_events`.
pub(super) async fn trigger_batch(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    // Validate everything before publishing anything.
    let events = read_batch(&call.body, &call.app.config())?;
    let mut local_only = false;
    for event in &events {
        local_only |= event.publish(call);
    }
    let batch = if events.iter().any(|e| e.info.is_some()) {
        let mut list = Vec::with_capacity(events.len());
        for event in &events {
            let info = match (&event.info, event.channels.first()) {
                (Some(info), Some(channel)) => {
                    channel_info(call, channel.as_str(), info, false).await?
                }
                _ => Value::Object(Map::new()),
            };
            list.push(info);
        }
        Value::Array(list)
    } else {
        Value::Object(Map::new())
    };
    Ok(published(local_only, serde_json::json!({ "batch": batch })))
}

#[cfg(test)]
mod tests;
