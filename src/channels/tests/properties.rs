//! Property tests of the registry: random subscribe/unsubscribe sequences
//! over a few sockets, users and channels, checked after every step
//! against a plain model (a set of subscriptions).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

const SOCKETS: u32 = 5;
const CHANNELS: [&str; 3] = ["orders", "presence-room", "presence-lobby"];

#[derive(Debug, Clone)]
enum Op {
    Subscribe {
        socket: u32,
        channel: usize,
        user: u8,
    },
    Unsubscribe {
        socket: u32,
        channel: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..SOCKETS, 0..CHANNELS.len(), 0..3u8).prop_map(|(socket, channel, user)| Op::Subscribe {
            socket,
            channel,
            user
        }),
        (0..SOCKETS, 0..CHANNELS.len())
            .prop_map(|(socket, channel)| Op::Unsubscribe { socket, channel }),
    ]
}

fn sock(socket: u32) -> SocketId {
    SocketId::new(100 + socket, 7)
}

fn member_of(user: u8) -> Member {
    Member::from_channel_data(&format!(r#"{{"user_id":"u{user}"}}"#)).expect("valid member")
}

/// The model: which socket is subscribed to which channel, and as which
/// user on presence channels (the first subscribe's user sticks).
#[derive(Debug, Default)]
struct Model {
    subs: BTreeMap<(usize, u32), Option<String>>,
}

impl Model {
    fn count(&self, channel: usize) -> usize {
        self.subs.keys().filter(|(c, _)| *c == channel).count()
    }

    fn users(&self, channel: usize) -> BTreeSet<String> {
        self.subs
            .iter()
            .filter(|((c, _), _)| *c == channel)
            .filter_map(|(_, user)| user.clone())
            .collect()
    }
}

/// Checks every observable of the registry against the model.
fn check(reg: &ChannelRegistry, model: &Model) -> Result<(), TestCaseError> {
    for (c, name) in CHANNELS.iter().enumerate() {
        let count = model.count(c);
        let stats = reg.stats(name);
        prop_assert_eq!(
            stats.as_ref().map_or(0, |s| s.subscription_count),
            count,
            "subscription count of {}",
            name
        );
        for socket in 0..SOCKETS {
            prop_assert_eq!(
                reg.subscription(name, sock(socket)).is_some(),
                model.subs.contains_key(&(c, socket))
            );
        }
        if name.starts_with("presence-") {
            // A user is a member iff one of its sockets is subscribed.
            let members: BTreeSet<String> = reg
                .members(name)
                .unwrap_or_default()
                .iter()
                .map(|m| m.user_id.to_string())
                .collect();
            prop_assert_eq!(&members, &model.users(c));
            if count > 0 {
                prop_assert_eq!(stats.and_then(|s| s.user_count), Some(members.len()));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_registry_matches_its_model(ops in proptest::collection::vec(op(), 1..60)) {
        let reg = ChannelRegistry::new();
        let handles: Vec<SocketHandle> = (0..SOCKETS).map(|_| SocketHandle::new(4096)).collect();
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Subscribe { socket, channel, user } => {
                    let name = name(CHANNELS[channel]);
                    let presence = CHANNELS[channel].starts_with("presence-");
                    let member = presence.then(|| member_of(user));
                    let users_before = model.users(channel);
                    let out = reg.subscribe(&name, sock(socket), &handles[socket as usize], member.as_ref(), true);
                    let already = model.subs.contains_key(&(channel, socket));
                    prop_assert_eq!(out.already, already);
                    prop_assert_eq!(out.occupied, model.count(channel) == 0);
                    if !already {
                        model.subs.insert((channel, socket), member.as_ref().map(|m| m.user_id.to_string()));
                    }
                    prop_assert_eq!(out.subscription_count, model.count(channel));
                    let added = out.member_added.as_deref().map(str::to_owned);
                    let expected = member
                        .filter(|m| !already && !users_before.contains(&*m.user_id))
                        .map(|m| m.user_id.to_string());
                    prop_assert_eq!(added, expected);
                }
                Op::Unsubscribe { socket, channel } => {
                    let name = CHANNELS[channel];
                    let was = model.subs.remove(&(channel, socket));
                    let out = reg.unsubscribe(name, sock(socket), true);
                    prop_assert_eq!(out.removed, was.is_some());
                    if out.removed {
                        prop_assert_eq!(out.subscription_count, model.count(channel));
                    }
                    prop_assert_eq!(out.vacated, was.is_some() && model.count(channel) == 0);
                    let removed = out.member_removed.as_deref().map(str::to_owned);
                    let expected = was.flatten().filter(|u| !model.users(channel).contains(u));
                    prop_assert_eq!(removed, expected);
                    // Unsubscribing again changes nothing and reports nothing.
                    prop_assert_eq!(reg.unsubscribe(name, sock(socket), true), Unsubscribed::default());
                }
            }
            check(&reg, &model)?;
        }
        for socket in 0..SOCKETS {
            for (c, name) in CHANNELS.iter().enumerate() {
                model.subs.remove(&(c, socket));
                reg.unsubscribe(name, sock(socket), true);
            }
        }
        check(&reg, &model)?;
        prop_assert!(reg.list("").is_empty(), "every channel is gone");
    }
}
