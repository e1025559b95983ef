//! Watchlists and online status (Pusher's "watchlist events"), per app.
//!
//! A signed-in user's `user_data` may carry a `watchlist`: the user ids it
//! wants online status for. A user is **online** while at least one socket
//! anywhere in the cluster is signed in as that user, and **offline** once
//! the last one has gone. [`Watchlists`] keeps, for one app:
//!
//! * who is online: each user's count of signed-in sockets on this node and
//!   the other nodes where it has some (replicated by the adapter);
//! * who watches whom: watched user id → the sockets on this node whose
//!   watchlist names it;
//! * what each signed-in socket of this node registered, so signing out
//!   needs only the socket id.
//!
//! Each transition of a user between offline and online queues one
//! `pusher_internal:watchlist_events` frame, encoded once and shared, to the
//! sockets that watch that user; users nobody watches cost a map update and
//! no frame. Right after a sign-in, the socket gets the watched users that
//! are already online as one `online` event (nothing when none is).
//!
//! This module names no adapter: a sign-in or sign-out tells its caller,
//! through `announce`, when a user's first or last socket *on this node*
//! came or went, and the caller tells the cluster.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;

use crate::outbound::{Frame, SocketHandle};
use crate::protocol::{ServerEvent, SocketId};

/// The most user ids one watchlist may name (Pusher's limit).
pub(crate) const MAX_WATCHLIST: usize = 100;

/// Why a `watchlist` in `user_data` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WatchlistError {
    /// `watchlist` is neither an array nor `null`.
    #[error("watchlist is not an array")]
    NotAnArray,
    /// An entry is not a non-empty string or a number.
    #[error("watchlist entry {0} is not a user id")]
    NotAUserId(usize),
    /// More entries than [`MAX_WATCHLIST`].
    #[error("watchlist has {0} entries, more than {MAX_WATCHLIST}")]
    TooLong(usize),
}

/// The watched user ids in a parsed `user_data`, in order, without
/// duplicates; empty when there is no `watchlist` (or it is `null`).
/// Numbers are taken in their decimal string form, as presence user ids
/// are (`5` and `"5"` are one user).
///
/// # Errors
/// [`WatchlistError`] when `watchlist` is not an array of user ids or has
/// more than [`MAX_WATCHLIST`] entries.
pub(crate) fn parse(user_data: &Value) -> Result<Vec<Arc<str>>, WatchlistError> {
    let items = match user_data.get("watchlist") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(WatchlistError::NotAnArray),
    };
    if items.len() > MAX_WATCHLIST {
        return Err(WatchlistError::TooLong(items.len()));
    }
    let mut ids: Vec<Arc<str>> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let id: Arc<str> = match item {
            Value::String(s) if !s.is_empty() => Arc::from(s.as_str()),
            Value::Number(n) => Arc::from(n.to_string()),
            _ => return Err(WatchlistError::NotAUserId(i)),
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// A user's status change on this node, for the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// The user's first signed-in socket on this node.
    Online,
    /// The user's last signed-in socket on this node closed.
    Offline,
}

/// One app's online users and watchlists on this node.
#[derive(Debug, Default)]
pub(crate) struct Watchlists {
    /// One lock for the whole app's state. Every transition and every
    /// sign-in snapshot is decided and queued under it, so a watcher never
    /// gets an `online` after a snapshot that already listed the user, nor
    /// misses a transition that raced its sign-in. Sign-ins happen once
    /// per connection, not per message, and nothing under the lock awaits
    /// (frames go into the sockets' own queues).
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Users online somewhere in the cluster.
    users: HashMap<Arc<str>, Online>,
    /// Watched user id → the sockets on this node that watch it.
    watchers: HashMap<Arc<str>, Vec<(SocketId, SocketHandle)>>,
    /// This node's signed-in sockets and what each registered.
    signed_in: HashMap<SocketId, SignedIn>,
}

/// Where a user is signed in.
#[derive(Debug, Default)]
struct Online {
    /// Signed-in sockets on this node.
    local: usize,
    /// Other nodes with at least one signed-in socket of the user.
    nodes: Vec<u64>,
}

impl Online {
    fn is_online(&self) -> bool {
        self.local > 0 || !self.nodes.is_empty()
    }
}

/// What one socket of this node signed in as.
#[derive(Debug)]
struct SignedIn {
    user_id: Arc<str>,
    watchlist: Vec<Arc<str>>,
}

impl Watchlists {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Signs `socket_id` in as `user_id`, watching `watchlist` (parsed by
    /// [`parse`]); a socket that was signed in already is moved to the new
    /// identity. Queues the snapshot of watched users already online to
    /// `handle`. `announce` is called, under the lock so the cluster hears
    /// a user's changes in order, when the user's first socket on this node
    /// signed in (and, on a re-sign-in as someone else, when the old user's
    /// last one left).
    pub(crate) fn sign_in(
        &self,
        socket_id: SocketId,
        handle: &SocketHandle,
        user_id: Arc<str>,
        watchlist: Vec<Arc<str>>,
        mut announce: impl FnMut(Status, &str),
    ) {
        let mut state = self.lock();
        let previous = state.signed_in.remove(&socket_id);
        if let Some(previous) = &previous {
            state.unwatch(socket_id, &previous.watchlist);
        }
        // The new identity first: signing in again as the same user then
        // never passes through offline.
        state.add_local(&user_id, &mut announce);
        if let Some(previous) = previous {
            state.remove_local(&previous.user_id, &mut announce);
        }
        let mut online = Vec::new();
        for watched in &watchlist {
            if state.users.get(watched).is_some_and(Online::is_online) {
                online.push(watched.clone());
            }
            state
                .watchers
                .entry(watched.clone())
                .or_default()
                .push((socket_id, handle.clone()));
        }
        if !online.is_empty() {
            let snapshot = ServerEvent::WatchlistEvents {
                online: &online,
                offline: &[],
            };
            let _ = handle.send(&Frame::from(snapshot.to_json()));
        }
        state
            .signed_in
            .insert(socket_id, SignedIn { user_id, watchlist });
    }

    /// Forgets a closing socket's sign-in; a socket that never signed in is
    /// a no-op. `announce` is called, under the lock, when the user's last
    /// socket on this node left.
    pub(crate) fn sign_out(&self, socket_id: SocketId, mut announce: impl FnMut(Status, &str)) {
        let mut state = self.lock();
        let Some(signed_in) = state.signed_in.remove(&socket_id) else {
            return;
        };
        state.unwatch(socket_id, &signed_in.watchlist);
        state.remove_local(&signed_in.user_id, &mut announce);
    }

    /// Node `node` has a signed-in socket of `user_id`.
    pub(crate) fn remote_online(&self, node: u64, user_id: &str) {
        self.lock().remote_online(node, user_id);
    }

    /// Node `node` has no signed-in socket of `user_id` any more.
    pub(crate) fn remote_offline(&self, node: u64, user_id: &str) {
        self.lock().remote_offline(node, user_id);
    }

    /// Replaces everything `node` said before with its complete list of
    /// signed-in users (after it reconnected, or answering a sync).
    pub(crate) fn replace_node(&self, node: u64, user_ids: &[String]) {
        let mut state = self.lock();
        let kept: HashSet<&str> = user_ids.iter().map(String::as_str).collect();
        for gone in state.users_on(node) {
            if !kept.contains(&*gone) {
                state.remote_offline(node, &gone);
            }
        }
        for user_id in &kept {
            state.remote_online(node, user_id);
        }
    }

    /// Forgets node `node` (it left, or went silent): users only it had go
    /// offline.
    pub(crate) fn forget_node(&self, node: u64) {
        let mut state = self.lock();
        for user_id in state.users_on(node) {
            state.remote_offline(node, &user_id);
        }
    }

    /// Calls `publish` with every user signed in on this node, under the
    /// lock, so no announcement of this node can be ordered before it and
    /// describe a newer state than the list.
    pub(crate) fn local_users<R>(&self, publish: impl FnOnce(Vec<String>) -> R) -> R {
        let state = self.lock();
        let users = state
            .users
            .iter()
            .filter(|(_, online)| online.local > 0)
            .map(|(user_id, _)| user_id.to_string())
            .collect();
        publish(users)
    }

    /// Whether `user_id` is online anywhere in the cluster.
    #[cfg(test)]
    pub(crate) fn is_online(&self, user_id: &str) -> bool {
        self.lock()
            .users
            .get(user_id)
            .is_some_and(Online::is_online)
    }
}

impl State {
    /// One more signed-in socket of `user_id` on this node.
    fn add_local(&mut self, user_id: &Arc<str>, announce: &mut impl FnMut(Status, &str)) {
        let online = self.users.entry(user_id.clone()).or_default();
        let was_online = online.is_online();
        online.local += 1;
        if online.local == 1 {
            announce(Status::Online, user_id);
        }
        if !was_online {
            self.notify(user_id, Status::Online);
        }
    }

    /// One signed-in socket of `user_id` on this node fewer.
    fn remove_local(&mut self, user_id: &Arc<str>, announce: &mut impl FnMut(Status, &str)) {
        let Some(online) = self.users.get_mut(user_id) else {
            return;
        };
        online.local = online.local.saturating_sub(1);
        if online.local > 0 {
            return;
        }
        announce(Status::Offline, user_id);
        if !online.is_online() {
            self.users.remove(user_id);
            self.notify(user_id, Status::Offline);
        }
    }

    fn remote_online(&mut self, node: u64, user_id: &str) {
        if let Some(online) = self.users.get_mut(user_id) {
            if !online.nodes.contains(&node) {
                online.nodes.push(node);
            }
            return;
        }
        let user_id: Arc<str> = Arc::from(user_id);
        self.users.insert(
            user_id.clone(),
            Online {
                local: 0,
                nodes: vec![node],
            },
        );
        self.notify(&user_id, Status::Online);
    }

    fn remote_offline(&mut self, node: u64, user_id: &str) {
        let Some(online) = self.users.get_mut(user_id) else {
            return;
        };
        let Some(pos) = online.nodes.iter().position(|n| *n == node) else {
            return;
        };
        online.nodes.swap_remove(pos);
        if online.is_online() {
            return;
        }
        if let Some((user_id, _)) = self.users.remove_entry(user_id) {
            self.notify(&user_id, Status::Offline);
        }
    }

    /// Users that `node` reported signed in.
    fn users_on(&self, node: u64) -> Vec<Arc<str>> {
        self.users
            .iter()
            .filter(|(_, online)| online.nodes.contains(&node))
            .map(|(user_id, _)| user_id.clone())
            .collect()
    }

    /// Removes `socket_id` from the watchers of each user in `watchlist`.
    fn unwatch(&mut self, socket_id: SocketId, watchlist: &[Arc<str>]) {
        for watched in watchlist {
            if let Some(sockets) = self.watchers.get_mut(watched) {
                sockets.retain(|(id, _)| *id != socket_id);
                if sockets.is_empty() {
                    self.watchers.remove(watched);
                }
            }
        }
    }

    /// Queues `user_id`'s new status to every socket that watches it: one
    /// frame, encoded only when someone watches, shared by all of them.
    fn notify(&self, user_id: &Arc<str>, status: Status) {
        let Some(sockets) = self.watchers.get(user_id) else {
            return;
        };
        let users = std::slice::from_ref(user_id);
        let event = match status {
            Status::Online => ServerEvent::WatchlistEvents {
                online: users,
                offline: &[],
            },
            Status::Offline => ServerEvent::WatchlistEvents {
                online: &[],
                offline: users,
            },
        };
        let frame = Frame::from(event.to_json());
        for (_, handle) in sockets {
            let _ = handle.send(&frame);
        }
    }
}

#[cfg(test)]
mod tests;
