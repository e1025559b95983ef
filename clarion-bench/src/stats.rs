//! Accounting shared by the scenarios: per-receiver sequence tracking (loss,
//! duplicates, reordering), latency histograms fed through small local
//! buffers, live counters read by the progress line, and failure tallies.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use hdrhistogram::Histogram;

/// Sequence numbers above this are treated as garbage (not tracked).
pub(crate) const MAX_SEQ: u64 = 1 << 26;

/// What one receiver saw of one sequence-numbered stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeqTracker {
    seen: Vec<u64>,
    max_seen: Option<u64>,
    /// Frames carrying a bench payload (duplicates included).
    pub delivered: u64,
    /// Frames whose sequence number had already been received.
    pub duplicates: u64,
    /// Frames arriving after a higher sequence number (first receipt only).
    pub reordered: u64,
    /// Frames whose sequence number is out of range.
    pub invalid: u64,
}

impl SeqTracker {
    /// Records one received sequence number.
    pub(crate) fn record(&mut self, seq: u64) {
        self.delivered += 1;
        if seq > MAX_SEQ {
            self.invalid += 1;
            return;
        }
        let (word, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & bit != 0 {
            self.duplicates += 1;
            return;
        }
        self.seen[word] |= bit;
        match self.max_seen {
            Some(max) if seq < max => self.reordered += 1,
            _ => self.max_seen = Some(seq),
        }
    }

    /// Whether `seq` was received.
    pub(crate) fn contains(&self, seq: u64) -> bool {
        let word = (seq / 64) as usize;
        self.seen
            .get(word)
            .is_some_and(|w| w & (1u64 << (seq % 64)) != 0)
    }

    /// Distinct sequence numbers received below `n`.
    pub(crate) fn distinct_below(&self, n: u64) -> u64 {
        let full = (n / 64) as usize;
        let mut count: u64 = self
            .seen
            .iter()
            .take(full)
            .map(|w| u64::from(w.count_ones()))
            .sum();
        if let Some(w) = self.seen.get(full) {
            let mask = (1u64 << (n % 64)) - 1;
            count += u64::from((w & mask).count_ones());
        }
        count
    }

    /// Events that were accepted (sequence numbers `0..sent` minus `failed`)
    /// but never received.
    pub(crate) fn lost(&self, sent: u64, failed: &[u64]) -> u64 {
        let failed_received = failed.iter().filter(|s| self.contains(**s)).count() as u64;
        let accepted = sent.saturating_sub(failed.len() as u64);
        let received = self.distinct_below(sent).saturating_sub(failed_received);
        accepted.saturating_sub(received)
    }
}

/// A latency histogram in microseconds (1 µs … 1 h, 3 significant digits).
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3)
        .unwrap_or_else(|_| unreachable!("constant histogram bounds are valid"))
}

/// A shared histogram fed in batches, so that receivers take its lock once
/// per [`LatencyRecorder::BATCH`] samples.
pub(crate) type SharedHistogram = Arc<Mutex<Histogram<u64>>>;

/// Creates an empty [`SharedHistogram`].
pub(crate) fn shared_histogram() -> SharedHistogram {
    Arc::new(Mutex::new(new_histogram()))
}

/// A receiver's local buffer in front of a [`SharedHistogram`].
#[derive(Debug)]
pub(crate) struct LatencyRecorder {
    buf: Vec<u64>,
    shared: SharedHistogram,
}

impl LatencyRecorder {
    const BATCH: usize = 128;

    /// A recorder feeding `shared`.
    pub(crate) fn new(shared: SharedHistogram) -> Self {
        Self {
            buf: Vec::new(),
            shared,
        }
    }

    /// Records one latency in microseconds (clamped to the histogram range).
    pub(crate) fn record(&mut self, micros: u64) {
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(Self::BATCH);
        }
        self.buf.push(micros);
        if self.buf.len() >= Self::BATCH {
            self.flush();
        }
    }

    /// Moves the buffered samples into the shared histogram.
    pub(crate) fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let mut h = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        for v in self.buf.drain(..) {
            h.saturating_record(v.max(1));
        }
    }
}

impl Drop for LatencyRecorder {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Percentile summary of a histogram: (name, value µs) pairs, or nothing
/// when it is empty.
pub(crate) fn percentiles(h: &Histogram<u64>) -> Vec<(&'static str, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    vec![
        ("p50", h.value_at_quantile(0.50)),
        ("p90", h.value_at_quantile(0.90)),
        ("p99", h.value_at_quantile(0.99)),
        ("p999", h.value_at_quantile(0.999)),
        ("max", h.max()),
        ("mean", h.mean().round() as u64),
    ]
}

/// `total / n`, or `None` when `n` is zero.
pub(crate) fn per_unit(total: f64, n: u64) -> Option<f64> {
    (n > 0).then(|| total / n as f64)
}

/// `n / secs`, or 0 for an empty interval.
pub(crate) fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// Live counters of a run, read by the progress line and the orchestrator.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// Sockets connected and subscribed.
    pub ready: AtomicU64,
    /// Sockets that failed to connect or subscribe.
    pub failed: AtomicU64,
    /// Ready sockets that closed before the end.
    pub dropped: AtomicU64,
    /// Messages received (scenario-specific meaning).
    pub delivered: AtomicU64,
    /// Completed units of work (publishes, churn cycles, complete rosters).
    pub done: AtomicU64,
    failures: Mutex<BTreeMap<&'static str, (u64, String)>>,
}

impl Live {
    /// A fresh, shareable set of counters.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Reads a counter.
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Adds to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Records a failure of `kind`, keeping the first message as a sample.
    pub(crate) fn fail(&self, kind: &'static str, message: impl std::fmt::Display) {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry(kind).or_insert_with(|| (0, message.to_string()));
        entry.0 += 1;
    }

    /// Failure counts by kind with one sample message each.
    pub(crate) fn failures(&self) -> Vec<(&'static str, u64, String)> {
        let map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        map.iter().map(|(k, (n, m))| (*k, *n, m.clone())).collect()
    }
}

#[cfg(test)]
mod tests;
