//! Watchlist unit tests: parsing `user_data`, the sign-in snapshot, one
//! event per transition to each watcher, the cluster announcements (first
//! and last socket on this node only) and other nodes' users. Frames are
//! read straight from each socket's queue.

use serde_json::json;

use super::*;

fn id(n: u32) -> SocketId {
    SocketId::new(n, n)
}

fn ids(list: &[&str]) -> Vec<Arc<str>> {
    list.iter().map(|s| Arc::from(*s)).collect()
}

/// Every watchlist event queued for `handle`, as `(name, user_ids)` pairs.
fn events(handle: &SocketHandle) -> Vec<(String, Vec<String>)> {
    std::iter::from_fn(|| handle.pop())
        .flat_map(|frame| {
            let frame: Value = serde_json::from_str(frame.as_str()).expect("json");
            assert_eq!(frame["event"], "pusher_internal:watchlist_events");
            let data: Value =
                serde_json::from_str(frame["data"].as_str().expect("string data")).expect("json");
            data["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| {
                    let users = e["user_ids"]
                        .as_array()
                        .expect("user_ids")
                        .iter()
                        .map(|u| u.as_str().expect("string id").to_owned())
                        .collect();
                    (e["name"].as_str().expect("name").to_owned(), users)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn event(name: &str, users: &[&str]) -> (String, Vec<String>) {
    (
        name.to_owned(),
        users.iter().map(|u| (*u).to_owned()).collect(),
    )
}

/// Collects announcements to the cluster.
#[derive(Default)]
struct Announced(Vec<(Status, String)>);

impl Announced {
    fn to(&mut self) -> impl FnMut(Status, &str) + '_ {
        |status, user| self.0.push((status, user.to_owned()))
    }

    fn take(&mut self) -> Vec<(Status, String)> {
        std::mem::take(&mut self.0)
    }
}

fn nobody(_: Status, _: &str) {}

#[test]
fn parse_reads_strings_and_numbers_once_each() {
    assert_eq!(parse(&json!({"id":"1"})), Ok(Vec::new()));
    assert_eq!(parse(&json!({"id":"1","watchlist":null})), Ok(Vec::new()));
    assert_eq!(
        parse(&json!({"id":"1","watchlist":["2", 3, "2", "3"]})),
        Ok(ids(&["2", "3"]))
    );
    assert_eq!(
        parse(&json!({"watchlist":"2"})),
        Err(WatchlistError::NotAnArray)
    );
    for bad in [
        json!(""),
        json!(null),
        json!({"id":"2"}),
        json!(["2"]),
        json!(true),
    ] {
        assert_eq!(
            parse(&json!({"watchlist":["1", bad]})),
            Err(WatchlistError::NotAUserId(1)),
            "{bad}"
        );
    }
}

#[test]
fn parse_accepts_up_to_the_limit_and_refuses_more() {
    let full: Vec<String> = (0..MAX_WATCHLIST).map(|i| i.to_string()).collect();
    assert_eq!(
        parse(&json!({ "watchlist": full })).map(|l| l.len()),
        Ok(MAX_WATCHLIST)
    );
    let over: Vec<String> = (0..=MAX_WATCHLIST).map(|i| i.to_string()).collect();
    assert_eq!(
        parse(&json!({ "watchlist": over })),
        Err(WatchlistError::TooLong(MAX_WATCHLIST + 1))
    );
    assert!(crate::protocol::ErrorCode::WatchlistTooLong
        .message()
        .contains(&MAX_WATCHLIST.to_string()));
}

#[test]
fn sign_in_gets_the_watched_users_already_online_in_one_event() {
    let w = Watchlists::default();
    let (a, b, watcher) = (
        SocketHandle::new(16),
        SocketHandle::new(16),
        SocketHandle::new(16),
    );
    w.sign_in(id(1), &a, "a".into(), Vec::new(), nobody);
    w.sign_in(id(2), &b, "b".into(), Vec::new(), nobody);
    w.sign_in(id(3), &watcher, "w".into(), ids(&["c", "b", "a"]), nobody);
    assert_eq!(events(&watcher), [event("online", &["b", "a"])]);
    // Nobody watches a or b's watcher.
    assert!(a.is_empty() && b.is_empty());

    // Nobody online: no frame at all.
    let lonely = SocketHandle::new(16);
    w.sign_in(id(4), &lonely, "l".into(), ids(&["x"]), nobody);
    assert!(lonely.is_empty());
}

#[test]
fn each_transition_reaches_each_watcher_once() {
    let w = Watchlists::default();
    let (w1, w2, other) = (
        SocketHandle::new(16),
        SocketHandle::new(16),
        SocketHandle::new(16),
    );
    w.sign_in(id(1), &w1, "w1".into(), ids(&["u"]), nobody);
    w.sign_in(id(2), &w2, "w2".into(), ids(&["u", "w1"]), nobody);
    w.sign_in(id(3), &other, "o".into(), ids(&["nobody"]), nobody);
    assert_eq!(events(&w2), [event("online", &["w1"])]);

    let mut announced = Announced::default();
    let (tab1, tab2) = (SocketHandle::new(16), SocketHandle::new(16));
    w.sign_in(id(10), &tab1, "u".into(), Vec::new(), announced.to());
    w.sign_in(id(11), &tab2, "u".into(), Vec::new(), announced.to());
    assert_eq!(announced.take(), [(Status::Online, "u".to_owned())]);
    assert_eq!(events(&w1), [event("online", &["u"])]);
    assert_eq!(events(&w2), [event("online", &["u"])]);

    // Offline only after the last socket.
    w.sign_out(id(10), announced.to());
    assert!(w1.is_empty() && w2.is_empty());
    assert!(announced.take().is_empty());
    w.sign_out(id(11), announced.to());
    assert_eq!(announced.take(), [(Status::Offline, "u".to_owned())]);
    assert_eq!(events(&w1), [event("offline", &["u"])]);
    assert_eq!(events(&w2), [event("offline", &["u"])]);
    assert!(other.is_empty(), "u is not on o's watchlist");
    assert!(!w.is_online("u"));
}

#[test]
fn a_signed_out_watcher_is_told_nothing_more() {
    let w = Watchlists::default();
    let watcher = SocketHandle::new(16);
    w.sign_in(id(1), &watcher, "w".into(), ids(&["u"]), nobody);
    w.sign_out(id(1), nobody);
    w.sign_out(id(1), nobody); // twice is a no-op
    w.sign_in(
        id(2),
        &SocketHandle::new(16),
        "u".into(),
        Vec::new(),
        nobody,
    );
    assert!(watcher.is_empty());
    assert!(!w.is_online("w"));
}

#[test]
fn signing_in_again_moves_the_socket_without_flapping() {
    let w = Watchlists::default();
    let watcher = SocketHandle::new(16);
    w.sign_in(id(1), &watcher, "w".into(), ids(&["a", "b"]), nobody);
    let mut announced = Announced::default();
    let socket = SocketHandle::new(16);
    w.sign_in(id(2), &socket, "a".into(), ids(&["w"]), announced.to());
    assert_eq!(events(&socket), [event("online", &["w"])]);
    // The same user again: nothing changes for anyone.
    w.sign_in(id(2), &socket, "a".into(), ids(&["w"]), announced.to());
    assert_eq!(announced.take(), [(Status::Online, "a".to_owned())]);
    assert_eq!(events(&watcher), [event("online", &["a"])]);
    assert_eq!(events(&socket), [event("online", &["w"])], "a new snapshot");
    // As another user: b comes online, a goes offline, in that order.
    w.sign_in(id(2), &socket, "b".into(), Vec::new(), announced.to());
    assert_eq!(
        announced.take(),
        [
            (Status::Online, "b".to_owned()),
            (Status::Offline, "a".to_owned())
        ]
    );
    assert_eq!(
        events(&watcher),
        [event("online", &["b"]), event("offline", &["a"])]
    );
    // The old watchlist is gone with the old identity.
    w.sign_out(id(1), nobody);
    assert!(socket.is_empty());
}

#[test]
fn other_nodes_users_count_until_their_node_is_forgotten() {
    let w = Watchlists::default();
    let watcher = SocketHandle::new(16);
    w.sign_in(id(1), &watcher, "w".into(), ids(&["a", "b", "c"]), nobody);
    w.remote_online(7, "a");
    w.remote_online(8, "a");
    w.remote_online(7, "a"); // repeated: still one node
    w.remote_online(7, "b");
    assert_eq!(
        events(&watcher),
        [event("online", &["a"]), event("online", &["b"])]
    );
    // A local socket of b: this node announces, the watcher already knows.
    let mut announced = Announced::default();
    w.sign_in(
        id(2),
        &SocketHandle::new(16),
        "b".into(),
        Vec::new(),
        announced.to(),
    );
    assert_eq!(announced.take(), [(Status::Online, "b".to_owned())]);
    assert!(watcher.is_empty());

    w.remote_offline(7, "a");
    assert!(watcher.is_empty(), "a is still on node 8");
    w.remote_offline(9, "a"); // a node that never had a
    w.remote_offline(7, "zz"); // nobody
    w.forget_node(7);
    assert!(watcher.is_empty(), "b is still signed in here");
    w.forget_node(8);
    assert_eq!(events(&watcher), [event("offline", &["a"])]);
    assert!(w.is_online("b"));

    // The snapshot counts remote users too.
    w.remote_online(9, "c");
    let late = SocketHandle::new(16);
    w.sign_in(id(3), &late, "late".into(), ids(&["a", "b", "c"]), nobody);
    assert_eq!(events(&late), [event("online", &["b", "c"])]);
}

#[test]
fn a_nodes_full_list_replaces_what_it_said_before() {
    let w = Watchlists::default();
    let watcher = SocketHandle::new(16);
    w.sign_in(id(1), &watcher, "w".into(), ids(&["a", "b", "c"]), nobody);
    w.remote_online(7, "a");
    w.remote_online(7, "b");
    w.remote_online(8, "b");
    events(&watcher);
    w.replace_node(7, &["b".to_owned(), "c".to_owned()]);
    let mut got = events(&watcher);
    got.sort();
    assert_eq!(got, [event("offline", &["a"]), event("online", &["c"])]);
    w.replace_node(8, &[]);
    assert!(watcher.is_empty(), "b is still on node 7");
    assert!(w.is_online("b") && w.is_online("c") && !w.is_online("a"));
}

#[test]
fn local_users_lists_only_this_nodes_sign_ins() {
    let w = Watchlists::default();
    w.sign_in(
        id(1),
        &SocketHandle::new(16),
        "a".into(),
        Vec::new(),
        nobody,
    );
    w.sign_in(
        id(2),
        &SocketHandle::new(16),
        "a".into(),
        Vec::new(),
        nobody,
    );
    w.sign_in(
        id(3),
        &SocketHandle::new(16),
        "b".into(),
        Vec::new(),
        nobody,
    );
    w.remote_online(7, "c");
    w.remote_online(7, "b");
    let mut users = w.local_users(|users| users);
    users.sort();
    assert_eq!(users, ["a", "b"]);
    w.sign_out(id(3), nobody);
    assert_eq!(w.local_users(|users| users), ["a"]);
    assert!(w.is_online("b"), "still on node 7");
}
