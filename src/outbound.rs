//! `SocketHandle`: the bounded queue of frames waiting to be written to one
//! subscriber, and what happens when it overflows.
//!
//! The queue is transport-neutral: the WebSocket connection task drains it,
//! and any other transport (SSE, a test probe) can drain it the same way, so
//! the channel registry holds subscribers without knowing what they are.
//!
//! Why a `std::sync::Mutex<VecDeque>` and a `Notify` rather than a tokio
//! `mpsc`: an empty `VecDeque` allocates nothing, so an idle socket's queue
//! costs a few dozen bytes instead of the ~1.5 KiB an `mpsc` allocates up
//! front, and the writer can take every queued frame in one wake-up and
//! coalesce them into one `write`. The lock is never held across an
//! `.await`; it guards a push or a pop only.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::protocol::ErrorCode;

/// One encoded frame, shared by every subscriber it goes to (cloning it is a
/// reference-count increment, never a copy).
pub type Frame = tokio_tungstenite::tungstenite::Utf8Bytes;

/// The sending side of one subscriber's queue. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SocketHandle {
    outbox: Arc<Outbox>,
}

#[derive(Debug)]
struct Outbox {
    queue: Mutex<Queue>,
    /// Wakes the writer when the queue goes from empty to non-empty, or a
    /// close is requested.
    wake: Notify,
}

#[derive(Debug)]
struct Queue {
    frames: VecDeque<Frame>,
    /// Set once; the writer sends this error and closes the socket.
    close: Option<ErrorCode>,
    /// Frames allowed to wait before the subscriber counts as too slow.
    capacity: usize,
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The socket is closing; the frame is dropped.
    Closing,
    /// The queue was full: the socket is now being closed with 4100.
    Overflow,
}

impl SocketHandle {
    /// A new, empty queue holding at most `capacity` frames.
    pub fn new(capacity: usize) -> Self {
        SocketHandle {
            outbox: Arc::new(Outbox {
                queue: Mutex::new(Queue {
                    frames: VecDeque::new(),
                    close: None,
                    capacity: capacity.max(1),
                }),
                wake: Notify::new(),
            }),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding this lock cannot leave the queue inconsistent
        // (push/pop only), so a poisoned lock is still usable.
        self.outbox
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `frame`. A full queue closes the socket with 4100 (over
    /// capacity) instead of growing: a slow consumer never costs unbounded
    /// memory.
    ///
    /// # Errors
    /// [`SendError`] when the frame was not queued.
    pub fn send(&self, frame: &Frame) -> Result<(), SendError> {
        let mut q = self.queue();
        if q.close.is_some() {
            return Err(SendError::Closing);
        }
        if q.frames.len() >= q.capacity {
            q.frames = VecDeque::new();
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

    /// Asks the writer to send `reason` as a `pusher:error` and close the
    /// socket with its code. The first request wins.
    pub fn close(&self, reason: ErrorCode) {
        let mut q = self.queue();
        if q.close.is_none() {
            q.close = Some(reason);
        }
        drop(q);
        self.outbox.wake.notify_one();
    }

    /// Takes the oldest queued frame.
    pub fn pop(&self) -> Option<Frame> {
        let mut q = self.queue();
        let frame = q.frames.pop_front();
        if q.frames.is_empty() && q.frames.capacity() > 64 {
            // Give back the memory of a burst once it has drained.
            q.frames.shrink_to(8);
        }
        frame
    }

    /// The close requested, if any.
    pub fn close_reason(&self) -> Option<ErrorCode> {
        self.queue().close
    }

    /// Waits until there is something to write or a close was requested.
    /// Cancel-safe: a wake-up that arrives while nobody waits is kept.
    pub async fn ready(&self) {
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

    /// Whether two handles feed the same socket.
    pub fn same(&self, other: &SocketHandle) -> bool {
        Arc::ptr_eq(&self.outbox, &other.outbox)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_closes_with_4100_and_frees_the_queue() {
        let h = SocketHandle::new(2);
        let f = Frame::from("x");
        assert_eq!(h.send(&f), Ok(()));
        assert_eq!(h.send(&f), Ok(()));
        assert_eq!(h.send(&f), Err(SendError::Overflow));
        assert_eq!(h.close_reason(), Some(ErrorCode::OverCapacity));
        assert!(h.is_empty());
        assert_eq!(h.send(&f), Err(SendError::Closing));
    }

    #[tokio::test]
    async fn wake_up_is_not_lost_when_nobody_waits() {
        let h = SocketHandle::new(8);
        h.send(&Frame::from("a")).ok();
        tokio::time::timeout(std::time::Duration::from_secs(1), h.ready())
            .await
            .expect("the stored wake-up completes at once");
        assert_eq!(h.pop().as_ref().map(Frame::as_str), Some("a"));
        assert_eq!(h.pop(), None);
    }

    #[test]
    fn first_close_reason_wins() {
        let h = SocketHandle::new(8);
        h.close(ErrorCode::TerminatedByApp);
        h.close(ErrorCode::ServerShuttingDown);
        assert_eq!(h.close_reason(), Some(ErrorCode::TerminatedByApp));
    }
}
