use super::*;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

#[test]
fn version_13_and_a_16_byte_key_pass() {
    let h = headers(&[("sec-websocket-version", "13"), ("sec-websocket-key", KEY)]);
    assert_eq!(check(&h), Ok(HeaderValue::from_static(KEY)));
}

#[test]
fn a_missing_or_other_version_is_426_naming_13() {
    for version in [None, Some("8"), Some("14"), Some("13, 8")] {
        let mut pairs = vec![("sec-websocket-key", KEY)];
        if let Some(v) = version {
            pairs.push(("sec-websocket-version", v));
        }
        assert_eq!(
            check(&headers(&pairs)),
            Err(Refusal::Version),
            "{version:?}"
        );
    }
    let twice = headers(&[
        ("sec-websocket-version", "13"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", KEY),
    ]);
    assert_eq!(check(&twice), Err(Refusal::Version));
    let res = Refusal::Version.response();
    assert_eq!(res.status(), StatusCode::UPGRADE_REQUIRED);
    assert_eq!(res.headers()[header::SEC_WEBSOCKET_VERSION], "13");
}

#[test]
fn a_missing_or_malformed_key_is_400() {
    for key in [
        None,
        Some(""),
        Some("short=="),
        Some("dGhlIHNhbXBsZSBub25jZQ"),           // no padding
        Some("dGhlIHNhbXBsZSBub25jZQ=x"),         // bad padding
        Some("dGhlIHNhbXBsZSBub25j*Q=="),         // not base64
        Some("dGhlIHNhbXBsZSBub25jZSBvZiAyMCBi"), // 24 bytes decoded
    ] {
        let mut pairs = vec![("sec-websocket-version", "13")];
        if let Some(k) = key {
            pairs.push(("sec-websocket-key", k));
        }
        assert_eq!(check(&headers(&pairs)), Err(Refusal::Key), "{key:?}");
    }
    let twice = headers(&[
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", KEY),
        ("sec-websocket-key", KEY),
    ]);
    assert_eq!(check(&twice), Err(Refusal::Key));
    assert_eq!(Refusal::Key.response().status(), StatusCode::BAD_REQUEST);
}

#[test]
fn the_first_request_flag_is_shared_by_clones() {
    let first = FirstRequest::default();
    let seen = first.clone();
    assert!(!first.has_arrived());
    seen.arrived();
    assert!(first.has_arrived());
}
