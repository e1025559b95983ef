//! The channel-kind table (prefix → kind, cache detection), `#` names and
//! invalid or over-long channel names.

use super::*;

#[test]
fn channel_kind_table() {
    use ChannelKind::*;
    let table: &[(&str, ChannelKind, bool)] = &[
        ("test-channel", Public, false),
        ("orders", Public, false),
        ("App.Models.User.1", Public, false),
        ("privatefoo", Public, false),
        ("presencefoo", Public, false),
        ("cachefoo", Public, false),
        ("cache-ticker", Public, true),
        ("private-chat.1", Private, false),
        ("private-cache-x", Private, true),
        ("private-encrypted-foo", PrivateEncrypted, false),
        ("private-encrypted-cache-x", PrivateEncrypted, true),
        ("presence-room.1", Presence, false),
        ("presence-cache-x", Presence, true),
        ("#server-to-user-1", ServerToUser, false),
        ("#server-to-user-abc", ServerToUser, false),
        ("#server-to-user-", Reserved, false),
        ("#x", Reserved, false),
        ("#watchlist", Reserved, false),
    ];
    for &(name, kind, cache) in table {
        let channel = ChannelName::parse(name).expect(name);
        assert_eq!(channel.kind(), kind, "{name}");
        assert_eq!(channel.is_cache(), cache, "{name}");
        assert_eq!(channel.as_str(), name);
        assert_eq!(channel.to_string(), name);
    }
}

#[test]
fn server_to_user_id() {
    let c = ChannelName::parse("#server-to-user-42").expect("valid");
    assert_eq!(c.server_to_user_id(), Some("42"));
    let empty = ChannelName::parse("#server-to-user-").expect("valid");
    assert_eq!(empty.server_to_user_id(), None);
    let public = ChannelName::parse("server-to-user-42").expect("valid");
    assert_eq!(public.kind(), ChannelKind::Public);
}

#[test]
fn invalid_channel_names() {
    assert_eq!(ChannelName::parse(""), Err(ChannelNameError::Empty));
    for bad in ["#", "a b", "a/b", "a:b", "caf\u{e9}", "a\"b", "##x", "a#b"] {
        assert_eq!(
            ChannelName::parse(bad),
            Err(ChannelNameError::BadCharacter),
            "{bad:?}"
        );
    }
    let longest = "a".repeat(MAX_CHANNEL_NAME_LEN);
    assert!(ChannelName::parse(&longest).is_ok());
    let too_long = "a".repeat(MAX_CHANNEL_NAME_LEN + 1);
    assert_eq!(
        ChannelName::parse(&too_long),
        Err(ChannelNameError::TooLong)
    );
    assert!(ChannelName::parse("-_=@,.;AZaz09").is_ok());
}
