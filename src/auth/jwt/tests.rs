use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;

const RSA_PUBLIC: &str = include_str!("../../../tests/fixtures/jwt/rsa-public.pem");
const RSA_PRIVATE: &str = include_str!("../../../tests/fixtures/jwt/rsa-private.pem");
const EC_PUBLIC: &str = include_str!("../../../tests/fixtures/jwt/ec-public.pem");
const EC_PRIVATE: &str = include_str!("../../../tests/fixtures/jwt/ec-private.pem");

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn hs256(secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn secret_verifier() -> Verifier {
    Verifier::new(JwtKey::Secret("s3cret"), None, None, None).unwrap()
}

#[test]
fn hs256_token_yields_its_claims() {
    let token = hs256(
        "s3cret",
        &json!({"sub":"42","exp":now()+60,"channels":["private-a"],"user_info":{"name":"Ada"}}),
    );
    let claims = secret_verifier().verify(&token).unwrap();
    assert_eq!(claims.sub, "42");
    assert_eq!(claims.channels, vec!["private-a".to_owned()]);
    assert_eq!(claims.user_info.unwrap()["name"], "Ada");
}

#[test]
fn refusals_name_their_reason() {
    let v = secret_verifier();
    let cases = [
        (
            hs256("s3cret", &json!({"sub":"1","exp":now()-3600})),
            TokenError::Expired,
        ),
        (
            hs256("other", &json!({"sub":"1","exp":now()+60})),
            TokenError::BadSignature,
        ),
        (
            hs256("s3cret", &json!({"exp":now()+60})),
            TokenError::MissingClaim("sub".to_owned()),
        ),
        (
            hs256("s3cret", &json!({"sub":"1"})),
            TokenError::MissingClaim("exp".to_owned()),
        ),
        (
            hs256("s3cret", &json!({"sub":"","exp":now()+60})),
            TokenError::MissingClaim("sub".to_owned()),
        ),
        (
            hs256("s3cret", &json!({"sub":7,"exp":now()+60})),
            TokenError::BadClaims,
        ),
        (
            hs256(
                "s3cret",
                &json!({"sub":"1","exp":now()+60,"channels":"private-a"}),
            ),
            TokenError::BadClaims,
        ),
        (
            hs256(
                "s3cret",
                &json!({"sub":"1","exp":now()+60,"nbf":now()+3600}),
            ),
            TokenError::NotYetValid,
        ),
        ("not-a-jwt".to_owned(), TokenError::Malformed),
    ];
    for (token, expected) in cases {
        assert_eq!(v.verify(&token), Err(expected.clone()), "{expected}");
    }
}

#[test]
fn a_token_of_another_algorithm_is_refused() {
    let token = encode(
        &Header::new(Algorithm::HS512),
        &json!({"sub":"1","exp":now()+60}),
        &EncodingKey::from_secret(b"s3cret"),
    )
    .unwrap();
    assert_eq!(
        secret_verifier().verify(&token),
        Err(TokenError::WrongAlgorithm)
    );
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let v = Verifier::new(JwtKey::Secret("k"), None, Some("me"), Some("clarion")).unwrap();
    let good = hs256(
        "k",
        &json!({"sub":"1","exp":now()+60,"iss":"me","aud":"clarion"}),
    );
    assert!(v.verify(&good).is_ok());
    let issuer = hs256(
        "k",
        &json!({"sub":"1","exp":now()+60,"iss":"you","aud":"clarion"}),
    );
    assert_eq!(v.verify(&issuer), Err(TokenError::WrongIssuer));
    let audience = hs256("k", &json!({"sub":"1","exp":now()+60,"iss":"me","aud":"x"}));
    assert_eq!(v.verify(&audience), Err(TokenError::WrongAudience));
    let missing = hs256("k", &json!({"sub":"1","exp":now()+60,"aud":"clarion"}));
    assert_eq!(
        v.verify(&missing),
        Err(TokenError::MissingClaim("iss".to_owned()))
    );
    // Without a configured audience, a token's `aud` is ignored.
    let lax = Verifier::new(JwtKey::Secret("k"), None, None, None).unwrap();
    assert!(lax.verify(&audience).is_ok());
}

#[test]
fn rsa_and_ec_keys_pick_their_algorithm() {
    let claims = json!({"sub":"9","exp":now()+60});
    let rsa = Verifier::new(JwtKey::PublicKeyPem(RSA_PUBLIC), None, None, None).unwrap();
    let token = encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(rsa.verify(&token).unwrap().sub, "9");

    let ec = Verifier::new(JwtKey::PublicKeyPem(EC_PUBLIC), None, None, None).unwrap();
    let token = encode(
        &Header::new(Algorithm::ES256),
        &claims,
        &EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(ec.verify(&token).unwrap().sub, "9");
    // An HS256 token "signed" with the public key text is not accepted.
    let confused = hs256(EC_PUBLIC, &claims);
    assert_eq!(ec.verify(&confused), Err(TokenError::WrongAlgorithm));
}

#[test]
fn unusable_keys_are_refused() {
    let new = |key, alg| Verifier::new(key, alg, None, None).map(|_| ());
    assert_eq!(new(JwtKey::Secret(""), None), Err(KeyError::EmptySecret));
    assert_eq!(
        new(JwtKey::PublicKeyPem(RSA_PRIVATE), None),
        Err(KeyError::PrivateKey)
    );
    assert_eq!(
        new(
            JwtKey::PublicKeyPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
            None
        ),
        Err(KeyError::NotAPublicKey)
    );
    assert!(matches!(
        new(JwtKey::Secret("k"), Some(JwtAlgorithm::Rs256)),
        Err(KeyError::AlgorithmMismatch { .. })
    ));
    assert!(matches!(
        new(JwtKey::PublicKeyPem(EC_PUBLIC), Some(JwtAlgorithm::Rs256)),
        Err(KeyError::AlgorithmMismatch { .. })
    ));
    assert!(new(JwtKey::PublicKeyPem(EC_PUBLIC), Some(JwtAlgorithm::Es256)).is_ok());
}

#[test]
fn algorithm_names_parse_case_insensitively() {
    assert_eq!("hs256".parse(), Ok(JwtAlgorithm::Hs256));
    assert_eq!(" ES384 ".parse(), Ok(JwtAlgorithm::Es384));
    assert_eq!("none".parse::<JwtAlgorithm>(), Err(()));
}

#[test]
fn patterns_match_stars_and_sub() {
    let yes = [
        ("private-a", "private-a"),
        ("*", "presence-room"),
        ("private-*", "private-"),
        ("private-*", "private-orders.7"),
        ("private-user.{sub}", "private-user.42"),
        ("presence-*.{sub}", "presence-room.42"),
        ("*-{sub}-*", "private-42-x"),
        ("a*b*c", "aXXbYYbc"),
    ];
    for (pattern, channel) in yes {
        assert!(
            pattern_matches(pattern, "42", channel),
            "{pattern} ~ {channel}"
        );
    }
    let no = [
        ("private-a", "private-ab"),
        ("private-*", "presence-a"),
        ("private-user.{sub}", "private-user.43"),
        ("private-user.{sub}", "private-user.42x"),
        ("a*b*c", "aXXbYYbcd"),
        ("", "private-a"),
    ];
    for (pattern, channel) in no {
        assert!(
            !pattern_matches(pattern, "42", channel),
            "{pattern} !~ {channel}"
        );
    }
}

#[test]
fn a_star_inside_sub_is_literal() {
    assert!(!pattern_matches(
        "private-user.{sub}",
        "*",
        "private-user.42"
    ));
    assert!(pattern_matches("private-user.{sub}", "*", "private-user.*"));
}

#[test]
fn grants_needs_a_matching_pattern() {
    let claims = Claims {
        sub: "42".to_owned(),
        channels: vec!["private-user.{sub}".to_owned(), "presence-chat".to_owned()],
        user_info: None,
        watchlist: None,
    };
    assert!(claims.grants("private-user.42"));
    assert!(claims.grants("presence-chat"));
    assert!(!claims.grants("private-user.1"));
    let none = Claims {
        channels: Vec::new(),
        ..claims
    };
    assert!(!none.grants("private-user.42"));
}
