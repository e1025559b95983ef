use super::*;
use crate::auth::{verify_channel_auth, verify_user_auth};

fn claims(channels: &[&str], user_info: Option<serde_json::Value>) -> Claims {
    Claims {
        sub: "42".to_owned(),
        channels: channels.iter().map(|c| (*c).to_owned()).collect(),
        user_info: user_info.and_then(|v| v.as_object().cloned()),
        watchlist: None,
    }
}

fn form(body: &str) -> Fields {
    Fields::parse(body.as_bytes(), false).unwrap()
}

fn answer(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap()
}

#[test]
fn routes_are_recognised() {
    assert_eq!(
        route("/app/k/auth"),
        Some((Target::Key("k"), Kind::Channel))
    );
    assert_eq!(
        route("/app/k/user-auth"),
        Some((Target::Key("k"), Kind::User))
    );
    assert_eq!(
        route("/broadcasting/auth"),
        Some((Target::Only, Kind::Channel))
    );
    assert_eq!(
        route("/broadcasting/user-auth"),
        Some((Target::Only, Kind::User))
    );
    for other in [
        "/app/k",
        "/app//auth",
        "/app/k/other",
        "/app/k/auth/x",
        "/apps/1/auth",
        "/broadcasting/x",
    ] {
        assert_eq!(route(other), None, "{other}");
    }
}

#[test]
fn form_and_json_bodies_give_the_same_fields() {
    let from_form = form("socket_id=1.2&channel_name=private-a%2Cb&extra=x");
    let from_json = Fields::parse(
        br#"{"socket_id":"1.2","channel_name":"private-a,b","x":1}"#,
        true,
    )
    .unwrap();
    assert_eq!(from_form, from_json);
    assert_eq!(from_form.channel_name.as_deref(), Some("private-a,b"));
    assert_eq!(Fields::parse(b"[1]", true), Err(EndpointError::BadJson));
    assert_eq!(
        Fields::parse(b"socket_id=1.2", true),
        Err(EndpointError::BadJson)
    );
}

#[test]
fn private_answer_verifies_as_the_server_checks_it() {
    let c = claims(&["private-*"], None);
    let body = channel_answer(
        "key",
        "secret",
        &form("socket_id=1.2&channel_name=private-a"),
        &c,
    )
    .unwrap();
    let v = answer(&body);
    assert!(v.get("channel_data").is_none());
    let auth = v["auth"].as_str().unwrap();
    assert_eq!(
        verify_channel_auth("key", "secret", "1.2", "private-a", None, Some(auth)),
        Ok(())
    );
}

#[test]
fn presence_answer_carries_the_member() {
    let c = claims(&["presence-room"], Some(serde_json::json!({"name":"Ada"})));
    let body = channel_answer(
        "key",
        "secret",
        &form("socket_id=1.2&channel_name=presence-room"),
        &c,
    )
    .unwrap();
    let v = answer(&body);
    let data = v["channel_data"].as_str().unwrap();
    assert_eq!(
        answer(data),
        serde_json::json!({"user_id":"42","user_info":{"name":"Ada"}})
    );
    let auth = v["auth"].as_str().unwrap();
    assert_eq!(
        verify_channel_auth(
            "key",
            "secret",
            "1.2",
            "presence-room",
            Some(data),
            Some(auth)
        ),
        Ok(())
    );
    // Without user_info the member has only its id.
    let bare = channel_answer(
        "key",
        "secret",
        &form("socket_id=1.2&channel_name=presence-room"),
        &claims(&["*"], None),
    )
    .unwrap();
    assert_eq!(
        answer(answer(&bare)["channel_data"].as_str().unwrap()),
        serde_json::json!({"user_id":"42"})
    );
}

#[test]
fn user_answer_verifies_as_signin_checks_it() {
    let c = claims(&[], Some(serde_json::json!({"name":"Ada"})));
    let v = answer(&user_answer("key", "secret", &form("socket_id=1.2"), &c).unwrap());
    let user_data = v["user_data"].as_str().unwrap();
    assert_eq!(
        answer(user_data),
        serde_json::json!({"id":"42","user_info":{"name":"Ada"}})
    );
    let auth = v["auth"].as_str().unwrap();
    assert_eq!(
        verify_user_auth("key", "secret", "1.2", user_data, auth),
        Ok(())
    );
}

#[test]
fn a_watchlist_claim_goes_into_the_signed_user_data() {
    let mut c = claims(&[], None);
    c.watchlist = Some(vec!["7".to_owned(), "8".to_owned()]);
    let v = answer(&user_answer("key", "secret", &form("socket_id=1.2"), &c).unwrap());
    let user_data = v["user_data"].as_str().unwrap();
    assert_eq!(
        answer(user_data),
        serde_json::json!({"id":"42","watchlist":["7","8"]})
    );
}

#[test]
fn refusals_and_their_statuses() {
    let c = claims(&["private-user.{sub}"], None);
    let refuse = |body: &str| channel_answer("k", "s", &form(body), &c).unwrap_err();
    let cases = [
        (
            "channel_name=private-user.42",
            EndpointError::MissingSocketId,
            400,
        ),
        (
            "socket_id=abc&channel_name=private-user.42",
            EndpointError::BadSocketId,
            400,
        ),
        ("socket_id=1.2", EndpointError::MissingChannel, 400),
        (
            "socket_id=1.2&channel_name=private-%20x",
            EndpointError::BadChannel(ChannelNameError::BadCharacter),
            400,
        ),
        (
            "socket_id=1.2&channel_name=public",
            EndpointError::NotSignable("public".to_owned()),
            400,
        ),
        (
            "socket_id=1.2&channel_name=private-encrypted-x",
            EndpointError::NotSignable("private-encrypted-x".to_owned()),
            400,
        ),
        (
            "socket_id=1.2&channel_name=private-user.7",
            EndpointError::NotGranted("private-user.7".to_owned()),
            403,
        ),
    ];
    for (body, expected, status) in cases {
        let e = refuse(body);
        assert_eq!(e, expected, "{body}");
        assert_eq!(e.status().as_u16(), status, "{body}");
    }
    assert!(channel_answer(
        "k",
        "s",
        &form("socket_id=1.2&channel_name=private-user.42"),
        &c
    )
    .is_ok());
    assert_eq!(
        EndpointError::MissingToken.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        EndpointError::Token(TokenError::Expired).status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(EndpointError::Disabled.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        EndpointError::UnknownApp("x".to_owned()).status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn bearer_tokens_are_read_from_authorization() {
    let headers = |value: &str| {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    };
    assert_eq!(bearer(&headers("Bearer abc.def.ghi")), Some("abc.def.ghi"));
    assert_eq!(bearer(&headers("bearer  tok ")), Some("tok"));
    assert_eq!(bearer(&headers("Basic dXNlcg==")), None);
    assert_eq!(bearer(&headers("Bearer ")), None);
    assert_eq!(bearer(&HeaderMap::new()), None);
}
