//! The operator dashboard over real sockets: off by default, every route
//! behind the token (header or `?token=`), the page with its charting
//! library inlined, the snapshot stream, and the inspector watching a
//! private channel without occupying it while a test event is triggered.

mod support;

use serde_json::{json, Value};
use support::*;

const TOKEN: &str = "op+token/with=odd chars";
const QUERY_TOKEN: &str = "op%2Btoken%2Fwith%3Dodd%20chars";

async fn dashboard_server() -> TestServer {
    let mut config = config_with(app());
    config.dashboard.enabled = true;
    config.dashboard.token = Some(TOKEN.to_owned());
    TestServer::with_config(config).await
}

async fn get(server: &TestServer, path: &str, headers: &str) -> RawResponse {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n");
    raw_request(server.addr, &[request.as_bytes()]).await
}

#[tokio::test]
async fn the_dashboard_is_off_by_default() {
    let server = TestServer::start().await;
    let res = get(&server, &format!("/dashboard?token={QUERY_TOKEN}"), "").await;
    assert_eq!(res.status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn every_route_needs_the_token() {
    let server = dashboard_server().await;
    for path in [
        "/dashboard",
        "/dashboard/",
        "/dashboard/stream",
        "/dashboard/inspect?app=1000&channel=a",
        "/dashboard/nowhere",
    ] {
        for (query, headers) in [
            ("", ""),
            ("token=wrong", ""),
            ("", "Authorization: Bearer wrong\r\n"),
            ("", "Authorization: Basic b3A6dG9rZW4=\r\n"),
        ] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = if query.is_empty() {
                path.to_owned()
            } else {
                format!("{path}{sep}{query}")
            };
            let res = get(&server, &url, headers).await;
            assert_eq!(res.status, 401, "{url} {headers:?}");
            assert_eq!(
                res.header("www-authenticate"),
                Some("Bearer realm=\"clarion-dashboard\"")
            );
        }
    }
    let trigger = raw_http(server.addr, "POST", "/dashboard/trigger", "{}").await;
    assert_eq!(trigger.0, 401);
    server.shutdown().await;
}

#[tokio::test]
async fn the_page_loads_with_its_chart_library_inlined() {
    let server = dashboard_server().await;
    let by_query = get(&server, &format!("/dashboard?token={QUERY_TOKEN}"), "").await;
    let by_header = get(
        &server,
        "/dashboard",
        &format!("Authorization: Bearer {TOKEN}\r\n"),
    )
    .await;
    for res in [&by_query, &by_header] {
        assert_eq!(res.status, 200);
        assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(res.header("referrer-policy"), Some("no-referrer"));
        assert!(res
            .header("content-security-policy")
            .is_some_and(|csp| csp.contains("connect-src 'self'")));
        assert!(res.body.contains("var uPlot="), "uPlot is inlined");
        assert!(res.body.contains("window.clarionDashboard"));
        assert!(
            !res.body.contains("<script src") && !res.body.contains("<link"),
            "nothing is loaded from elsewhere"
        );
    }
    let missing = get(
        &server,
        &format!("/dashboard/nowhere?token={QUERY_TOKEN}"),
        "",
    )
    .await;
    assert_eq!(missing.status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn the_stream_sends_a_snapshot_of_every_app_each_second() {
    let server = dashboard_server().await;
    let mut client = server.connect().await;
    client.subscribe("news").await;
    let mut sse = SseClient::open(
        server.addr,
        &format!("/dashboard/stream?token={QUERY_TOKEN}"),
    )
    .await;
    assert!(sse.head.starts_with("HTTP/1.1 200"), "{}", sse.head);
    assert!(sse.head.to_ascii_lowercase().contains("text/event-stream"));
    let first = snapshot(&mut sse).await;
    assert_eq!(first["apps"][0]["id"], "1000");
    assert_eq!(first["apps"][0]["connections"], 1);
    assert_eq!(first["apps"][0]["channels"], 1);
    server.trigger("news", "e", "x").await;
    assert_eq!(client.frame().await["event"], "e");
    let second = snapshot(&mut sse).await;
    let app = &second["apps"][0];
    assert!(
        app["published_per_second"]
            .as_f64()
            .is_some_and(|r| r > 0.0),
        "{app}"
    );
    assert!(
        app["delivered_per_second"]
            .as_f64()
            .is_some_and(|r| r > 0.0),
        "{app}"
    );
    assert!(app["latency_p99_ms"].as_f64().is_some(), "{app}");
    let first_time = first["time"].as_u64().expect("time");
    let second_time = second["time"].as_u64().expect("time");
    assert!(
        second_time >= first_time + 500,
        "{first_time} {second_time}"
    );
    server.shutdown().await;
}

async fn snapshot(sse: &mut SseClient) -> Value {
    sse.until("event: snapshot\ndata: ").await;
    let data = sse.until("\n\n").await;
    serde_json::from_str(data.trim_end()).expect("snapshot json")
}

#[tokio::test]
async fn the_inspector_watches_a_channel_without_joining_it() {
    let server = dashboard_server().await;
    let channel = "private-orders";
    let mut sse = SseClient::open(
        server.addr,
        &format!("/dashboard/inspect?app=1000&channel={channel}&token={QUERY_TOKEN}"),
    )
    .await;
    assert!(sse.head.starts_with("HTTP/1.1 200"), "{}", sse.head);
    sse.until("retry: 2000\n\n").await;
    // Watching occupies nothing.
    let (status, info) = server
        .api("GET", &format!("/apps/1000/channels/{channel}"), &[], "")
        .await;
    assert_eq!(status, 200);
    assert_eq!(info["occupied"], false, "{info}");

    let mut subscriber = server.connect().await;
    subscriber.subscribe_private(channel).await;
    let body = json!({"app":"1000","channel":channel,"event":"test-event","data":{"n":1}});
    let sent = trigger(&server, &body.to_string()).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.json()["reach"], "local");
    let frame = subscriber.frame().await;
    assert_eq!(frame["event"], "test-event");
    assert_eq!(frame["data"], r#"{"n":1}"#);
    let data = sse.until("\n\n").await;
    let message: Value =
        serde_json::from_str(data.trim().strip_prefix("data: ").expect("a data line"))
            .expect("the Pusher message");
    assert_eq!(message["event"], "test-event");
    assert_eq!(message["channel"], channel);

    // Client events on the channel are seen too.
    let mut other = server.connect().await;
    other.subscribe_private(channel).await;
    other
        .whisper(channel, "client-typing", json!({"who":"me"}))
        .await;
    assert_eq!(subscriber.frame().await["event"], "client-typing");
    let data = sse.until("\n\n").await;
    assert!(data.contains("client-typing"), "{data}");
    server.shutdown().await;
}

async fn trigger(server: &TestServer, body: &str) -> RawResponse {
    let request = format!(
        "POST /dashboard/trigger HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    raw_request(server.addr, &[request.as_bytes()]).await
}

#[tokio::test]
async fn bad_inspector_and_trigger_requests_say_why() {
    let server = dashboard_server().await;
    for (path, status) in [
        ("/dashboard/inspect?app=1000", 400),
        ("/dashboard/inspect?app=nope&channel=a", 404),
        ("/dashboard/inspect?app=1000&channel=bad%20name", 400),
    ] {
        let res = get(&server, &format!("{path}&token={QUERY_TOKEN}"), "").await;
        assert_eq!(res.status, status, "{path}: {}", res.body);
        assert!(res.json()["error"].is_string());
    }
    for (body, status) in [
        ("not json".to_owned(), 400),
        (
            json!({"app":"nope","channel":"a","event":"e"}).to_string(),
            404,
        ),
        (
            json!({"app":"1000","channel":"a b","event":"e"}).to_string(),
            400,
        ),
        (
            json!({"app":"1000","channel":"a","event":"pusher:ping"}).to_string(),
            400,
        ),
        (
            json!({"app":"1000","channel":"a","event":""}).to_string(),
            400,
        ),
    ] {
        let res = trigger(&server, &body).await;
        assert_eq!(res.status, status, "{body}: {}", res.body);
    }
    let get_trigger = get(
        &server,
        &format!("/dashboard/trigger?token={QUERY_TOKEN}"),
        "",
    )
    .await;
    assert_eq!(get_trigger.status, 405);
    server.shutdown().await;
}
