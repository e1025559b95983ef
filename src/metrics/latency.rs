//! `Latency`: a lock-free histogram of durations with fixed buckets,
//! exported as a Prometheus histogram and readable in-process (the
//! dashboard turns the difference of two readings into p50 and p99).
//!
//! prometheus-client's own `Histogram` takes a mutex per observation and
//! cannot be read back; this one is one `fetch_add` on a bucket and one on
//! the sum, and is encoded through the crate's `MetricEncoder`, so the text
//! format is still the crate's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Upper bounds of the publish→socket-write buckets, in nanoseconds:
/// 50 µs to 10 s.
pub(crate) const DELIVERY_BOUNDS: &[u64] = &[
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Upper bounds of the Redis round-trip buckets, in nanoseconds: 100 µs
/// to 5 s.
pub(crate) const ROUNDTRIP_BOUNDS: &[u64] = &[
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    5_000_000_000,
];

/// A histogram of durations; clones share the same counts.
#[derive(Debug, Clone)]
pub(crate) struct Latency {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Upper bound of each bucket but the last (+Inf), ascending, in ns.
    bounds: &'static [u64],
    /// Observations per bucket (not cumulative); one more than `bounds`.
    counts: Box<[AtomicU64]>,
    /// Sum of every observation, in ns.
    sum_ns: AtomicU64,
}

/// The counts of a [`Latency`] at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reading {
    bounds: &'static [u64],
    /// Observations per bucket (not cumulative).
    counts: Vec<u64>,
    /// Sum of every observation, in ns.
    sum_ns: u64,
}

impl Latency {
    /// An empty histogram with `bounds` (ascending, in nanoseconds).
    pub(crate) fn new(bounds: &'static [u64]) -> Self {
        Latency {
            inner: Arc::new(Inner {
                bounds,
                counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
                sum_ns: AtomicU64::new(0),
            }),
        }
    }

    /// A histogram with the delivery-latency buckets.
    pub(crate) fn delivery() -> Self {
        Latency::new(DELIVERY_BOUNDS)
    }

    /// Records one duration.
    pub(crate) fn observe(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let inner = &*self.inner;
        // Prometheus buckets are "less than or equal to" their bound.
        let bucket = inner.bounds.partition_point(|bound| *bound < ns);
        if let Some(count) = inner.counts.get(bucket) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        inner.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// The counts now.
    pub(crate) fn read(&self) -> Reading {
        let inner = &*self.inner;
        Reading {
            bounds: inner.bounds,
            counts: inner
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            sum_ns: inner.sum_ns.load(Ordering::Relaxed),
        }
    }
}

impl Reading {
    /// Observations in all.
    pub(crate) fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The `q` quantile (0–1) of what was observed after `earlier` (a
    /// reading of the same histogram), interpolated linearly inside its
    /// bucket; `None` when nothing was observed in between. A value in the
    /// last (+Inf) bucket is reported as the highest bound.
    pub(crate) fn quantile_since(&self, earlier: &Reading, q: f64) -> Option<Duration> {
        let delta: Vec<u64> = self
            .counts
            .iter()
            .zip(earlier.counts.iter().chain(std::iter::repeat(&0)))
            .map(|(now, before)| now.saturating_sub(*before))
            .collect();
        let total: u64 = delta.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut below = 0u64;
        for (i, count) in delta.iter().enumerate() {
            if *count == 0 || ((below + count) as f64) < rank {
                below += count;
                continue;
            }
            let lower = if i == 0 { 0 } else { self.bounds[i - 1] };
            let Some(&upper) = self.bounds.get(i) else {
                return Some(Duration::from_nanos(lower));
            };
            let share = (rank - below as f64) / *count as f64;
            let ns = lower as f64 + share * (upper - lower) as f64;
            return Some(Duration::from_nanos(ns as u64));
        }
        None
    }
}

impl TypedMetric for Latency {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Latency {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        let reading = self.read();
        let buckets: Vec<(f64, u64)> = reading
            .bounds
            .iter()
            .map(|ns| *ns as f64 / 1e9)
            .chain(std::iter::once(f64::INFINITY))
            .zip(reading.counts.iter().copied())
            .collect();
        // The count is the sum of the buckets read, so `_count` always
        // equals the `+Inf` bucket even while observations race the scrape.
        encoder.encode_histogram::<NoLabelSet>(
            reading.sum_ns as f64 / 1e9,
            reading.count(),
            &buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests;
