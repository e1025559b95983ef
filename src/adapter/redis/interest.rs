//! Channel routing: which Pusher channels' events this node receives.
//!
//! With `scaling.routing = "channel"` every event is published on its
//! channel's own Redis pub/sub channel, `{scaling.channel}:clarion:{app
//! id}:{channel name}`, and a node SUBSCRIBEs to it only while it has
//! subscribers there, so a node's CPU and its bytes from Redis follow its
//! own subscribers, not the whole deployment's publish rate.
//!
//! The ledger below keeps one [`Entry`] per channel this node wants or has:
//! - a subscribe first awaits [`link`]: the node's first subscriber on a
//!   channel waits one round trip to Redis (the SUBSCRIBE's reply), later
//!   ones not at all, so an event published after the acknowledgement is
//!   never missed. The [`Link`] it gets *holds* the channel until the
//!   subscriber is in the registry (the channel is not occupied before);
//! - occupancy changes (from the subscribe/unsubscribe seam) and released
//!   holds mark the channel dirty and wake the [`flusher`];
//! - the flusher decides for every dirty channel at once, under the
//!   ledger's lock (so a concurrent [`link`] either holds the channel in
//!   time or waits for the next round), then sends every SUBSCRIBE and
//!   UNSUBSCRIBE of the round pipelined on the pub/sub connection: churn
//!   costs one round trip per round, never one per change, and a channel
//!   vacated and reoccupied between two rounds costs nothing.
//!
//! One command per channel, not one command for many: the Redis client
//! matches replies to commands one to one, and a multi-channel SUBSCRIBE
//! answers once per channel. On a Redis Cluster the commands are
//! `SSUBSCRIBE`/`SUNSUBSCRIBE`, each sent to its channel's shard
//! (`endpoint.rs`); the reply that releases a waiting subscribe is still
//! that shard's confirmation.
//!
//! After a reconnection every wanted channel is subscribed again
//! ([`Interest::relink_all`]). A channel this node stops receiving ends its
//! idle history watch (`History::lapse`), so a stream resuming here later
//! is served from the cluster's history instead of a log with a gap, and
//! drops its copy of a cache channel's last event: the publishing node
//! keeps the last event in Redis too (`{prefix}:clarion:cache:{app}:{channel}`),
//! read when a node links to the channel, so a subscriber on any node gets
//! the cluster's last event, not a stale one.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::future::join_all;
use tokio::sync::{oneshot, Notify};
use tokio::time::Duration;

use super::endpoint::Subscriptions;
use super::Inner;
use crate::adapter::Link;
use crate::apps::{App, AppRegistry};
use crate::protocol::ChannelName;

/// Commands sent in one pipelined batch.
const BATCH: usize = 512;

/// The longest a batch may take before the round counts as failed (the
/// connection is then presumed broken; the subscriber task reconnects).
const BATCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The pause after a failed round before the next.
const RETRY_AFTER: Duration = Duration::from_millis(200);

/// The channels this node wants from Redis, and the connection to ask on.
#[derive(Default)]
pub(super) struct Interest {
    ledger: Mutex<Ledger>,
    /// Wakes the flusher; a wake-up with nobody waiting is kept.
    wake: Notify,
    /// The pub/sub connection's command side, while linked.
    sink: Mutex<Option<Subscriptions>>,
}

impl std::fmt::Debug for Interest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ledger = lock(&self.ledger);
        f.debug_struct("Interest")
            .field("channels", &ledger.entries.len())
            .field("dirty", &ledger.dirty.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Ledger {
    /// By Redis channel name.
    entries: HashMap<String, Entry>,
    /// Channels to decide on in the flusher's next round.
    dirty: HashSet<String>,
}

/// One channel this node wants, has, or is deciding about.
#[derive(Debug)]
struct Entry {
    app_id: Arc<str>,
    channel: ChannelName,
    /// Subscribes in progress (their [`Link`]s are alive).
    holds: usize,
    state: State,
    /// Subscribes waiting for the SUBSCRIBE's reply.
    waiters: Vec<oneshot::Sender<()>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not subscribed on Redis.
    Unlinked,
    /// A SUBSCRIBE is on its way.
    Linking,
    /// Subscribed: events arrive.
    Linked,
}

/// What one flusher round sends.
#[derive(Debug, Default)]
struct Round {
    subscribe: Vec<String>,
    unsubscribe: Vec<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Interest {
    /// Marks `key` for the next round and wakes the flusher.
    fn touch(&self, ledger: &mut Ledger, key: String) {
        ledger.dirty.insert(key);
        self.wake.notify_one();
    }

    /// The channel got its first or lost its last local subscriber.
    pub(super) fn occupancy_changed(&self, key: String, app: &App, channel: &ChannelName) {
        let mut ledger = lock(&self.ledger);
        ledger
            .entries
            .entry(key.clone())
            .or_insert_with(|| Entry::new(app.id.clone(), channel.clone()));
        self.touch(&mut ledger, key);
    }

    /// A subscribe's [`Link`] ended.
    fn release(&self, key: &str) {
        let mut ledger = lock(&self.ledger);
        let Some(entry) = ledger.entries.get_mut(key) else {
            return;
        };
        entry.holds = entry.holds.saturating_sub(1);
        if entry.holds == 0 {
            self.touch(&mut ledger, key.to_owned());
        }
    }

    /// A new pub/sub connection: every channel is subscribed again.
    pub(super) fn relink_all(&self, sink: Subscriptions) {
        let mut ledger = lock(&self.ledger);
        *lock(&self.sink) = Some(sink);
        let Ledger { entries, dirty } = &mut *ledger;
        for (key, entry) in entries.iter_mut() {
            entry.state = State::Unlinked;
            dirty.insert(key.clone());
        }
        self.wake.notify_one();
    }

    /// The pub/sub connection is gone: nothing is subscribed any more, and
    /// nobody waits for a reply that cannot come.
    pub(super) fn unlink_all(&self) {
        let mut ledger = lock(&self.ledger);
        *lock(&self.sink) = None;
        for entry in ledger.entries.values_mut() {
            entry.state = State::Unlinked;
            entry.waiters.clear();
        }
    }

    /// Redis says `key` is no longer subscribed (on a cluster, its slot
    /// moved to another shard). If this node still counts it as linked it
    /// is subscribed again in the next round, on whichever shard now
    /// serves it. The same notice also echoes this node's own
    /// `SUNSUBSCRIBE`s; one that arrives after the channel was linked
    /// again costs one redundant subscribe, which Redis ignores.
    pub(super) fn lost(&self, key: &str) {
        let mut ledger = lock(&self.ledger);
        let Some(entry) = ledger.entries.get_mut(key) else {
            return;
        };
        if entry.state == State::Linked {
            entry.state = State::Unlinked;
            self.touch(&mut ledger, key.to_owned());
        }
    }

    /// Channels received now.
    fn linked(&self) -> usize {
        lock(&self.ledger)
            .entries
            .values()
            .filter(|e| e.state == State::Linked)
            .count()
    }

    /// Takes the dirty channels and decides each: subscribe what is wanted
    /// and not linked, unsubscribe (and forget) what is linked and no
    /// longer wanted. Wanted means held by a subscribe in progress or
    /// occupied on this node.
    fn plan(&self, apps: &AppRegistry) -> Round {
        let mut ledger = lock(&self.ledger);
        let dirty = std::mem::take(&mut ledger.dirty);
        let mut round = Round::default();
        for key in dirty {
            let Some(entry) = ledger.entries.get_mut(&key) else {
                continue;
            };
            // Decided again when its reply comes.
            if entry.state == State::Linking {
                continue;
            }
            let app = apps.by_id(&entry.app_id);
            let occupied = app.as_ref().is_some_and(|app| {
                app.channels
                    .stats(entry.channel.as_str())
                    .is_some_and(|s| s.subscription_count > 0)
            });
            let wanted = entry.holds > 0 || occupied;
            match (wanted, entry.state) {
                (true, State::Unlinked) => {
                    entry.state = State::Linking;
                    round.subscribe.push(key);
                }
                (false, State::Linked) => {
                    if let Some(app) = &app {
                        app.history.lapse(&entry.channel);
                        if entry.channel.is_cache() {
                            app.forget_cached(&entry.channel);
                        }
                    }
                    ledger.entries.remove(&key);
                    round.unsubscribe.push(key);
                }
                (false, _) => {
                    ledger.entries.remove(&key);
                }
                (true, _) => {}
            }
        }
        round
    }

    /// Applies a round's outcome: linked channels release their waiters
    /// and are decided again (their subscriber may have left meanwhile).
    fn settle(&self, subscribed: Vec<String>, ok: bool) {
        let mut ledger = lock(&self.ledger);
        for key in subscribed {
            let entry = match ledger.entries.get_mut(&key) {
                Some(entry) if entry.state == State::Linking => entry,
                // Relinked or forgotten meanwhile.
                _ => continue,
            };
            entry.state = if ok { State::Linked } else { State::Unlinked };
            // Woken either way: on a failure the subscribe goes on without
            // the cluster, as every publish does while Redis is away.
            for waiter in entry.waiters.drain(..) {
                let _ = waiter.send(());
            }
            ledger.dirty.insert(key);
        }
        if !ledger.dirty.is_empty() {
            self.wake.notify_one();
        }
    }
}

impl Entry {
    fn new(app_id: Arc<str>, channel: ChannelName) -> Self {
        Entry {
            app_id,
            channel,
            holds: 0,
            state: State::Unlinked,
            waiters: Vec::new(),
        }
    }
}

/// See [`crate::adapter::Adapter::link`].
pub(super) async fn link(inner: &Arc<Inner>, app: &App, channel: &ChannelName) -> Link {
    let key = inner.channel_key(app, channel.as_str());
    let interest = &inner.interest;
    let waiter = {
        let mut ledger = lock(&interest.ledger);
        let entry = ledger
            .entries
            .entry(key.clone())
            .or_insert_with(|| Entry::new(app.id.clone(), channel.clone()));
        entry.holds += 1;
        let linked = entry.state == State::Linked;
        if linked || !inner.is_connected() {
            // Without Redis the subscribe goes on locally; the channel is
            // subscribed when the connection returns (`relink_all`).
            None
        } else {
            let (tx, rx) = oneshot::channel();
            entry.waiters.push(tx);
            interest.touch(&mut ledger, key.clone());
            Some(rx)
        }
    };
    if let Some(rx) = waiter {
        let limit = Duration::from_millis(inner.config.query_timeout_ms);
        if tokio::time::timeout(limit, rx).await.is_err() {
            tracing::warn!(channel = %channel, "Redis did not confirm a channel subscription in time; subscribing anyway");
        }
        // Events arrive from now on; the one before them is the cluster's
        // copy (a newer one that already arrived is kept).
        if channel.is_cache() {
            if let Some(frame) = inner.cluster_cached(app, channel.as_str()).await {
                app.cache_if_absent(channel, frame);
            }
        }
    }
    let held = inner.clone();
    Link::held(move || held.interest.release(&key))
}

/// Runs the rounds: whenever channels are marked, decides them and sends
/// the SUBSCRIBEs and UNSUBSCRIBEs, one round at a time, in order.
pub(super) async fn flusher(inner: Arc<Inner>) {
    let interest = &inner.interest;
    loop {
        tokio::select! {
            _ = inner.stop.cancelled() => return,
            _ = interest.wake.notified() => {}
        }
        let sink = lock(&interest.sink).clone();
        // Without a connection the marks wait for `relink_all`.
        let Some(sink) = sink else { continue };
        let round = interest.plan(&inner.apps);
        if round.subscribe.is_empty() && round.unsubscribe.is_empty() {
            continue;
        }
        let ok = send(sink, &round).await;
        let sent = (round.subscribe.len(), round.unsubscribe.len());
        interest.settle(round.subscribe, ok);
        inner.metrics.interest(sent.0, sent.1, interest.linked());
        if !ok {
            tracing::warn!(
                subscribe = sent.0,
                unsubscribe = sent.1,
                "could not update channel subscriptions on Redis; retrying"
            );
            // A broken connection is replaced by the subscriber task
            // (`relink_all`); until then, retry no faster than this.
            tokio::select! {
                _ = inner.stop.cancelled() => return,
                _ = tokio::time::sleep(RETRY_AFTER) => {}
            }
        }
    }
}

/// Sends a round pipelined (every command written before any reply is
/// awaited), in batches; `false` when any command failed or timed out.
async fn send(sink: Subscriptions, round: &Round) -> bool {
    let commands = round
        .unsubscribe
        .iter()
        .map(|key| (false, key))
        .chain(round.subscribe.iter().map(|key| (true, key)))
        .collect::<Vec<_>>();
    for batch in commands.chunks(BATCH) {
        let replies = join_all(batch.iter().map(|(subscribe, key)| {
            let mut sink = sink.clone();
            async move {
                if *subscribe {
                    sink.subscribe(key.as_str()).await
                } else {
                    sink.unsubscribe(key.as_str()).await
                }
            }
        }));
        match tokio::time::timeout(BATCH_TIMEOUT, replies).await {
            Ok(replies) if replies.iter().all(Result::is_ok) => {}
            _ => return false,
        }
    }
    true
}
