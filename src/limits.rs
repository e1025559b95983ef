//! Rate limits as token buckets, and the process's socket budget
//! (`limits/sockets.rs`).
//!
//! Every rate here is one rule, GCRA (the generic cell rate algorithm, a
//! token bucket kept as one timestamp): a request is admitted when the
//! bucket's *theoretical arrival time* is at most `burst - 1` intervals
//! ahead of now, and admitting it moves that time one interval
//! (`1 s / per_second`) further. So `burst` requests pass at once, then one
//! every interval. A rate of 0 means unlimited.
//!
//! Two shapes of the same rule:
//! * [`SocketLimits`]: the buckets of one socket (client events,
//!   subscriptions). Only the socket's own task touches them, so they are
//!   plain integers: no lock, no atomic, 24 bytes per socket.
//! * [`RateGate`]: one bucket shared by every task of an app (HTTP API
//!   requests). One `AtomicU64` updated by compare-and-swap, so concurrent
//!   requests never wait on a lock and never serialise on anything but
//!   that one word.
//!
//! Nothing here does IO; the socket budget's refusal is in
//! `limits/sockets.rs`.

pub(crate) mod sockets;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Nanoseconds in a second.
const NANOS: u64 = 1_000_000_000;

/// One GCRA step. `tat` is the bucket's theoretical arrival time and `now`
/// the current time, both in nanoseconds since the same origin. Returns
/// the new `tat` when the request is admitted, or how many nanoseconds to
/// wait before one more would be.
fn step(tat: u64, now: u64, per_second: u32, burst: u32) -> Result<u64, u64> {
    let interval = (NANOS / u64::from(per_second.max(1))).max(1);
    let tolerance = interval.saturating_mul(u64::from(burst.max(1) - 1));
    let start = tat.max(now);
    let ahead = start - now;
    if ahead > tolerance {
        return Err(ahead - tolerance);
    }
    Ok(start.saturating_add(interval))
}

/// Nanoseconds from `origin` to `now` (0 if `now` is earlier).
fn nanos_since(origin: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(origin).as_nanos()).unwrap_or(u64::MAX)
}

/// The rate buckets of one socket, owned by its task.
#[derive(Debug)]
pub(crate) struct SocketLimits {
    /// The origin of both buckets' clocks.
    born: Instant,
    /// `client-*` events (Pusher's rule: 10 a second).
    client_events: u64,
    /// `pusher:subscribe` requests.
    subscriptions: u64,
}

impl SocketLimits {
    /// Full buckets, as of `now`.
    pub(crate) fn new(now: Instant) -> Self {
        SocketLimits {
            born: now,
            client_events: 0,
            subscriptions: 0,
        }
    }

    /// Admits one client event at `per_second` (0: unlimited), with a
    /// burst of one second's worth, as Pusher counts them.
    pub(crate) fn client_event(&mut self, now: Instant, per_second: u32) -> bool {
        if per_second == 0 {
            return true;
        }
        let now = nanos_since(self.born, now);
        admit(&mut self.client_events, now, per_second, per_second)
    }

    /// Admits one subscription request at `per_second` (0: unlimited) with
    /// a burst of `burst`.
    pub(crate) fn subscription(&mut self, now: Instant, per_second: u32, burst: u32) -> bool {
        if per_second == 0 {
            return true;
        }
        let now = nanos_since(self.born, now);
        admit(&mut self.subscriptions, now, per_second, burst)
    }
}

fn admit(tat: &mut u64, now: u64, per_second: u32, burst: u32) -> bool {
    match step(*tat, now, per_second, burst) {
        Ok(next) => {
            *tat = next;
            true
        }
        Err(_) => false,
    }
}

/// One rate bucket shared by many tasks (an app's HTTP API requests):
/// lock-free, one atomic word.
#[derive(Debug)]
pub(crate) struct RateGate {
    /// The origin of the clock `tat` counts in.
    origin: Instant,
    /// Theoretical arrival time, in nanoseconds since `origin`.
    tat: AtomicU64,
}

impl RateGate {
    /// A full bucket.
    pub(crate) fn new() -> Self {
        RateGate {
            origin: Instant::now(),
            tat: AtomicU64::new(0),
        }
    }

    /// Admits one request at `per_second` (0: unlimited) with a burst of
    /// `burst`; otherwise says how long until one more would be admitted.
    ///
    /// # Errors
    /// The wait, when the bucket is empty.
    pub(crate) fn admit(&self, now: Instant, per_second: u32, burst: u32) -> Result<(), Duration> {
        if per_second == 0 {
            return Ok(());
        }
        let now = nanos_since(self.origin, now);
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let next = step(tat, now, per_second, burst).map_err(Duration::from_nanos)?;
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(()),
                Err(current) => tat = current,
            }
        }
    }
}

impl Default for RateGate {
    fn default() -> Self {
        RateGate::new()
    }
}

#[cfg(test)]
mod tests;
