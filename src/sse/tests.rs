//! How Pusher messages become SSE events, and which channel lists a
//! stream accepts.

use super::*;

fn sse(text: &str, envelope: bool) -> String {
    let mut out = String::new();
    write_event(&mut out, &Frame::text(text), envelope, None);
    out
}

#[test]
fn an_event_keeps_its_name_and_data_string() {
    assert_eq!(
        sse(
            r#"{"event":"metrics_updated","channel":"c","data":"{\"cpu\":12}"}"#,
            false
        ),
        "event: metrics_updated\ndata: {\"cpu\":12}\n\n"
    );
}

#[test]
fn laravel_class_names_keep_their_backslashes() {
    assert_eq!(
        sse(
            r#"{"event":"App\\Events\\SystemHealthUpdated","channel":"system-health","data":"{}"}"#,
            false
        ),
        "event: App\\Events\\SystemHealthUpdated\ndata: {}\n\n"
    );
}

#[test]
fn multi_line_data_becomes_several_data_lines() {
    assert_eq!(
        sse(
            r#"{"event":"log","channel":"c","data":"one\ntwo\r\nthree"}"#,
            false
        ),
        "event: log\ndata: one\ndata: two\ndata: three\n\n"
    );
}

#[test]
fn a_carriage_return_in_data_cannot_start_a_field() {
    // Found by the `sse_request` fuzz target: a lone `\r` ends a line for
    // an EventSource, so `a\revent: evil` became a second field that
    // renamed the event. Every line ending now starts a `data:` line.
    let out = sse(
        r#"{"event":"e","channel":"c","data":"a\revent: evil\r\nid: 9\rb"}"#,
        false,
    );
    assert_eq!(
        out,
        "event: e\ndata: a\ndata: event: evil\ndata: id: 9\ndata: b\n\n"
    );
}

#[test]
fn the_envelope_carries_the_channel() {
    let text = r#"{"event":"e","channel":"organization.7","data":"{}"}"#;
    assert_eq!(sse(text, true), format!("event: e\ndata: {text}\n\n"));
}

#[test]
fn protocol_messages_and_unsafe_names_are_skipped() {
    assert_eq!(
        sse(
            r#"{"event":"pusher_internal:subscription_succeeded","channel":"c","data":"{}"}"#,
            false
        ),
        ""
    );
    assert_eq!(
        sse(r#"{"event":"pusher:cache_miss","channel":"c"}"#, false),
        ""
    );
    assert_eq!(
        sse(r#"{"event":"a\nb","channel":"c","data":"x"}"#, false),
        ""
    );
    assert_eq!(sse("not json", false), "");
}

#[test]
fn channel_lists_are_checked() {
    let names = |list: &str| {
        parse_channels(list).map(|v| v.iter().map(|c| c.as_str().to_owned()).collect::<Vec<_>>())
    };
    assert_eq!(names("a, b,a").expect("valid"), ["a", "b"]);
    assert!(matches!(names(""), Err(SseRefused::NoChannels)));
    assert!(matches!(names(" , "), Err(SseRefused::NoChannels)));
    assert!(matches!(
        names("bad name"),
        Err(SseRefused::InvalidChannel(_))
    ));
    assert_eq!(
        names("private-x,presence-y").expect("valid"),
        ["private-x", "presence-y"]
    );
    assert!(matches!(
        names("private-encrypted-x"),
        Err(SseRefused::Unstreamable(_))
    ));
    assert!(matches!(
        names("#server-to-user-1"),
        Err(SseRefused::Unstreamable(_))
    ));
    let many: Vec<String> = (0..=MAX_CHANNELS).map(|i| format!("c{i}")).collect();
    assert!(matches!(
        names(&many.join(",")),
        Err(SseRefused::TooManyChannels)
    ));
}

#[test]
fn ids_and_the_refetch_event() {
    let mut out = String::new();
    write_event(
        &mut out,
        &Frame::text(r#"{"event":"e","channel":"c","data":"1"}"#),
        false,
        Some("17-3"),
    );
    write_refetch(&mut out, "17-9", "gone");
    assert_eq!(
        out,
        "id: 17-3\nevent: e\ndata: 1\n\nid: 17-9\nevent: clarion:refetch\ndata: {\"reason\":\"gone\"}\n\n"
    );
}
