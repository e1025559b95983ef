//! Registry unit tests: subscribe/unsubscribe outcomes, occupancy, presence
//! member events once per user delivered to the right sockets, broadcast
//! with an exception, stats and prefix listing. Frames are read straight
//! from each subscriber's queue.

use super::*;

fn name(n: &str) -> ChannelName {
    ChannelName::parse(n).expect("valid channel name")
}

fn id(n: u32) -> SocketId {
    SocketId::new(n, n)
}

fn member(user_id: &str) -> Member {
    Member::from_channel_data(&format!(
        r#"{{"user_id":"{user_id}","user_info":{{"name":"u{user_id}"}}}}"#
    ))
    .expect("valid member")
}

/// Every frame queued for `handle`, oldest first.
fn drain(handle: &SocketHandle) -> Vec<String> {
    std::iter::from_fn(|| handle.pop())
        .map(|f| f.as_str().to_owned())
        .collect()
}

fn events(handle: &SocketHandle) -> Vec<String> {
    drain(handle)
        .iter()
        .map(|f| {
            let v: serde_json::Value = serde_json::from_str(f).expect("json");
            v["event"].as_str().expect("event").to_owned()
        })
        .collect()
}

#[test]
fn subscribe_queues_ack_and_reports_occupancy() {
    let reg = ChannelRegistry::new();
    let (a, b) = (SocketHandle::new(16), SocketHandle::new(16));
    let c = name("orders");
    let first = reg.subscribe(&c, id(1), &a, None, false);
    assert_eq!(
        first,
        Subscribed {
            already: false,
            occupied: true,
            member_added: None,
            first_local: false,
            subscription_count: 1,
        }
    );
    assert_eq!(
        drain(&a),
        [r#"{"event":"pusher_internal:subscription_succeeded","channel":"orders","data":"{}"}"#]
    );
    let second = reg.subscribe(&c, id(2), &b, None, false);
    assert!(!second.occupied && !second.already);
    assert_eq!(second.subscription_count, 2);
    assert!(a.is_empty(), "no count events unless asked for");
    assert_eq!(reg.channels.len(), 1);
}

#[test]
fn resubscribe_resends_ack_only() {
    let reg = ChannelRegistry::new();
    let a = SocketHandle::new(16);
    let c = name("orders");
    reg.subscribe(&c, id(1), &a, None, true);
    drain(&a);
    let again = reg.subscribe(&c, id(1), &a, None, true);
    assert!(again.already && !again.occupied);
    assert_eq!(again.subscription_count, 1);
    assert_eq!(events(&a), ["pusher_internal:subscription_succeeded"]);
}

#[test]
fn unsubscribe_reports_vacated_and_is_a_noop_when_unknown() {
    let reg = ChannelRegistry::new();
    let (a, b) = (SocketHandle::new(16), SocketHandle::new(16));
    let c = name("orders");
    reg.subscribe(&c, id(1), &a, None, false);
    reg.subscribe(&c, id(2), &b, None, false);
    assert_eq!(
        reg.unsubscribe("nope", id(1), false),
        Unsubscribed::default()
    );
    assert_eq!(
        reg.unsubscribe("orders", id(9), false),
        Unsubscribed::default()
    );
    let one = reg.unsubscribe("orders", id(1), false);
    assert!(one.removed && !one.vacated);
    assert_eq!(one.subscription_count, 1);
    assert!(reg.stats("orders").is_some());
    let last = reg.unsubscribe("orders", id(2), false);
    assert!(last.removed && last.vacated);
    assert_eq!(last.subscription_count, 0);
    assert_eq!(reg.stats("orders"), None);
    assert!(reg.channels.is_empty());
    assert_eq!(
        reg.unsubscribe("orders", id(2), false),
        Unsubscribed::default()
    );
}

#[test]
fn broadcast_skips_the_excepted_socket_and_shares_bytes() {
    let reg = ChannelRegistry::new();
    let handles: Vec<SocketHandle> = (0..3).map(|_| SocketHandle::new(16)).collect();
    let c = name("orders");
    for (i, h) in handles.iter().enumerate() {
        reg.subscribe(&c, id(i as u32 + 1), h, None, false);
        drain(h);
    }
    let frame = Frame::from(r#"{"event":"e","channel":"orders","data":"x"}"#);
    assert_eq!(reg.broadcast("orders", &frame, Some(id(2))), 2);
    assert_eq!(handles[0].pop(), Some(frame.clone()));
    assert!(handles[1].is_empty(), "the excepted socket gets nothing");
    assert_eq!(handles[2].pop(), Some(frame.clone()));
    assert_eq!(reg.broadcast("orders", &frame, None), 3);
    assert_eq!(reg.broadcast("unknown", &frame, None), 0);
}

#[test]
fn subscription_reports_membership_and_presence_user() {
    let reg = ChannelRegistry::new();
    let a = SocketHandle::new(16);
    reg.subscribe(&name("private-a"), id(1), &a, None, false);
    reg.subscribe(&name("presence-a"), id(1), &a, Some(&member("7")), false);
    assert_eq!(reg.subscription("private-a", id(1)), Some(None));
    assert_eq!(
        reg.subscription("presence-a", id(1)),
        Some(Some(Arc::from("7")))
    );
    assert_eq!(reg.subscription("private-a", id(2)), None);
    assert_eq!(reg.subscription("other", id(1)), None);
}

#[test]
fn presence_member_added_once_per_user_to_the_others() {
    let reg = ChannelRegistry::new();
    let c = name("presence-room");
    let (a1, a2, b) = (
        SocketHandle::new(16),
        SocketHandle::new(16),
        SocketHandle::new(16),
    );
    let first = reg.subscribe(&c, id(1), &a1, Some(&member("a")), false);
    assert_eq!(first.member_added, Some(Arc::from("a")));
    assert_eq!(
        drain(&a1),
        [
            r#"{"event":"pusher_internal:subscription_succeeded","channel":"presence-room","data":"{\"presence\":{\"count\":1,\"ids\":[\"a\"],\"hash\":{\"a\":{\"name\":\"ua\"}}}}"}"#
        ],
        "the joiner gets the roster, not its own member_added"
    );
    let joined = reg.subscribe(&c, id(2), &b, Some(&member("b")), false);
    assert_eq!(joined.member_added, Some(Arc::from("b")));
    assert_eq!(
        drain(&a1),
        [
            r#"{"event":"pusher_internal:member_added","channel":"presence-room","data":"{\"user_id\":\"b\",\"user_info\":{\"name\":\"ub\"}}"}"#
        ]
    );
    assert_eq!(events(&b), ["pusher_internal:subscription_succeeded"]);
    // A second socket of user a: nobody is told, the roster is unchanged.
    let tab = reg.subscribe(&c, id(3), &a2, Some(&member("a")), false);
    assert_eq!(tab.member_added, None);
    assert_eq!(tab.subscription_count, 3);
    let roster: serde_json::Value = serde_json::from_str(
        serde_json::from_str::<serde_json::Value>(&drain(&a2)[0]).expect("json")["data"]
            .as_str()
            .expect("string"),
    )
    .expect("json");
    assert_eq!(roster["presence"]["count"], 2);
    assert_eq!(roster["presence"]["ids"], serde_json::json!(["a", "b"]));
    assert!(a1.is_empty() && b.is_empty());
    assert_eq!(
        reg.stats("presence-room"),
        Some(ChannelStats {
            subscription_count: 3,
            user_count: Some(2)
        })
    );
}

#[test]
fn presence_member_removed_on_the_users_last_socket() {
    let reg = ChannelRegistry::new();
    let c = name("presence-room");
    let (a1, a2, b) = (
        SocketHandle::new(16),
        SocketHandle::new(16),
        SocketHandle::new(16),
    );
    reg.subscribe(&c, id(1), &a1, Some(&member("a")), false);
    reg.subscribe(&c, id(2), &a2, Some(&member("a")), false);
    reg.subscribe(&c, id(3), &b, Some(&member("b")), false);
    for h in [&a1, &a2, &b] {
        drain(h);
    }
    let first = reg.unsubscribe("presence-room", id(1), false);
    assert!(first.removed && first.member_removed.is_none());
    assert!(a2.is_empty() && b.is_empty(), "user a still has a socket");
    let last = reg.unsubscribe("presence-room", id(2), false);
    assert_eq!(last.member_removed, Some(Arc::from("a")));
    assert_eq!(
        drain(&b),
        [
            r#"{"event":"pusher_internal:member_removed","channel":"presence-room","data":"{\"user_id\":\"a\"}"}"#
        ]
    );
    assert!(a1.is_empty() && a2.is_empty(), "leavers are not told");
    let members = reg.members("presence-room").expect("occupied");
    assert_eq!(members, vec![member("b")]);
    let gone = reg.unsubscribe("presence-room", id(3), false);
    assert!(gone.vacated);
    assert_eq!(gone.member_removed, Some(Arc::from("b")));
    assert_eq!(reg.members("presence-room"), None);
}

#[test]
fn presence_resubscribe_announces_nothing() {
    let reg = ChannelRegistry::new();
    let c = name("presence-room");
    let (a, b) = (SocketHandle::new(16), SocketHandle::new(16));
    reg.subscribe(&c, id(1), &a, Some(&member("a")), false);
    reg.subscribe(&c, id(2), &b, Some(&member("b")), false);
    drain(&a);
    drain(&b);
    let again = reg.subscribe(&c, id(2), &b, Some(&member("b")), false);
    assert!(again.already && again.member_added.is_none());
    assert!(a.is_empty());
    assert_eq!(events(&b), ["pusher_internal:subscription_succeeded"]);
    // Still one socket of b: one unsubscribe removes the member.
    assert_eq!(
        reg.unsubscribe("presence-room", id(2), false)
            .member_removed,
        Some(Arc::from("b"))
    );
}

#[test]
fn subscription_count_events_go_to_every_subscriber() {
    let reg = ChannelRegistry::new();
    let c = name("counted");
    let (a, b) = (SocketHandle::new(16), SocketHandle::new(16));
    reg.subscribe(&c, id(1), &a, None, true);
    assert_eq!(
        drain(&a),
        [
            r#"{"event":"pusher_internal:subscription_succeeded","channel":"counted","data":"{}"}"#,
            r#"{"event":"pusher_internal:subscription_count","channel":"counted","data":"{\"subscription_count\":1}"}"#,
        ]
    );
    reg.subscribe(&c, id(2), &b, None, true);
    let count2 = r#"{"event":"pusher_internal:subscription_count","channel":"counted","data":"{\"subscription_count\":2}"}"#;
    assert_eq!(drain(&a), [count2]);
    assert_eq!(drain(&b)[1], count2);
    reg.unsubscribe("counted", id(2), true);
    assert_eq!(
        drain(&a),
        [
            r#"{"event":"pusher_internal:subscription_count","channel":"counted","data":"{\"subscription_count\":1}"}"#
        ]
    );
    assert!(b.is_empty(), "the leaver is not told");
    // Presence channels never get count events.
    let p = SocketHandle::new(16);
    reg.subscribe(&name("presence-x"), id(3), &p, Some(&member("x")), true);
    assert_eq!(events(&p), ["pusher_internal:subscription_succeeded"]);
}

#[test]
fn stats_and_list_by_prefix() {
    let reg = ChannelRegistry::new();
    let h = SocketHandle::new(64);
    reg.subscribe(&name("b-two"), id(1), &h, None, false);
    reg.subscribe(&name("b-two"), id(2), &h, None, false);
    reg.subscribe(&name("a-one"), id(1), &h, None, false);
    reg.subscribe(&name("presence-p"), id(1), &h, Some(&member("1")), false);
    reg.subscribe(&name("presence-p"), id(2), &h, Some(&member("1")), false);
    assert_eq!(
        reg.stats("b-two"),
        Some(ChannelStats {
            subscription_count: 2,
            user_count: None
        })
    );
    assert_eq!(
        reg.stats("presence-p"),
        Some(ChannelStats {
            subscription_count: 2,
            user_count: Some(1)
        })
    );
    let all: Vec<String> = reg.list("").iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(all, ["a-one", "b-two", "presence-p"], "sorted by name");
    let b: Vec<String> = reg.list("b-").iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(b, ["b-two"]);
    assert!(reg.list("zzz").is_empty());
    assert_eq!(
        reg.members("b-two"),
        Some(vec![]),
        "non-presence: no roster"
    );
    reg.unsubscribe("a-one", id(1), false);
    assert_eq!(reg.list("a").len(), 0, "vacated channels are not listed");
}

#[test]
fn a_full_subscriber_queue_does_not_stop_the_others() {
    let reg = ChannelRegistry::new();
    let c = name("orders");
    let (slow, fast) = (SocketHandle::new(1), SocketHandle::new(16));
    reg.subscribe(&c, id(1), &slow, None, false);
    reg.subscribe(&c, id(2), &fast, None, false);
    drain(&fast);
    // slow still holds its ack: the next frame overflows it.
    let frame = Frame::from("x");
    assert_eq!(reg.broadcast("orders", &frame, None), 1);
    assert_eq!(
        slow.close_reason(),
        Some(crate::protocol::ErrorCode::OverCapacity)
    );
    assert_eq!(fast.pop(), Some(frame));
}

mod properties;
