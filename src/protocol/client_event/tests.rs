//! Client frame parsing (`ClientEvent::parse`).

use super::*;

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
fn parse_refuses_arrays_where_objects_belong() {
    // serde's derived structs read an array field by field; the fuzz
    // target's "a parsed frame is an object" invariant pins this.
    assert_eq!(
        parse(r#"["pusher:subscribe",{"channel":"orders"},null]"#),
        Err(ParseError::NotJson)
    );
    assert_eq!(
        parse(r#" ["pusher:ping",null,null]"#),
        Err(ParseError::NotJson)
    );
    assert_eq!(
        parse(r#"{"event":"pusher:subscribe","data":["presence-r","k:00","{}"]}"#),
        Err(ParseError::InvalidField("data"))
    );
    assert_eq!(
        parse(r#"{"event":"pusher:signin","data":"[\"k:00\",\"{}\"]"}"#),
        Err(ParseError::InvalidField("data"))
    );
    assert_eq!(
        parse(" \r\n{\"event\":\"pusher:ping\"}"),
        Ok(ClientEvent::Ping),
        "whitespace before the object is still JSON"
    );
}
