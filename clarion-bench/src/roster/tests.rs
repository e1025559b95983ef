//! Unit tests of `roster.rs`.

use super::*;

fn added(i: usize) -> String {
    let data = serde_json::Value::from(channel_data(i)).to_string();
    format!(
        r#"{{"event":"pusher_internal:member_added","data":{data},"channel":"presence-bench"}}"#
    )
}

#[test]
fn roster_from_succeeded_then_events() {
    let mut r = Roster::new(4);
    let ok = r#"{"event":"pusher_internal:subscription_succeeded","data":"{\"presence\":{\"count\":2,\"ids\":[\"u0\",\"u1\"],\"hash\":{\"u0\":{\"n\":0},\"u1\":{\"n\":1}}}}","channel":"presence-bench"}"#;
    assert_eq!(apply(&mut r, ok), Applied::Succeeded);
    assert_eq!(r.len(), 2);
    assert_eq!(apply(&mut r, &added(2)), Applied::Added);
    assert_eq!(apply(&mut r, &added(2)), Applied::Added);
    assert_eq!(r.duplicate_added, 1);
    assert_eq!(apply(&mut r, &added(3)), Applied::Added);
    assert_eq!(r.len(), 4);
    let removed = r#"{"event":"pusher_internal:member_removed","data":"{\"user_id\":\"u1\"}","channel":"presence-bench"}"#;
    assert_eq!(apply(&mut r, removed), Applied::Removed);
    assert_eq!((r.len(), r.removed), (3, 1));
    let expected = Roster::from_indices(4, &[0, 1, 2, 3]);
    assert_eq!(r.diff(&expected), (1, 0));
    assert_eq!(expected.diff(&r), (0, 1));
    assert_eq!(apply(&mut r, r#"{"event":"pusher:pong"}"#), Applied::Other);
}

#[test]
fn foreign_and_object_data() {
    let mut r = Roster::new(2);
    let ok = r#"{"event":"pusher_internal:subscription_succeeded","channel":"p","data":{"presence":{"ids":["u0","bob",7],"hash":{"u0":null}}}}"#;
    apply(&mut r, ok);
    assert_eq!((r.len(), r.foreign), (1, 2));
    let bad = r#"{"event":"pusher_internal:member_added","data":"{\"user_id\":\"u9\"}"}"#;
    apply(&mut r, bad);
    assert_eq!((r.len(), r.foreign, r.duplicate_added), (1, 3, 0));
}

#[test]
fn ids_and_channel_data() {
    assert_eq!(user_index("u17"), Some(17));
    assert_eq!(user_index("17"), None);
    assert_eq!(scan_user_id(&added(5)), Some("u5"));
    let v: serde_json::Value = serde_json::from_str(&channel_data(3)).unwrap_or_default();
    assert_eq!(v["user_id"], "u3");
}
