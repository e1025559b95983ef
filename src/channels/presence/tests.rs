//! Roster rules: unique by user id, first and last socket, remote nodes.

use super::*;

fn member(json: &str) -> Member {
    Member::from_channel_data(json).expect("valid member")
}

#[test]
fn user_ids_compare_by_string_form() {
    let a = member(r#"{"user_id":1,"user_info":{"n":"a"}}"#);
    let b = member(r#"{"user_id":"1"}"#);
    assert_eq!(a.user_id, b.user_id);
    assert_eq!(&*a.user_id_json, "1");
    assert_eq!(&*b.user_id_json, "\"1\"");
    let mut roster = PresenceRoster::default();
    assert!(roster.join(&a).added);
    assert!(!roster.join(&b).added);
    assert_eq!(roster.user_count(), 1);
    assert_eq!(roster.leave("1").removed, None);
    assert_eq!(
        roster.leave("1").removed.map(|m| m.user_id),
        Some(Arc::from("1"))
    );
    assert_eq!(roster.user_count(), 0);
}

#[test]
fn channel_data_without_user_id_is_refused() {
    for bad in [
        r#"{"user_info":{}}"#,
        "[]",
        r#"["1",{"name":"Ada"}]"#,
        "\"x\"",
        r#"{"user_id":""}"#,
        r#"{"user_id":{}}"#,
        "not json",
    ] {
        assert_eq!(Member::from_channel_data(bad), Err(InvalidMember), "{bad}");
    }
}

#[test]
fn remote_presence_keeps_a_user_present() {
    let a = member(r#"{"user_id":"7"}"#);
    let mut roster = PresenceRoster::default();
    assert!(roster.remote_join(2, &a), "absent -> present");
    let joined = roster.join(&a);
    assert!(!joined.added && joined.first_local);
    assert_eq!(roster.remote_leave(2, "7"), None, "still here locally");
    let left = roster.leave("7");
    assert!(left.last_local);
    assert_eq!(left.removed.map(|m| m.user_id), Some(Arc::from("7")));
    assert!(roster.remote_join(3, &a));
    assert_eq!(roster.users_on(3), vec![Arc::from("7")]);
    assert!(roster.remote_leave(3, "7").is_some());
    assert!(roster.is_empty());
}

#[test]
fn join_order_is_kept() {
    let mut roster = PresenceRoster::default();
    for id in ["3", "1", "2"] {
        roster.join(&member(&format!(r#"{{"user_id":"{id}"}}"#)));
    }
    let ids: Vec<&str> = roster.members().map(|m| &*m.user_id).collect();
    assert_eq!(ids, ["3", "1", "2"]);
}

#[test]
fn leave_of_a_remote_only_user_is_a_no_op() {
    // Found by the roster property tests: a leave for a user that only
    // other nodes report reported `last_local`, which would tell the
    // cluster this node's last socket of the user had left.
    let a = member(r#"{"user_id":"7"}"#);
    let mut roster = PresenceRoster::default();
    assert!(roster.remote_join(2, &a));
    assert_eq!(roster.leave("7"), Left::default());
    assert_eq!(roster.user_count(), 1);
    assert_eq!(roster.users_on(2), vec![Arc::from("7")]);
    assert_eq!(roster.local_members().count(), 0);
    assert!(
        roster.join(&a).first_local,
        "the next local join is the first"
    );
}

mod properties;
