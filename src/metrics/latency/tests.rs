//! Unit tests of the latency histogram: buckets and quantiles.

use std::time::Duration;

use super::*;

#[test]
fn latency_buckets_are_less_than_or_equal_to_their_bound() {
    let latency = Latency::new(&[1_000, 10_000]);
    latency.observe(Duration::from_nanos(1_000));
    latency.observe(Duration::from_nanos(1_001));
    latency.observe(Duration::from_nanos(10_000));
    latency.observe(Duration::from_secs(1));
    let reading = latency.read();
    assert_eq!(reading.counts, vec![1, 2, 1]);
    assert_eq!(reading.count(), 4);
    assert_eq!(reading.sum_ns, 1_000 + 1_001 + 10_000 + 1_000_000_000);
}

#[test]
fn quantiles_cover_only_what_was_observed_in_between() {
    let latency = Latency::new(&[1_000_000, 2_000_000, 4_000_000]);
    for _ in 0..100 {
        latency.observe(Duration::from_micros(500));
    }
    let before = latency.read();
    assert_eq!(before.quantile_since(&before, 0.5), None, "nothing new");
    // 50 in (1, 2] ms, 50 in (2, 4] ms.
    for _ in 0..50 {
        latency.observe(Duration::from_micros(1_500));
        latency.observe(Duration::from_micros(3_000));
    }
    let now = latency.read();
    let p50 = now.quantile_since(&before, 0.5).expect("p50");
    assert_eq!(p50, Duration::from_millis(2), "the top of the first bucket");
    let p99 = now.quantile_since(&before, 0.99).expect("p99");
    assert!(
        p99 > Duration::from_micros(3_900) && p99 <= Duration::from_millis(4),
        "{p99:?}"
    );
    // Everything since the start: the 100 fast ones dominate the median.
    let empty = Latency::new(&[1_000_000, 2_000_000, 4_000_000]).read();
    let p50 = now.quantile_since(&empty, 0.5).expect("p50");
    assert!(p50 <= Duration::from_millis(1), "{p50:?}");
    // Beyond the last bound: reported as that bound.
    let slow = Latency::new(&[1_000]);
    slow.observe(Duration::from_secs(3));
    let p99 = slow.read().quantile_since(&empty_like(&slow), 0.99);
    assert_eq!(p99, Some(Duration::from_nanos(1_000)));
}

fn empty_like(latency: &Latency) -> Reading {
    let mut reading = latency.read();
    reading.counts.iter_mut().for_each(|c| *c = 0);
    reading
}
