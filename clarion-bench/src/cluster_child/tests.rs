//! Unit tests of `cluster_child.rs`.

use super::*;

#[test]
fn histograms_survive_the_line_protocol() {
    let mut h = stats::new_histogram();
    for v in [5, 5, 120, 3_000, 250_000] {
        h.record(v).unwrap_or_default();
    }
    let text = histogram_to_json(&h).to_string();
    let mut merged = stats::new_histogram();
    add_histogram(
        &mut merged,
        &serde_json::from_str(&text).unwrap_or_default(),
    );
    add_histogram(
        &mut merged,
        &serde_json::from_str(&text).unwrap_or_default(),
    );
    assert_eq!(merged.len(), 10);
    assert_eq!(merged.value_at_quantile(0.5), h.value_at_quantile(0.5));
    assert!(merged.max() >= 249_000 && merged.max() <= 251_000);
}

#[test]
fn an_event_completes_once_every_socket_has_it() {
    let a = Arrivals::new(2);
    a.expected.store(3, Ordering::SeqCst);
    a.record(0, 10);
    a.record(0, 30);
    a.record(0, 20);
    a.record(1, 5);
    a.record(7, 5); // beyond --publishes: ignored
    assert_eq!(Arrivals::snapshot(&a.count), vec![3, 1]);
    assert_eq!(Arrivals::snapshot(&a.max_us), vec![30, 5]);
}
