//! `History`: the recent events of an app's *watched* channels — those an
//! event stream (SSE) reads now or read within `event_history_max_age` — in
//! one ordered log, so a stream that reconnects with `Last-Event-ID` gets
//! exactly the events it missed, in order.
//!
//! Every logged event gets the next number of the app's sequence; its id on
//! the wire is `{epoch}-{seq}`, where the epoch is when this process
//! started, so an id from another run (or another node) is recognised as
//! not resumable here. The log is bounded by `event_history` entries and
//! `event_history_max_age`; a resume that reaches past what the log still
//! holds, or past when its channels started being watched, is refused with
//! [`Resume::Refetch`] instead of silently skipping events.
//!
//! Channels nobody streams are not logged: WebSocket-only apps pay one
//! atomic load per publication. The lock is a `std::sync::Mutex` held for a
//! push or a scan of the log, never across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::outbound::Frame;
use crate::protocol::ChannelName;

/// A logged event.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Its number in the app's sequence.
    pub(crate) seq: u64,
    /// The channel it was published on.
    pub(crate) channel: ChannelName,
    /// The Pusher message, as subscribers received it.
    pub(crate) frame: Frame,
    at: Instant,
}

/// Where a stream starts reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resume {
    /// Read entries after this sequence number.
    pub(crate) cursor: u64,
    /// Set when the missed events cannot be replayed (too old, another run
    /// or node, history off): the stream reads from now on and tells the
    /// client why it must refetch its state.
    pub(crate) refetch: Option<&'static str>,
}

/// Why an id cannot be one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Last-Event-ID {0:?} is not an event id of this server (expected EPOCH-SEQ)")]
pub(crate) struct ForeignId(pub(crate) String);

/// One app's event log.
#[derive(Debug)]
pub(crate) struct History {
    /// Milliseconds since the Unix epoch when this process started.
    epoch: u64,
    /// Most entries kept; 0 turns history off.
    length: usize,
    /// How long an entry (and an unwatched channel's watch) is kept.
    max_age: Duration,
    /// Watched channels, so `log` skips the lock when there are none.
    watching: AtomicUsize,
    log: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    /// The last sequence number handed out.
    last_seq: u64,
    /// The highest sequence number evicted from `entries`.
    evicted_up_to: u64,
    entries: VecDeque<Entry>,
    watched: HashMap<ChannelName, Watch>,
}

/// How a channel is watched.
#[derive(Debug)]
struct Watch {
    /// Streams reading it now.
    streams: usize,
    /// The sequence number when this watch began: nothing before it was
    /// logged for the channel.
    since: u64,
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
            length,
            max_age,
            watching: AtomicUsize::new(0),
            log: Mutex::new(Log::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The wire id of sequence number `seq`.
    pub(crate) fn id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.epoch)
    }

    /// Whether events are logged at all (`event_history` > 0).
    pub(crate) fn enabled(&self) -> bool {
        self.length > 0
    }

    /// Logs `frame` if `channel` is watched.
    pub(crate) fn record(&self, channel: &ChannelName, frame: &Frame) {
        if self.length == 0 || self.watching.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut log = self.lock();
        if !log.watched.contains_key(channel) {
            return;
        }
        log.last_seq += 1;
        let entry = Entry {
            seq: log.last_seq,
            channel: channel.clone(),
            frame: frame.clone(),
            at: Instant::now(),
        };
        log.entries.push_back(entry);
        self.trim(&mut log);
    }

    /// Drops entries beyond the length or age limits, and watches idle for
    /// longer than the age limit.
    fn trim(&self, log: &mut Log) {
        while log.entries.len() > self.length
            || log
                .entries
                .front()
                .is_some_and(|e| e.at.elapsed() > self.max_age)
        {
            if let Some(gone) = log.entries.pop_front() {
                log.evicted_up_to = gone.seq;
            }
        }
        let before = log.watched.len();
        let max_age = self.max_age;
        log.watched
            .retain(|_, w| w.streams > 0 || w.idle_since.elapsed() <= max_age);
        let expired = before - log.watched.len();
        if expired > 0 {
            self.watching.fetch_sub(expired, Ordering::AcqRel);
        }
    }

    /// A stream starts reading `channels`: they are watched from now on.
    /// Returns where it starts: after `last_id` when every missed event is
    /// still here, else from now with a reason to refetch.
    ///
    /// # Errors
    /// [`ForeignId`] when `last_id` is not of the form `EPOCH-SEQ`.
    pub(crate) fn open(
        &self,
        channels: &[ChannelName],
        last_id: Option<&str>,
    ) -> Result<Resume, ForeignId> {
        let wanted = last_id.map(|id| parse_id(id).ok_or_else(|| ForeignId(id.to_owned())));
        let wanted = wanted.transpose()?;
        let mut log = self.lock();
        self.trim(&mut log);
        let now = log.last_seq;
        let mut since = 0;
        for channel in channels {
            let watch = log.watched.entry(channel.clone()).or_insert_with(|| {
                self.watching.fetch_add(1, Ordering::AcqRel);
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
            })
        };
        let Some((epoch, seq)) = wanted else {
            return Ok(Resume {
                cursor: now,
                refetch: None,
            });
        };
        if self.length == 0 {
            return refetch("history is off for this app");
        }
        if epoch != self.epoch || seq > now {
            return refetch("the id is from another server run or node");
        }
        if seq < log.evicted_up_to || seq < since {
            return refetch("the missed events are no longer kept");
        }
        Ok(Resume {
            cursor: seq,
            refetch: None,
        })
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
        cursor: u64,
    ) -> Result<(Vec<Entry>, u64), u64> {
        let log = self.lock();
        if cursor < log.evicted_up_to {
            return Err(log.last_seq);
        }
        let entries = log
            .entries
            .iter()
            .filter(|e| e.seq > cursor && channels.contains(&e.channel))
            .cloned()
            .collect();
        Ok((entries, log.last_seq))
    }
}

/// Parses `EPOCH-SEQ`.
fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (epoch, seq) = id.trim().split_once('-')?;
    Some((epoch.parse().ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests;
