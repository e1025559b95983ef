//! Unit tests of `stats.rs`.

use super::*;

#[test]
fn in_order_stream_has_no_anomalies() {
    let mut t = SeqTracker::default();
    (0..200).for_each(|s| t.record(s));
    assert_eq!(
        (t.delivered, t.duplicates, t.reordered, t.invalid),
        (200, 0, 0, 0)
    );
    assert_eq!(t.distinct_below(200), 200);
    assert_eq!(t.distinct_below(65), 65);
    assert_eq!(t.lost(200, &[]), 0);
}

#[test]
fn loss_duplicates_and_reordering() {
    let mut t = SeqTracker::default();
    for s in [0, 1, 3, 2, 2, 5, 70, 6] {
        t.record(s);
    }
    assert_eq!(t.delivered, 8);
    assert_eq!(t.duplicates, 1);
    assert_eq!(t.reordered, 2, "2 after 3, 6 after 70");
    // Sent 0..72: received 0,1,2,3,5,6,70 → 65 lost.
    assert_eq!(t.lost(72, &[]), 72 - 7);
    // 4 failed to publish (not expected), 5 failed but arrived anyway.
    assert_eq!(t.lost(72, &[4, 5]), 70 - 6);
    t.record(MAX_SEQ + 1);
    assert_eq!(t.invalid, 1);
    assert!(t.contains(70) && !t.contains(71) && !t.contains(100_000));
}

#[test]
fn recorder_batches_into_shared_histogram() {
    let shared = shared_histogram();
    {
        let mut r = LatencyRecorder::new(shared.clone());
        for v in 1..=1000 {
            r.record(v);
        }
        r.record(0);
    }
    let h = shared.lock().unwrap_or_else(PoisonError::into_inner);
    assert_eq!(h.len(), 1001);
    let p: BTreeMap<_, _> = percentiles(&h).into_iter().collect();
    assert!((495..=505).contains(&p["p50"]), "{p:?}");
    assert!((985..=995).contains(&p["p99"]), "{p:?}");
    assert!((999..=1001).contains(&p["max"]), "{p:?}");
    assert!(percentiles(&new_histogram()).is_empty());
}

#[test]
fn unit_math() {
    assert_eq!(per_unit(10.0, 4), Some(2.5));
    assert_eq!(per_unit(10.0, 0), None);
    assert_eq!(rate(50, 2.0), 25.0);
    assert_eq!(rate(50, 0.0), 0.0);
}

#[test]
fn failure_tally_keeps_first_sample() {
    let live = Live::new();
    live.fail("connect", "refused");
    live.fail("connect", "again");
    live.fail("subscribe", "4009");
    let f = live.failures();
    assert_eq!(f[0], ("connect", 2, "refused".to_owned()));
    assert_eq!(f[1], ("subscribe", 1, "4009".to_owned()));
}
