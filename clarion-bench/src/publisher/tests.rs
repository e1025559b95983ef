//! Unit tests of `publisher.rs`.

use super::*;

#[test]
fn event_body_is_valid_json_with_string_data() {
    let body = event_body("bench-event", "bench-3", 5, 1234, 80);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(v["name"], "bench-event");
    assert_eq!(v["channels"][0], "bench-3");
    let data = v["data"].as_str().unwrap_or_default();
    assert_eq!(data.len(), 80);
    assert_eq!(scan::bench_payload(&body), Some((5, 1234)));
    assert_eq!(scan::bench_payload(data), Some((5, 1234)));
}
