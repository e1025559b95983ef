//! `History`: the recent events of an app's *watched* channels — those an
//! event stream (SSE) reads now or read within `event_history_max_age` — in
//! one ordered log, so a stream that reconnects with `Last-Event-ID` gets
//! exactly the events it missed, in order.
//!
//! Every logged event has an [`EventId`], `MS-SEQ` on the wire. On a single
//! node this process numbers them itself: `MS` is when it started (the
//! epoch), so an id from another run is recognised as not resumable here.
//! With scaling on, the ids are the ones Redis gave the event when the
//! publishing node added it to the app's stream (`XADD`), the same on every
//! node, and each node logs events in the order Redis published them (see
//! `adapter/redis.rs`), so a stream can resume on any replica.
//!
//! The log is bounded by `event_history` entries and
//! `event_history_max_age`; a resume that reaches past what the log still
//! holds, or past when its channels started being watched, is refused with
//! a refetch reason instead of silently skipping events (in cluster mode
//! the Redis stream is asked first).
//!
//! Channels nobody streams are not logged: WebSocket-only apps pay one
//! atomic load per publication. The lock is a `std::sync::Mutex` held for a
//! push or a scan of the log, never across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::outbound::Frame;
use crate::protocol::ChannelName;

/// An event's place in the app's history: `MS-SEQ`, ordered as a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct EventId(pub(crate) u64, pub(crate) u64);

impl EventId {
    /// Parses `MS-SEQ`.
    pub(crate) fn parse(id: &str) -> Option<EventId> {
        let (ms, seq) = id.trim().split_once('-')?;
        Some(EventId(ms.parse().ok()?, seq.parse().ok()?))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// A logged event, shared by every stream that reads it.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Its id.
    pub(crate) id: EventId,
    /// The channel it was published on.
    pub(crate) channel: ChannelName,
    /// The Pusher message, as subscribers received it.
    pub(crate) frame: Frame,
    at: Instant,
    /// The event as streams send it (plain and `envelope=1`), made by the
    /// first stream that reads it, so each event is rendered once however
    /// many streams read it. `None` inside: not an event streams send.
    rendered: [OnceLock<Option<Arc<str>>>; 2],
}

impl Entry {
    /// The event's text for a stream, rendered by `render` on first use.
    pub(crate) fn rendered(
        &self,
        envelope: bool,
        render: impl FnOnce() -> Option<String>,
    ) -> Option<Arc<str>> {
        self.rendered[usize::from(envelope)]
            .get_or_init(|| render().map(Arc::from))
            .clone()
    }
}

/// Where a stream starts reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resume {
    /// Read entries after this id.
    pub(crate) cursor: EventId,
    /// Set when the missed events are not in this node's log (too old,
    /// another run, history off, or — in cluster mode — not watched here):
    /// the stream reads from now on and tells the client why it must
    /// refetch its state, unless the cluster's stream can fill the gap.
    pub(crate) refetch: Option<&'static str>,
    /// The id the client asked to resume after, when it was well formed.
    pub(crate) wanted: Option<EventId>,
}

/// Why an id cannot be one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Last-Event-ID {0:?} is not an event id of this server (expected MS-SEQ)")]
pub(crate) struct ForeignId(pub(crate) String);

/// One app's event log.
#[derive(Debug)]
pub(crate) struct History {
    /// Milliseconds since the Unix epoch when this process started.
    epoch: u64,
    /// Most entries kept; 0 turns history off. A reload may change it.
    length: AtomicUsize,
    /// How long an entry (and an unwatched channel's watch) is kept, in
    /// milliseconds. A reload may change it.
    max_age_ms: AtomicU64,
    /// Ids come from the cluster (Redis), not from this process.
    clustered: AtomicBool,
    /// Watched channels, so `record` skips the lock when there are none.
    watching: AtomicUsize,
    log: Mutex<Log>,
    /// Wakes the app's event streams when the cluster logs an event: on the
    /// publishing node the event is logged only when Redis sends it back,
    /// after local delivery already woke the streams.
    logged: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct Log {
    /// The last id logged (or handed out).
    last: EventId,
    /// The highest id evicted from `entries`.
    evicted_up_to: EventId,
    entries: VecDeque<Arc<Entry>>,
    watched: HashMap<ChannelName, Watch>,
}

/// How a channel is watched.
#[derive(Debug)]
struct Watch {
    /// Streams reading it now.
    streams: usize,
    /// The last id when this watch began: nothing up to it was logged for
    /// the channel.
    since: EventId,
    /// When the last stream left (meaningful when `streams` is 0).
    idle_since: Instant,
}

impl History {
    /// An empty log keeping `length` entries for `max_age`.
    pub(crate) fn new(length: usize, max_age: Duration) -> Self {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        History {
            epoch,
            length: AtomicUsize::new(length),
            max_age_ms: AtomicU64::new(millis(max_age)),
            clustered: AtomicBool::new(false),
            watching: AtomicUsize::new(0),
            log: Mutex::new(Log {
                last: EventId(epoch, 0),
                evicted_up_to: EventId(epoch, 0),
                ..Log::default()
            }),
            logged: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether events are logged at all (`event_history` > 0).
    pub(crate) fn enabled(&self) -> bool {
        self.length() > 0
    }

    fn length(&self) -> usize {
        self.length.load(Ordering::Relaxed)
    }

    fn max_age(&self) -> Duration {
        Duration::from_millis(self.max_age_ms.load(Ordering::Relaxed))
    }

    /// Takes new limits (a reload): a shorter log or age is trimmed now;
    /// a longer one fills up from the next event. Turning history off
    /// makes resumes refetch; streams reading now keep their cursor.
    pub(crate) fn resize(&self, length: usize, max_age: Duration) {
        self.length.store(length, Ordering::Relaxed);
        self.max_age_ms.store(millis(max_age), Ordering::Relaxed);
        let mut log = self.lock();
        self.trim(&mut log);
    }

    /// From now on ids come from the cluster: [`History::record`] logs
    /// nothing and the adapter calls [`History::record_with_id`].
    pub(crate) fn use_cluster_ids(&self) {
        self.clustered.store(true, Ordering::Release);
        let mut log = self.lock();
        log.last = EventId::default();
        log.evicted_up_to = EventId::default();
    }

    /// Whether ids come from the cluster.
    pub(crate) fn clustered(&self) -> bool {
        self.clustered.load(Ordering::Acquire)
    }

    /// Logs `frame` under this process's next id if `channel` is watched
    /// (single node; in cluster mode the adapter records instead).
    pub(crate) fn record(&self, channel: &ChannelName, frame: &Frame) {
        if self.length() == 0 || self.watching.load(Ordering::Acquire) == 0 || self.clustered() {
            return;
        }
        let mut log = self.lock();
        let id = EventId(self.epoch, log.last.1 + 1);
        self.push(&mut log, channel, frame, id);
    }

    /// Logs `frame` under the cluster's `id` if `channel` is watched. Ids
    /// arrive in increasing order (Redis publishes in the order it
    /// numbered); an older one is ignored.
    pub(crate) fn record_with_id(&self, channel: &ChannelName, frame: &Frame, id: EventId) {
        if self.length() == 0 {
            return;
        }
        let mut log = self.lock();
        if id <= log.last {
            return;
        }
        let watched = log.watched.contains_key(channel);
        self.push(&mut log, channel, frame, id);
        drop(log);
        if watched {
            self.logged.notify_waiters();
        }
    }

    /// Resolves after the next event the cluster logs (see `logged`).
    pub(crate) fn logged(&self) -> tokio::sync::futures::Notified<'_> {
        self.logged.notified()
    }

    fn push(&self, log: &mut Log, channel: &ChannelName, frame: &Frame, id: EventId) {
        if !log.watched.contains_key(channel) {
            // Not kept, but later ids must still compare after it: a watch
            // that begins now begins after this event.
            log.last = id;
            return;
        }
        log.last = id;
        log.entries.push_back(Arc::new(Entry {
            id,
            channel: channel.clone(),
            frame: frame.clone(),
            at: Instant::now(),
            rendered: Default::default(),
        }));
        self.trim(log);
    }

    /// Drops entries beyond the length or age limits, and watches idle for
    /// longer than the age limit.
    fn trim(&self, log: &mut Log) {
        let (length, max_age) = (self.length(), self.max_age());
        while log.entries.len() > length
            || log
                .entries
                .front()
                .is_some_and(|e| e.at.elapsed() > max_age)
        {
            if let Some(gone) = log.entries.pop_front() {
                log.evicted_up_to = gone.id;
            }
        }
        let before = log.watched.len();
        log.watched
            .retain(|_, w| w.streams > 0 || w.idle_since.elapsed() <= max_age);
        let expired = before - log.watched.len();
        if expired > 0 {
            self.watching.fetch_sub(expired, Ordering::AcqRel);
        }
    }

    /// A stream starts reading `channels`: they are watched from now on.
    /// Returns where it starts: after `last_id` when every missed event is
    /// in this node's log, else from now with a reason to refetch.
    ///
    /// # Errors
    /// [`ForeignId`] when `last_id` is not of the form `MS-SEQ`.
    pub(crate) fn open(
        &self,
        channels: &[ChannelName],
        last_id: Option<&str>,
    ) -> Result<Resume, ForeignId> {
        let wanted = last_id.map(|id| EventId::parse(id).ok_or_else(|| ForeignId(id.to_owned())));
        let wanted = wanted.transpose()?;
        let mut log = self.lock();
        self.trim(&mut log);
        let now = log.last;
        let mut since = EventId::default();
        let mut fresh = false;
        for channel in channels {
            let watch = log.watched.entry(channel.clone()).or_insert_with(|| {
                self.watching.fetch_add(1, Ordering::AcqRel);
                fresh = true;
                Watch {
                    streams: 0,
                    since: now,
                    idle_since: Instant::now(),
                }
            });
            watch.streams += 1;
            since = since.max(watch.since);
        }
        let refetch = |reason| {
            Ok(Resume {
                cursor: now,
                refetch: Some(reason),
                wanted,
            })
        };
        let Some(id) = wanted else {
            return Ok(Resume {
                cursor: now,
                refetch: None,
                wanted,
            });
        };
        if self.length() == 0 {
            return refetch("history is off for this app");
        }
        if id > now || (!self.clustered() && id.0 != self.epoch) {
            return refetch("the id is from another server run or node");
        }
        // A watch that begins now holds nothing after `since`: in cluster
        // mode an event with a later id may have reached other nodes only
        // (this one was not linked to the channel), so the cluster's
        // history is asked (the caller falls back to it on a refetch).
        let unlogged = id < since || (fresh && self.clustered() && id <= since);
        if id < log.evicted_up_to || unlogged {
            return refetch("the missed events are no longer kept");
        }
        Ok(Resume {
            cursor: id,
            refetch: None,
            wanted,
        })
    }

    /// This node stops receiving `channel`'s events from the cluster (its
    /// last subscriber left, with channel routing): an idle watch ends, so
    /// a later resume here is not served from a log with a gap in it.
    pub(crate) fn lapse(&self, channel: &ChannelName) {
        let mut log = self.lock();
        let last = log.last;
        let ended = match log.watched.get_mut(channel) {
            Some(watch) if watch.streams == 0 => true,
            Some(watch) => {
                watch.since = watch.since.max(last);
                false
            }
            None => false,
        };
        if ended {
            log.watched.remove(channel);
            self.watching.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// A stream stopped reading `channels`.
    pub(crate) fn close(&self, channels: &[ChannelName]) {
        let mut log = self.lock();
        for channel in channels {
            if let Some(watch) = log.watched.get_mut(channel) {
                watch.streams = watch.streams.saturating_sub(1);
                if watch.streams == 0 {
                    watch.idle_since = Instant::now();
                }
            }
        }
    }

    /// Entries after `cursor` on any of `channels`, and the new cursor;
    /// `Err` with the new cursor when entries after `cursor` were evicted
    /// before the stream read them.
    pub(crate) fn read(
        &self,
        channels: &[ChannelName],
        cursor: EventId,
    ) -> Result<(Vec<Arc<Entry>>, EventId), EventId> {
        let log = self.lock();
        if cursor < log.evicted_up_to {
            return Err(log.last);
        }
        let entries = log
            .entries
            .iter()
            .filter(|e| e.id > cursor && channels.contains(&e.channel))
            .cloned()
            .collect();
        Ok((entries, log.last.max(cursor)))
    }
}

/// `d` in whole milliseconds, saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
