//! Server-Sent Events streams over a real socket: one SSE event per Pusher
//! event with the data string as published, the stream counted as a
//! subscriber while it is open and not after, heartbeats' headers, and a
//! clear 4xx for every bad request.

mod cluster_support;
mod support;

use clarion::lifecycle::LifecycleEvent;
use serde_json::json;
use support::*;

#[tokio::test]
async fn events_arrive_with_name_and_data_as_published() {
    let server = TestServer::start().await;
    let mut sse = SseClient::open(
        server.addr,
        "/app/app-key/events?channels=containers,deployments",
    )
    .await;
    assert!(sse.head.starts_with("HTTP/1.1 200"), "{}", sse.head);
    let head = sse.head.to_ascii_lowercase();
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("x-accel-buffering: no"), "{head}");
    assert!(head.contains("cache-control: no-cache"), "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    sse.until("retry: 2000\n\n").await;

    server
        .trigger(
            "containers",
            "container_status_changed",
            r#"{"id":"web-1","status":"running"}"#,
        )
        .await;
    server
        .trigger("deployments", "deployment_progress", "line one\nline two")
        .await;
    let (first_id, first) = sse.event().await;
    assert_eq!(
        first,
        "event: container_status_changed\ndata: {\"id\":\"web-1\",\"status\":\"running\"}\n\n"
    );
    let (second_id, second) = sse.event().await;
    assert_eq!(
        second,
        "event: deployment_progress\ndata: line one\ndata: line two\n\n"
    );
    assert!(
        !first_id.is_empty() && first_id != second_id,
        "{first_id} {second_id}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_envelope_tells_channels_apart() {
    let server = TestServer::start().await;
    let mut sse = SseClient::open(server.addr, "/app/app-key/events?channels=a,b&envelope=1").await;
    sse.until("retry: 2000\n\n").await;
    server.trigger("b", "tick", "2").await;
    let (_, event) = sse.event().await;
    assert_eq!(
        event,
        "event: tick\ndata: {\"event\":\"tick\",\"channel\":\"b\",\"data\":\"2\"}\n\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_stream_is_a_subscriber_while_it_is_open() {
    let server = TestServer::start().await;
    let mut bus = server.node.lifecycle.subscribe();
    let mut sse = SseClient::open(server.addr, "/app/app-key/events?channels=status").await;
    sse.until("retry: 2000\n\n").await;
    let occupied = tokio::time::timeout(WAIT, bus.recv())
        .await
        .expect("in time")
        .expect("bus");
    assert!(
        matches!(occupied, LifecycleEvent::ChannelOccupied { ref channel, .. } if channel.as_str() == "status")
    );
    let (status, body) = server
        .api(
            "GET",
            "/apps/1000/channels/status",
            &[("info", "subscription_count")],
            "",
        )
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"occupied":true,"subscription_count":1}))
    );
    let (_, body) = server.api("GET", "/apps/1000/connections", &[], "").await;
    assert_eq!(body, json!({"connections":1}));

    drop(sse);
    // The server learns the client left when it next writes to it: publish
    // until the stream is gone.
    let vacated = async {
        loop {
            server.trigger("status", "ping", "{}").await;
            if let Ok(Ok(LifecycleEvent::ChannelVacated { .. })) =
                tokio::time::timeout(std::time::Duration::from_millis(100), bus.recv()).await
            {
                return;
            }
        }
    };
    tokio::time::timeout(WAIT, vacated)
        .await
        .expect("vacated after the client left");
    let (_, body) = server
        .api("GET", "/apps/1000/channels/status", &[], "")
        .await;
    assert_eq!(body, json!({"occupied":false}));
    server.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_a_reason() {
    let server = TestServer::start().await;
    let cases = [
        ("/app/nope/events?channels=a", 404, "no application"),
        ("/app/app-key/events", 400, "channels parameter is required"),
        (
            "/app/app-key/events?channels=",
            400,
            "channels parameter is required",
        ),
        (
            "/app/app-key/events?channels=bad%20name",
            400,
            "invalid channel name",
        ),
        (
            "/app/app-key/events?channels=private-orders",
            401,
            "needs a token",
        ),
    ];
    for (path, status, reason) in cases {
        let (got, body) = server.http("GET", path, "").await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body.contains(reason), "{path}: {body}");
    }
    let (got, _) = server
        .http("POST", "/app/app-key/events?channels=a", "")
        .await;
    assert_eq!(got, 405);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_the_stream() {
    let server = TestServer::start().await;
    let mut sse = SseClient::open(server.addr, "/app/app-key/events?channels=a").await;
    sse.until("retry: 2000\n\n").await;
    let stop = tokio::spawn(server.shutdown());
    // The chunked body ends with its last chunk.
    tokio::time::timeout(WAIT, sse.ended())
        .await
        .expect("the stream ended");
    tokio::time::timeout(WAIT, stop)
        .await
        .expect("shutdown in time")
        .expect("join");
}

#[tokio::test]
async fn last_event_id_resumes_exactly_after_the_last_event_seen() {
    let server = TestServer::start().await;
    let path = "/app/app-key/events?channels=deployments,containers";
    let mut sse = SseClient::open(server.addr, path).await;
    sse.until("retry: 2000\n\n").await;
    server
        .trigger("deployments", "deployment_progress", "10%")
        .await;
    server
        .trigger("containers", "container_status_changed", "starting")
        .await;
    sse.event().await;
    let (last_seen, _) = sse.event().await;
    drop(sse);
    // Published while the client is away (and on a channel it does not read).
    server
        .trigger("deployments", "deployment_progress", "60%")
        .await;
    server.trigger("elsewhere", "noise", "x").await;
    server
        .trigger("containers", "container_status_changed", "running")
        .await;

    let header = format!("Last-Event-ID: {last_seen}\r\n");
    let mut back = SseClient::open_with(server.addr, path, &header).await;
    back.until("retry: 2000\n\n").await;
    let (_, missed_1) = back.event().await;
    let (_, missed_2) = back.event().await;
    assert_eq!(missed_1, "event: deployment_progress\ndata: 60%\n\n");
    assert_eq!(
        missed_2,
        "event: container_status_changed\ndata: running\n\n"
    );
    server
        .trigger("deployments", "deployment_progress", "100%")
        .await;
    let (_, live) = back.event().await;
    assert_eq!(
        live, "event: deployment_progress\ndata: 100%\n\n",
        "then live, nothing twice"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_id_that_cannot_be_resumed_asks_the_client_to_refetch() {
    let server = TestServer::start().await;
    let mut sse = SseClient::open_with(
        server.addr,
        "/app/app-key/events?channels=status",
        "Last-Event-ID: 1-5\r\n",
    )
    .await;
    sse.until("retry: 2000\n\n").await;
    let (id, refetch) = sse.event().await;
    assert!(!id.is_empty());
    assert_eq!(
        refetch,
        "event: clarion:refetch\ndata: {\"reason\":\"the id is from another server run or node\"}\n\n"
    );
    server
        .trigger("status", "service.status.changed", "up")
        .await;
    let (_, live) = sse.event().await;
    assert_eq!(live, "event: service.status.changed\ndata: up\n\n");
    server.shutdown().await;
}

mod tokens {
    //! Private and presence channels on an event stream, with the JWT the
    //! built-in auth endpoint takes.

    use super::*;
    use clarion::config::{AppConfig, AuthEndpointConfig};
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::Value;

    const JWT_SECRET: &str = "jwt-secret";

    fn token(mut claims: Value) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        if claims.get("exp").is_none() {
            claims["exp"] = json!(now + 3600);
        }
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        )
        .expect("sign")
    }

    async fn start() -> TestServer {
        let app = AppConfig {
            auth: Some(AuthEndpointConfig {
                jwt_secret: Some(JWT_SECRET.to_owned()),
                ..AuthEndpointConfig::default()
            }),
            ..app()
        };
        TestServer::with_config(config_with(app)).await
    }

    #[tokio::test]
    async fn a_token_opens_private_and_presence_channels_and_joins_as_its_user() {
        let server = start().await;
        let jwt = token(json!({
            "sub": "7",
            "channels": ["private-user.{sub}", "presence-ops"],
            "user_info": {"name": "Ann"},
        }));
        let path = format!("/app/app-key/events?channels=private-user.7,presence-ops&token={jwt}");
        let mut sse = SseClient::open(server.addr, &path).await;
        assert!(sse.head.starts_with("HTTP/1.1 200"), "{}", sse.head);
        sse.until("retry: 2000\n\n").await;
        let (_, users) = server
            .api("GET", "/apps/1000/channels/presence-ops/users", &[], "")
            .await;
        assert_eq!(
            users,
            json!({"users":[{"id":"7"}]}),
            "the stream is a member"
        );
        let mut ws = server.connect().await;
        let ack = ws.subscribe_presence("presence-ops", "8").await;
        assert!(ack.to_string().contains("Ann"), "{ack}");

        server
            .trigger("private-user.7", "container_status_changed", "stopped")
            .await;
        let (_, event) = sse.event().await;
        assert_eq!(event, "event: container_status_changed\ndata: stopped\n\n");

        // The bearer header works too.
        let bearer = format!("Authorization: Bearer {jwt}\r\n");
        let via_header = SseClient::open_with(
            server.addr,
            "/app/app-key/events?channels=private-user.7",
            &bearer,
        )
        .await;
        assert!(
            via_header.head.starts_with("HTTP/1.1 200"),
            "{}",
            via_header.head
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn tokens_are_checked() {
        let server = start().await;
        let own = token(json!({"sub": "7", "channels": ["private-user.{sub}"]}));
        let expired = token(json!({"sub": "7", "channels": ["*"], "exp": 1}));
        let cases = [
            (
                format!("channels=private-user.8&token={own}"),
                403,
                "does not grant",
            ),
            (
                format!("channels=private-user.7&token={expired}"),
                401,
                "invalid token",
            ),
            (
                "channels=private-user.7&token=not.a.jwt".to_owned(),
                401,
                "invalid token",
            ),
            ("channels=private-user.7".to_owned(), 401, "needs a token"),
            (
                format!("channels=private-encrypted-x&token={own}"),
                400,
                "cannot be streamed",
            ),
        ];
        for (query, status, reason) in cases {
            let path = format!("/app/app-key/events?{query}");
            let (got, body) = server.http("GET", &path, "").await;
            assert_eq!(got, status, "{query}: {body}");
            assert!(body.contains(reason), "{query}: {body}");
        }
        server.shutdown().await;
        // An app without [apps.auth] takes no tokens.
        let plain = TestServer::start().await;
        let (got, body) = plain
            .http(
                "GET",
                &format!("/app/app-key/events?channels=private-x&token={own}"),
                "",
            )
            .await;
        assert_eq!(got, 400, "{body}");
        assert!(body.contains("does not take tokens"), "{body}");
        plain.shutdown().await;
    }
}

mod replicas {
    //! With scaling on, ids are the cluster's: a stream that reconnects
    //! through the balancer to another replica resumes exactly there.

    use super::*;
    use cluster_support::{node_config, Redis};

    /// Publishes on `via` until `sse` sees a `probe` event: both nodes are
    /// linked through Redis. Returns the probe's id.
    async fn linked(via: &TestServer, sse: &mut SseClient) -> String {
        for _ in 0..40 {
            let body = json!({"name": "probe", "channel": "deploys", "data": "{}"}).to_string();
            let (status, _) = via.api("POST", "/apps/1000/events", &[], &body).await;
            if status == 200 {
                let got =
                    tokio::time::timeout(std::time::Duration::from_millis(500), sse.event()).await;
                if let Ok((id, event)) = got {
                    assert!(event.starts_with("event: probe"), "{event}");
                    return id;
                }
            }
        }
        panic!("the nodes never linked through Redis");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stream_resumes_exactly_on_another_replica() {
        let redis = Redis::start().await;
        let a = TestServer::clustered(node_config(&redis, "sse1")).await;
        let b = TestServer::clustered(node_config(&redis, "sse1")).await;
        let path = "/app/app-key/events?channels=deploys";
        let mut on_a = SseClient::open(a.addr, path).await;
        on_a.until("retry: 2000\n\n").await;
        let first = linked(&b, &mut on_a).await;
        // Two more, from both nodes: the stream on A sees them in id order.
        a.trigger("deploys", "deployment_progress", "10%").await;
        let (_, e1) = on_a.event().await;
        assert_eq!(e1, "event: deployment_progress\ndata: 10%\n\n");
        b.trigger("deploys", "deployment_progress", "20%").await;
        let (last_seen, e2) = on_a.event().await;
        assert_eq!(e2, "event: deployment_progress\ndata: 20%\n\n");
        assert!(
            first < last_seen || first.len() < last_seen.len(),
            "{first} {last_seen}"
        );
        drop(on_a);

        // Missed while away, published on both nodes; B has never had a
        // stream on this channel.
        a.trigger("deploys", "deployment_progress", "60%").await;
        b.trigger("other", "noise", "x").await;
        b.trigger("deploys", "deployment_progress", "90%").await;

        let header = format!("Last-Event-ID: {last_seen}\r\n");
        let mut on_b = SseClient::open_with(b.addr, path, &header).await;
        on_b.until("retry: 2000\n\n").await;
        let (_, missed_1) = on_b.event().await;
        let (_, missed_2) = on_b.event().await;
        assert_eq!(missed_1, "event: deployment_progress\ndata: 60%\n\n");
        assert_eq!(missed_2, "event: deployment_progress\ndata: 90%\n\n");
        a.trigger("deploys", "deployment_progress", "100%").await;
        let (_, live) = on_b.event().await;
        assert_eq!(
            live, "event: deployment_progress\ndata: 100%\n\n",
            "then live, nothing twice"
        );
        a.trigger("deploys", "done", "{}").await;
        let (_, next) = on_b.event().await;
        assert_eq!(next, "event: done\ndata: {}\n\n");
        b.shutdown().await;
        a.shutdown().await;
    }

    /// Waits until `key` has no subscriber on Redis.
    async fn unlinked(redis: &Redis, key: &str) {
        let client = redis::Client::open(redis.url()).expect("url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        for _ in 0..500 {
            let reply: Vec<(String, i64)> = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(key)
                .query_async(&mut conn)
                .await
                .expect("PUBSUB NUMSUB");
            if reply.first().is_some_and(|(_, n)| *n == 0) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("{key} is still subscribed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stream_resumes_on_a_replica_that_stopped_receiving_its_channel() {
        let redis = Redis::start().await;
        let a = TestServer::clustered(node_config(&redis, "sse2")).await;
        let b = TestServer::clustered(node_config(&redis, "sse2")).await;
        let path = "/app/app-key/events?channels=deploys";
        let mut on_b = SseClient::open(b.addr, path).await;
        on_b.until("retry: 2000\n\n").await;
        linked(&a, &mut on_b).await;
        a.trigger("deploys", "deployment_progress", "10%").await;
        let (last_seen, _) = on_b.event().await;
        drop(on_b);
        // B has nobody on `deploys` now, so it stops receiving it; another
        // channel's stream keeps B's log moving meanwhile.
        unlinked(&redis, "sse2:clarion:1000:deploys").await;
        let mut other = SseClient::open(b.addr, "/app/app-key/events?channels=other").await;
        other.until("retry: 2000\n\n").await;
        a.trigger("deploys", "deployment_progress", "60%").await;
        a.trigger("other", "noise", "x").await;
        let (_, noise) = other.event().await;
        assert_eq!(noise, "event: noise\ndata: x\n\n");

        let header = format!("Last-Event-ID: {last_seen}\r\n");
        let mut again = SseClient::open_with(b.addr, path, &header).await;
        again.until("retry: 2000\n\n").await;
        let (_, missed) = again.event().await;
        assert_eq!(
            missed, "event: deployment_progress\ndata: 60%\n\n",
            "published while B did not receive the channel"
        );
        b.shutdown().await;
        a.shutdown().await;
    }
}
