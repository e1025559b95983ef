//! Unit tests of the protocol module's own items. The tests of each
//! submodule live beside it (`channel_name/tests.rs`, `client_event/tests.rs`,
//! `server_event/tests.rs`, `socket_id/tests.rs`).

use super::*;

#[test]
fn protocol_version_is_7() {
    assert_eq!(PROTOCOL_VERSION, 7);
}
