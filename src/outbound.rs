//! `SocketHandle`: how frames reach one subscriber — written straight to
//! its socket when it is idle, queued (bounded) when it is busy — and what
//! happens when a subscriber falls too far behind.
//!
//! A [`Frame`] is a complete WebSocket text frame (header and payload),
//! encoded once per broadcast and shared by every subscriber: server frames
//! are unmasked, so the bytes on the wire are identical for all of them.
//!
//! Delivery, per subscriber:
//! * **idle socket** (nothing queued): the publisher writes the frame with one
//!   non-blocking `write` and is done — no task wake-up, no copy;
//! * **busy socket** (a previous write is pending, or the kernel buffer is
//!   full): the frame is queued and the socket's own task is woken; it
//!   writes every queued frame with one vectored `write` (coalescing) as the
//!   socket becomes writable;
//! * **slow socket**: past `capacity` queued frames the socket is closed with
//!   4100 and its queue freed, so a slow consumer never costs unbounded memory.
//!
//! A handle without a sink (tests, transports that pull frames) only queues;
//! its owner takes frames with [`SocketHandle::pop`].
//!
//! Why a `std::sync::Mutex<VecDeque>` and a `Notify` rather than a tokio
//! `mpsc`: an empty `VecDeque` allocates nothing, so an idle socket's queue
//! costs a few dozen bytes instead of the ~1.5 KiB an `mpsc` allocates up
//! front. The lock is never held across an `.await`; it guards a push, a pop
//! or one non-blocking `write`, which also keeps frames in order.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::protocol::ErrorCode;

/// Frames written with one vectored `write` when a busy socket catches up.
const COALESCE: usize = 64;

// === impl Frame ===

/// One encoded WebSocket frame, shared by every subscriber it goes to
/// (cloning it is a reference-count increment, never a copy).
#[derive(Clone)]
pub struct Frame {
    wire: Bytes,
    /// Length of the WebSocket header in front of the payload.
    header: u8,
    /// When the delivery of this event started, on broadcast frames while
    /// metrics are on: a queued frame's delivery latency is measured from
    /// it when the frame is written.
    published: Option<Instant>,
}

impl PartialEq for Frame {
    /// The same bytes on the wire, whenever they were published.
    fn eq(&self, other: &Self) -> bool {
        self.wire == other.wire
    }
}

impl Eq for Frame {}

impl Frame {
    /// A text frame carrying `payload`.
    pub fn text(payload: &str) -> Frame {
        Frame::encode(0x1, payload.as_bytes())
    }

    /// A ping control frame with an empty payload.
    pub(crate) fn ping() -> Frame {
        Frame::encode(0x9, b"")
    }

    /// A pong control frame echoing `payload` (at most 125 bytes).
    pub(crate) fn pong(payload: &[u8]) -> Frame {
        Frame::encode(0xA, &payload[..payload.len().min(125)])
    }

    /// A close control frame with `code` and a reason (cut to fit 125 bytes).
    pub(crate) fn close(code: u16, reason: &str) -> Frame {
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let mut payload = Vec::with_capacity(2 + end);
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(&reason.as_bytes()[..end]);
        Frame::encode(0x8, &payload)
    }

    fn encode(opcode: u8, payload: &[u8]) -> Frame {
        let len = payload.len();
        let mut buf = BytesMut::with_capacity(len + 10);
        buf.put_u8(0x80 | opcode);
        if len < 126 {
            buf.put_u8(len as u8);
        } else if let Ok(short) = u16::try_from(len) {
            buf.put_u8(126);
            buf.put_u16(short);
        } else {
            buf.put_u8(127);
            buf.put_u64(len as u64);
        }
        let header = buf.len() as u8;
        buf.put_slice(payload);
        Frame {
            wire: buf.freeze(),
            header,
            published: None,
        }
    }

    /// The same frame, marked as published at `at` (shares the bytes).
    pub(crate) fn published_at(&self, at: Instant) -> Frame {
        Frame {
            published: Some(at),
            ..self.clone()
        }
    }

    /// The bytes on the wire.
    pub(crate) fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// The payload as text (empty for a payload that is not UTF-8, which
    /// [`Frame::text`] never produces).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.wire[usize::from(self.header)..]).unwrap_or_default()
    }
}

impl From<&str> for Frame {
    fn from(text: &str) -> Self {
        Frame::text(text)
    }
}

impl From<String> for Frame {
    fn from(text: String) -> Self {
        Frame::text(&text)
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Frame({:?})", self.as_str())
    }
}

/// Where a handle writes: anything that takes bytes without blocking.
///
/// A plain TCP socket passes on at once whatever it takes. A TLS socket
/// ([`buffers`](FrameSink::buffers)) may take a frame but keep part of
/// its encrypted records until the socket is writable again; the handle
/// then wakes the socket's task, whose flush writes them with an empty
/// write.
pub(crate) trait FrameSink: Send + Sync + fmt::Debug {
    /// Writes as much of `bufs` as the sink takes now; `WouldBlock` when
    /// it takes nothing. With empty `bufs`, a buffering sink writes what
    /// it holds: `Ok(0)` once nothing is left, `WouldBlock` while some is.
    ///
    /// # Errors
    /// `WouldBlock` when full, any other error when the socket is broken.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;

    /// Whether this sink may hold bytes it has taken (asked once, when
    /// the handle is made; a plain socket never does).
    fn buffers(&self) -> bool {
        false
    }

    /// Whether bytes taken by earlier writes are still waiting in the
    /// sink (asked only of sinks that [`buffers`](FrameSink::buffers)).
    fn holds_bytes(&self) -> bool {
        false
    }
}

impl FrameSink for tokio::net::tcp::OwnedWriteHalf {
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        tokio::net::tcp::OwnedWriteHalf::try_write_vectored(self, bufs)
    }
}

// === impl SocketHandle ===

/// The sending side of one subscriber. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SocketHandle {
    outbox: Arc<Outbox>,
}

#[derive(Debug)]
struct Outbox {
    queue: Mutex<Queue>,
    /// Wakes the socket's task when frames wait or a close is requested.
    wake: Notify,
    /// The socket, for writes straight from the publisher.
    sink: Option<Arc<dyn FrameSink>>,
    /// The sink may keep bytes after a complete write (TLS); fixed when
    /// the handle is made, so a plain socket's writes ask nothing more.
    buffering: bool,
}

#[derive(Debug)]
struct Queue {
    frames: VecDeque<Frame>,
    /// Bytes of the first queued frame already written.
    head_written: usize,
    /// Set once; the socket's task sends this error and closes.
    close: Option<ErrorCode>,
    /// The socket failed a write: nothing more can be sent.
    broken: bool,
    /// The last frames (error, close) are queued: nothing may follow them.
    sealed: bool,
    /// Frames allowed to wait before the subscriber counts as too slow.
    capacity: usize,
}

/// Why a frame was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The socket is closing; the frame is dropped.
    Closing,
    /// The queue was full: the socket is now being closed with 4100.
    Overflow,
}

/// What [`SocketHandle::flush`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flushed {
    /// Nothing is left to write.
    Done,
    /// The socket takes no more now: wait until it is writable.
    WouldBlock,
    /// The socket is broken.
    Broken,
}

impl SocketHandle {
    /// A handle that only queues, holding at most `capacity` frames.
    pub fn new(capacity: usize) -> Self {
        SocketHandle::build(capacity, None)
    }

    /// A handle that writes to `sink`, queueing at most `capacity` frames
    /// while the sink is busy.
    pub(crate) fn with_sink(capacity: usize, sink: Arc<dyn FrameSink>) -> Self {
        SocketHandle::build(capacity, Some(sink))
    }

    fn build(capacity: usize, sink: Option<Arc<dyn FrameSink>>) -> Self {
        let buffering = sink.as_ref().is_some_and(|s| s.buffers());
        SocketHandle {
            outbox: Arc::new(Outbox {
                queue: Mutex::new(Queue {
                    frames: VecDeque::new(),
                    head_written: 0,
                    close: None,
                    broken: false,
                    sealed: false,
                    capacity: capacity.max(1),
                }),
                wake: Notify::new(),
                sink,
                buffering,
            }),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding this lock cannot leave the queue inconsistent
        // (each step is a push, a pop or a counter update), so a poisoned
        // lock is still usable.
        self.outbox
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Delivers `frame`: written at once if the socket is idle, else queued.
    ///
    /// # Errors
    /// [`SendError`] when the frame was not delivered.
    pub fn send(&self, frame: &Frame) -> Result<(), SendError> {
        let mut q = self.queue();
        if q.close.is_some() || q.broken || q.sealed {
            return Err(SendError::Closing);
        }
        if q.frames.is_empty() {
            if let Some(sink) = &self.outbox.sink {
                match sink.try_write_vectored(&[IoSlice::new(frame.wire())]) {
                    Ok(n) if n == frame.wire().len() => {
                        if self.outbox.buffering && sink.holds_bytes() {
                            // Encrypted records are left: the task's flush
                            // writes them once the socket is writable.
                            drop(q);
                            self.outbox.wake.notify_one();
                        }
                        return Ok(());
                    }
                    Ok(n) => q.head_written = n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => {
                        q.broken = true;
                        drop(q);
                        self.outbox.wake.notify_one();
                        return Err(SendError::Closing);
                    }
                }
                q.frames.push_back(frame.clone());
                drop(q);
                self.outbox.wake.notify_one();
                return Ok(());
            }
        }
        if q.frames.len() >= q.capacity {
            // Keep a partly written frame: cutting it would corrupt the
            // stream in front of the close frame.
            let keep = usize::from(q.head_written > 0);
            q.frames.truncate(keep);
            q.frames.shrink_to_fit();
            q.close = Some(ErrorCode::OverCapacity);
            drop(q);
            self.outbox.wake.notify_one();
            return Err(SendError::Overflow);
        }
        q.frames.push_back(frame.clone());
        let was_empty = q.frames.len() == 1;
        drop(q);
        if was_empty {
            self.outbox.wake.notify_one();
        }
        Ok(())
    }

    /// Queues the socket's last frames (an error, a close frame) even when
    /// it is closing or full; nothing sent afterwards is delivered.
    pub(crate) fn send_final(&self, frames: &[Frame]) {
        let mut q = self.queue();
        q.sealed = true;
        q.frames.extend(frames.iter().cloned());
        drop(q);
        self.outbox.wake.notify_one();
    }

    /// Asks the socket's task to send `reason` as a `pusher:error` and close
    /// the socket with its code. The first request wins.
    pub(crate) fn close(&self, reason: ErrorCode) {
        let mut q = self.queue();
        if q.close.is_none() {
            q.close = Some(reason);
        }
        drop(q);
        self.outbox.wake.notify_one();
    }

    /// Writes queued frames to the sink, up to 64 per `write`,
    /// until the queue is empty or the sink is full.
    #[cfg(test)]
    pub(crate) fn flush(&self) -> Flushed {
        self.flush_sampled(&mut None)
    }

    /// [`SocketHandle::flush`], also noting in `oldest` when the oldest
    /// published frame written in full had started its delivery (if none
    /// was noted yet), for a latency sample per write batch.
    pub(crate) fn flush_sampled(&self, oldest: &mut Option<Instant>) -> Flushed {
        let Some(sink) = &self.outbox.sink else {
            return Flushed::Done;
        };
        let mut q = self.queue();
        loop {
            if q.broken {
                return Flushed::Broken;
            }
            if q.frames.is_empty() {
                if self.outbox.buffering {
                    match sink.try_write_vectored(&[]) {
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            return Flushed::WouldBlock
                        }
                        Err(_) => {
                            q.broken = true;
                            return Flushed::Broken;
                        }
                    }
                }
                if q.frames.capacity() > 64 {
                    // Give back the memory of a burst once it has drained.
                    q.frames.shrink_to(8);
                }
                return Flushed::Done;
            }
            let written = {
                let mut slices = [IoSlice::new(&[]); COALESCE];
                let mut count = 0;
                for (i, frame) in q.frames.iter().take(COALESCE).enumerate() {
                    let start = if i == 0 { q.head_written } else { 0 };
                    slices[i] = IoSlice::new(&frame.wire()[start..]);
                    count += 1;
                }
                sink.try_write_vectored(&slices[..count])
            };
            match written {
                Ok(mut n) => {
                    n += q.head_written;
                    q.head_written = 0;
                    while let Some(front) = q.frames.front() {
                        let len = front.wire().len();
                        if n < len {
                            q.head_written = n;
                            break;
                        }
                        n -= len;
                        if let Some(front) = q.frames.pop_front() {
                            if oldest.is_none() {
                                *oldest = front.published;
                            }
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Flushed::WouldBlock,
                Err(_) => {
                    q.broken = true;
                    return Flushed::Broken;
                }
            }
        }
    }

    /// Takes the oldest queued frame (for handles without a sink).
    pub fn pop(&self) -> Option<Frame> {
        let mut q = self.queue();
        let frame = q.frames.pop_front();
        if q.frames.is_empty() && q.frames.capacity() > 64 {
            q.frames.shrink_to(8);
        }
        frame
    }

    /// The close requested, if any.
    pub(crate) fn close_reason(&self) -> Option<ErrorCode> {
        self.queue().close
    }

    /// Waits until there is something to write or a close was requested.
    /// Cancel-safe: a wake-up that arrives while nobody waits is kept.
    pub(crate) async fn ready(&self) {
        self.outbox.wake.notified().await;
    }

    /// Number of frames waiting.
    pub fn len(&self) -> usize {
        self.queue().frames.len()
    }

    /// Whether no frame is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
