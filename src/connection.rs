//! One task per WebSocket for its whole life: the handshake checks (app,
//! capacity, quota, origin), then one flat loop that reads client frames,
//! finishes writes the publishers could not complete, pings silent sockets
//! and watches shutdown (closing at its own moment of the drain's spread).
//!
//! Slow and silent peers: a socket whose queue overflows, or whose queue
//! cannot be written within `server.write_timeout`, is evicted with 4100
//! (the flush watches for the overflow, so eviction does not wait for the
//! write timeout). A socket that has never sent a frame is pinged after
//! `activity_timeout` (the moment a Pusher client would ping on its own)
//! rather than `ping_interval`, and closed with 4201 if it is still silent
//! `server.handshake_timeout` later.
//!
//! Writing and reading are split. Every frame to the client — broadcasts,
//! acks, pongs, errors, close frames — goes through the socket's
//! [`SocketHandle`], which writes straight to the TCP socket when it is idle
//! and queues when it is busy; this task only flushes the queue once the
//! socket is writable again. tungstenite is used for reading only (its own
//! automatic replies are discarded by [`ReadHalf`] and sent by this task
//! through the handle instead, so nothing else writes to the socket).

mod read_half;
pub(crate) mod session;

use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout, Duration, Instant};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tracing::Instrument;

use crate::apps::App;
use crate::drain;
use crate::metrics::{AppMetrics, Eviction, HandshakeStage};
use crate::node::ConnectionSlot;
use crate::outbound::{Flushed, Frame, FrameSink, SocketHandle};
use crate::protocol::codes::{CLOSE_INVALID_PAYLOAD, CLOSE_MESSAGE_TOO_BIG, CLOSE_PROTOCOL_ERROR};
use crate::protocol::{ErrorCode, ServerEvent};
pub(crate) use read_half::ReadHalf;
pub(crate) use session::{Flow, Session};

/// How long the last frames (error, close) may take to leave.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the handshake learnt about a new socket.
#[derive(Debug)]
pub(crate) struct Admission {
    /// The app its key names, if any.
    pub app: Option<Arc<App>>,
    /// A process connection slot, if one was free.
    pub slot: Option<ConnectionSlot>,
    /// The `Origin` header.
    pub origin: Option<String>,
}

/// Where a socket's frames go: its TCP write half, or the TLS session over
/// it (`tls::TlsSocket`); the task waits on the TCP socket when it is full.
/// Generic rather than boxed, so the plain path is compiled as it always
/// was.
pub(crate) trait Sink: FrameSink + AsRef<TcpStream> + 'static {}

impl<T: FrameSink + AsRef<TcpStream> + 'static> Sink for T {}

/// Serves one WebSocket until it closes: `ws` reads client frames from the
/// socket's read half, and every write goes to `socket`, its write half,
/// through the socket's handle.
pub(crate) async fn run<S, W>(mut ws: S, socket: Arc<W>, admission: Admission)
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
    W: Sink,
{
    let capacity = admission
        .slot
        .as_ref()
        .map_or(16, |s| s.node().server.outbound_queue_capacity);
    let handle = SocketHandle::with_sink(capacity, socket.clone());
    let Some(app) = admission.app else {
        return refuse(&handle, &*socket, ErrorCode::ApplicationDoesNotExist).await;
    };
    app.metrics.connection_opened();
    let Some(slot) = admission.slot else {
        app.metrics
            .connection_closed(ErrorCode::ServerOverCapacity.code());
        return refuse(&handle, &*socket, ErrorCode::ServerOverCapacity).await;
    };
    let node = slot.node().clone();
    let socket_id = match app.add_socket(&handle) {
        Ok(id) => id,
        Err(code) => {
            app.metrics.connection_closed(code.code());
            return refuse(&handle, &*socket, code).await;
        }
    };
    let mut session = Session::new(node, app, socket_id, handle);
    if !session.app.origin_allowed(admission.origin.as_deref()) {
        session.close();
        let code = ErrorCode::OriginNotAllowed;
        session.app.metrics.connection_closed(code.code());
        return refuse(&session.handle, &*socket, code).await;
    }
    // Debug level: at the default level the span is disabled and costs
    // nothing per socket; with debug on, every line of this socket carries
    // its socket id and app id.
    let span = tracing::debug_span!("connection", socket_id = %socket_id, app_id = %session.app.id);
    let end = serve(&mut ws, &*socket, &mut session)
        .instrument(span)
        .await;
    session.close();
    let metrics = &session.app.metrics;
    metrics.connection_closed(end.close_code());
    match end {
        End::Error(ErrorCode::OverCapacity) => metrics.evicted(Eviction::QueueFull),
        End::Error(ErrorCode::WriteTimedOut) => metrics.evicted(Eviction::WriteTimeout),
        _ => {}
    }
    drop(slot);
}

/// Liveness bookkeeping: when the socket was last heard from and whether it
/// has been pinged since.
#[derive(Debug)]
struct Liveness {
    last_seen: Instant,
    pinged: bool,
    /// The client has sent at least one frame.
    heard: bool,
    /// Silence allowed before a socket that has never sent a frame is
    /// pinged (`activity_timeout`), and after that ping
    /// (`server.handshake_timeout`); each capped by `ping_interval`.
    first_ping: Duration,
    first_answer: Duration,
    /// The client used WebSocket control frames, so it is pinged with them.
    control_frames: bool,
    /// When the drain closes this socket, once its closing step began.
    close_at: Option<Instant>,
}

impl Liveness {
    /// How long the socket may stay silent from `last_seen` before the next
    /// step (a ping, or 4201 once pinged).
    fn quiet_limit(&self, ping_interval: Duration) -> Duration {
        match (self.heard, self.pinged) {
            (true, _) => ping_interval,
            (false, false) => ping_interval.min(self.first_ping),
            (false, true) => ping_interval.min(self.first_answer),
        }
    }
}

/// How the serve loop ends.
#[derive(Debug, Clone, Copy)]
enum End {
    /// Send this error, then a close frame with its code.
    Error(ErrorCode),
    /// Send a close frame with this WebSocket code and reason.
    Close(u16, &'static str),
    /// The socket is gone or already closed: nothing more to send.
    Gone,
}

/// The close code WebSocket calls "closed without a close frame".
const CLOSE_ABNORMAL: u16 = 1006;

impl End {
    /// The close code the socket ended with, for metrics.
    fn close_code(self) -> u16 {
        match self {
            End::Error(reason) => reason.code(),
            End::Close(code, _) => code,
            End::Gone => CLOSE_ABNORMAL,
        }
    }
}

/// Serves the socket, then sends its last frames (error and close frame)
/// unless it is already gone; returns how it ended.
async fn serve<S, W>(ws: &mut S, socket: &W, session: &mut Session) -> End
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
    W: Sink,
{
    let end = serve_until_end(ws, socket, session).await;
    let handle = &session.handle;
    match end {
        End::Error(reason) => {
            handle.send_final(&[
                error_frame(reason),
                Frame::close(reason.code(), reason.message()),
            ]);
        }
        End::Close(code, reason) => handle.send_final(&[Frame::close(code, reason)]),
        End::Gone => return end,
    }
    // Boxed, like every future this task awaits only now and then: the
    // task's future stays as small as its idle state (see `serve_until_end`).
    let _ = Box::pin(timeout(
        CLOSE_TIMEOUT,
        flush(handle, socket, None, false, None),
    ))
    .await;
    end
}

/// The loop an idle socket waits in. Its future is most of the memory an
/// idle socket costs, so what it awaits only now and then is kept out of
/// it: a flush that would block waits in a boxed future (most flushes
/// write at once and await nothing), and a text frame is handled without
/// awaiting, except a subscribe's cluster link, a future the adapter boxes.
/// Held inline, those futures would make every idle socket's task as large
/// as the largest of them.
async fn serve_until_end<S, W>(ws: &mut S, socket: &W, session: &mut Session) -> End
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
    W: Sink,
{
    let (ping_secs, activity_timeout, signin_secs) = {
        let config = session.app.config();
        let signin = config.user_authentication_timeout;
        (config.ping_interval, config.activity_timeout, signin)
    };
    let signin_deadline = signin_secs.map(|secs| Instant::now() + Duration::from_secs(secs));
    let write_timeout = Duration::from_secs(session.node.server.write_timeout);
    let first_answer = Duration::from_secs(session.node.server.handshake_timeout);
    let closing = session.node.shutdown.token.clone();
    let close_now = session.node.shutdown.now.clone();
    let hello = ServerEvent::ConnectionEstablished {
        socket_id: session.socket_id,
        activity_timeout,
    };
    let _ = session.handle.send(&Frame::text(&hello.to_json()));
    let mut live = Liveness {
        last_seen: Instant::now(),
        pinged: false,
        heard: false,
        first_ping: Duration::from_secs(activity_timeout),
        first_answer,
        control_frames: false,
        close_at: None,
    };
    let timer = sleep_until(next_deadline(
        live.last_seen + live.quiet_limit(Duration::from_secs(ping_secs)),
        signin_deadline,
        &live,
        session,
    ));
    tokio::pin!(timer);
    loop {
        tokio::select! {
            // The drain's closing step: this socket closes at its own
            // moment within the spread (the timer below), or at once when
            // everything must close now.
            _ = closing.cancelled(), if live.close_at.is_none() => {
                if close_now.is_cancelled() {
                    return End::Error(ErrorCode::ServerShuttingDown);
                }
                let at = Instant::now() + drain::close_delay(&session.node.server);
                live.close_at = Some(at);
                let next = at.min(timer.deadline());
                timer.as_mut().reset(next);
            }
            _ = close_now.cancelled(), if live.close_at.is_some() => {
                return End::Error(ErrorCode::ServerShuttingDown);
            }
            _ = session.handle.ready() => {
                if let Some(reason) = session.handle.close_reason() {
                    return End::Error(reason);
                }
                // Most wake-ups write the whole queue at once, with no
                // future; only a socket that would block waits, under the
                // write timeout, in a boxed one.
                let metrics = Some(&session.app.metrics);
                let mut oldest = None;
                let flushed = match try_flush(&session.handle, metrics, &mut oldest) {
                    Some(done) => Ok(done),
                    None => {
                        let rest = flush(&session.handle, socket, metrics, true, oldest);
                        Box::pin(timeout(write_timeout, rest)).await
                    }
                };
                match flushed {
                    Ok(Flush::Done) => {}
                    Ok(Flush::Closed(reason)) => return End::Error(reason),
                    Ok(Flush::Broken) => return End::Gone,
                    Err(_) => return End::Error(ErrorCode::WriteTimedOut),
                }
            }
            _ = &mut timer => {
                let now = Instant::now();
                if live.close_at.is_some_and(|at| now >= at) {
                    return End::Error(ErrorCode::ServerShuttingDown);
                }
                if signin_deadline.is_some_and(|d| now >= d) && !session.signed_in() {
                    return End::Error(ErrorCode::SigninTimeout);
                }
                // Read at every tick, so a reload's new interval applies
                // from the next ping on.
                let ping_interval = Duration::from_secs(session.app.config().ping_interval);
                let idle_until = live.last_seen + live.quiet_limit(ping_interval);
                if now < idle_until {
                    timer.as_mut().reset(next_deadline(idle_until, signin_deadline, &live, session));
                    continue;
                }
                if live.pinged {
                    if !live.heard {
                        if let Some(metrics) = &session.node.metrics {
                            metrics.handshake_timeout(HandshakeStage::FirstFrame);
                        }
                    }
                    return End::Error(ErrorCode::PongNotReceived);
                }
                live.pinged = true;
                live.last_seen = now;
                let ping = if live.control_frames {
                    Frame::ping()
                } else {
                    Frame::text(&ServerEvent::Ping.to_json())
                };
                let _ = session.handle.send(&ping);
                let answer_by = now + live.quiet_limit(ping_interval);
                timer.as_mut().reset(next_deadline(answer_by, signin_deadline, &live, session));
            }
            message = ws.next() => {
                let Some(message) = message else { return End::Gone };
                live.last_seen = Instant::now();
                live.pinged = false;
                live.heard = true;
                let flow = match message {
                    Ok(Message::Text(text)) => {
                        session.app.metrics.received(text.len());
                        match session.on_text(text.as_str()) {
                            // Receive the cluster's events on the channel
                            // before acknowledging (one round trip for the
                            // node's first subscriber, none after; the
                            // adapter's future is boxed already).
                            Flow::Subscribe(accepted) => {
                                let link =
                                    session.node.adapter.link(&session.app, &accepted.channel).await;
                                let flow = session.subscribed(accepted);
                                drop(link);
                                flow
                            }
                            flow => flow,
                        }
                    }
                    // Pusher messages are JSON text; binary frames are invalid.
                    Ok(Message::Binary(data)) => {
                        session.app.metrics.received(data.len());
                        session.on_invalid()
                    }
                    Ok(Message::Ping(payload)) => {
                        live.control_frames = true;
                        let _ = session.handle.send(&Frame::pong(&payload));
                        Flow::Continue
                    }
                    Ok(Message::Pong(_)) => {
                        live.control_frames = true;
                        Flow::Continue
                    }
                    // Answer the client's close frame with ours; tungstenite
                    // turns a code no endpoint may send (1005, 1006, 1015,
                    // 0–999, 1016–2999 unassigned…) into 1002.
                    Ok(Message::Close(Some(frame))) if frame.code == CloseCode::Protocol => {
                        return End::Close(CLOSE_PROTOCOL_ERROR, "Invalid close code");
                    }
                    Ok(Message::Close(_)) => return End::Close(1000, ""),
                    Ok(Message::Frame(_)) => Flow::Continue,
                    Err(e) => return read_error(e),
                };
                if let Flow::Close(reason) = flow {
                    return End::Error(reason);
                }
            }
        }
    }
}

/// The timer's next deadline: the idle check, the sign-in deadline while
/// not signed in, and the drain's close moment, whichever comes first.
fn next_deadline(
    idle: Instant,
    signin: Option<Instant>,
    live: &Liveness,
    session: &Session,
) -> Instant {
    let deadline = match signin {
        Some(d) if !session.signed_in() => idle.min(d),
        _ => idle,
    };
    live.close_at.map_or(deadline, |at| deadline.min(at))
}

/// How a [`flush`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flush {
    /// Everything queued was written.
    Done,
    /// The socket broke.
    Broken,
    /// A close was requested while waiting (the queue overflowed, …).
    Closed(ErrorCode),
}

/// Writes everything queued, waiting for the socket to become writable as
/// often as needed. With `watch_close`, a close requested while it waits
/// (an overflow evicts a stalled socket) ends it at once. With `metrics`,
/// records one delivery-latency sample for the batch: its oldest
/// published frame.
async fn flush<W: Sink>(
    handle: &SocketHandle,
    socket: &W,
    metrics: Option<&AppMetrics>,
    watch_close: bool,
    mut oldest: Option<Instant>,
) -> Flush {
    loop {
        if let Some(done) = try_flush(handle, metrics, &mut oldest) {
            return done;
        }
        if watch_close {
            if let Some(reason) = handle.close_reason() {
                return Flush::Closed(reason);
            }
            tokio::select! {
                writable = socket.as_ref().writable() => if writable.is_err() {
                    return Flush::Broken;
                },
                () = handle.ready() => {}
            }
        } else if socket.as_ref().writable().await.is_err() {
            return Flush::Broken;
        }
    }
}

/// One write of the queue without waiting: `Some` when it is all written
/// (the batch's latency sampled) or the socket is broken, `None` when the
/// socket would block. `oldest` carries the batch's first frame across
/// attempts.
fn try_flush(
    handle: &SocketHandle,
    metrics: Option<&AppMetrics>,
    oldest: &mut Option<Instant>,
) -> Option<Flush> {
    match handle.flush_sampled(oldest) {
        Flushed::Done => {
            if let (Some(metrics), Some(oldest)) = (metrics, *oldest) {
                metrics.batch_written(oldest);
            }
            Some(Flush::Done)
        }
        Flushed::Broken => Some(Flush::Broken),
        Flushed::WouldBlock => None,
    }
}

fn error_frame(reason: ErrorCode) -> Frame {
    Frame::text(&ServerEvent::Error(reason).to_json())
}

/// Refuses a socket before `connection_established`: error, then close.
async fn refuse<W: Sink>(handle: &SocketHandle, socket: &W, reason: ErrorCode) {
    handle.send_final(&[
        error_frame(reason),
        Frame::close(reason.code(), reason.message()),
    ]);
    let _ = Box::pin(timeout(
        CLOSE_TIMEOUT,
        flush(handle, socket, None, false, None),
    ))
    .await;
}

fn read_error(error: WsError) -> End {
    match error {
        // The peer went away without a close frame: nothing to answer.
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => End::Gone,
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            End::Close(CLOSE_MESSAGE_TOO_BIG, "Maximum message size exceeded")
        }
        WsError::Utf8(_) => End::Close(CLOSE_INVALID_PAYLOAD, "Invalid UTF-8"),
        WsError::Protocol(_) | WsError::Capacity(_) => {
            End::Close(CLOSE_PROTOCOL_ERROR, "Protocol error")
        }
        _ => End::Gone,
    }
}
