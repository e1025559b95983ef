//! Unit tests of `scan.rs`.

use super::*;

#[test]
fn event_names() {
    let f = r#"{"event":"pusher:ping"}"#;
    assert_eq!(event_name(f), Some("pusher:ping"));
    let f = r#"{"channel":"a","event" : "bench-event","data":"{}"}"#;
    assert_eq!(event_name(f), Some("bench-event"));
    assert_eq!(event_name(r#"{"data":1}"#), None);
    assert_eq!(event_name(r#"{"event":1}"#), None);
}

#[test]
fn payload_numbers_in_string_data() {
    let data = payload_escaped(42, 1_700_000_000_123_456, 100);
    let frame = format!(r#"{{"event":"bench-event","data":"{data}","channel":"bench-3"}}"#);
    assert_eq!(bench_payload(&frame), Some((42, 1_700_000_000_123_456)));
}

#[test]
fn payload_numbers_in_object_data() {
    let data = payload_object(7, 99, 0);
    let frame = format!(r#"{{"event":"client-bench","channel":"private-bench-1","data":{data}}}"#);
    assert_eq!(bench_payload(&frame), Some((7, 99)));
    let spaced = r#"{"data": {"seq" : 3, "ts": 5}}"#;
    assert_eq!(bench_payload(spaced), Some((3, 5)));
}

#[test]
fn keys_inside_other_words_are_skipped() {
    let f = r#"{"subseq":1,"tsx":2,"seq":3,"ts":4}"#;
    assert_eq!(bench_payload(f), Some((3, 4)));
    assert_eq!(bench_payload(r#"{"seq":"a","ts":1}"#), None);
    assert_eq!(
        bench_payload(r#"{"seq":99999999999999999999999,"ts":1}"#),
        None
    );
    assert_eq!(bench_payload("seq"), None);
}

#[test]
fn payload_is_padded_to_size() {
    assert_eq!(payload_object(1, 2, 100).len(), 100);
    assert_eq!(payload_object(1, 2, 0), r#"{"seq":1,"ts":2,"pad":""}"#);
    let v: serde_json::Value =
        serde_json::from_str(&payload_object(12, 34, 64)).unwrap_or_default();
    assert_eq!(v["seq"], 12);
    assert_eq!(v["ts"], 34);
}
