//! Server-Sent Events: the same channels as the WebSocket, for clients that
//! can only read a stream (`EventSource`).
//!
//! `GET /app/{key}/events?channels=a,b` answers `text/event-stream` with one
//! SSE event per Pusher event: `event:` is the event name and `data:` the
//! event's data string exactly as published, so
//! `es.addEventListener('metrics_updated', e => JSON.parse(e.data))` works
//! unchanged. With `&envelope=1`, `data:` is the whole Pusher message
//! (`{"event","channel","data"}`) instead, which tells the channels of a
//! multi-channel stream apart. A comment line is sent every
//! [`HEARTBEAT`] so proxies keep the stream open; `X-Accel-Buffering: no`
//! asks nginx not to buffer it. CORS headers follow the app's
//! `allowed_origins`, as on the auth endpoint, so a page served from
//! another origin can read the stream.
//!
//! **Resume.** Every event carries `id: MS-SEQ` from the app's
//! [`History`](crate::apps::history::History). A client that reconnects
//! with `Last-Event-ID` (browsers send it by themselves; a first
//! connection can pass `?lastEventId=`) gets exactly the events it missed,
//! in order, before live ones — on any replica, since with scaling on the
//! ids are the cluster's and a replica that did not log the missed events
//! asks the cluster's history (`Adapter::history_after`). When they are no
//! longer kept (too old, another run, history off) the stream starts with
//! `event: clarion:refetch` (`data: {"reason":…}`): the client must reload
//! its state. An id that is not of the form `MS-SEQ` is refused (400).
//! Live events are read from the same log, so a stream never skips one
//! between resume and live, and never repeats one.
//!
//! The stream is a subscriber like any other: it subscribes through the
//! `subscriptions` seam (occupancy, queries and lifecycle events count it)
//! with a [`SocketHandle`] that only queues, and its body drains that queue.
//! It holds a process connection slot and counts against the app's
//! `max_connections`. When the client goes away hyper drops the body, and
//! dropping [`Stream`] unsubscribes.
//!
//! **Private and presence channels** need the app's built-in
//! authorisation (`[apps.auth]`): the stream presents the same JWT the
//! auth endpoint takes, as `?token=` (an `EventSource` cannot send
//! headers) or `Authorization: Bearer`, and the token's `channels` claim
//! must grant every such channel. On a presence channel the stream joins
//! as the token's user (`sub`, with `user_info`), so it is in the roster,
//! `user_count` and `users` like a WebSocket member. Presence membership
//! events are not streamed, and `private-encrypted-` channels are not
//! served (a stream cannot decrypt them).

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame as BodyFrame;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::apps::history::{EventId, ForeignId};
use crate::apps::App;
use crate::auth::jwt::{Claims, TokenError};
use crate::auth_endpoint;
use crate::channels::Member;
use crate::drain;
use crate::metrics::Eviction;
use crate::node::{ConnectionSlot, Node};
use crate::outbound::{Frame, SocketHandle};
use crate::protocol::{ChannelKind, ChannelName, ErrorCode, SocketId};
use crate::subscriptions;

/// How often an idle stream gets a comment line.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(15);

/// Most channels one stream may name (as one `POST /events` may).
pub(crate) const MAX_CHANNELS: usize = 100;

/// The response body every route answers with.
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Why a stream was refused: a status and a reason for the client.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SseRefused {
    /// No app has this key.
    #[error("no application with key {0:?}")]
    UnknownApp(String),
    /// `channels` is missing or empty.
    #[error("the channels parameter is required: ?channels=a,b")]
    NoChannels,
    /// Too many channels.
    #[error("at most {MAX_CHANNELS} channels per stream")]
    TooManyChannels,
    /// A channel name is not valid.
    #[error("invalid channel name {0:?}")]
    InvalidChannel(String),
    /// A private or presence channel without a token.
    #[error("channel {0:?} needs a token (?token= or Authorization: Bearer)")]
    NeedsAuth(String),
    /// The app has no built-in authorisation to check a token with.
    #[error(
        "this app does not take tokens (no [apps.auth]); event streams serve its public channels"
    )]
    NoAuthEndpoint,
    /// The token does not verify.
    #[error("invalid token: {0}")]
    BadToken(#[from] TokenError),
    /// The token's `sub` cannot be a presence user id.
    #[error("the token's sub is not a usable user id")]
    BadMember,
    /// The token does not grant a channel.
    #[error("the token does not grant channel {0:?}")]
    NotGranted(String),
    /// A channel kind event streams do not serve.
    #[error("channel {0:?} cannot be streamed (encrypted or reserved)")]
    Unstreamable(String),
    /// The `Origin` is not allowed for this app.
    #[error("origin not allowed")]
    Origin,
    /// `Last-Event-ID` is not one of our ids.
    #[error(transparent)]
    ForeignId(#[from] ForeignId),
    /// The process or the app is at its connection limit.
    #[error("over connection capacity; retry later")]
    OverCapacity,
}

impl SseRefused {
    fn status(&self) -> StatusCode {
        match self {
            SseRefused::UnknownApp(_) => StatusCode::NOT_FOUND,
            SseRefused::NoChannels
            | SseRefused::TooManyChannels
            | SseRefused::InvalidChannel(_)
            | SseRefused::ForeignId(_) => StatusCode::BAD_REQUEST,
            SseRefused::NeedsAuth(_) | SseRefused::BadToken(_) | SseRefused::BadMember => {
                StatusCode::UNAUTHORIZED
            }
            SseRefused::NotGranted(_) => StatusCode::FORBIDDEN,
            SseRefused::NoAuthEndpoint | SseRefused::Unstreamable(_) => StatusCode::BAD_REQUEST,
            SseRefused::Origin => StatusCode::FORBIDDEN,
            SseRefused::OverCapacity => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Serves `GET /app/{key}/events`.
pub(crate) async fn handle(
    node: &Arc<Node>,
    req: &Request<hyper::body::Incoming>,
    key: &str,
) -> Response<Body> {
    let cors = node
        .apps
        .by_key(key)
        .map(|app| auth_endpoint::cors_headers(&app, req.headers()));
    let mut res = match open(node, req, key).await {
        Ok(stream) => stream_response(stream),
        Err(refused) => {
            tracing::debug!(key, reason = %refused, "event stream refused");
            let body = serde_json::json!({ "error": refused.to_string() }).to_string();
            let mut res = Response::new(full(body));
            *res.status_mut() = refused.status();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            res
        }
    };
    // A page on another origin reads the stream only with these.
    res.headers_mut().extend(cors.unwrap_or_default());
    res
}

/// A body from a complete string.
pub(crate) fn full(body: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(body.into()).boxed_unsync()
}

/// Checks the request and subscribes a new stream to its channels.
async fn open(
    node: &Arc<Node>,
    req: &Request<hyper::body::Incoming>,
    key: &str,
) -> Result<Stream, SseRefused> {
    let app = node
        .apps
        .by_key(key)
        .ok_or_else(|| SseRefused::UnknownApp(key.to_owned()))?;
    let StreamRequest {
        channels,
        token,
        envelope,
        last_id,
    } = StreamRequest::read(req.uri().query().unwrap_or_default(), req.headers())?;
    let member = authorize(&app, &channels, token.as_deref())?;
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    if !app.origin_allowed(origin) {
        return Err(SseRefused::Origin);
    }
    let slot = node.claim_slot().ok_or(SseRefused::OverCapacity)?;
    let handle = SocketHandle::new(node.server.outbound_queue_capacity);
    let socket_id = app.add_socket(&handle).map_err(|code| match code {
        ErrorCode::ApplicationDoesNotExist => SseRefused::UnknownApp(key.to_owned()),
        _ => SseRefused::OverCapacity,
    })?;
    let mut stream = Stream {
        node: node.clone(),
        app,
        socket_id,
        handle,
        channels: Vec::new(),
        cursor: EventId::default(),
        refetch: None,
        backlog: String::new(),
        envelope,
        closing: node.shutdown.token.clone(),
        close_now: node.shutdown.now.clone(),
        close_at: None,
        _slot: slot,
    };
    // Receive the cluster's events on every channel before watching them:
    // a watch that begins now then misses nothing from the cluster. The
    // links are held until the subscribes below are done.
    let mut links = Vec::with_capacity(channels.len());
    for channel in &channels {
        links.push(stream.node.adapter.link(&stream.app, channel).await);
    }
    // Watch before subscribing: an event published in between is logged
    // after the cursor, so the first read finds it.
    let resume = stream.app.history.open(&channels, last_id.as_deref())?;
    // From here dropping the stream (also mid-await below, when the client
    // hangs up) closes the watches; unsubscribing a channel not yet
    // subscribed is a no-op.
    stream.channels.clone_from(&channels);
    stream.cursor = resume.cursor;
    stream.refetch = resume.refetch;
    if let (Some(_), Some(after)) = (resume.refetch, resume.wanted) {
        // Not in this node's log: the cluster's history may still hold
        // every event after the client's last one (it resumed elsewhere).
        if let Some(events) = stream.node.adapter.history_after(&stream.app, after).await {
            let mut cursor = after;
            for event in events {
                if channels.contains(&event.channel) {
                    write_event(
                        &mut stream.backlog,
                        &event.frame,
                        envelope,
                        Some(&event.id.to_string()),
                    );
                }
                cursor = event.id;
            }
            stream.cursor = cursor;
            stream.refetch = None;
        }
    }
    for channel in &stream.channels {
        let as_member = member
            .as_ref()
            .filter(|_| channel.kind() == ChannelKind::Presence);
        subscriptions::subscribe(
            &stream.node,
            &stream.app,
            socket_id,
            &stream.handle,
            channel,
            as_member,
        );
    }
    drop(links);
    Ok(stream)
}

/// What a stream request asks for, read from its query and headers.
#[derive(Debug)]
pub(crate) struct StreamRequest {
    /// The channels, unique, each one an event stream can serve.
    pub(crate) channels: Vec<ChannelName>,
    /// `?token=`, else the `Authorization: Bearer` token.
    pub(crate) token: Option<String>,
    /// `&envelope=1`: `data:` is the whole Pusher message.
    pub(crate) envelope: bool,
    /// `Last-Event-ID`, else `?lastEventId=` (checked by the history).
    pub(crate) last_id: Option<String>,
}

impl StreamRequest {
    /// Reads the request's raw `query` (without `?`) and `headers`.
    ///
    /// # Errors
    /// [`SseRefused`] for a missing, invalid or unstreamable channel list.
    pub(crate) fn read(query: &str, headers: &HeaderMap) -> Result<Self, SseRefused> {
        let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let channels = parse_channels(param("channels").unwrap_or_default())?;
        let token = param("token")
            .map(str::trim)
            .or_else(|| auth_endpoint::bearer(headers))
            .map(str::to_owned);
        let envelope = matches!(param("envelope"), Some("1" | "true"));
        let last_id = headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .or_else(|| param("lastEventId"))
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        Ok(StreamRequest {
            channels,
            token,
            envelope,
            last_id,
        })
    }
}

/// Checks the token against every private and presence channel; returns
/// the member a presence stream joins as.
fn authorize(
    app: &App,
    channels: &[ChannelName],
    token: Option<&str>,
) -> Result<Option<Member>, SseRefused> {
    let Some(protected) = channels.iter().find(|c| c.kind() != ChannelKind::Public) else {
        return Ok(None);
    };
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| SseRefused::NeedsAuth(protected.to_string()))?;
    let verifier = app.auth_endpoint().ok_or(SseRefused::NoAuthEndpoint)?;
    let claims = verifier.verify(token)?;
    for channel in channels.iter().filter(|c| c.kind() != ChannelKind::Public) {
        if !claims.grants(channel.as_str()) {
            return Err(SseRefused::NotGranted(channel.to_string()));
        }
    }
    member_of(&claims).map(Some)
}

/// The presence member a token's claims describe.
fn member_of(claims: &Claims) -> Result<Member, SseRefused> {
    Member::from_channel_data(&claims.channel_data()).map_err(|_| SseRefused::BadMember)
}

/// Parses `a,b,c` into unique channel names that can be streamed.
fn parse_channels(list: &str) -> Result<Vec<ChannelName>, SseRefused> {
    let mut out: Vec<ChannelName> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let channel =
            ChannelName::parse(name).map_err(|_| SseRefused::InvalidChannel(name.to_owned()))?;
        if !matches!(
            channel.kind(),
            ChannelKind::Public | ChannelKind::Private | ChannelKind::Presence
        ) {
            return Err(SseRefused::Unstreamable(name.to_owned()));
        }
        if !out.contains(&channel) {
            out.push(channel);
        }
    }
    if out.is_empty() {
        return Err(SseRefused::NoChannels);
    }
    if out.len() > MAX_CHANNELS {
        return Err(SseRefused::TooManyChannels);
    }
    Ok(out)
}

/// One open event stream: a subscriber whose queue the response body
/// drains. Dropping it (the client went away, or the stream ended)
/// unsubscribes and forgets the socket.
#[derive(Debug)]
struct Stream {
    node: Arc<Node>,
    app: Arc<App>,
    socket_id: SocketId,
    handle: SocketHandle,
    /// The channels this stream reads: subscribed, and watched in the
    /// app's history.
    channels: Vec<ChannelName>,
    /// The last history id this stream has considered.
    cursor: EventId,
    /// Events from the cluster's history to send first.
    backlog: String,
    /// Why the client must refetch its state, to tell it first.
    refetch: Option<&'static str>,
    /// `data:` carries the whole Pusher message.
    envelope: bool,
    /// The drain's closing step began: the stream ends at its own moment
    /// within the spread (`close_at`), or at once on `close_now`.
    closing: CancellationToken,
    close_now: CancellationToken,
    close_at: Option<Instant>,
    /// Holds one of the process's connection slots for the stream's life.
    _slot: ConnectionSlot,
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.app.history.close(&self.channels);
        for channel in std::mem::take(&mut self.channels) {
            subscriptions::unsubscribe(&self.node, &self.app, self.socket_id, &channel);
        }
        self.app.remove_socket(self.socket_id);
    }
}

impl Stream {
    /// The next chunk of the response: queued events, or a heartbeat after
    /// [`HEARTBEAT`] of silence; `None` ends the stream (its moment of the
    /// drain came, the subscriber was closed by the server, e.g.
    /// `terminate_connections`, a removed app or a full queue). The client
    /// (`EventSource`) reconnects by itself, to another replica when this
    /// one is draining, and resumes with `Last-Event-ID`.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        // Checked between chunks, so what was read is sent first.
        if self.close_at.is_some_and(|at| Instant::now() >= at) {
            return None;
        }
        let app = self.app.clone();
        loop {
            // Armed before the log is read, so an event the cluster logs
            // in between still wakes this stream.
            let logged = app.history.logged();
            tokio::pin!(logged);
            logged.as_mut().enable();
            let mut out = std::mem::take(&mut self.backlog);
            if let Some(reason) = self.refetch.take() {
                write_refetch(&mut out, &self.cursor.to_string(), reason);
            }
            if self.app.history.enabled() {
                // The queue only wakes the stream; events come from the log.
                while self.handle.pop().is_some() {}
                self.read_history(&mut out);
            } else {
                while let Some(frame) = self.handle.pop() {
                    write_event(&mut out, &frame, self.envelope, None);
                }
            }
            if !out.is_empty() {
                return Some(Bytes::from(out));
            }
            if let Some(reason) = self.handle.close_reason() {
                if reason == ErrorCode::OverCapacity {
                    self.app.metrics.evicted(Eviction::QueueFull);
                }
                return None;
            }
            let heartbeat = Instant::now() + HEARTBEAT;
            let wake = self.close_at.map_or(heartbeat, |at| at.min(heartbeat));
            tokio::select! {
                _ = self.closing.cancelled(), if self.close_at.is_none() => {
                    if self.close_now.is_cancelled() {
                        return None;
                    }
                    self.close_at = Some(Instant::now() + drain::close_delay(&self.node.server));
                }
                _ = self.close_now.cancelled(), if self.close_at.is_some() => return None,
                _ = self.handle.ready() => {}
                _ = &mut logged => {}
                _ = tokio::time::sleep_until(wake) => {
                    if self.close_at.is_some_and(|at| Instant::now() >= at) {
                        return None;
                    }
                    return Some(Bytes::from_static(b": heartbeat\n\n"));
                }
            }
        }
    }
}

impl Stream {
    /// Appends the logged events after the cursor and advances it.
    fn read_history(&mut self, out: &mut String) {
        let history = &self.app.history;
        match history.read(&self.channels, self.cursor) {
            Ok((entries, cursor)) => {
                let envelope = self.envelope;
                for entry in entries {
                    let text = entry.rendered(envelope, || {
                        let mut text = String::new();
                        write_event(
                            &mut text,
                            &entry.frame,
                            envelope,
                            Some(&entry.id.to_string()),
                        );
                        (!text.is_empty()).then_some(text)
                    });
                    if let Some(text) = text {
                        out.push_str(&text);
                    }
                }
                self.cursor = cursor;
            }
            Err(cursor) => {
                self.cursor = cursor;
                write_refetch(
                    out,
                    &cursor.to_string(),
                    "the stream fell behind the history",
                );
            }
        }
    }
}

/// Appends the event that tells a client to reload its state.
fn write_refetch(out: &mut String, id: &str, reason: &str) {
    let data = serde_json::json!({ "reason": reason }).to_string();
    out.push_str("id: ");
    out.push_str(id);
    out.push_str("\nevent: clarion:refetch\ndata: ");
    out.push_str(&data);
    out.push_str("\n\n");
}

fn stream_response(stream: Stream) -> Response<Body> {
    let chunks = futures_util::stream::unfold(stream, |mut s| async move {
        s.next_chunk().await.map(|chunk| (chunk, s))
    });
    event_stream(chunks)
}

/// A `text/event-stream` response: a comment and `retry: 2000` first, then
/// `chunks` as they come (each one or more complete SSE events), with the
/// headers that keep caches and proxies from holding events back. The
/// dashboard's streams are served with it too.
pub(crate) fn event_stream(
    chunks: impl futures_util::Stream<Item = Bytes> + Send + 'static,
) -> Response<Body> {
    let hello = Bytes::from_static(b": connected\nretry: 2000\n\n");
    let first = futures_util::stream::once(async move { hello });
    let body = StreamBody::new(first.chain(chunks).map(|chunk| Ok(BodyFrame::data(chunk))));
    let mut res = Response::new(body.boxed_unsync());
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}

/// The parts of a Pusher message an SSE event needs.
#[derive(Deserialize)]
struct Message<'a> {
    /// Borrowed unless the name has escapes (a Laravel class name has backslashes).
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// Appends `frame` as one SSE event; protocol messages (`pusher:…`,
/// `pusher_internal:…`) are not events of the app and are skipped.
pub(crate) fn write_event(out: &mut String, frame: &Frame, envelope: bool, id: Option<&str>) {
    let text = frame.as_str();
    let Ok(message) = serde_json::from_str::<Message<'_>>(text) else {
        return;
    };
    let name = message.event.as_ref();
    if name.starts_with("pusher:") || name.starts_with("pusher_internal:") {
        return;
    }
    if name.contains(['\r', '\n']) {
        return;
    }
    let data = if envelope {
        text.to_owned()
    } else {
        match message.data {
            Some(raw) => {
                serde_json::from_str::<String>(raw.get()).unwrap_or_else(|_| raw.get().to_owned())
            }
            None => String::new(),
        }
    };
    if let Some(id) = id {
        out.push_str("id: ");
        out.push_str(id);
        out.push('\n');
    }
    out.push_str("event: ");
    out.push_str(name);
    out.push('\n');
    // A reader ends a line at `\r\n`, `\n` or a lone `\r`: each one must
    // start a new `data:` line, or the rest of the line would be read as a
    // field of its own (`\revent: other` renaming the event).
    let lines = data
        .split('\n')
        .flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'));
    for line in lines {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
}

#[cfg(test)]
mod tests;
