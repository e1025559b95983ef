//! A lean Pusher WebSocket client: connect (optionally from a chosen source
//! address), wait for `pusher:connection_established`, subscribe (public,
//! private or presence), read frames answering `pusher:ping`, close politely.
//!
//! Per-socket state is one boxed `WebSocketStream` with a 4 KiB read buffer
//! and no write buffer, so one process can hold ~19,000 sockets.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::scan;
use super::target::Target;

/// A connected WebSocket, boxed to keep task futures small.
pub(crate) type Ws = Box<WebSocketStream<TcpStream>>;

/// Frame sent in reply to a server `pusher:ping`.
const PONG: &str = r#"{"event":"pusher:pong","data":{}}"#;

/// Why a socket failed, by stage.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// TCP connect (or bind) failed.
    #[error("tcp connect: {0}")]
    Tcp(std::io::Error),
    /// The WebSocket handshake or a later read/write failed.
    #[error("websocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    /// The server sent `pusher:error`.
    #[error("pusher:error {0}")]
    Refused(String),
    /// The server closed the socket.
    #[error("closed by server")]
    Closed,
    /// A frame did not have the expected shape.
    #[error("unexpected frame: {0}")]
    Protocol(String),
    /// A step took longer than allowed.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

impl ClientError {
    /// A short name for failure tallies.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Tcp(_) => "tcp_connect",
            Self::Ws(_) => "websocket",
            Self::Refused(_) => "pusher_error",
            Self::Closed => "closed",
            Self::Protocol(_) => "protocol",
            Self::Timeout(_) => "timeout",
        }
    }
}

/// WebSocket settings for bench sockets: small read buffer, frames written
/// through, frames up to 1 MiB.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(1 << 20)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// A connected socket and the id the server gave it.
#[derive(Debug)]
pub(crate) struct Conn {
    /// The WebSocket.
    pub ws: Ws,
    /// `socket_id` from `pusher:connection_established`.
    pub socket_id: String,
}

/// Connects socket number `index` and waits for `connection_established`.
pub(crate) async fn connect(target: &Target, index: usize) -> Result<Conn, ClientError> {
    let tcp = target.tcp_connect(index).await.map_err(ClientError::Tcp)?;
    let (ws, _resp) = Box::pin(tokio_tungstenite::client_async_with_config(
        target.ws_endpoint.as_str(),
        tcp,
        Some(ws_config()),
    ))
    .await?;
    let mut ws = Box::new(ws);
    let frame = next_text(&mut ws).await?.ok_or(ClientError::Closed)?;
    match scan::event_name(&frame) {
        Some("pusher:connection_established") => {
            let socket_id = socket_id_of(&frame)
                .ok_or_else(|| ClientError::Protocol(frame.as_str().to_owned()))?;
            Ok(Conn { ws, socket_id })
        }
        Some("pusher:error") => Err(ClientError::Refused(frame.as_str().to_owned())),
        _ => Err(ClientError::Protocol(frame.as_str().to_owned())),
    }
}

/// The `socket_id` inside a `connection_established` frame (whose `data` is
/// a JSON string, or an object from lenient servers).
pub(crate) fn socket_id_of(frame: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(frame).ok()?;
    let data = match &v["data"] {
        serde_json::Value::String(s) => serde_json::from_str(s).ok()?,
        other => other.clone(),
    };
    data["socket_id"].as_str().map(str::to_owned)
}

/// The `pusher:subscribe` frame for `channel`, fields in pusher-js order.
pub(crate) fn subscribe_frame(
    channel: &str,
    auth: Option<&str>,
    channel_data: Option<&str>,
) -> String {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let channel_data =
        channel_data.map_or(String::new(), |cd| format!(",\"channel_data\":{}", q(cd)));
    format!(
        "{{\"event\":\"pusher:subscribe\",\"data\":{{\"auth\":{}{channel_data},\"channel\":{}}}}}",
        q(auth.unwrap_or("")),
        q(channel)
    )
}

/// Sends a subscribe for `channel`, signing it when `auth` is set
/// (`Some(channel_data)` for presence), and waits for
/// `subscription_succeeded`, whose frame is returned.
pub(crate) async fn subscribe(
    conn: &mut Conn,
    target: &Target,
    channel: &str,
    signed: bool,
    channel_data: Option<&str>,
) -> Result<Utf8Bytes, ClientError> {
    let auth = signed.then(|| {
        clarion::auth::channel_auth_token(
            &target.key,
            &target.secret,
            &conn.socket_id,
            channel,
            channel_data,
        )
    });
    let frame = subscribe_frame(channel, auth.as_deref(), channel_data);
    conn.ws.send(Message::text(frame)).await?;
    loop {
        let frame = next_text(&mut conn.ws).await?.ok_or(ClientError::Closed)?;
        match scan::event_name(&frame) {
            Some("pusher_internal:subscription_succeeded") => return Ok(frame),
            Some("pusher:error" | "pusher:subscription_error") => {
                return Err(ClientError::Refused(frame.as_str().to_owned()))
            }
            Some("pusher:ping") => pong(&mut conn.ws).await?,
            _ => {}
        }
    }
}

/// Sends `pusher:unsubscribe` for `channel` (the protocol has no reply).
pub(crate) async fn unsubscribe(ws: &mut Ws, channel: &str) -> Result<(), ClientError> {
    let channel = serde_json::Value::from(channel);
    let frame = format!(r#"{{"event":"pusher:unsubscribe","data":{{"channel":{channel}}}}}"#);
    ws.send(Message::text(frame)).await?;
    Ok(())
}

/// Answers a server `pusher:ping`.
pub(crate) async fn pong(ws: &mut Ws) -> Result<(), ClientError> {
    ws.send(Message::text(PONG)).await?;
    Ok(())
}

/// The next text frame, skipping control and binary frames; `None` once the
/// socket is closed.
pub(crate) async fn next_text(ws: &mut Ws) -> Result<Option<Utf8Bytes>, ClientError> {
    while let Some(msg) = ws.next().await {
        match msg? {
            Message::Text(t) => return Ok(Some(t)),
            Message::Close(_) => return Ok(None),
            _ => {}
        }
    }
    Ok(None)
}

/// Connects socket `index` and subscribes it to each of `channels` in turn,
/// within the target's connect timeout.
pub(crate) async fn connect_subscribed(
    target: &Target,
    index: usize,
    channels: &[String],
    signed: bool,
) -> Result<Conn, ClientError> {
    let setup = async {
        let mut conn = connect(target, index).await?;
        for channel in channels {
            subscribe(&mut conn, target, channel, signed, None).await?;
        }
        Ok(conn)
    };
    tokio::time::timeout(target.connect_timeout, setup)
        .await
        .map_err(|_| ClientError::Timeout("connect + subscribe"))?
}

/// Holds an idle socket until `stop`, answering `pusher:ping`. Returns
/// `false` if the socket closed or failed first.
pub(crate) async fn hold(ws: &mut Ws, stop: &tokio_util::sync::CancellationToken) -> bool {
    loop {
        tokio::select! {
            () = stop.cancelled() => return true,
            msg = next_text(ws) => match msg {
                Ok(Some(frame)) => {
                    if scan::event_name(&frame) == Some("pusher:ping") && pong(ws).await.is_err() {
                        return false;
                    }
                }
                Ok(None) | Err(_) => return false,
            },
        }
    }
}

/// Sends a close frame and waits (at most `wait`) for the server to close
/// the TCP connection, so that TIME_WAIT stays on the server side and this
/// machine's ephemeral ports are not tied up. Returns whether the server
/// closed in time.
pub(crate) async fn close(mut ws: Ws, wait: Duration) -> bool {
    let drain = async {
        if ws.send(Message::Close(None)).await.is_err() {
            return;
        }
        while let Some(Ok(_)) = ws.next().await {}
    };
    tokio::time::timeout(wait, drain).await.is_ok()
}

#[cfg(test)]
mod tests;
