//! Unit tests of `converge.rs`.

use super::*;

#[test]
fn counts_are_read_and_compared() {
    let answer: Value = serde_json::from_str(
        r#"{"channels":{"presence-a":{"user_count":3},"presence-b":{"user_count":1},"presence-z":{}}}"#,
    )
    .unwrap_or_default();
    let seen = user_counts(&answer);
    assert_eq!(seen.get("presence-a"), Some(&3));
    assert_eq!(seen.get("presence-z"), Some(&0));
    let mut expected = Counts::new();
    expected.insert("presence-a".to_owned(), 3);
    expected.insert("presence-b".to_owned(), 1);
    assert_eq!(mismatches(&expected, &seen), 0);
    expected.insert("presence-c".to_owned(), 2);
    assert_eq!(mismatches(&expected, &seen), 1);
    expected.remove("presence-b");
    // presence-b has a user nobody expects; presence-c is still missing.
    assert_eq!(mismatches(&expected, &seen), 2);
}
