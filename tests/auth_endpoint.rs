//! The built-in channel-authorisation endpoint over real HTTP: a bearer JWT
//! buys the `auth` (and presence `channel_data`, sign-in `user_data`) a
//! Laravel backend would sign, and the proof that each answer is right is
//! that a WebSocket client subscribes or signs in with it. Refusals: 401
//! for the token, 403 for an ungranted channel, 400 for the form, 404 for
//! an unknown app or an app without the endpoint, each a JSON reason.

mod support;

use clarion::config::{AppConfig, AuthEndpointConfig, Config};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use support::*;

const JWT_SECRET: &str = "jwt-secret";

fn auth_app() -> AppConfig {
    AppConfig {
        auth: Some(AuthEndpointConfig {
            jwt_secret: Some(JWT_SECRET.to_owned()),
            ..AuthEndpointConfig::default()
        }),
        ..app()
    }
}

async fn start() -> TestServer {
    TestServer::with_config(config_with(auth_app())).await
}

/// An HS256 token with `claims`, `exp` an hour ahead unless given.
fn token(claims: Value) -> String {
    token_with(JWT_SECRET, claims)
}

fn token_with(secret: &str, mut claims: Value) -> String {
    if claims.get("exp").is_none() {
        claims["exp"] = json!(now() + 3600);
    }
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

/// POSTs `body` to `path` with extra headers; `content_type` names the body.
async fn post(
    server: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &str,
) -> RawResponse {
    request(server, "POST", path, headers, content_type, body).await
}

async fn request(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &str,
) -> RawResponse {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        server.addr,
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    raw_request(server.addr, &[head.as_bytes(), body.as_bytes()]).await
}

const FORM: &str = "application/x-www-form-urlencoded";

/// Asks for channel auth with a form body, as pusher-js does.
async fn channel_auth(
    server: &TestServer,
    jwt: &str,
    socket_id: &str,
    channel: &str,
) -> RawResponse {
    let bearer = format!("Bearer {jwt}");
    let body = format!("socket_id={socket_id}&channel_name={channel}");
    post(
        server,
        "/app/app-key/auth",
        &[("Authorization", &bearer)],
        FORM,
        &body,
    )
    .await
}

fn assert_refused(res: &RawResponse, status: u16, reason: &str) {
    assert_eq!(res.status, status, "{}", res.body);
    assert_eq!(res.header("content-type"), Some("application/json"));
    let error = res.json()["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains(reason), "{error:?} lacks {reason:?}");
}

#[tokio::test]
async fn private_channel_auth_from_a_form_body_is_accepted_by_the_server() {
    let server = start().await;
    let mut client = server.connect().await;
    let jwt = token(json!({"sub":"42","channels":["private-orders"]}));
    let res = channel_auth(&server, &jwt, &client.socket_id, "private-orders").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let answer = res.json();
    assert!(answer.get("channel_data").is_none());
    // The same request as JSON, even without its content type, signs the same.
    let body = json!({"socket_id": client.socket_id, "channel_name": "private-orders"}).to_string();
    let bearer = format!("Bearer {jwt}");
    let again = post(
        &server,
        "/app/app-key/auth",
        &[("Authorization", &bearer)],
        "text/plain",
        &body,
    )
    .await;
    assert_eq!(again.json(), answer);
    client
        .send_subscribe(json!({"channel":"private-orders","auth":answer["auth"]}))
        .await;
    client
        .expect_event("pusher_internal:subscription_succeeded")
        .await;
    server.trigger("private-orders", "shipped", "{}").await;
    assert_eq!(
        client.expect_event("shipped").await["channel"],
        "private-orders"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn presence_channel_auth_from_a_json_body_joins_with_user_info() {
    let server = start().await;
    let mut client = server.connect().await;
    let jwt = token(json!({"sub":"42","channels":["presence-*"],"user_info":{"name":"Ada"}}));
    let body = json!({"socket_id": client.socket_id, "channel_name": "presence-room"}).to_string();
    let bearer = format!("Bearer {jwt}");
    let res = post(
        &server,
        "/app/app-key/auth",
        &[("Authorization", &bearer)],
        "application/json",
        &body,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let answer = res.json();
    let channel_data = answer["channel_data"].as_str().expect("channel_data");
    assert_eq!(
        serde_json::from_str::<Value>(channel_data).expect("json"),
        json!({"user_id":"42","user_info":{"name":"Ada"}})
    );
    client
        .send_subscribe(
            json!({"channel":"presence-room","auth":answer["auth"],"channel_data":channel_data}),
        )
        .await;
    let frame = client
        .expect_event("pusher_internal:subscription_succeeded")
        .await;
    let data: Value = serde_json::from_str(frame["data"].as_str().expect("data")).expect("json");
    assert_eq!(data["presence"]["hash"]["42"], json!({"name":"Ada"}));
    server.shutdown().await;
}

#[tokio::test]
async fn user_auth_answer_signs_in() {
    let server = start().await;
    let mut client = server.connect().await;
    let jwt = token(json!({"sub":"42","user_info":{"name":"Ada"}}));
    let bearer = format!("Bearer {jwt}");
    let body = format!("socket_id={}", client.socket_id);
    let res = post(
        &server,
        "/app/app-key/user-auth",
        &[("Authorization", &bearer)],
        FORM,
        &body,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let answer = res.json();
    let user_data = answer["user_data"].as_str().expect("user_data");
    assert_eq!(
        serde_json::from_str::<Value>(user_data).expect("json"),
        json!({"id":"42","user_info":{"name":"Ada"}})
    );
    client
        .send_json(
            json!({"event":"pusher:signin","data":{"auth":answer["auth"],"user_data":user_data}}),
        )
        .await;
    let success = client.expect_event("pusher:signin_success").await;
    assert_eq!(
        success["data"],
        json!({ "user_data": user_data }).to_string()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bad_tokens_are_401() {
    let server = start().await;
    let client = server.connect().await;
    let sid = client.socket_id.clone();
    let granted = json!({"sub":"42","channels":["*"]});
    let expired = token(json!({"sub":"42","channels":["*"],"exp": now() - 3600}));
    let res = channel_auth(&server, &expired, &sid, "private-a").await;
    assert_refused(&res, 401, "token has expired");
    let forged = token_with("not-the-secret", granted.clone());
    let res = channel_auth(&server, &forged, &sid, "private-a").await;
    assert_refused(&res, 401, "token signature is invalid");
    let res = channel_auth(&server, "not.a.jwt", &sid, "private-a").await;
    assert_refused(&res, 401, "Invalid token");
    let no_sub = token(json!({"channels":["*"]}));
    let res = channel_auth(&server, &no_sub, &sid, "private-a").await;
    assert_refused(&res, 401, "token lacks the sub claim");
    let body = format!("socket_id={sid}&channel_name=private-a");
    let res = post(&server, "/app/app-key/auth", &[], FORM, &body).await;
    assert_refused(&res, 401, "Missing bearer token");
    let basic = [("Authorization", "Basic dXNlcjpwYXNz")];
    let res = post(&server, "/app/app-key/auth", &basic, FORM, &body).await;
    assert_refused(&res, 401, "Missing bearer token");
    server.shutdown().await;
}

#[tokio::test]
async fn channels_claim_grants_with_stars_and_sub() {
    let server = start().await;
    let mut client = server.connect().await;
    let sid = client.socket_id.clone();
    let jwt = token(json!({"sub":"42","channels":["private-user.{sub}","private-team.*"]}));
    let res = channel_auth(&server, &jwt, &sid, "private-user.43").await;
    assert_refused(&res, 403, "does not grant channel private-user.43");
    let res = channel_auth(&server, &jwt, &sid, "presence-room").await;
    assert_refused(&res, 403, "does not grant channel presence-room");
    let res = channel_auth(&server, &jwt, &sid, "private-team.red").await;
    assert_eq!(res.status, 200, "{}", res.body);
    let res = channel_auth(&server, &jwt, &sid, "private-user.42").await;
    assert_eq!(res.status, 200, "{}", res.body);
    client
        .send_subscribe(json!({"channel":"private-user.42","auth":res.json()["auth"]}))
        .await;
    client
        .expect_event("pusher_internal:subscription_succeeded")
        .await;
    // No `channels` claim grants nothing.
    let bare = token(json!({"sub":"42"}));
    let res = channel_auth(&server, &bare, &sid, "private-user.42").await;
    assert_refused(&res, 403, "does not grant");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_forms_are_400() {
    let server = start().await;
    let client = server.connect().await;
    let sid = client.socket_id.clone();
    let jwt = token(json!({"sub":"42","channels":["*"]}));
    let res = channel_auth(&server, &jwt, "nope", "private-a").await;
    assert_refused(&res, 400, "Invalid socket_id");
    let res = channel_auth(&server, &jwt, &sid, "public-news").await;
    assert_refused(&res, 400, "needs no authorisation");
    let res = channel_auth(&server, &jwt, &sid, "private-a%20b").await;
    assert_refused(&res, 400, "Invalid channel_name");
    let bearer = format!("Bearer {jwt}");
    let auth = [("Authorization", bearer.as_str())];
    let res = post(
        &server,
        "/app/app-key/auth",
        &auth,
        FORM,
        "channel_name=private-a",
    )
    .await;
    assert_refused(&res, 400, "Missing socket_id");
    let body = format!("socket_id={sid}");
    let res = post(&server, "/app/app-key/auth", &auth, FORM, &body).await;
    assert_refused(&res, 400, "Missing channel_name");
    let res = post(
        &server,
        "/app/app-key/auth",
        &auth,
        "application/json",
        "{oops",
    )
    .await;
    assert_refused(&res, 400, "not a JSON object");
    let res = post(&server, "/app/app-key/user-auth", &auth, FORM, "").await;
    assert_refused(&res, 400, "Missing socket_id");
    let res = request(&server, "GET", "/app/app-key/auth", &auth, FORM, "").await;
    assert_refused(&res, 405, "use POST");
    assert_eq!(res.header("allow"), Some("POST, OPTIONS"));
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_apps_and_apps_without_the_endpoint_are_404() {
    let mut other = app();
    other.id = "other-id".to_owned();
    other.key = "other-key".to_owned();
    let mut config = config_with(auth_app());
    config.apps.push(other);
    let server = TestServer::with_config(config).await;
    let jwt = token(json!({"sub":"42","channels":["*"]}));
    let bearer = format!("Bearer {jwt}");
    let auth = [("Authorization", bearer.as_str())];
    let body = "socket_id=1.2&channel_name=private-a";
    let res = post(&server, "/app/nope/auth", &auth, FORM, body).await;
    assert_refused(&res, 404, "No matching application for key [nope]");
    let res = post(&server, "/app/other-key/auth", &auth, FORM, body).await;
    assert_refused(&res, 404, "not enabled for this app");
    let res = post(&server, "/app/other-key/user-auth", &auth, FORM, body).await;
    assert_refused(&res, 404, "not enabled for this app");
    server.shutdown().await;

    // With the endpoint off everywhere, the aliases are 404 too.
    let server = TestServer::start().await;
    let res = post(&server, "/app/app-key/auth", &auth, FORM, body).await;
    assert_refused(&res, 404, "not enabled for this app");
    let res = post(&server, "/broadcasting/auth", &auth, FORM, body).await;
    assert_refused(&res, 404, "exactly one app");
    server.shutdown().await;
}

#[tokio::test]
async fn broadcasting_aliases_serve_the_one_app_with_the_endpoint() {
    let server = start().await;
    let mut client = server.connect().await;
    let jwt = token(json!({"sub":"42","channels":["private-*"]}));
    let bearer = format!("Bearer {jwt}");
    let auth = [("Authorization", bearer.as_str())];
    let body = format!("socket_id={}&channel_name=private-a", client.socket_id);
    let res = post(&server, "/broadcasting/auth", &auth, FORM, &body).await;
    assert_eq!(res.status, 200, "{}", res.body);
    client
        .send_subscribe(json!({"channel":"private-a","auth":res.json()["auth"]}))
        .await;
    client
        .expect_event("pusher_internal:subscription_succeeded")
        .await;
    let body = format!("socket_id={}", client.socket_id);
    let res = post(&server, "/broadcasting/user-auth", &auth, FORM, &body).await;
    assert_eq!(res.status, 200, "{}", res.body);
    server.shutdown().await;

    // Two apps with the endpoint: the alias cannot choose.
    let mut second = auth_app();
    second.id = "second-id".to_owned();
    second.key = "second-key".to_owned();
    let mut config = config_with(auth_app());
    config.apps.push(second);
    let server = TestServer::with_config(config).await;
    let res = post(&server, "/broadcasting/auth", &auth, FORM, "").await;
    assert_refused(
        &res,
        404,
        "exactly one app with the auth endpoint on; 2 have it",
    );
    server.shutdown().await;
}

#[tokio::test]
async fn routes_respect_the_path_prefix() {
    let mut config: Config = config_with(auth_app());
    config.server.path = "/ws".to_owned();
    let server = TestServer::with_config(config).await;
    let jwt = token(json!({"sub":"42","channels":["*"]}));
    let bearer = format!("Bearer {jwt}");
    let auth = [("Authorization", bearer.as_str())];
    let body = "socket_id=1.2&channel_name=private-a";
    let res = post(&server, "/ws/app/app-key/auth", &auth, FORM, body).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let res = post(&server, "/ws/broadcasting/auth", &auth, FORM, body).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let res = post(&server, "/app/app-key/auth", &auth, FORM, body).await;
    assert_eq!(res.status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn cors_preflight_and_answers_follow_allowed_origins() {
    let server = start().await;
    let preflight = [
        ("Origin", "https://app.example.com"),
        ("Access-Control-Request-Method", "POST"),
        (
            "Access-Control-Request-Headers",
            "authorization, content-type",
        ),
    ];
    let res = request(
        &server,
        "OPTIONS",
        "/app/app-key/auth",
        &preflight,
        FORM,
        "",
    )
    .await;
    assert_eq!(res.status, 204, "{}", res.body);
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        res.header("access-control-allow-methods"),
        Some("POST, OPTIONS")
    );
    let allowed = res
        .header("access-control-allow-headers")
        .unwrap_or_default();
    for name in ["Authorization", "Content-Type"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    let res = request(
        &server,
        "OPTIONS",
        "/broadcasting/user-auth",
        &preflight,
        FORM,
        "",
    )
    .await;
    assert_eq!(res.status, 204);
    // Refusals carry CORS headers too, so a browser can read the reason.
    let res = post(&server, "/app/app-key/auth", &preflight[..1], FORM, "").await;
    assert_eq!(res.status, 401);
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    server.shutdown().await;

    let mut app = auth_app();
    app.allowed_origins = vec!["*.example.com".to_owned()];
    let server = TestServer::with_config(config_with(app)).await;
    let res = request(
        &server,
        "OPTIONS",
        "/app/app-key/auth",
        &preflight,
        FORM,
        "",
    )
    .await;
    assert_eq!(res.status, 204);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(res.header("vary"), Some("Origin"));
    let evil = [("Origin", "https://evil.test")];
    let res = request(&server, "OPTIONS", "/app/app-key/auth", &evil, FORM, "").await;
    assert_eq!(res.header("access-control-allow-origin"), None);
    assert_eq!(res.header("vary"), Some("Origin"));
    server.shutdown().await;
}

#[tokio::test]
async fn rs256_tokens_verify_with_a_public_key() {
    let pem = include_str!("fixtures/jwt/rsa-public.pem");
    let app = AppConfig {
        auth: Some(AuthEndpointConfig {
            jwt_public_key: Some("rsa-public.pem".into()),
            jwt_public_key_pem: Some(pem.to_owned()),
            issuer: Some("https://issuer.test".to_owned()),
            audience: Some("clarion".to_owned()),
            ..AuthEndpointConfig::default()
        }),
        ..app()
    };
    let server = TestServer::with_config(config_with(app)).await;
    let mut client = server.connect().await;
    let private = EncodingKey::from_rsa_pem(include_bytes!("fixtures/jwt/rsa-private.pem"))
        .expect("private key");
    let claims = json!({"sub":"7","exp":now()+60,"channels":["private-a"],
        "iss":"https://issuer.test","aud":"clarion"});
    let jwt = encode(
        &Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &private,
    )
    .expect("sign");
    let res = channel_auth(&server, &jwt, &client.socket_id, "private-a").await;
    assert_eq!(res.status, 200, "{}", res.body);
    client
        .send_subscribe(json!({"channel":"private-a","auth":res.json()["auth"]}))
        .await;
    client
        .expect_event("pusher_internal:subscription_succeeded")
        .await;
    // An HS256 token is refused; so is one for another audience.
    let res = channel_auth(
        &server,
        &token(claims.clone()),
        &client.socket_id,
        "private-a",
    )
    .await;
    assert_refused(&res, 401, "algorithm is not accepted");
    let mut other = claims;
    other["aud"] = json!("someone-else");
    let jwt = encode(
        &Header::new(jsonwebtoken::Algorithm::RS256),
        &other,
        &private,
    )
    .expect("sign");
    let res = channel_auth(&server, &jwt, &client.socket_id, "private-a").await;
    assert_refused(&res, 401, "audience is not accepted");
    server.shutdown().await;
}
