//! Golden tests for the wire protocol: the exact text of every server frame
//! (including which `data` fields are JSON-encoded strings), the channel-kind
//! table, client frame parsing and socket ids.

use super::channel_name::{ChannelNameError, MAX_CHANNEL_NAME_LEN};
use super::client_event::MAX_EVENT_NAME_LEN;
use super::server_event::{push_json_str, MemberRef};
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
    for s in [
        "plain",
        "quote \" backslash \\ slash /",
        "tab\tnewline\ncr\r",
        "\u{1}\u{1f}",
        "unicode é ✓ 😀",
        "",
    ] {
        let mut out = String::new();
        push_json_str(&mut out, s);
        assert_eq!(out, serde_json::to_string(s).expect("json"), "{s:?}");
    }
}

#[test]
fn channel_kind_table() {
    use ChannelKind::*;
    let table: &[(&str, ChannelKind, bool)] = &[
        ("test-channel", Public, false),
        ("orders", Public, false),
        ("App.Models.User.1", Public, false),
        ("privatefoo", Public, false),
        ("presencefoo", Public, false),
        ("cachefoo", Public, false),
        ("cache-ticker", Public, true),
        ("private-chat.1", Private, false),
        ("private-cache-x", Private, true),
        ("private-encrypted-foo", PrivateEncrypted, false),
        ("private-encrypted-cache-x", PrivateEncrypted, true),
        ("presence-room.1", Presence, false),
        ("presence-cache-x", Presence, true),
        ("#server-to-user-1", ServerToUser, false),
        ("#server-to-user-abc", ServerToUser, false),
        ("#server-to-user-", Reserved, false),
        ("#x", Reserved, false),
        ("#watchlist", Reserved, false),
    ];
    for &(name, kind, cache) in table {
        let channel = ChannelName::parse(name).expect(name);
        assert_eq!(channel.kind(), kind, "{name}");
        assert_eq!(channel.is_cache(), cache, "{name}");
        assert_eq!(channel.as_str(), name);
        assert_eq!(channel.to_string(), name);
    }
}

#[test]
fn requires_auth_only_for_private_encrypted_and_presence() {
    use ChannelKind::*;
    for kind in [Private, PrivateEncrypted, Presence] {
        assert!(kind.requires_auth(), "{kind:?}");
    }
    for kind in [Public, ServerToUser, Reserved] {
        assert!(!kind.requires_auth(), "{kind:?}");
    }
}

#[test]
fn server_to_user_id() {
    let c = ChannelName::parse("#server-to-user-42").expect("valid");
    assert_eq!(c.server_to_user_id(), Some("42"));
    let empty = ChannelName::parse("#server-to-user-").expect("valid");
    assert_eq!(empty.server_to_user_id(), None);
    let public = ChannelName::parse("server-to-user-42").expect("valid");
    assert_eq!(public.kind(), ChannelKind::Public);
}

#[test]
fn invalid_channel_names() {
    assert_eq!(ChannelName::parse(""), Err(ChannelNameError::Empty));
    for bad in ["#", "a b", "a/b", "a:b", "caf\u{e9}", "a\"b", "##x", "a#b"] {
        assert_eq!(
            ChannelName::parse(bad),
            Err(ChannelNameError::BadCharacter),
            "{bad:?}"
        );
    }
    let longest = "a".repeat(MAX_CHANNEL_NAME_LEN);
    assert!(ChannelName::parse(&longest).is_ok());
    let too_long = "a".repeat(MAX_CHANNEL_NAME_LEN + 1);
    assert_eq!(
        ChannelName::parse(&too_long),
        Err(ChannelNameError::TooLong)
    );
    assert!(ChannelName::parse("-_=@,.;AZaz09").is_ok());
}

fn parse(text: &str) -> Result<ClientEvent, ParseError> {
    ClientEvent::parse(text)
}

#[test]
fn parse_ping_pong_with_and_without_data() {
    assert_eq!(
        parse(r#"{"event":"pusher:ping","data":{}}"#),
        Ok(ClientEvent::Ping)
    );
    assert_eq!(parse(r#"{"event":"pusher:ping"}"#), Ok(ClientEvent::Ping));
    assert_eq!(
        parse(r#"{"event":"pusher:pong","data":{}}"#),
        Ok(ClientEvent::Pong)
    );
}

#[test]
fn parse_subscribe_with_object_or_string_data() {
    let expected = ClientEvent::Subscribe {
        channel: "private-a".to_owned(),
        auth: Some("k:sig".to_owned()),
        channel_data: None,
    };
    assert_eq!(
        parse(r#"{"event":"pusher:subscribe","data":{"auth":"k:sig","channel":"private-a"}}"#),
        Ok(expected.clone())
    );
    assert_eq!(
        parse(
            r#"{"event":"pusher:subscribe","data":"{\"auth\":\"k:sig\",\"channel\":\"private-a\"}"}"#
        ),
        Ok(expected)
    );
    // channel_data stays the exact string that was signed.
    let cd = r#"{"user_id":"1", "user_info":{}}"#;
    let text = serde_json::json!({"event":"pusher:subscribe","data":{"channel":"presence-a","auth":"k:s","channel_data":cd}}).to_string();
    assert_eq!(
        parse(&text),
        Ok(ClientEvent::Subscribe {
            channel: "presence-a".to_owned(),
            auth: Some("k:s".to_owned()),
            channel_data: Some(cd.to_owned()),
        })
    );
    // auth null or absent is None.
    assert_eq!(
        parse(r#"{"event":"pusher:subscribe","data":{"channel":"a","auth":null}}"#),
        Ok(ClientEvent::Subscribe {
            channel: "a".to_owned(),
            auth: None,
            channel_data: None,
        })
    );
}

#[test]
fn parse_subscribe_errors() {
    let cases = [
        (
            r#"{"event":"pusher:subscribe","data":{}}"#,
            ParseError::InvalidField("channel"),
        ),
        (
            r#"{"event":"pusher:subscribe"}"#,
            ParseError::InvalidField("channel"),
        ),
        (
            r#"{"event":"pusher:subscribe","data":{"channel":null}}"#,
            ParseError::InvalidField("channel"),
        ),
        (
            r#"{"event":"pusher:subscribe","data":{"channel":["a"]}}"#,
            ParseError::InvalidField("channel"),
        ),
        (
            r#"{"event":"pusher:subscribe","data":{"channel":"a","auth":1}}"#,
            ParseError::InvalidField("auth"),
        ),
        (
            r#"{"event":"pusher:subscribe","data":{"channel":"a","channel_data":"{nope"}}"#,
            ParseError::InvalidField("channel_data"),
        ),
        (
            r#"{"event":"pusher:subscribe","data":{"channel":"a","channel_data":{"user_id":1}}}"#,
            ParseError::InvalidField("channel_data"),
        ),
        (
            r#"{"event":"pusher:subscribe","data":"not json"}"#,
            ParseError::InvalidField("data"),
        ),
        (
            r#"{"event":"pusher:subscribe","data":5}"#,
            ParseError::InvalidField("data"),
        ),
        (
            r#"{"event":"pusher:unsubscribe","data":{}}"#,
            ParseError::InvalidField("channel"),
        ),
    ];
    for (text, error) in cases {
        assert_eq!(parse(text), Err(error), "{text}");
    }
}

#[test]
fn parse_unsubscribe() {
    assert_eq!(
        parse(r#"{"event":"pusher:unsubscribe","data":{"channel":"orders"}}"#),
        Ok(ClientEvent::Unsubscribe {
            channel: "orders".to_owned()
        })
    );
}

#[test]
fn parse_signin() {
    assert_eq!(
        parse(r#"{"event":"pusher:signin","data":{"auth":"k:s","user_data":"{\"id\":\"1\"}"}}"#),
        Ok(ClientEvent::Signin {
            auth: "k:s".to_owned(),
            user_data: r#"{"id":"1"}"#.to_owned(),
        })
    );
    assert_eq!(
        parse(r#"{"event":"pusher:signin","data":{"user_data":"{}"}}"#),
        Err(ParseError::InvalidField("auth"))
    );
    assert_eq!(
        parse(r#"{"event":"pusher:signin","data":{"auth":"k:s","user_data":{"id":"1"}}}"#),
        Err(ParseError::InvalidField("user_data"))
    );
}

#[test]
fn parse_rejects_bad_frames() {
    assert_eq!(parse("not json"), Err(ParseError::NotJson));
    assert_eq!(parse(""), Err(ParseError::NotJson));
    assert_eq!(parse("[1,2]"), Err(ParseError::NotJson));
    assert_eq!(parse(r#"{"event":"pusher:ping""#), Err(ParseError::NotJson));
    assert_eq!(parse(r#"{"data":{}}"#), Err(ParseError::EventNotString));
    assert_eq!(parse(r#"{"event":1}"#), Err(ParseError::EventNotString));
    assert_eq!(parse(r#"{"event":null}"#), Err(ParseError::EventNotString));
    assert_eq!(
        parse(r#"{"event":["client-a"]}"#),
        Err(ParseError::EventNotString)
    );
    assert_eq!(
        parse(r#"{"event":"pusher:bogus","data":{}}"#),
        Err(ParseError::UnknownPusherEvent("pusher:bogus".to_owned()))
    );
    let long = format!(
        r#"{{"event":"client-{}","channel":"private-a"}}"#,
        "x".repeat(MAX_EVENT_NAME_LEN)
    );
    assert_eq!(parse(&long), Err(ParseError::EventNameTooLong));
}

#[test]
fn parse_client_events_keep_data_verbatim() {
    let client = |channel: &str, data: &str| ClientEvent::Client {
        event: "client-typing".to_owned(),
        channel: channel.to_owned(),
        data: data.to_owned(),
    };
    assert_eq!(
        parse(r#"{"event":"client-typing","channel":"private-a","data":{"name": "Joe"}}"#),
        Ok(client("private-a", r#"{"name": "Joe"}"#))
    );
    assert_eq!(
        parse(r#"{"event":"client-typing","channel":"private-a","data":"{\"a\":1}"}"#),
        Ok(client("private-a", r#""{\"a\":1}""#))
    );
    assert_eq!(
        parse(r#"{"event":"client-typing","channel":"private-a"}"#),
        Ok(client("private-a", "null"))
    );
    assert_eq!(
        parse(r#"{"event":"client-typing","channel":"private-a","data":null}"#),
        Ok(client("private-a", "null"))
    );
    assert_eq!(
        parse(r#"{"event":"client-typing","data":{}}"#),
        Err(ParseError::InvalidField("channel"))
    );
    assert_eq!(
        parse(r#"{"event":"client-typing","channel":["private-a"],"data":{}}"#),
        Err(ParseError::InvalidField("channel"))
    );
}

#[test]
fn parse_ignores_other_events() {
    for text in [
        r#"{"event":"typing","channel":"private-a","data":{}}"#,
        r#"{"event":"pusher_internal:member_added","channel":"presence-a","data":{}}"#,
        r#"{"event":"App\\Events\\X"}"#,
    ] {
        assert_eq!(parse(text), Ok(ClientEvent::Ignored), "{text}");
    }
}

#[test]
fn socket_id_parse_and_display() {
    let id = SocketId::parse("483920175.90817234").expect("valid");
    assert_eq!(id.to_string(), "483920175.90817234");
    assert_eq!(id, SocketId::new(483_920_175, 90_817_234));
    assert_eq!(format!("{id:?}"), "SocketId(483920175.90817234)");
    assert_eq!(SocketId::parse("1.2"), Some(SocketId::new(1, 2)));
    for bad in [
        "",
        "1",
        "1.",
        ".1",
        "a.b",
        "1.2.3",
        "-1.2",
        "1 .2",
        "+1.2",
        "1.2 ",
        "99999999999.1",
    ] {
        assert_eq!(SocketId::parse(bad), None, "{bad:?}");
    }
    // Both halves are at least 1, as Reverb mints them.
    assert_eq!(SocketId::new(0, 0).to_string(), "1.1");
}

#[test]
fn protocol_version_is_7() {
    assert_eq!(PROTOCOL_VERSION, 7);
}
