//! `SocketIndex`: the one owner of an app's live sockets on this node and of
//! which user each socket acts as (signed in, or a presence member), so the
//! quota, the connection count and `terminate_connections` read one place.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use crate::outbound::SocketHandle;
use crate::protocol::{ErrorCode, SocketId};

/// Every live socket of one app on this node, and the user index.
#[derive(Debug, Default)]
pub(crate) struct SocketIndex {
    /// Handles by socket id, so a user's sockets can be closed by id.
    sockets: DashMap<SocketId, SocketHandle>,
    /// Sockets per user id. A socket appears once per association (a
    /// sign-in, and each presence channel it joined as that user), so the
    /// user stays known until its last association ends.
    users: DashMap<Arc<str>, Vec<SocketId>>,
    /// The one count of live sockets: reserved before the socket is
    /// inserted, so the quota check and the insert cannot race.
    count: AtomicUsize,
}

impl SocketIndex {
    /// Registers a socket under a fresh, unique id unless `max` sockets are
    /// already live.
    pub(crate) fn add(
        &self,
        handle: &SocketHandle,
        max: Option<usize>,
    ) -> Result<SocketId, ErrorCode> {
        let before = self.count.fetch_add(1, Ordering::AcqRel);
        if max.is_some_and(|max| before >= max) {
            self.count.fetch_sub(1, Ordering::AcqRel);
            return Err(ErrorCode::OverConnectionQuota);
        }
        loop {
            let id = SocketId::new(
                rand::random::<u32>() % 1_000_000_000,
                rand::random::<u32>() % 1_000_000_000,
            );
            if let dashmap::Entry::Vacant(slot) = self.sockets.entry(id) {
                slot.insert(handle.clone());
                return Ok(id);
            }
        }
    }

    /// Forgets a closed socket; unknown ids are a no-op. Returns whether
    /// the socket was known.
    pub(crate) fn remove(&self, socket_id: SocketId) -> bool {
        let removed = self.sockets.remove(&socket_id).is_some();
        if removed {
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
        removed
    }

    /// Live sockets.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Records one association of `socket_id` with `user_id`.
    pub(crate) fn add_user(&self, user_id: &Arc<str>, socket_id: SocketId) {
        self.users
            .entry(user_id.clone())
            .or_default()
            .push(socket_id);
    }

    /// Ends one association of `socket_id` with `user_id`.
    pub(crate) fn remove_user(&self, user_id: &str, socket_id: SocketId) {
        if let Some(mut sockets) = self.users.get_mut(user_id) {
            if let Some(pos) = sockets.iter().position(|s| *s == socket_id) {
                sockets.swap_remove(pos);
            }
        }
        self.users
            .remove_if(user_id, |_, sockets| sockets.is_empty());
    }

    /// Closes every socket of `user_id` with `reason`; returns how many.
    pub(crate) fn close_user(&self, user_id: &str, reason: ErrorCode) -> usize {
        let mut ids: Vec<SocketId> = self
            .users
            .get(user_id)
            .map(|s| s.value().clone())
            .unwrap_or_default();
        ids.sort_unstable();
        ids.dedup();
        let mut closed = 0;
        for id in ids {
            if let Some(handle) = self.sockets.get(&id) {
                handle.close(reason);
                closed += 1;
            }
        }
        closed
    }

    /// Closes every socket with `reason`; returns how many.
    pub(crate) fn close_all(&self, reason: ErrorCode) -> usize {
        let mut closed = 0;
        for socket in &self.sockets {
            socket.value().close(reason);
            closed += 1;
        }
        closed
    }

    /// Whether `user_id` has any socket here.
    #[cfg(test)]
    pub(crate) fn has_user(&self, user_id: &str) -> bool {
        self.users.contains_key(user_id)
    }
}
