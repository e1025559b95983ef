//! `Taps`: observers of one channel's events that are not subscribers —
//! the dashboard's channel inspector. A tap is a queue-only
//! [`SocketHandle`] that `App::deliver` hands every event of its channel
//! to, so watching a channel occupies nothing: no subscription count, no
//! presence member, no lifecycle event, and any channel kind can be
//! watched (the dashboard token is an operator credential).
//!
//! While nothing is tapped, a delivery costs one atomic load. The lock is
//! a `std::sync::Mutex` held to hand a frame to a channel's taps or to add
//! or remove one, never across an `.await`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::outbound::{Frame, SocketHandle};
use crate::protocol::ChannelName;

/// Events a tap may hold before its reader counts as too slow and the tap
/// is closed (4100), as a slow subscriber's queue is.
pub(crate) const TAP_CAPACITY: usize = 1_000;

/// The taps of one app.
#[derive(Debug, Default)]
pub(crate) struct Taps {
    /// Open taps, so deliveries skip the lock while there are none.
    open: AtomicUsize,
    next_id: AtomicU64,
    by_channel: Mutex<HashMap<ChannelName, Vec<(u64, SocketHandle)>>>,
}

/// One open tap: its id (to close it) and the queue its events arrive in.
#[derive(Debug)]
pub(crate) struct Tap {
    pub(crate) id: u64,
    pub(crate) handle: SocketHandle,
}

impl Taps {
    fn lock(&self) -> MutexGuard<'_, HashMap<ChannelName, Vec<(u64, SocketHandle)>>> {
        // Each step under the lock is one push, remove or send: a panic
        // cannot leave the map inconsistent.
        self.by_channel
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts handing `channel`'s events to a new tap.
    pub(crate) fn open(&self, channel: &ChannelName) -> Tap {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let handle = SocketHandle::new(TAP_CAPACITY);
        self.lock()
            .entry(channel.clone())
            .or_default()
            .push((id, handle.clone()));
        self.open.fetch_add(1, Ordering::AcqRel);
        Tap { id, handle }
    }

    /// Stops tap `id` of `channel`; unknown ids are a no-op.
    pub(crate) fn close(&self, channel: &ChannelName, id: u64) {
        let mut taps = self.lock();
        let Some(list) = taps.get_mut(channel) else {
            return;
        };
        let before = list.len();
        list.retain(|(tap, _)| *tap != id);
        let removed = before - list.len();
        if list.is_empty() {
            taps.remove(channel);
        }
        drop(taps);
        self.open.fetch_sub(removed, Ordering::AcqRel);
    }

    /// Hands an event of `channel` to its taps.
    pub(crate) fn record(&self, channel: &ChannelName, frame: &Frame) {
        if self.open.load(Ordering::Acquire) == 0 {
            return;
        }
        if let Some(list) = self.lock().get(channel) {
            for (_, handle) in list {
                let _ = handle.send(frame);
            }
        }
    }
}

#[cfg(test)]
mod tests;
