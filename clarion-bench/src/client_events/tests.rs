//! Unit tests of `client_events.rs`.

use super::*;

#[test]
fn client_event_frame_shape() {
    let f = event_frame("private-bench-3", 9, 77, 60);
    let v: serde_json::Value = serde_json::from_str(&f).unwrap_or_default();
    assert_eq!(v["event"], EVENT);
    assert_eq!(v["channel"], "private-bench-3");
    assert_eq!(v["data"]["seq"], 9);
    assert_eq!(scan::bench_payload(&f), Some((9, 77)));
}
