//! The HTTP API's read side and `terminate_connections`: `GET /channels`
//! (`filter_by_prefix`, `info`, `{"channels":{}}` when empty), `GET
//! /channels/{c}`, `GET /channels/{c}/users` (400 non-presence, 404
//! unoccupied), `GET /connections`, terminating signed-in users and presence
//! members with 4009, and `GET /up` (checklist items 87–99, 101, 102).

mod support;

use serde_json::{json, Value};
use support::*;

async fn get(server: &TestServer, path: &str, params: &[(&str, &str)]) -> (u16, Value) {
    server.api("GET", path, params, "").await
}

#[tokio::test]
async fn empty_channel_list_is_an_object() {
    let server = TestServer::start().await;
    let (status, body) = get(&server, "/apps/1000/channels", &[]).await;
    assert_eq!((status, body), (200, json!({"channels":{}})));
    let (_, text) = server
        .http(
            "GET",
            &format!(
                "/apps/1000/channels?{}",
                server.signed("GET", "/apps/1000/channels", &[], "")
            ),
            "",
        )
        .await;
    assert_eq!(text, r#"{"channels":{}}"#);
    server.shutdown().await;
}

#[tokio::test]
async fn channel_list_shows_occupied_channels_with_requested_info() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe("test-channel-one").await;
    b.subscribe("test-channel-one").await;
    a.subscribe_presence("presence-test-channel-two", "1").await;
    b.subscribe_presence("presence-test-channel-two", "1").await;
    a.subscribe("gone").await;
    a.unsubscribe("gone").await;
    a.assert_nothing_pending().await;
    server.trigger("never-subscribed", "e", "x").await;

    let (_, body) = get(&server, "/apps/1000/channels", &[]).await;
    assert_eq!(
        body,
        json!({"channels":{"presence-test-channel-two":{},"test-channel-one":{}}})
    );
    let (_, body) = get(&server, "/apps/1000/channels", &[("info", "user_count")]).await;
    assert_eq!(
        body,
        json!({"channels":{"presence-test-channel-two":{"user_count":1},"test-channel-one":{}}})
    );
    let info = [("info", "user_count,subscription_count")];
    let (_, body) = get(&server, "/apps/1000/channels", &info).await;
    assert_eq!(
        body,
        json!({"channels":{"presence-test-channel-two":{"user_count":1},"test-channel-one":{"subscription_count":2}}})
    );
    let filtered = [("filter_by_prefix", "presence-"), ("info", "user_count")];
    let (_, body) = get(&server, "/apps/1000/channels", &filtered).await;
    assert_eq!(
        body,
        json!({"channels":{"presence-test-channel-two":{"user_count":1}}})
    );
    let (_, body) = get(
        &server,
        "/apps/1000/channels",
        &[("filter_by_prefix", "nope-")],
    )
    .await;
    assert_eq!(body, json!({"channels":{}}));
    server.shutdown().await;
}

#[tokio::test]
async fn single_channel_attributes() {
    let server = TestServer::start().await;
    let path = "/apps/1000/channels/test-channel";
    let all = [("info", "user_count,subscription_count,cache")];
    assert_eq!(
        get(&server, path, &all).await,
        (200, json!({"occupied":false}))
    );
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe("test-channel").await;
    b.subscribe("test-channel").await;
    assert_eq!(
        get(&server, path, &all).await.1,
        json!({"occupied":true,"subscription_count":2})
    );
    // Only what was asked for, plus occupied.
    assert_eq!(get(&server, path, &[]).await.1, json!({"occupied":true}));
    assert_eq!(
        get(&server, path, &[("info", "user_count")]).await.1,
        json!({"occupied":true})
    );

    a.subscribe_presence("presence-room", "1").await;
    b.subscribe_presence("presence-room", "1").await;
    let presence = "/apps/1000/channels/presence-room";
    assert_eq!(
        get(&server, presence, &all).await.1,
        json!({"occupied":true,"user_count":1})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn cache_channel_info_includes_the_cached_payload() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    a.subscribe("cache-ticker").await;
    server.trigger("cache-ticker", "price", r#"{"p":1}"#).await;
    a.expect_event("price").await;
    let (_, body) = get(
        &server,
        "/apps/1000/channels/cache-ticker",
        &[("info", "subscription_count,cache")],
    )
    .await;
    assert_eq!(
        body,
        json!({"occupied":true,"subscription_count":1,"cache":{"event":"price","channel":"cache-ticker","data":"{\"p\":1}"}})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn users_of_a_presence_channel() {
    let server = TestServer::start().await;
    let mut clients = Vec::new();
    for id in ["3", "2", "3", "1"] {
        let mut c = server.connect().await;
        c.subscribe_presence_raw("presence-u", &format!(r#"{{"user_id":{id}}}"#))
            .await;
        clients.push(c);
    }
    let (status, body) = get(&server, "/apps/1000/channels/presence-u/users", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"users":[{"id":3},{"id":2},{"id":1}]}),
        "unique, first-seen order, original type"
    );

    let (status, _) = get(&server, "/apps/1000/channels/presence-empty/users", &[]).await;
    assert_eq!(status, 404, "unoccupied presence channel");
    clients[0].subscribe("public").await;
    let (status, _) = get(&server, "/apps/1000/channels/public/users", &[]).await;
    assert_eq!(status, 400, "not a presence channel");
    let (status, _) = get(&server, "/apps/1000/channels/private-x/users", &[]).await;
    assert_eq!(status, 400);
    server.shutdown().await;
}

#[tokio::test]
async fn connections_counts_each_socket_once() {
    let server = TestServer::start().await;
    assert_eq!(
        get(&server, "/apps/1000/connections", &[]).await,
        (200, json!({"connections":0}))
    );
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    for c in ["one", "two", "three"] {
        a.subscribe(c).await;
    }
    b.subscribe("one").await;
    assert_eq!(
        get(&server, "/apps/1000/connections", &[]).await.1,
        json!({"connections":2})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn terminate_closes_every_socket_of_the_user_and_nobody_else() {
    let server = TestServer::start().await;
    let mut watcher = server.connect().await;
    watcher.subscribe_presence("presence-room", "watcher").await;
    // User 42: one socket present on a presence channel after a public one
    // (order must not matter), one only signed in, one a member of another
    // presence channel.
    let mut present = server.connect().await;
    present.subscribe("public").await;
    present.subscribe_presence("presence-room", "42").await;
    let mut signed_in = server.connect().await;
    signed_in.signin(r#"{"id":"42"}"#).await;
    let mut elsewhere = server.connect().await;
    elsewhere.subscribe_presence("presence-other", "42").await;
    // A socket that was present as 42 but left is no longer that user.
    let mut former = server.connect().await;
    former.subscribe_presence("presence-old", "42").await;
    former.unsubscribe("presence-old").await;
    former.assert_nothing_pending().await;
    let mut bystander = server.connect().await;
    bystander.subscribe_presence("presence-room", "7").await;
    bystander.signin(r#"{"id":"7"}"#).await;
    watcher.expect_event("pusher_internal:member_added").await;
    watcher.expect_event("pusher_internal:member_added").await;
    present.expect_event("pusher_internal:member_added").await; // user 7

    let (status, body) = server
        .api(
            "POST",
            "/apps/1000/users/42/terminate_connections",
            &[],
            "{}",
        )
        .await;
    assert_eq!((status, body), (200, json!({})));
    for client in [&mut present, &mut signed_in, &mut elsewhere] {
        client
            .expect_refusal(4009, "Connection terminated by the application")
            .await;
    }
    former.assert_nothing_pending().await;
    for client in [&mut bystander, &mut watcher] {
        assert_eq!(
            client.frame().await,
            json!({"event":"pusher_internal:member_removed","channel":"presence-room","data":"{\"user_id\":\"42\"}"})
        );
        client.assert_nothing_pending().await; // still connected
    }
    assert_eq!(
        get(&server, "/apps/1000/channels/presence-room/users", &[])
            .await
            .1,
        json!({"users":[{"id":"watcher"},{"id":"7"}]})
    );
    // Unknown users are fine too.
    let (status, _) = server
        .api(
            "POST",
            "/apps/1000/users/nobody/terminate_connections",
            &[],
            "{}",
        )
        .await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn health_check_needs_no_auth() {
    let server = TestServer::start().await;
    let res = raw_request(
        server.addr,
        &[b"GET /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body, r#"{"health":"OK"}"#);
    assert_eq!(res.header("content-type"), Some("application/json"));
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_are_404() {
    let server = TestServer::start().await;
    assert_eq!(server.http("GET", "/nope", "").await.0, 404);
    let (status, _) = get(&server, "/apps/1000/nope", &[]).await;
    assert_eq!(status, 404);
    let (status, _) = server.api("DELETE", "/apps/1000/channels", &[], "").await;
    assert_eq!(status, 404);
    server.shutdown().await;
}

/// The Python SDK signs `body_md5` of the empty body on every GET; a claimed
/// digest is verified against the body and covered by the signature.
#[tokio::test]
async fn a_get_may_sign_the_empty_body_md5() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.subscribe("news").await;
    let empty_md5 = ("body_md5", "d41d8cd98f00b204e9800998ecf8427e");
    let (status, body) = server
        .api("GET", "/apps/1000/channels", &[empty_md5], "")
        .await;
    assert_eq!((status, body), (200, json!({"channels":{"news":{}}})));
    let wrong_md5 = ("body_md5", "00000000000000000000000000000000");
    let (status, body) = server
        .api("GET", "/apps/1000/channels", &[wrong_md5], "")
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"error":"body_md5 does not match the request body"})
    );
    server.shutdown().await;
}

/// The Python SDK sends `POST /users/{id}/terminate_connections` without
/// `/apps/{id}`: the app is the one whose key signed the request.
#[tokio::test]
async fn terminate_without_the_apps_prefix_uses_the_signing_key() {
    let server = TestServer::start().await;
    let mut user = server.connect().await;
    user.signin(r#"{"id":"42"}"#).await;
    let mut other = server.connect().await;
    other.signin(r#"{"id":"7"}"#).await;

    let (status, body) = server
        .api("POST", "/users/42/terminate_connections", &[], "{}")
        .await;
    assert_eq!((status, body), (200, json!({})));
    user.expect_refusal(4009, "Connection terminated by the application")
        .await;
    other.assert_nothing_pending().await;

    let (status, _) = server
        .api_as(
            "unknown-key",
            "app-secret",
            "POST",
            "/users/7/terminate_connections",
            &[],
            "{}",
        )
        .await;
    assert_eq!(status, 404, "no app has that key");
    let (status, _) = server
        .api_as(
            "app-key",
            "wrong-secret",
            "POST",
            "/users/7/terminate_connections",
            &[],
            "{}",
        )
        .await;
    assert_eq!(status, 401, "signed with the wrong secret");
    let (status, _) = server
        .http("POST", "/users/7/terminate_connections", "{}")
        .await;
    assert_eq!(status, 401, "unsigned: no auth_key");
    let (status, _) = server.api("GET", "/users/7", &[], "").await;
    assert_eq!(status, 404, "only terminate_connections is unscoped");
    other.assert_nothing_pending().await;
    server.shutdown().await;
}
