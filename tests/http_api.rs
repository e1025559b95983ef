//! The HTTP API's publishing side with signed requests as the SDKs send
//! them: `POST /events` (one channel, several, `socket_id` exclusion, `info`),
//! `POST /batch_events`, validation statuses (400/413/422), `Content-Length`,
//! bodies split across TCP segments, the `path` prefix and the timestamp
//! window (checklist items 66–86).

mod support;

use serde_json::{json, Value};
use support::*;

async fn post_events(server: &TestServer, body: Value) -> (u16, Value) {
    server
        .api("POST", "/apps/1000/events", &[], &body.to_string())
        .await
}

async fn post_batch(server: &TestServer, body: Value) -> (u16, Value) {
    server
        .api("POST", "/apps/1000/batch_events", &[], &body.to_string())
        .await
}

#[tokio::test]
async fn event_on_one_channel_is_delivered_verbatim() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    a.subscribe("orders").await;
    let data = r#"{"id":1,"note":"<a href=\"/x\">é</a>"}"#;
    let (status, body) = post_events(
        &server,
        json!({"name":"App\\Events\\OrderShipped","channel":"orders","data":data}),
    )
    .await;
    assert_eq!((status, body), (200, json!({})));
    let text = a.ws_text().await;
    let expected = json!({"event":"App\\Events\\OrderShipped","channel":"orders","data":data});
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("json"),
        expected
    );
    assert!(text.starts_with(r#"{"event":"App\\Events\\OrderShipped","channel":"orders","data":"#));
    server.shutdown().await;
}

#[tokio::test]
async fn event_on_several_channels_reaches_each() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe("one").await;
    a.subscribe("two").await;
    b.subscribe("two").await;
    let (status, body) = post_events(
        &server,
        json!({"name":"e","channels":["one","two","empty"],"data":"d"}),
    )
    .await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(a.frame().await["channel"], "one");
    assert_eq!(a.frame().await["channel"], "two");
    assert_eq!(
        b.frame().await,
        json!({"event":"e","channel":"two","data":"d"})
    );
    a.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn socket_id_excludes_that_socket_and_unknown_ids_are_ignored() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe("orders").await;
    b.subscribe("orders").await;
    let body = json!({"name":"e","channel":"orders","data":"1","socket_id":a.socket_id});
    assert_eq!(post_events(&server, body).await.0, 200);
    assert_eq!(b.frame().await["data"], "1");
    a.assert_nothing_pending().await;
    let body = json!({"name":"e","channel":"orders","data":"2","socket_id":"123.456"});
    assert_eq!(post_events(&server, body).await.0, 200);
    assert_eq!(a.frame().await["data"], "2");
    assert_eq!(b.frame().await["data"], "2");
    server.shutdown().await;
}

#[tokio::test]
async fn info_reports_counts_per_channel() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe_presence("presence-room", "1").await;
    b.subscribe_presence("presence-room", "1").await;
    a.subscribe("public").await;
    b.subscribe("public").await;
    let channels = json!(["presence-room", "public", "empty"]);
    let (status, body) = post_events(
        &server,
        json!({"name":"e","channels":channels,"data":"x","info":"user_count"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"channels":{"presence-room":{"user_count":1},"public":{},"empty":{}}})
    );
    let (_, body) = post_events(
        &server,
        json!({"name":"e","channels":channels,"data":"x","info":"subscription_count,user_count"}),
    )
    .await;
    assert_eq!(
        body,
        json!({"channels":{"presence-room":{"user_count":1},"public":{"subscription_count":2},"empty":{}}})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn validation_failures_are_422_with_a_message() {
    let server = TestServer::start().await;
    for body in [
        json!({"channel":"a","data":"x"}),
        json!({"name":"","channel":"a","data":"x"}),
        json!({"name":"e","channel":"a"}),
        json!({"name":"e","channel":"a","data":null}),
        json!({"name":"e","data":"x"}),
        json!({"name":"e","channels":[],"data":"x"}),
        json!({"name":"e","channels":"a","data":"x"}),
        json!({"name":"e","channels":[1],"data":"x"}),
        json!({"name":"e","channel":5,"data":"x"}),
        json!({"name":"e","channel":"a","data":"x","socket_id":1}),
        json!({"name":"e","channel":"a","data":"x","info":["user_count"]}),
    ] {
        let (status, reply) = post_events(&server, body.clone()).await;
        assert_eq!(status, 422, "{body}");
        assert!(
            reply["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{reply}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let server = TestServer::start().await;
    let too_many: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
    for body in [
        json!({"name":"e","channels":too_many,"data":"x"}).to_string(),
        json!({"name":"e","channel":"bad name","data":"x"}).to_string(),
        json!({"name":"e","channel":"a","data":"x","socket_id":"not-a-socket"}).to_string(),
        json!({"name":"e".repeat(201),"channel":"a","data":"x"}).to_string(),
        "{not json".to_owned(),
        "[]".to_owned(),
    ] {
        let (status, reply) = server.api("POST", "/apps/1000/events", &[], &body).await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert!(reply["error"].is_string(), "{reply}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn oversize_request_is_413_and_limits_are_per_app() {
    let mut config = config_with(app());
    config.apps[0].max_event_payload = Some(10);
    let server = TestServer::with_config(config).await;
    let big = json!({"name":"e","channel":"a","data":"x".repeat(10_050)});
    assert_eq!(post_events(&server, big).await.0, 413, "max_request_size");
    let over = json!({"name":"e","channel":"a","data":"x".repeat(11)});
    let (status, reply) = post_events(&server, over).await;
    assert_eq!(status, 413, "max_event_payload: {reply}");
    let fits = json!({"name":"e","channel":"a","data":"x".repeat(10)});
    assert_eq!(post_events(&server, fits).await.0, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn responses_have_a_correct_content_length() {
    let server = TestServer::start().await;
    let body = json!({"name":"e","channel":"a","data":"x"}).to_string();
    let query = server.signed("POST", "/apps/1000/events", &[], &body);
    let request = format!(
        "POST /apps/1000/events?{query} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let res = raw_request(server.addr, &[request.as_bytes()]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body, "{}");
    assert_eq!(res.header("content-length"), Some("2"));
    assert_eq!(res.header("content-type"), Some("application/json"));
    let res = raw_request(
        server.addr,
        &[b"GET /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
    )
    .await;
    assert_eq!(res.header("content-length"), Some("15"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_body_split_across_segments_is_reassembled() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    a.subscribe("orders").await;
    let data = "y".repeat(6_000);
    let body = json!({"name":"e","channel":"orders","data":data}).to_string();
    let query = server.signed("POST", "/apps/1000/events", &[], &body);
    let head = format!(
        "POST /apps/1000/events?{query} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.as_bytes().split_at(1_000);
    let (second, third) = rest.split_at(3_000);
    let res = raw_request(server.addr, &[head.as_bytes(), first, second, third]).await;
    assert_eq!((res.status, res.body.as_str()), (200, "{}"));
    assert_eq!(a.frame().await["data"], data);
    server.shutdown().await;
}

#[tokio::test]
async fn batch_without_info_is_an_empty_batch_object() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe("one").await;
    b.subscribe("two").await;
    let (status, body) = post_batch(
        &server,
        json!({"batch":[
            {"name":"e1","channel":"one","data":"1"},
            {"name":"e2","channel":"two","data":"2"},
            {"name":"e3","channel":"one","data":"3","socket_id":a.socket_id},
        ]}),
    )
    .await;
    assert_eq!((status, body), (200, json!({"batch":{}})));
    assert_eq!(
        a.frame().await,
        json!({"event":"e1","channel":"one","data":"1"})
    );
    assert_eq!(
        b.frame().await,
        json!({"event":"e2","channel":"two","data":"2"})
    );
    a.assert_nothing_pending().await; // e3 excluded a
    server.shutdown().await;
}

#[tokio::test]
async fn batch_info_is_aligned_with_items() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    a.subscribe_presence("presence-a", "1").await;
    a.subscribe("public").await;
    let (status, body) = post_batch(
        &server,
        json!({"batch":[
            {"name":"e","channel":"presence-a","data":"1","info":"user_count"},
            {"name":"e","channel":"public","data":"2"},
            {"name":"e","channel":"public","data":"3","info":"subscription_count"},
        ]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"batch":[{"user_count":1},{},{"subscription_count":1}]})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_batches_are_refused_and_publish_nothing() {
    let mut config = config_with(app());
    config.apps[0].max_batch_size = 2;
    let server = TestServer::with_config(config).await;
    let mut a = server.connect().await;
    a.subscribe("one").await;
    let item = json!({"name":"e","channel":"one","data":"x"});
    for (body, status) in [
        (json!({"batch":[item, {"name":"e","data":"x"}]}), 422),
        (json!({"batch":[item, item, item]}), 400),
        (json!({}), 422),
        (json!({"batch":"nope"}), 400),
    ] {
        assert_eq!(post_batch(&server, body.clone()).await.0, status, "{body}");
    }
    let (status, _) = server
        .api("POST", "/apps/1000/batch_events", &[], "{")
        .await;
    assert_eq!(status, 400);
    a.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn path_prefix_is_not_part_of_the_signature() {
    let mut config = config_with(app());
    config.server.path = "/ws".to_owned();
    let server = TestServer::with_config(config).await;
    let body = json!({"name":"e","channel":"a","data":"x"}).to_string();
    let query = server.signed("POST", "/apps/1000/events", &[], &body);
    let (status, text) = server
        .http("POST", &format!("/ws/apps/1000/events?{query}"), &body)
        .await;
    assert_eq!((status, text.as_str()), (200, "{}"));
    let (status, _) = server
        .http("POST", &format!("/apps/1000/events?{query}"), &body)
        .await;
    assert_eq!(status, 404, "the unprefixed route does not exist");
    // Signing the prefixed path is wrong.
    let query = server.signed("POST", "/ws/apps/1000/events", &[], &body);
    let (status, _) = server
        .http("POST", &format!("/ws/apps/1000/events?{query}"), &body)
        .await;
    assert_eq!(status, 401);
    server.shutdown().await;
}

/// Posts an event signed `age` seconds ago; returns the status.
async fn post_signed_ago(server: &TestServer, age: u64) -> u16 {
    let body = json!({"name":"e","channel":"a","data":"x"}).to_string();
    let query = clarion::auth::http_signature::signed_query(
        "app-key",
        "app-secret",
        "POST",
        "/apps/1000/events",
        &[],
        body.as_bytes(),
        now() - age,
    );
    server
        .http("POST", &format!("/apps/1000/events?{query}"), &body)
        .await
        .0
}

#[tokio::test]
async fn timestamp_window_is_configurable_and_zero_disables_it() {
    let server = TestServer::start().await;
    assert_eq!(post_signed_ago(&server, 500).await, 200);
    assert_eq!(post_signed_ago(&server, 700).await, 401, "default 600 s");
    server.shutdown().await;

    let mut config = config_with(app());
    config.server.auth_timestamp_window = 60;
    let server = TestServer::with_config(config).await;
    assert_eq!(post_signed_ago(&server, 120).await, 401);
    server.shutdown().await;

    let mut config = config_with(app());
    config.server.auth_timestamp_window = 0;
    let server = TestServer::with_config(config).await;
    assert_eq!(post_signed_ago(&server, 100_000).await, 200);
    server.shutdown().await;
}
