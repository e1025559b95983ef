//! Golden wire strings: the exact text of every server frame, including
//! which `data` fields are JSON-encoded strings and the key order
//! `event`, `channel`, `data`.

use super::*;

fn member<'a>(id_json: &'a str, id: &'a str, info: Option<&'a str>) -> MemberRef<'a> {
    MemberRef {
        user_id_json: id_json,
        user_id: id,
        user_info_json: info,
    }
}

#[test]
fn connection_established_golden() {
    let event = ServerEvent::ConnectionEstablished {
        socket_id: SocketId::new(483_920_175, 90_817_234),
        activity_timeout: 30,
    };
    assert_eq!(
        event.to_json(),
        r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"483920175.90817234\",\"activity_timeout\":30}"}"#
    );
}

#[test]
fn every_error_code_golden() {
    use ErrorCode::*;
    let table: &[(ErrorCode, u16, &str, bool)] = &[
        (
            ApplicationDoesNotExist,
            4001,
            "Application does not exist",
            true,
        ),
        (
            OverConnectionQuota,
            4004,
            "Application is over connection quota",
            true,
        ),
        (OriginNotAllowed, 4009, "Origin not allowed", true),
        (Unauthorized, 4009, "Connection is unauthorized", false),
        (
            NotAMember,
            4009,
            "The client is not a member of the specified channel.",
            false,
        ),
        (
            SigninFailed,
            4009,
            "Invalid signin: signature or user_data rejected",
            true,
        ),
        (
            WatchlistTooLong,
            4009,
            "Invalid signin: a watchlist holds at most 100 user ids",
            true,
        ),
        (
            SigninTimeout,
            4009,
            "Connection not signed in within the allowed time",
            true,
        ),
        (
            TerminatedByApp,
            4009,
            "Connection terminated by the application",
            true,
        ),
        (
            OverCapacity,
            4100,
            "Connection is over capacity: too many undelivered messages",
            true,
        ),
        (
            WriteTimedOut,
            4100,
            "Connection is over capacity: writing to it timed out",
            true,
        ),
        (ServerOverCapacity, 4100, "Server is over capacity", true),
        (InvalidMessageFormat, 4200, "Invalid message format", false),
        (ServerShuttingDown, 4200, "Server shutting down", true),
        (
            PongNotReceived,
            4201,
            "Pong reply not received in time",
            true,
        ),
        (RateLimitExceeded, 4301, "Rate limit exceeded", false),
        (
            ClientEventsDisabled,
            4301,
            "The app does not have client messaging enabled.",
            false,
        ),
        (
            ClientEventsNotAllowedOnChannel,
            4301,
            "Client events are only allowed on private and presence channels",
            false,
        ),
    ];
    for &(code, number, message, closes) in table {
        assert_eq!(code.code(), number, "{code:?}");
        assert_eq!(code.message(), message, "{code:?}");
        assert_eq!(code.closes_connection(), closes, "{code:?}");
        let escaped = message.replace('"', "\\\"");
        assert_eq!(
            ServerEvent::Error(code).to_json(),
            format!(
                r#"{{"event":"pusher:error","data":"{{\"code\":{number},\"message\":\"{escaped}\"}}"}}"#
            ),
            "{code:?}"
        );
    }
    // Reverb's exact frame for an unknown key.
    assert_eq!(
        ServerEvent::Error(ApplicationDoesNotExist).to_json(),
        r#"{"event":"pusher:error","data":"{\"code\":4001,\"message\":\"Application does not exist\"}"}"#
    );
}

#[test]
fn ping_and_pong_have_no_data() {
    assert_eq!(ServerEvent::Pong.to_json(), r#"{"event":"pusher:pong"}"#);
    assert_eq!(ServerEvent::Ping.to_json(), r#"{"event":"pusher:ping"}"#);
}

#[test]
fn subscription_succeeded_data_is_the_string_braces() {
    let event = ServerEvent::SubscriptionSucceeded {
        channel: "test-channel",
    };
    assert_eq!(
        event.to_json(),
        r#"{"event":"pusher_internal:subscription_succeeded","channel":"test-channel","data":"{}"}"#
    );
}

#[test]
fn presence_subscription_succeeded_golden() {
    let members = [member("\"1\"", "1", Some(r#"{"name":"Taylor"}"#))];
    let event = ServerEvent::PresenceSubscriptionSucceeded {
        channel: "presence-room.1",
        members: &members,
    };
    assert_eq!(
        event.to_json(),
        r#"{"event":"pusher_internal:subscription_succeeded","channel":"presence-room.1","data":"{\"presence\":{\"count\":1,\"ids\":[\"1\"],\"hash\":{\"1\":{\"name\":\"Taylor\"}}}}"}"#
    );
}

#[test]
fn presence_roster_keeps_id_types_and_hash_is_always_an_object() {
    // Integer ids stay integers in `ids`, but `hash` is keyed by their string
    // form (PHP would emit a list for ids 0..n-1); no user_info is `null`.
    let members = [member("0", "0", None), member("1", "1", Some("[]"))];
    let event = ServerEvent::PresenceSubscriptionSucceeded {
        channel: "presence-a",
        members: &members,
    };
    assert_eq!(
        event.to_json(),
        r#"{"event":"pusher_internal:subscription_succeeded","channel":"presence-a","data":"{\"presence\":{\"count\":2,\"ids\":[0,1],\"hash\":{\"0\":null,\"1\":[]}}}"}"#
    );
    let empty = ServerEvent::PresenceSubscriptionSucceeded {
        channel: "presence-a",
        members: &[],
    };
    assert_eq!(
        empty.to_json(),
        r#"{"event":"pusher_internal:subscription_succeeded","channel":"presence-a","data":"{\"presence\":{\"count\":0,\"ids\":[],\"hash\":{}}}"}"#
    );
}

#[test]
fn member_added_and_removed_golden() {
    let added = ServerEvent::MemberAdded {
        channel: "presence-room.1",
        member: member("\"2\"", "2", Some(r#"{"name":"Joe"}"#)),
    };
    assert_eq!(
        added.to_json(),
        r#"{"event":"pusher_internal:member_added","channel":"presence-room.1","data":"{\"user_id\":\"2\",\"user_info\":{\"name\":\"Joe\"}}"}"#
    );
    let no_info = ServerEvent::MemberAdded {
        channel: "presence-x",
        member: member("7", "7", None),
    };
    assert_eq!(
        no_info.to_json(),
        r#"{"event":"pusher_internal:member_added","channel":"presence-x","data":"{\"user_id\":7,\"user_info\":null}"}"#
    );
    let removed = ServerEvent::MemberRemoved {
        channel: "presence-room.1",
        user_id_json: "\"2\"",
    };
    assert_eq!(
        removed.to_json(),
        r#"{"event":"pusher_internal:member_removed","channel":"presence-room.1","data":"{\"user_id\":\"2\"}"}"#
    );
}

#[test]
fn cache_miss_and_subscription_count_golden() {
    assert_eq!(
        ServerEvent::CacheMiss {
            channel: "cache-ticker"
        }
        .to_json(),
        r#"{"event":"pusher:cache_miss","channel":"cache-ticker"}"#
    );
    assert_eq!(
        ServerEvent::SubscriptionCount {
            channel: "c",
            count: 3
        }
        .to_json(),
        r#"{"event":"pusher_internal:subscription_count","channel":"c","data":"{\"subscription_count\":3}"}"#
    );
}

#[test]
fn signin_success_wraps_user_data_as_a_string_inside_a_string() {
    let event = ServerEvent::SigninSuccess {
        user_data: r#"{"id":"1"}"#,
    };
    let text = event.to_json();
    assert_eq!(
        text,
        r#"{"event":"pusher:signin_success","data":"{\"user_data\":\"{\\\"id\\\":\\\"1\\\"}\"}"}"#
    );
    // What pusher-js does: JSON.parse(data), then JSON.parse(data.user_data).
    let frame: serde_json::Value = serde_json::from_str(&text).expect("json");
    let data: serde_json::Value =
        serde_json::from_str(frame["data"].as_str().expect("string")).expect("json");
    let user: serde_json::Value =
        serde_json::from_str(data["user_data"].as_str().expect("string")).expect("json");
    assert_eq!(user["id"], "1");
}

#[test]
fn published_data_is_passed_through_verbatim_as_a_string() {
    let event = ServerEvent::Published {
        event: r"App\Events\OrderShipped",
        channel: "orders",
        data: r#"{"id":1}"#,
    };
    assert_eq!(
        event.to_json(),
        r#"{"event":"App\\Events\\OrderShipped","channel":"orders","data":"{\"id\":1}"}"#
    );
    // Non-JSON data is still a plain string, never re-encoded or parsed.
    let plain = ServerEvent::Published {
        event: "e",
        channel: "c",
        data: "hello \"world\"\n",
    };
    assert_eq!(
        plain.to_json(),
        r#"{"event":"e","channel":"c","data":"hello \"world\"\n"}"#
    );
}

#[test]
fn client_relay_keeps_data_as_a_json_value() {
    let with_user = ServerEvent::ClientRelay {
        event: "client-typing",
        channel: "private-chat.1",
        data_json: r#"{"name":"Joe"}"#,
        user_id: Some("1"),
    };
    assert_eq!(
        with_user.to_json(),
        r#"{"event":"client-typing","channel":"private-chat.1","data":{"name":"Joe"},"user_id":"1"}"#
    );
    let without = ServerEvent::ClientRelay {
        event: "client-x",
        channel: "private-a",
        data_json: "null",
        user_id: None,
    };
    assert_eq!(
        without.to_json(),
        r#"{"event":"client-x","channel":"private-a","data":null}"#
    );
}

#[test]
fn write_json_appends() {
    let mut out = String::from("prefix:");
    ServerEvent::Pong.write_json(&mut out);
    assert_eq!(out, r#"prefix:{"event":"pusher:pong"}"#);
}

#[test]
fn json_strings_escape_like_serde() {
    let mut cases: Vec<String> = (0u32..=0x2ff)
        .chain([0x2028, 0x2029, 0xfeff, 0xfffd, 0x1f600])
        .filter_map(char::from_u32)
        .map(|c| format!("a{c}b"))
        .collect();
    cases.extend(
        [
            "plain",
            "quote \" backslash \\ slash /",
            "tab\tnewline\ncr\r",
            "\u{1}\u{1f}",
            "unicode é ✓ 😀",
            "",
            "\\b \\f \\u0008 \\\"",
            r#"{"order":{"note":"a \"quoted\" word"}}"#,
        ]
        .map(str::to_owned),
    );
    for s in &cases {
        let mut out = String::new();
        push_json_str(&mut out, s);
        assert_eq!(out, serde_json::to_string(s).expect("json"), "{s:?}");
        assert_eq!(serde_json::from_str::<String>(&out).expect("json"), *s);
    }
}

/// The exact escapes on the wire. `\b` and `\f` are the short forms (the
/// hand-written escaper replaced by serde_json's wrote `\u0008` and
/// `\u000c`, the only bytes in which the two differed); DEL, U+2028 and
/// non-ASCII go out raw.
#[test]
fn json_string_escapes_golden() {
    let mut out = String::new();
    push_json_str(
        &mut out,
        "\u{0}\u{7}\u{8}\t\n\u{b}\u{c}\r\u{1f} \"\\/\u{7f}\u{e9}\u{2028}😀",
    );
    assert_eq!(
        out,
        "\"\\u0000\\u0007\\b\\t\\n\\u000b\\f\\r\\u001f \\\"\\\\/\u{7f}\u{e9}\u{2028}😀\""
    );
}

#[test]
fn watchlist_events_carry_a_json_string_with_one_entry_per_non_empty_list() {
    let users: Vec<std::sync::Arc<str>> = vec!["1".into(), "a\"b".into()];
    let both = ServerEvent::WatchlistEvents {
        online: &users[..1],
        offline: &users[1..],
    };
    assert_eq!(
        both.to_json(),
        r#"{"event":"pusher_internal:watchlist_events","data":"{\"events\":[{\"name\":\"online\",\"user_ids\":[\"1\"]},{\"name\":\"offline\",\"user_ids\":[\"a\\\"b\"]}]}"}"#
    );
    let offline = ServerEvent::WatchlistEvents {
        online: &[],
        offline: &users,
    };
    let frame: serde_json::Value = serde_json::from_str(&offline.to_json()).expect("json");
    assert!(frame.get("channel").is_none());
    let data: serde_json::Value =
        serde_json::from_str(frame["data"].as_str().expect("data is a string")).expect("json");
    assert_eq!(
        data,
        serde_json::json!({"events":[{"name":"offline","user_ids":["1","a\"b"]}]})
    );
}
