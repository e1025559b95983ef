//! One task per WebSocket for its whole life: the handshake checks (app,
//! capacity, quota, origin), then one flat loop that reads client frames,
//! writes the socket's queue, pings silent sockets and watches shutdown.
//!
//! The loop is generic over any `Stream + Sink` of WebSocket messages, so
//! tests can drive it without a network. Writes coalesce: every frame
//! waiting in the queue is fed to the socket before a single flush.

mod session;

use std::sync::Arc;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::time::{sleep_until, timeout, Duration, Instant};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::apps::App;
use crate::node::ConnectionSlot;
use crate::outbound::SocketHandle;
use crate::protocol::codes::{CLOSE_INVALID_PAYLOAD, CLOSE_MESSAGE_TOO_BIG, CLOSE_PROTOCOL_ERROR};
use crate::protocol::{ErrorCode, ServerEvent};
pub use session::{Flow, Session};

/// What the handshake learnt about a new socket.
#[derive(Debug)]
pub struct Admission {
    /// The app its key names, if any.
    pub app: Option<Arc<App>>,
    /// A process connection slot, if one was free.
    pub slot: Option<ConnectionSlot>,
    /// The `Origin` header.
    pub origin: Option<String>,
}

/// Serves one WebSocket until it closes.
pub async fn run<S>(mut ws: S, admission: Admission)
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
{
    let Some(app) = admission.app else {
        refuse(&mut ws, ErrorCode::ApplicationDoesNotExist).await;
        return;
    };
    let Some(slot) = admission.slot else {
        refuse(&mut ws, ErrorCode::ServerOverCapacity).await;
        return;
    };
    let node = slot.node().clone();
    let handle = SocketHandle::new(node.server.outbound_queue_capacity);
    let socket_id = match app.add_socket(&handle) {
        Ok(id) => id,
        Err(code) => {
            refuse(&mut ws, code).await;
            return;
        }
    };
    let mut session = Session::new(node, app, socket_id, handle);
    if !session.app.origin_allowed(admission.origin.as_deref()) {
        session.close();
        refuse(&mut ws, ErrorCode::OriginNotAllowed).await;
        return;
    }
    serve(&mut ws, &mut session).await;
    session.close();
    drop(slot);
}

/// Liveness bookkeeping: when the socket was last heard from and whether it
/// has been pinged since.
#[derive(Debug)]
struct Liveness {
    last_seen: Instant,
    pinged: bool,
    /// The client used WebSocket control frames, so it is pinged with them.
    control_frames: bool,
}

async fn serve<S>(ws: &mut S, session: &mut Session)
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
{
    let config = &session.app.config;
    let ping_interval = Duration::from_secs(config.ping_interval);
    let signin_deadline = config
        .user_authentication_timeout
        .map(|secs| Instant::now() + Duration::from_secs(secs));
    let write_timeout = Duration::from_secs(session.node.server.write_timeout);
    let shutdown = session.node.shutdown.token.clone();
    let hello = ServerEvent::ConnectionEstablished {
        socket_id: session.socket_id,
        activity_timeout: config.activity_timeout,
    };
    if write(ws, Message::text(hello.to_json()), write_timeout)
        .await
        .is_err()
    {
        return;
    }
    let mut live = Liveness {
        last_seen: Instant::now(),
        pinged: false,
        control_frames: false,
    };
    // The first wake-up is the earlier of the first ping and the sign-in
    // deadline, so a short `user_authentication_timeout` is not delayed
    // until the ping interval.
    let timer = sleep_until(next_deadline(
        live.last_seen + ping_interval,
        signin_deadline,
        session,
    ));
    tokio::pin!(timer);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = drain(ws, &session.handle, write_timeout).await;
                close(ws, ErrorCode::ServerShuttingDown).await;
                return;
            }
            _ = session.handle.ready() => {
                if drain(ws, &session.handle, write_timeout).await.is_err() {
                    return;
                }
                if let Some(reason) = session.handle.close_reason() {
                    close(ws, reason).await;
                    return;
                }
            }
            _ = &mut timer => {
                let now = Instant::now();
                if signin_deadline.is_some_and(|d| now >= d) && !session.signed_in() {
                    close(ws, ErrorCode::SigninTimeout).await;
                    return;
                }
                let idle_until = live.last_seen + ping_interval;
                if now < idle_until {
                    timer.as_mut().reset(next_deadline(idle_until, signin_deadline, session));
                    continue;
                }
                if live.pinged {
                    close(ws, ErrorCode::PongNotReceived).await;
                    return;
                }
                live.pinged = true;
                live.last_seen = now;
                let ping = if live.control_frames {
                    Message::Ping(Default::default())
                } else {
                    Message::text(ServerEvent::Ping.to_json())
                };
                if write(ws, ping, write_timeout).await.is_err() {
                    return;
                }
                timer.as_mut().reset(next_deadline(now + ping_interval, signin_deadline, session));
            }
            message = ws.next() => {
                let Some(message) = message else { return };
                live.last_seen = Instant::now();
                live.pinged = false;
                let flow = match message {
                    Ok(Message::Text(text)) => session.on_text(text.as_str()),
                    Ok(Message::Binary(_)) => session.on_text(""),
                    Ok(Message::Ping(_)) | Ok(Message::Pong(_)) => {
                        live.control_frames = true;
                        // tungstenite queued the pong; push it out.
                        if timeout(write_timeout, ws.flush()).await.map_or(true, |r| r.is_err()) {
                            return;
                        }
                        Flow::Continue
                    }
                    Ok(Message::Close(_)) => {
                        let _ = timeout(write_timeout, ws.flush()).await;
                        return;
                    }
                    Ok(Message::Frame(_)) => Flow::Continue,
                    Err(e) => {
                        close_for_read_error(ws, e).await;
                        return;
                    }
                };
                if let Flow::Close(reason) = flow {
                    let _ = drain(ws, &session.handle, write_timeout).await;
                    close(ws, reason).await;
                    return;
                }
            }
        }
    }
}

fn next_deadline(idle: Instant, signin: Option<Instant>, session: &Session) -> Instant {
    match signin {
        Some(d) if !session.signed_in() => idle.min(d),
        _ => idle,
    }
}

/// Feeds every queued frame, then flushes once: one `write` for a burst.
async fn drain<S>(ws: &mut S, handle: &SocketHandle, limit: Duration) -> Result<(), ()>
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    let work = async {
        while let Some(frame) = handle.pop() {
            ws.feed(Message::Text(frame)).await?;
        }
        ws.flush().await
    };
    match timeout(limit, work).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

async fn write<S>(ws: &mut S, message: Message, limit: Duration) -> Result<(), ()>
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    match timeout(limit, ws.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Sends `pusher:error` for `reason`, then a close frame with the same code.
async fn close<S>(ws: &mut S, reason: ErrorCode)
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    let limit = Duration::from_secs(2);
    let _ = write(
        ws,
        Message::text(ServerEvent::Error(reason).to_json()),
        limit,
    )
    .await;
    close_frame(ws, reason.code(), reason.message()).await;
}

/// Refuses a socket before `connection_established`: error, then close.
async fn refuse<S>(ws: &mut S, reason: ErrorCode)
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    close(ws, reason).await;
}

async fn close_frame<S>(ws: &mut S, code: u16, reason: &str)
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from(truncate(reason, 123)),
    };
    let _ = timeout(Duration::from_secs(2), ws.send(Message::Close(Some(frame)))).await;
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

async fn close_for_read_error<S>(ws: &mut S, error: WsError)
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    let (code, reason) = match error {
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            (CLOSE_MESSAGE_TOO_BIG, "Maximum message size exceeded")
        }
        WsError::Utf8(_) => (CLOSE_INVALID_PAYLOAD, "Invalid UTF-8"),
        WsError::Protocol(_) | WsError::Capacity(_) => (CLOSE_PROTOCOL_ERROR, "Protocol error"),
        _ => return,
    };
    close_frame(ws, code, reason).await;
}
