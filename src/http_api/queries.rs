//! The read side of the HTTP API: channels, one channel, presence users,
//! connections, and `terminate_connections`. Answers come from the adapter,
//! so with several nodes they cover the whole cluster.

use hyper::StatusCode;
use serde_json::{Map, Value};

use super::{json, ApiError, Call, HttpResponse};
use crate::adapter::{AdapterError, Reach};
use crate::protocol::{ChannelKind, ChannelName};

impl From<AdapterError> for ApiError {
    fn from(e: AdapterError) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

fn wants(info: &str, attribute: &str) -> bool {
    info.split(',').any(|a| a.trim() == attribute)
}

fn is_presence(channel: &str) -> bool {
    ChannelName::parse(channel).is_ok_and(|c| c.kind() == ChannelKind::Presence)
}

/// The requested attributes of one channel: `user_count` for presence
/// channels, `subscription_count` for others, `occupied` and `cache` when
/// asked (`occupied` always with `always_occupied`).
pub(super) async fn channel_info(
    call: &Call<'_>,
    channel: &str,
    info: &str,
    always_occupied: bool,
) -> Result<Value, ApiError> {
    let stats = call.node.adapter.channel(call.app, channel).await?;
    let mut out = Map::new();
    if always_occupied || wants(info, "occupied") {
        out.insert("occupied".to_owned(), Value::Bool(stats.is_some()));
    }
    if let Some(stats) = stats {
        if is_presence(channel) {
            if wants(info, "user_count") {
                out.insert(
                    "user_count".to_owned(),
                    Value::from(stats.user_count.unwrap_or(0)),
                );
            }
        } else if wants(info, "subscription_count") {
            out.insert(
                "subscription_count".to_owned(),
                Value::from(stats.subscription_count),
            );
        }
    }
    if wants(info, "cache") {
        let cached = match ChannelName::parse(channel) {
            Ok(name) => call.node.adapter.cached(call.app, &name).await,
            Err(_) => None,
        };
        if let Some(frame) = cached {
            if let Ok(cached) = serde_json::from_str::<Value>(frame.as_str()) {
                out.insert("cache".to_owned(), cached);
            }
        }
    }
    Ok(Value::Object(out))
}

/// `GET /apps/{id}/channels[?filter_by_prefix=…&info=…]`.
pub(super) async fn channels(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let prefix = call.param("filter_by_prefix").unwrap_or_default();
    let info = call.param("info").unwrap_or_default();
    let mut channels = Map::new();
    for (name, stats) in call.node.adapter.channels(call.app, prefix).await? {
        let mut attrs = Map::new();
        if name.kind() == ChannelKind::Presence {
            if wants(info, "user_count") {
                attrs.insert(
                    "user_count".to_owned(),
                    Value::from(stats.user_count.unwrap_or(0)),
                );
            }
        } else if wants(info, "subscription_count") {
            attrs.insert(
                "subscription_count".to_owned(),
                Value::from(stats.subscription_count),
            );
        }
        channels.insert(name.to_string(), Value::Object(attrs));
    }
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "channels": channels }).to_string(),
    ))
}

/// `GET /apps/{id}/channels/{channel}[?info=…]`.
pub(super) async fn channel(call: &Call<'_>, channel: &str) -> Result<HttpResponse, ApiError> {
    let info = call.param("info").unwrap_or_default();
    let body = channel_info(call, channel, info, true).await?;
    Ok(json(StatusCode::OK, body.to_string()))
}

/// `GET /apps/{id}/channels/{channel}/users`.
pub(super) async fn users(call: &Call<'_>, channel: &str) -> Result<HttpResponse, ApiError> {
    if !is_presence(channel) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Users can only be listed for presence channels.",
        ));
    }
    let members = call
        .node
        .adapter
        .members(call.app, channel)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("Channel {channel} is not occupied."),
            )
        })?;
    let users: Vec<Value> = members
        .iter()
        .map(|m| {
            let id = serde_json::from_str::<Value>(&m.user_id_json)
                .unwrap_or_else(|_| Value::from(&*m.user_id));
            serde_json::json!({ "id": id })
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "users": users }).to_string(),
    ))
}

/// `GET /apps/{id}/connections` (Reverb's, used by Laravel Pulse).
pub(super) async fn connections(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let count = call.node.adapter.connections(call.app).await?;
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "connections": count }).to_string(),
    ))
}

/// `POST /apps/{id}/users/{user_id}/terminate_connections`.
pub(super) async fn terminate(call: &Call<'_>, user_id: &str) -> Result<HttpResponse, ApiError> {
    match call.node.adapter.terminate_user(call.app, user_id) {
        Reach::LocalOnly => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Terminated on this node only: the cluster transport is unavailable.",
        )),
        Reach::Local | Reach::Cluster => Ok(json(StatusCode::OK, "{}".to_owned())),
    }
}
