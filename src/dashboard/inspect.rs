//! The event inspector: `GET /dashboard/inspect?app=ID&channel=NAME`
//! streams one channel's events as they are delivered on this node (SSE,
//! `data:` the whole Pusher message), through a tap (`apps/taps.rs`), so
//! watching occupies nothing and works on every channel kind; `POST
//! /dashboard/trigger` with `{"app", "channel", "event", "data"}`
//! publishes a test event through the adapter, as the HTTP API does.

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{error, json};
use crate::adapter::{Link, Reach};
use crate::apps::taps::Tap;
use crate::apps::App;
use crate::http_api;
use crate::node::Node;
use crate::outbound::Frame;
use crate::protocol::client_event::MAX_EVENT_NAME_LEN;
use crate::protocol::{ChannelName, ServerEvent};
use crate::sse::{self, Body, HEARTBEAT};

/// Serves `GET /dashboard/inspect`.
pub(super) async fn watch(
    node: &Arc<Node>,
    app: Option<&str>,
    channel: Option<&str>,
) -> Response<Body> {
    let (Some(app_id), Some(name)) = (app, channel) else {
        return error(StatusCode::BAD_REQUEST, "app and channel are required");
    };
    let Some(app) = node.apps.by_id(app_id) else {
        return error(StatusCode::NOT_FOUND, "no such app");
    };
    let Ok(channel) = ChannelName::parse(name) else {
        return error(StatusCode::BAD_REQUEST, "invalid channel name");
    };
    // With interest routing this node receives the channel's events from
    // the cluster only while something here wants them: the open
    // inspector does, for as long as it is open.
    let link = node.adapter.link(&app, &channel).await;
    let tap = app.taps.open(&channel);
    let inspection = Inspection {
        app,
        channel,
        tap,
        _link: link,
        shutdown: node.shutdown.token.clone(),
        ended: false,
    };
    let chunks = futures_util::stream::unfold(inspection, |mut inspection| async move {
        inspection
            .next_chunk()
            .await
            .map(|chunk| (chunk, inspection))
    });
    sse::event_stream(chunks)
}

/// One open inspector: a tap on one channel, closed when dropped.
#[derive(Debug)]
struct Inspection {
    app: Arc<App>,
    channel: ChannelName,
    tap: Tap,
    /// Keeps the cluster's events of the channel coming to this node.
    _link: Link,
    shutdown: CancellationToken,
    /// The closing notice was sent.
    ended: bool,
}

impl Drop for Inspection {
    fn drop(&mut self) {
        self.app.taps.close(&self.channel, self.tap.id);
    }
}

impl Inspection {
    /// The next events, a heartbeat after [`HEARTBEAT`] of silence, or a
    /// `clarion:closed` notice when the tap was closed (its reader fell too
    /// far behind); `None` ends the stream.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            let mut out = String::new();
            while let Some(frame) = self.tap.handle.pop() {
                write_message(&mut out, frame.as_str());
            }
            if !out.is_empty() {
                return Some(Bytes::from(out));
            }
            if self.ended {
                return None;
            }
            if let Some(reason) = self.tap.handle.close_reason() {
                self.ended = true;
                let notice = format!("event: clarion:closed\ndata: {}\n\n", reason.message());
                return Some(Bytes::from(notice));
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return None,
                _ = self.tap.handle.ready() => {}
                _ = tokio::time::sleep(HEARTBEAT) => return Some(Bytes::from_static(b": heartbeat\n\n")),
            }
        }
    }
}

/// Appends one SSE message whose data is `text` (a relayed client event's
/// data is the client's JSON, which may hold line breaks).
fn write_message(out: &mut String, text: &str) {
    for line in text.split('\n') {
        out.push_str("data: ");
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push('\n');
    }
    out.push('\n');
}

/// The body of `POST /dashboard/trigger`.
#[derive(Debug, Deserialize)]
struct TestEvent {
    app: String,
    channel: String,
    event: String,
    /// A string is sent as is; any other JSON value as its JSON text.
    #[serde(default)]
    data: Option<Value>,
}

/// Serves `POST /dashboard/trigger`.
pub(super) async fn trigger(node: &Arc<Node>, req: Request<Incoming>) -> Response<Body> {
    let body = match http_api::read_body(req, node).await {
        Ok(body) => body,
        Err(e) => return error(e.status, &e.message),
    };
    let Ok(test) = serde_json::from_slice::<TestEvent>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected JSON {\"app\", \"channel\", \"event\", \"data\"}",
        );
    };
    let Some(app) = node.apps.by_id(&test.app) else {
        return error(StatusCode::NOT_FOUND, "no such app");
    };
    let Ok(channel) = ChannelName::parse(&test.channel) else {
        return error(StatusCode::BAD_REQUEST, "invalid channel name");
    };
    let name = test.event.trim();
    if name.is_empty() || name.len() > MAX_EVENT_NAME_LEN || name.starts_with("pusher") {
        return error(
            StatusCode::BAD_REQUEST,
            "the event needs a name of at most 200 bytes, not starting with pusher",
        );
    }
    let data = match test.data {
        Some(Value::String(text)) => text,
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    };
    let event = ServerEvent::Published {
        event: name,
        channel: channel.as_str(),
        data: &data,
    };
    let frame = Frame::from(event.to_json());
    let reach = match node.adapter.publish(&app, &channel, &frame, None) {
        Reach::Local => "local",
        Reach::Cluster => "cluster",
        Reach::LocalOnly => "this node only: the cluster is unreachable",
    };
    json(
        StatusCode::OK,
        serde_json::json!({ "ok": true, "reach": reach }).to_string(),
    )
}
