//! Secrets and tenancy: one app's credentials never authorise anything of
//! another app (subscriptions, sign-ins, every HTTP API route), a correctly
//! signed request outside the timestamp window is refused, the built-in
//! auth endpoint refuses pages of origins the app does not allow, and no
//! secret ever appears in a log line (at debug level), an error answer or
//! `/metrics`.

mod support;

use std::time::Duration;

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;

use clarion::auth::channel_auth_token;
use clarion::auth::http_signature::signed_query;
use clarion::config::AppConfig;
use support::process::{ConfigFile, Process};
use support::{app, config_with, now, raw_request, RawResponse, TestServer};

/// App 1000 (`app-key`/`app-secret`) and app `other-id`.
async fn start_two_apps() -> TestServer {
    let mut config = config_with(app());
    config.apps.push(AppConfig {
        id: "other-id".to_owned(),
        key: "other-key".to_owned(),
        secret: "other-secret".to_owned(),
        ..AppConfig::default()
    });
    TestServer::with_config(config).await
}

#[tokio::test]
async fn one_apps_credentials_never_authorise_another_apps_channel() {
    let server = start_two_apps().await;
    let mut other = support::connect_to(server.addr, "other-key").await;
    let socket_id = other.socket_id.clone();
    let member = json!({"user_id": "7", "user_info": {}}).to_string();
    // Signed by app 1000 (its key and secret), by app 1000's secret under
    // the other app's key, and by the other app's secret under 1000's key.
    for (key, secret) in [
        ("app-key", "app-secret"),
        ("other-key", "app-secret"),
        ("app-key", "other-secret"),
    ] {
        for (channel, data) in [
            ("private-orders", None),
            ("presence-room", Some(member.as_str())),
        ] {
            let auth = channel_auth_token(key, secret, &socket_id, channel, data);
            let mut subscribe = json!({"channel": channel, "auth": auth});
            if let Some(data) = data {
                subscribe["channel_data"] = json!(data);
            }
            other
                .send_json(json!({"event": "pusher:subscribe", "data": subscribe}))
                .await;
            assert_eq!(
                other.expect_error().await,
                4009,
                "{channel} signed with {key}/{secret} is refused"
            );
        }
    }
    // The app's own credentials work on the same socket.
    let auth = channel_auth_token(
        "other-key",
        "other-secret",
        &socket_id,
        "private-orders",
        None,
    );
    other
        .send_json(json!({"event": "pusher:subscribe", "data": {"channel": "private-orders", "auth": auth}}))
        .await;
    other
        .expect_event("pusher_internal:subscription_succeeded")
        .await;

    // A sign-in signed by app 1000 is refused and the socket closed.
    let user_data = json!({"id": "7"}).to_string();
    let signature = clarion::auth::sign("app-secret", &format!("{socket_id}::user::{user_data}"));
    other
        .send_json(json!({"event": "pusher:signin", "data": {
            "user_data": user_data, "auth": format!("app-key:{signature}")}}))
        .await;
    assert_eq!(other.expect_error().await, 4009);
    server.shutdown().await;
}

#[tokio::test]
async fn an_http_api_call_signed_by_one_app_for_another_is_401() {
    let server = start_two_apps().await;
    let mut theirs = support::connect_to(server.addr, "other-key").await;
    theirs.subscribe("orders").await;
    let event = json!({"name": "forged", "channel": "orders", "data": "{}"}).to_string();
    let batch =
        json!({"batch": [{"name": "forged", "channel": "orders", "data": "{}"}]}).to_string();
    let calls = [
        ("POST", "/apps/other-id/events", event.as_str()),
        ("POST", "/apps/other-id/batch_events", batch.as_str()),
        ("GET", "/apps/other-id/channels", ""),
        ("GET", "/apps/other-id/channels/orders", ""),
        ("GET", "/apps/other-id/channels/presence-room/users", ""),
        ("GET", "/apps/other-id/connections", ""),
        ("POST", "/apps/other-id/users/7/terminate_connections", ""),
    ];
    for (method, path, body) in calls {
        for (key, secret) in [("app-key", "app-secret"), ("other-key", "app-secret")] {
            let (status, reply) = server.api_as(key, secret, method, path, &[], body).await;
            assert_eq!(
                status, 401,
                "{method} {path} signed with {key}/{secret}: {reply}"
            );
        }
    }
    theirs.assert_nothing_pending().await;
    // The other app's own signature is accepted (the refusals were about
    // the credentials, not the routes).
    let (status, _) = server
        .api_as(
            "other-key",
            "other-secret",
            "POST",
            "/apps/other-id/events",
            &[],
            &event,
        )
        .await;
    assert_eq!(status, 200);
    theirs.expect_event("forged").await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_correctly_signed_request_outside_the_timestamp_window_is_refused() {
    let server = TestServer::start().await;
    let body = json!({"name": "e", "channel": "a", "data": "x"}).to_string();
    let path = "/apps/1000/events";
    let signed_at = |at: u64| {
        let query = signed_query(
            "app-key",
            "app-secret",
            "POST",
            path,
            &[],
            body.as_bytes(),
            at,
        );
        format!("{path}?{query}")
    };
    // A request captured 11 minutes ago and replayed now, and one signed
    // 11 minutes ahead (to be replayed later): both outside 600 s.
    for url in [signed_at(now() - 660), signed_at(now() + 660)] {
        let (status, text) = server.http("POST", &url, &body).await;
        assert_eq!(status, 401, "{text}");
        assert!(text.contains("auth_timestamp"), "{text}");
    }
    // Inside the window the same request is served (Pusher's protocol has
    // no nonce: the window is what bounds a replay).
    let url = signed_at(now() - 30);
    assert_eq!(server.http("POST", &url, &body).await.0, 200);
    server.shutdown().await;
}

/// A raw request with `headers`, to the auth endpoint.
async fn auth_request(server: &TestServer, method: &str, headers: &[(&str, &str)]) -> RawResponse {
    let body = "socket_id=1.2&channel_name=private-a";
    let mut head = format!(
        "{method} /app/app-key/auth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    raw_request(server.addr, &[head.as_bytes(), body.as_bytes()]).await
}

#[tokio::test]
async fn the_auth_endpoint_refuses_origins_the_app_does_not_allow() {
    let secret = "jwt-secret-for-origins";
    let mut app = app();
    app.allowed_origins = vec!["*.example.com".to_owned()];
    app.auth = Some(clarion::config::AuthEndpointConfig {
        jwt_secret: Some(secret.to_owned()),
        ..Default::default()
    });
    let server = TestServer::with_config(config_with(app)).await;
    let claims = json!({"sub": "42", "channels": ["*"], "exp": now() + 3600});
    let jwt = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign");
    let bearer = format!("Bearer {jwt}");

    let allowed = [
        ("Origin", "https://app.example.com"),
        ("Authorization", bearer.as_str()),
    ];
    let res = auth_request(&server, "POST", &allowed).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );

    // No Origin: a mobile app or a server; the token is enough.
    let res = auth_request(&server, "POST", &allowed[1..]).await;
    assert_eq!(res.status, 200, "{}", res.body);

    // A page of another site is refused, even with a valid token, and so
    // is its preflight; the answer names the reason, not the token.
    for origin in ["https://evil.test", "null", "https://example.com.evil.test"] {
        let headers = [("Origin", origin), ("Authorization", bearer.as_str())];
        let res = auth_request(&server, "POST", &headers).await;
        assert_eq!(res.status, 403, "{origin}: {}", res.body);
        assert_eq!(res.json(), json!({"error": "Origin not allowed."}));
        assert_eq!(res.header("access-control-allow-origin"), None);
        let res = auth_request(&server, "OPTIONS", &headers[..1]).await;
        assert_eq!(res.status, 403, "{origin} preflight");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_websocket_refuses_origins_the_app_does_not_allow() {
    let mut app = app();
    app.allowed_origins = vec!["app.example.com".to_owned()];
    let server = TestServer::with_config(config_with(app)).await;
    let mut refused = server.connect_with_origin("https://evil.test").await;
    refused.expect_refusal(4009, "Origin not allowed").await;
    let mut ok = server.connect_with_origin("https://app.example.com").await;
    ok.expect_event("pusher:connection_established").await;
    server.shutdown().await;
}

// === secrets never leak ===

const APP_SECRET: &str = "app-s3cret-c4n4ry-0001";
const JWT_SECRET: &str = "jwt-s3cret-c4n4ry-0002";
const DASHBOARD_TOKEN: &str = "dash-t0ken-c4n4ry-0003";
const WEBHOOK_TOKEN: &str = "hook-t0ken-c4n4ry-0004";
const SECRETS: [&str; 4] = [APP_SECRET, JWT_SECRET, DASHBOARD_TOKEN, WEBHOOK_TOKEN];

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{secret} appears in {what}:\n{text}"
        );
    }
}

/// A raw HTTP request to the process; the answer must hold no secret.
async fn request(addr: std::net::SocketAddr, head: &str, body: &str) -> RawResponse {
    let head = format!(
        "{head}Host: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let res = raw_request(addr, &[head.as_bytes(), body.as_bytes()]).await;
    assert_no_secret(
        &format!("the answer to {head:?}"),
        &format!("{:?}{}", res.headers, res.body),
    );
    res
}

#[tokio::test]
async fn secrets_never_appear_in_debug_logs_error_answers_or_metrics() {
    let config = ConfigFile::new(&format!(
        "[dashboard]\nenabled = true\ntoken = \"{DASHBOARD_TOKEN}\"\n\
         [[apps]]\nid = \"77\"\nkey = \"public-key\"\nsecret = \"{APP_SECRET}\"\n\
         [apps.auth]\njwt_secret = \"{JWT_SECRET}\"\n\
         [[apps.webhooks]]\nurl = \"http://127.0.0.1:9/hook\"\n\
         headers = {{ Authorization = \"Bearer {WEBHOOK_TOKEN}\" }}\n"
    ));
    let outbox =
        std::env::temp_dir().join(format!("clarion-secrets-{}.outbox", std::process::id()));
    let outbox = outbox.to_str().expect("utf-8").to_owned();
    let mut server = Process::start(
        &["--config", config.arg(), "--debug"],
        &[
            ("RUST_LOG", "debug"),
            ("CLARION_WEBHOOKS_OUTBOX_FILE", &outbox),
        ],
    )
    .await;
    let addr = server.addr;

    // WebSocket: good and bad channel auth, presence, a forged sign-in.
    let mut client = server.connect_key("public-key").await;
    let id = client.socket_id.clone();
    let good = channel_auth_token("public-key", APP_SECRET, &id, "private-a", None);
    client
        .send_json(
            json!({"event": "pusher:subscribe", "data": {"channel": "private-a", "auth": good}}),
        )
        .await;
    client
        .expect_event("pusher_internal:subscription_succeeded")
        .await;
    let bad = channel_auth_token("public-key", "wrong", &id, "private-b", None);
    client
        .send_json(
            json!({"event": "pusher:subscribe", "data": {"channel": "private-b", "auth": bad}}),
        )
        .await;
    assert_eq!(client.expect_error().await, 4009);
    client
        .send_json(json!({"event": "client-typing", "channel": "private-a", "data": {}}))
        .await;
    client
        .send_json(json!({"event": "pusher:signin", "data": {"user_data": "{\"id\":\"1\"}", "auth": "public-key:00"}}))
        .await;
    assert_eq!(client.expect_error().await, 4009);

    // HTTP API: a good call, a bad signature, the wrong key, a stale
    // timestamp, an unknown app.
    let body = json!({"name": "e", "channel": "private-a", "data": "{}"}).to_string();
    let path = "/apps/77/events";
    for (key, secret, at) in [
        ("public-key", APP_SECRET, now()),
        ("public-key", "wrong", now()),
        ("other-key", APP_SECRET, now()),
        ("public-key", APP_SECRET, now() - 3600),
    ] {
        let query = signed_query(key, secret, "POST", path, &[], body.as_bytes(), at);
        request(
            addr,
            &format!("POST {path}?{query} HTTP/1.1\r\nContent-Type: application/json\r\n"),
            &body,
        )
        .await;
    }
    let res = request(addr, "GET /apps/78/channels?auth_key=x HTTP/1.1\r\n", "").await;
    assert_eq!(res.status, 404);

    // The auth endpoint: a good token, a forged one, a wrong origin.
    let claims = json!({"sub": "42", "channels": ["*"], "exp": now() + 3600});
    let jwt = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("sign");
    let forged = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(b"guess"),
    )
    .expect("sign");
    let form = "socket_id=1.2&channel_name=private-a";
    for token in [&jwt, &forged] {
        let head = format!(
            "POST /app/public-key/auth HTTP/1.1\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n"
        );
        request(addr, &head, form).await;
    }

    // The dashboard: a wrong token, then the right one (header and query).
    let res = request(
        addr,
        "GET /dashboard HTTP/1.1\r\nAuthorization: Bearer wrong\r\n",
        "",
    )
    .await;
    assert_eq!(res.status, 401);
    let ok = format!("GET /dashboard HTTP/1.1\r\nAuthorization: Bearer {DASHBOARD_TOKEN}\r\n");
    let res = raw_request(
        addr,
        &[format!("{ok}Host: x\r\nConnection: close\r\n\r\n").as_bytes()],
    )
    .await;
    assert_eq!(res.status, 200);

    // Metrics, after all of it.
    let res = request(addr, "GET /metrics HTTP/1.1\r\n", "").await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains("clarion_"), "{}", res.body);

    // A reload and a shutdown log the configuration's changes and state.
    server.signal("HUP");
    server.line_with("configuration reloaded").await;
    client.close().await;
    server.signal("TERM");
    let status = server.exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{status:?}");
    let lines = server.all_lines().await;
    assert!(
        lines.iter().any(|l| l.contains("DEBUG")),
        "debug lines were logged"
    );
    assert!(lines.len() > 20, "{lines:#?}");
    for line in &lines {
        assert_no_secret("the log", line);
    }
    let _ = std::fs::remove_file(&outbox);
}
