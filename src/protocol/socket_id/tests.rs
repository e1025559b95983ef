//! Socket ids: parsing and display.

use super::*;

#[test]
fn socket_id_parse_and_display() {
    let id = SocketId::parse("483920175.90817234").expect("valid");
    assert_eq!(id.to_string(), "483920175.90817234");
    assert_eq!(id, SocketId::new(483_920_175, 90_817_234));
    assert_eq!(format!("{id:?}"), "SocketId(483920175.90817234)");
    assert_eq!(SocketId::parse("1.2"), Some(SocketId::new(1, 2)));
    for bad in [
        "",
        "1",
        "1.",
        ".1",
        "a.b",
        "1.2.3",
        "-1.2",
        "1 .2",
        "+1.2",
        "1.2 ",
        "99999999999.1",
    ] {
        assert_eq!(SocketId::parse(bad), None, "{bad:?}");
    }
    // Both halves are at least 1, as Reverb mints them.
    assert_eq!(SocketId::new(0, 0).to_string(), "1.1");
}
