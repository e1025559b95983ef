//! Unit tests of `client.rs`.

use super::*;

#[test]
fn socket_id_from_string_or_object_data() {
    let f = r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"1.2\",\"activity_timeout\":30}"}"#;
    assert_eq!(socket_id_of(f).as_deref(), Some("1.2"));
    let f = r#"{"event":"pusher:connection_established","data":{"socket_id":"3.4"}}"#;
    assert_eq!(socket_id_of(f).as_deref(), Some("3.4"));
    assert_eq!(socket_id_of(r#"{"event":"x"}"#), None);
}

#[test]
fn subscribe_frames() {
    assert_eq!(
        subscribe_frame("bench-1", None, None),
        r#"{"event":"pusher:subscribe","data":{"auth":"","channel":"bench-1"}}"#
    );
    let f = subscribe_frame("presence-x", Some("k:sig"), Some(r#"{"user_id":"u1"}"#));
    let v: serde_json::Value = serde_json::from_str(&f).unwrap_or_default();
    assert_eq!(v["data"]["channel_data"], r#"{"user_id":"u1"}"#);
    assert_eq!(v["data"]["auth"], "k:sig");
}
