//! The seam's transitions, the user index and the lifecycle bus agree on
//! every subscribe and unsubscribe, including repeats.

use std::sync::Arc;

use super::*;
use crate::adapter::local::LocalAdapter;
use crate::apps::AppRegistry;
use crate::config::{AppConfig, ServerConfig};

fn node() -> (Node, Arc<App>) {
    let apps = Arc::new(AppRegistry::new(&[AppConfig::development()]));
    let app = apps.iter().next().expect("one app").clone();
    let node = Node::new(
        ServerConfig::default(),
        apps,
        Arc::new(LocalAdapter),
        crate::webhooks::Webhooks::inert(),
        16,
    );
    (node, app)
}

fn member(user: &str) -> Member {
    Member::from_channel_data(&format!(r#"{{"user_id":"{user}"}}"#)).expect("member")
}

#[test]
fn presence_transitions_once_per_user_and_channel() {
    let (node, app) = node();
    let mut bus = node.lifecycle.subscribe();
    let channel = ChannelName::parse("presence-room").expect("valid");
    let (h1, h2) = (SocketHandle::new(16), SocketHandle::new(16));
    let (s1, s2) = (SocketId::new(1, 1), SocketId::new(2, 2));
    let ann = member("ann");

    let first = subscribe(&node, &app, s1, &h1, &channel, Some(&ann));
    assert_eq!(
        first,
        Transition {
            changed: true,
            occupancy: Some(Occupancy::Occupied),
            member: Some(MemberChange::Added("ann".into())),
            node_member: Some(MemberChange::Added("ann".into())),
            subscription_count: 1,
            full: false,
        }
    );
    let again = subscribe(&node, &app, s1, &h1, &channel, Some(&ann));
    assert!(!again.changed, "a repeated subscribe changes nothing");
    let second_tab = subscribe(&node, &app, s2, &h2, &channel, Some(&ann));
    assert_eq!(second_tab.member, None, "ann is already present");
    assert_eq!(second_tab.occupancy, None);
    assert!(app.sockets.has_user("ann"));

    let leave_one = unsubscribe(&node, &app, s1, &channel);
    assert_eq!((leave_one.member, leave_one.occupancy), (None, None));
    assert!(app.sockets.has_user("ann"), "ann's second socket remains");
    let leave_last = unsubscribe(&node, &app, s2, &channel);
    assert_eq!(leave_last.member, Some(MemberChange::Removed("ann".into())));
    assert_eq!(leave_last.occupancy, Some(Occupancy::Vacated));
    assert!(!app.sockets.has_user("ann"), "the user index forgot ann");
    assert_eq!(
        unsubscribe(&node, &app, s2, &channel),
        Transition::default()
    );

    let seen: Vec<LifecycleEvent> = std::iter::from_fn(|| bus.try_recv().ok()).collect();
    let kinds: Vec<&str> = seen
        .iter()
        .map(|e| match e {
            LifecycleEvent::ChannelOccupied { .. } => "occupied",
            LifecycleEvent::MemberAdded { .. } => "added",
            LifecycleEvent::MemberRemoved { .. } => "removed",
            LifecycleEvent::ChannelVacated { .. } => "vacated",
            LifecycleEvent::ClientEvent { .. } => "client",
        })
        .collect();
    assert_eq!(kinds, ["occupied", "added", "removed", "vacated"]);
}

#[test]
fn cache_channels_replay_the_last_event_or_say_miss() {
    let (node, app) = node();
    let channel = ChannelName::parse("cache-prices").expect("valid");
    let first = SocketHandle::new(16);
    subscribe(&node, &app, SocketId::new(1, 1), &first, &channel, None);
    let frames: Vec<String> = std::iter::from_fn(|| first.pop())
        .map(|f| f.as_str().to_owned())
        .collect();
    assert!(frames[0].contains("subscription_succeeded"), "{frames:?}");
    assert!(frames[1].contains("pusher:cache_miss"), "{frames:?}");

    app.deliver(&channel, &Frame::text(r#"{"event":"tick"}"#), None);
    let late = SocketHandle::new(16);
    subscribe(&node, &app, SocketId::new(2, 2), &late, &channel, None);
    let frames: Vec<String> = std::iter::from_fn(|| late.pop())
        .map(|f| f.as_str().to_owned())
        .collect();
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[1], r#"{"event":"tick"}"#);
}

#[test]
fn a_full_presence_channel_refuses_new_users_but_not_more_tabs() {
    let config = AppConfig {
        max_presence_members: 2,
        ..AppConfig::development()
    };
    let apps = Arc::new(AppRegistry::new(&[config]));
    let app = apps.iter().next().expect("one app").clone();
    let node = Node::new(
        ServerConfig::default(),
        apps,
        Arc::new(LocalAdapter),
        crate::webhooks::Webhooks::inert(),
        16,
    );
    let channel = ChannelName::parse("presence-room").expect("valid");
    let handles: Vec<SocketHandle> = (0..4).map(|_| SocketHandle::new(16)).collect();
    let ids: Vec<SocketId> = (1..=4).map(|i| SocketId::new(i, i)).collect();
    assert!(
        !subscribe(
            &node,
            &app,
            ids[0],
            &handles[0],
            &channel,
            Some(&member("ann"))
        )
        .full
    );
    // A member another node reported takes a place too.
    app.channels.remote_join(&channel, 9, &member("bob"));
    let _ = std::iter::from_fn(|| handles[0].pop()).count();

    let refused = subscribe(
        &node,
        &app,
        ids[1],
        &handles[1],
        &channel,
        Some(&member("cy")),
    );
    assert_eq!(
        refused,
        Transition {
            full: true,
            ..Transition::default()
        }
    );
    assert!(
        handles[1].pop().is_none(),
        "nothing is sent to the refused socket"
    );
    assert!(
        handles[0].pop().is_none(),
        "no member_added for a refused user"
    );
    assert_eq!(app.channels.subscription(channel.as_str(), ids[1]), None);

    // Ann's second tab is not a new member.
    let tab = subscribe(
        &node,
        &app,
        ids[2],
        &handles[2],
        &channel,
        Some(&member("ann")),
    );
    assert!(tab.changed && !tab.full);
    // Once bob leaves everywhere, cy gets the place.
    app.channels.remote_leave(channel.as_str(), 9, "bob");
    let cy = subscribe(
        &node,
        &app,
        ids[3],
        &handles[3],
        &channel,
        Some(&member("cy")),
    );
    assert_eq!(cy.member, Some(MemberChange::Added("cy".into())));
}
