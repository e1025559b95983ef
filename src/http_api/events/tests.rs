//! Reading `POST /events` and `/batch_events` bodies: objects only, and
//! each event checked against the app's limits.

use hyper::StatusCode;

use super::{read_batch, read_event};
use crate::config::AppConfig;

#[test]
fn a_body_must_be_an_object() {
    let config = AppConfig::development();
    // serde's derived structs read an array field by field.
    let refused = read_event(br#"["e","d",["orders"],null,null,null]"#, &config)
        .expect_err("an array body is refused");
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.message.contains("expected a JSON object"),
        "{}",
        refused.message
    );
    assert!(read_batch(br#"[[{"name":"e","channel":"a","data":"1"}]]"#, &config).is_err());
    let event = read_event(
        b" \n{\"name\":\"e\",\"channel\":\"orders\",\"data\":\"1\"}",
        &config,
    )
    .expect("whitespace before the object is fine");
    assert_eq!(event.channels[0].as_str(), "orders");
}

#[test]
fn batch_items_are_validated_and_named_by_index() {
    let config = AppConfig::development();
    let events = read_batch(
        br#"{"batch":[{"name":"e","channel":"a","data":"1"},{"name":"f","channels":["b","c"],"data":{"x":1}}]}"#,
        &config,
    )
    .expect("a valid batch");
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].data, r#"{"x":1}"#);
    let refused = read_batch(
        br#"{"batch":[{"name":"e","channel":"a","data":"1"},{"name":"f","channel":"bad name","data":"1"}]}"#,
        &config,
    )
    .expect_err("an invalid channel");
    assert!(
        refused.message.starts_with("batch[1]: "),
        "{}",
        refused.message
    );
}
