//! The webhook body, events and ids, the retry schedule, and reading
//! entries back from a Redis stream reply.

use super::deliver::{backoff, body};
use super::event::{Entry, WebhookEvent};
use super::outbox::parse_entries;
use crate::config::WebhooksConfig;

#[test]
fn events_are_pushers_json() {
    let cases = [
        (
            WebhookEvent::ChannelOccupied {
                channel: "orders".into(),
            },
            r#"{"name":"channel_occupied","channel":"orders"}"#,
        ),
        (
            WebhookEvent::MemberRemoved {
                channel: "presence-a".into(),
                user_id: "7".into(),
            },
            r#"{"name":"member_removed","channel":"presence-a","user_id":"7"}"#,
        ),
        (
            WebhookEvent::ClientEvent {
                channel: "private-a".into(),
                event: "client-x".into(),
                data: "{\"a\":1}".into(),
                socket_id: "1.2".into(),
                user_id: None,
            },
            r#"{"name":"client_event","channel":"private-a","event":"client-x","data":"{\"a\":1}","socket_id":"1.2"}"#,
        ),
        (
            WebhookEvent::SubscriptionCount {
                channel: "c".into(),
                subscription_count: 3,
            },
            r#"{"name":"subscription_count","channel":"c","subscription_count":3}"#,
        ),
        (
            WebhookEvent::CacheMiss {
                channel: "cache-c".into(),
            },
            r#"{"name":"cache_miss","channel":"cache-c"}"#,
        ),
    ];
    for (event, json) in cases {
        assert_eq!(event.to_json(), json);
    }
}

#[test]
fn the_id_is_the_first_field_and_only_objects_get_one() {
    let entry = |event: &str| Entry {
        key: "1-0".into(),
        app_id: "1".into(),
        id: "a\"b-1".into(),
        event: event.into(),
    };
    assert_eq!(
        entry(r#"{"name":"cache_miss","channel":"c"}"#)
            .with_id()
            .as_deref(),
        Some(r#"{"id":"a\"b-1","name":"cache_miss","channel":"c"}"#)
    );
    assert_eq!(entry("[1]").with_id(), None);
    assert_eq!(entry("{}").with_id(), None);
    let routing = entry(r#"{"name":"member_added","channel":"presence-x","user_id":"1"}"#)
        .routing()
        .expect("routes");
    assert_eq!(routing.channel, "presence-x");
    assert!(entry(r#"{"name":"nonsense","channel":"x"}"#)
        .routing()
        .is_none());
}

#[test]
fn an_entry_with_whitespace_before_its_event_keeps_its_body() {
    // Found by the `webhook_entry` fuzz target: the event routed (serde_json
    // skips leading whitespace) but `with_id` found no `{` and gave no body,
    // so the dispatcher acknowledged and dropped an event it had targets for.
    let entry = Entry {
        key: "1-0".into(),
        app_id: "1".into(),
        id: "e1".into(),
        event: " \n\t\r{\"name\":\"channel_vacated\",\"channel\":\"x\"}".into(),
    };
    assert!(entry.routing().is_some());
    assert_eq!(
        entry.with_id().as_deref(),
        Some(r#"{"id":"e1","name":"channel_vacated","channel":"x"}"#)
    );
}

#[test]
fn an_entry_whose_event_is_an_array_does_not_route() {
    // Found by the `webhook_entry` fuzz target's invariant (an entry that
    // routes has a body): serde read `["channel_vacated","x"]` as the
    // routing struct, but `with_id` gives arrays no body, so the event was
    // routed to targets with nothing to send.
    let entry = Entry {
        key: "1-0".into(),
        app_id: "1".into(),
        id: "e1".into(),
        event: r#"["channel_vacated","x"]"#.into(),
    };
    assert!(entry.routing().is_none());
    assert!(entry.with_id().is_none());
}

#[test]
fn the_body_carries_time_ms_and_the_events_verbatim() {
    let events = vec![r#"{"id":"1","name":"channel_vacated","channel":"a"}"#.to_owned()];
    let text = body(&events);
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert!(value["time_ms"].as_u64().expect("time_ms") > 1_600_000_000_000);
    assert_eq!(value["events"][0]["name"], "channel_vacated");
    assert!(text.ends_with(r#""events":[{"id":"1","name":"channel_vacated","channel":"a"}]}"#));
}

#[test]
fn retries_double_up_to_the_maximum_with_a_little_jitter() {
    let config = WebhooksConfig::default();
    for (attempt, base) in [
        (1, 1_000),
        (2, 2_000),
        (3, 4_000),
        (7, 60_000),
        (30, 60_000),
    ] {
        let wait = backoff(attempt, &config).as_millis();
        assert!(
            (base..=base + base / 5).contains(&(wait as u64)),
            "attempt {attempt}: {wait} ms"
        );
    }
    // The default schedule gives about ten attempts in five minutes.
    let mut total = 0;
    let mut attempts = 1;
    while total + backoff(attempts, &config).as_millis() < 300_000 {
        total += backoff(attempts, &config).as_millis();
        attempts += 1;
    }
    assert!((8..=12).contains(&attempts), "{attempts} attempts");
}

#[test]
fn stream_entries_are_read_back_and_deleted_ones_skipped() {
    use redis::Value::{Array, BulkString, Nil};
    let bulk = |s: &str| BulkString(s.as_bytes().to_vec());
    let reply = Array(vec![
        Array(vec![
            bulk("1-0"),
            Array(vec![
                bulk("app"),
                bulk("1000"),
                bulk("id"),
                bulk("n-1"),
                bulk("event"),
                bulk(r#"{"name":"cache_miss","channel":"c"}"#),
            ]),
        ]),
        Array(vec![bulk("2-0"), Nil]),
    ]);
    let entries = parse_entries(reply);
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (
            entries[0].key.as_str(),
            entries[0].app_id.as_str(),
            entries[0].id.as_str()
        ),
        ("1-0", "1000", "n-1")
    );
}

#[test]
fn logged_urls_lose_their_credentials_and_query() {
    assert_eq!(
        super::deliver::redact("https://user:pw@backend.example/hook?token=s3cret"),
        "https://backend.example/hook"
    );
    assert_eq!(super::deliver::redact("not a url"), "(invalid URL)");
}
