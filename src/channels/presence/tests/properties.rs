//! Property tests of the roster in a cluster: local sockets and several
//! nodes join and leave; whatever order their messages arrive in (each
//! sender's own messages in order, as one Redis connection keeps them),
//! the roster ends with the same members, and a local leave never counts
//! below zero.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

const USERS: u8 = 3;
const NODES: u64 = 3;

/// Where a join or leave comes from: this node's sockets or another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Local,
    Node(u64),
}

#[derive(Debug, Clone, Copy)]
struct Step {
    source: Source,
    user: u8,
    join: bool,
}

fn member(user: u8) -> Member {
    Member::from_channel_data(&format!(
        r#"{{"user_id":"u{user}","user_info":{{"n":{user}}}}}"#
    ))
    .expect("valid member")
}

/// One sender's messages about one user, in the order it sent them.
fn stream() -> impl Strategy<Value = Vec<Step>> {
    let source = prop_oneof![Just(Source::Local), (1..=NODES).prop_map(Source::Node)];
    (
        source,
        0..USERS,
        proptest::collection::vec(any::<bool>(), 0..8),
    )
        .prop_map(|(source, user, joins)| {
            joins
                .into_iter()
                .map(|join| Step { source, user, join })
                .collect()
        })
}

/// Joins the streams of the same sender and user into one, so every
/// sender's messages about a user keep one order.
fn by_sender(streams: Vec<Vec<Step>>) -> Vec<Vec<Step>> {
    let mut out: Vec<Vec<Step>> = Vec::new();
    for stream in streams.into_iter().filter(|s| !s.is_empty()) {
        let key = (stream[0].source, stream[0].user);
        match out.iter_mut().find(|s| (s[0].source, s[0].user) == key) {
            Some(same) => same.extend(stream),
            None => out.push(stream),
        }
    }
    out
}

/// Merges `streams` into one arrival order, keeping each stream's order;
/// `picks` chooses which stream delivers next.
fn interleave(streams: &[Vec<Step>], picks: &[usize]) -> Vec<Step> {
    let mut next = vec![0; streams.len()];
    let mut out = Vec::new();
    let mut picks = picks.iter().cycle();
    while out.len() < streams.iter().map(Vec::len).sum::<usize>() {
        let open: Vec<usize> = (0..streams.len())
            .filter(|&s| next[s] < streams[s].len())
            .collect();
        let s = open[picks.next().copied().unwrap_or(0) % open.len()];
        out.push(streams[s][next[s]]);
        next[s] += 1;
    }
    out
}

/// What the roster ends with: its members, the ones with local sockets,
/// and the users each node reported.
type Outcome = (BTreeSet<String>, BTreeSet<String>, Vec<BTreeSet<String>>);

/// Applies `steps` to a new roster, checking each local leave against a
/// count of local sockets per user.
fn apply(steps: &[Step]) -> Result<Outcome, TestCaseError> {
    let mut roster = PresenceRoster::default();
    let mut local = [0u32; USERS as usize];
    for step in steps {
        let m = member(step.user);
        let sockets = &mut local[step.user as usize];
        match (step.source, step.join) {
            (Source::Local, true) => {
                let joined = roster.join(&m);
                prop_assert_eq!(joined.first_local, *sockets == 0);
                *sockets += 1;
            }
            (Source::Local, false) => {
                let left = roster.leave(&m.user_id);
                if *sockets == 0 {
                    // Nothing to leave: a no-op, never a negative count.
                    prop_assert_eq!(left, Left::default());
                } else {
                    *sockets -= 1;
                    prop_assert_eq!(left.last_local, *sockets == 0);
                }
            }
            (Source::Node(n), true) => {
                roster.remote_join(n, &m);
            }
            (Source::Node(n), false) => {
                roster.remote_leave(n, &m.user_id);
            }
        }
    }
    let ids = |it: &mut dyn Iterator<Item = &Member>| -> BTreeSet<String> {
        it.map(|m| m.user_id.to_string()).collect()
    };
    let members = ids(&mut roster.members());
    let locals = ids(&mut roster.local_members());
    for user in 0..USERS {
        let name = format!("u{user}");
        prop_assert_eq!(locals.contains(&name), local[user as usize] > 0);
    }
    prop_assert_eq!(roster.user_count(), members.len());
    let nodes = (1..=NODES)
        .map(|n| roster.users_on(n).iter().map(ToString::to_string).collect())
        .collect();
    Ok((members, locals, nodes))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_cluster_roster_converges_whatever_the_arrival_order(
        streams in proptest::collection::vec(stream(), 1..6),
        first in proptest::collection::vec(any::<usize>(), 1..40),
        second in proptest::collection::vec(any::<usize>(), 1..40),
    ) {
        let streams = by_sender(streams);
        let a = apply(&interleave(&streams, &first))?;
        let b = apply(&interleave(&streams, &second))?;
        prop_assert_eq!(&a, &b);
        // And it is what each sender said last about each user.
        let (members, _, nodes) = a;
        for user in 0..USERS {
            let name = format!("u{user}");
            let last_of = |source: Source| {
                streams
                    .iter()
                    .flatten()
                    .rfind(|s| s.source == source && s.user == user)
                    .is_some_and(|s| s.join)
            };
            let remote: Vec<bool> = (1..=NODES).map(|n| last_of(Source::Node(n))).collect();
            for (n, on) in remote.iter().enumerate() {
                prop_assert_eq!(nodes[n].contains(&name), *on);
            }
            if remote.iter().any(|on| *on) {
                prop_assert!(members.contains(&name));
            }
        }
    }
}
