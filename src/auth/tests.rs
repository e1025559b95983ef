use super::*;

const KEY: &str = "278d425bdf160c739803";
const SECRET: &str = "7ad3773142a6692b25b8";

#[test]
fn pusher_private_channel_vector() {
    assert_eq!(
        sign(SECRET, "1234.1234:private-foobar"),
        "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
    );
    let token = format!("{KEY}:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4");
    assert_eq!(
        verify_channel_auth(
            KEY,
            SECRET,
            "1234.1234",
            "private-foobar",
            None,
            Some(&token)
        ),
        Ok(())
    );
}

#[test]
fn presence_vector_covers_exact_channel_data() {
    let data = r#"{"user_id":"10","user_info":{"name":"Mr. Channels"}}"#;
    let sig = "4c6d8fc42a207ba96a0779844171b0bb819d96ffceef9609f5cce596ab17a800";
    assert_eq!(
        sign(SECRET, &format!("1234.1234:presence-foobar:{data}")),
        sig
    );
    let token = format!("{KEY}:{sig}");
    assert_eq!(
        verify_channel_auth(
            KEY,
            SECRET,
            "1234.1234",
            "presence-foobar",
            Some(data),
            Some(&token)
        ),
        Ok(())
    );
    // A re-serialised (semantically equal) channel_data must not verify.
    let reordered = r#"{"user_info":{"name":"Mr. Channels"},"user_id":"10"}"#;
    assert_eq!(
        verify_channel_auth(
            KEY,
            SECRET,
            "1234.1234",
            "presence-foobar",
            Some(reordered),
            Some(&token)
        ),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn user_auth_vector() {
    let sig = "4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba";
    assert_eq!(sign(SECRET, r#"1234.1234::user::{"id":"12345"}"#), sig);
    assert_eq!(
        verify_user_auth(
            KEY,
            SECRET,
            "1234.1234",
            r#"{"id":"12345"}"#,
            &format!("{KEY}:{sig}")
        ),
        Ok(())
    );
}

#[test]
fn refusals_say_why() {
    let v = |auth: Option<&str>| verify_channel_auth(KEY, SECRET, "1.1", "private-a", None, auth);
    assert_eq!(v(None), Err(AuthError::Missing));
    assert_eq!(v(Some("")), Err(AuthError::Missing));
    assert_eq!(v(Some("nocolon")), Err(AuthError::Malformed));
    assert_eq!(v(Some("otherkey:00")), Err(AuthError::WrongKey));
    assert_eq!(v(Some(&format!("{KEY}:zz"))), Err(AuthError::BadSignature));
    assert_eq!(
        v(Some(&format!("{KEY}:{}", "0".repeat(64)))),
        Err(AuthError::BadSignature)
    );
    let good = channel_auth_token(KEY, SECRET, "1.1", "private-a", None);
    assert_eq!(v(Some(&good)), Ok(()));
}
