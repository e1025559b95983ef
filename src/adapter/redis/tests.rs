//! A cluster query that its caller abandons leaves nothing behind. Runs
//! against a real `redis-server` on a free loopback port, with a second
//! subscriber on the deployment's channel that never answers, so the query
//! has to wait.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use super::*;
use crate::config::AppConfig;

/// A `redis-server` child, killed on drop.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    async fn start() -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        let server = RedisServer { child, port };
        wait_until("redis-server answers", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .await;
        server
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` every 10 ms for at most 10 s.
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_cancelled_query_forgets_its_pending_entry() {
    let redis = RedisServer::start().await;
    let config = ScalingConfig {
        enabled: true,
        url: Some(format!("redis://127.0.0.1:{}/0", redis.port)),
        channel: format!("cancel-test-{}", rand::random::<u32>()),
        query_timeout_ms: 30_000,
        ..ScalingConfig::default()
    };
    let apps = Arc::new(AppRegistry::new(&[AppConfig::development()]));
    let app = apps.iter().next().expect("one app").clone();
    let adapter = RedisAdapter::start(&config, apps, RedisMetrics::default()).expect("valid URL");

    // A second receiver on the channel that never replies: PUBLISH counts
    // it, so the query waits for its answer.
    let client = redis::Client::open(config.redis_url()).expect("url");
    let mut silent = client.get_async_pubsub().await.expect("connect");
    silent
        .subscribe(format!("{}:clarion", config.channel))
        .await
        .expect("subscribe");
    let inner = adapter.inner.clone();
    wait_until("the adapter links to Redis", || {
        inner.connected.load(Ordering::Acquire)
    })
    .await;

    let query = tokio::spawn({
        let (adapter, app) = (adapter.clone(), app.clone());
        async move { adapter.connections(&app).await }
    });
    wait_until("the query is pending", || inner.pending.len() == 1).await;
    query.abort();
    assert!(query.await.is_err_and(|e| e.is_cancelled()));
    assert!(
        inner.pending.is_empty(),
        "the cancelled query's entry is gone"
    );

    adapter.shutdown().await;
}

/// `PUBSUB NUMSUB` of one Redis channel.
async fn subscribers(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    let reply: Vec<(String, i64)> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(key)
        .query_async(conn)
        .await
        .expect("PUBSUB NUMSUB");
    reply.first().map_or(0, |(_, n)| *n)
}

#[tokio::test]
async fn a_channel_is_linked_before_link_returns_and_unlinked_when_released() {
    let redis = RedisServer::start().await;
    let config = ScalingConfig {
        enabled: true,
        url: Some(format!("redis://127.0.0.1:{}/0", redis.port)),
        channel: format!("interest-test-{}", rand::random::<u32>()),
        ..ScalingConfig::default()
    };
    let apps = Arc::new(AppRegistry::new(&[AppConfig::development()]));
    let app = apps.iter().next().expect("one app").clone();
    let adapter = RedisAdapter::start(&config, apps, RedisMetrics::default()).expect("valid URL");
    let inner = adapter.inner.clone();
    wait_until("the adapter links to Redis", || inner.is_connected()).await;
    let client = redis::Client::open(config.redis_url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let news = ChannelName::parse("news").expect("valid");
    let key = inner.channel_key(&app, "news");
    assert_eq!(subscribers(&mut conn, &key).await, 0);

    let first = adapter.link(&app, &news).await;
    assert_eq!(
        subscribers(&mut conn, &key).await,
        1,
        "subscribed on Redis before the subscribe may be acknowledged"
    );
    let second = adapter.link(&app, &news).await;
    drop(first);
    // Still held by the second subscribe in progress.
    let other = ChannelName::parse("other").expect("valid");
    drop(adapter.link(&app, &other).await);
    assert_eq!(subscribers(&mut conn, &key).await, 1);
    drop(second);
    // Nobody holds it and nobody is subscribed: the node lets it go.
    let deadline = Instant::now() + Duration::from_secs(10);
    while subscribers(&mut conn, &key).await != 0 {
        assert!(Instant::now() < deadline, "the channel was never unlinked");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    adapter.shutdown().await;
}
