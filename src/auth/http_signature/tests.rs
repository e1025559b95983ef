use super::*;

const BODY: &str = r#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;

#[test]
fn pusher_worked_example() {
    assert_eq!(
        body_md5(BODY.as_bytes()),
        "ec365a775a4cd0599faeb73354201b6f"
    );
    let query = "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0\
                 &body_md5=ec365a775a4cd0599faeb73354201b6f\
                 &auth_signature=da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c";
    let req = SignedRequest {
        method: "POST",
        path: "/apps/3/events",
        query,
        body: BODY.as_bytes(),
    };
    let secret = "7ad3773142a6692b25b8";
    assert_eq!(
        verify("278d425bdf160c739803", secret, req, 1353088179, Some(600)),
        Ok(())
    );
    assert_eq!(
        verify(
            "278d425bdf160c739803",
            secret,
            req,
            1353088179 + 601,
            Some(600)
        ),
        Err(SignatureError::StaleTimestamp { window: 600 })
    );
    assert_eq!(verify("278d425bdf160c739803", secret, req, 0, None), Ok(()));
    let tampered = SignedRequest { body: b"{}", ..req };
    assert_eq!(
        verify("278d425bdf160c739803", secret, tampered, 1353088179, None),
        Err(SignatureError::BodyMd5Mismatch)
    );
    assert_eq!(
        verify("other", secret, req, 1353088179, None),
        Err(SignatureError::WrongKey)
    );
    assert_eq!(
        verify("278d425bdf160c739803", "wrong", req, 1353088179, None),
        Err(SignatureError::BadSignature)
    );
}

#[test]
fn signed_query_round_trips_with_extra_params() {
    let q = signed_query(
        "k",
        "s",
        "GET",
        "/apps/1/channels",
        &[
            ("info", "user_count,subscription_count"),
            ("filter_by_prefix", "presence-"),
        ],
        b"",
        100,
    );
    let req = SignedRequest {
        method: "GET",
        path: "/apps/1/channels",
        query: &q,
        body: b"",
    };
    assert_eq!(verify("k", "s", req, 100, Some(600)), Ok(()));
    let req = SignedRequest {
        path: "/apps/2/channels",
        ..req
    };
    assert_eq!(
        verify("k", "s", req, 100, Some(600)),
        Err(SignatureError::BadSignature)
    );
}
