//! Where Redis is — one server, or a Redis Cluster — and the connections
//! the cluster link and the webhooks make to it. Everything above this
//! file (interest routing, presence, queries, heartbeats, the webhook
//! scripts) runs the same commands on either; only these differ:
//!
//! | | one server | Redis Cluster (`scaling.cluster_nodes`) |
//! |---|---|---|
//! | pub/sub | `SUBSCRIBE` / `PUBLISH` | sharded: `SSUBSCRIBE` / `SPUBLISH` |
//! | subscriber | a RESP2 pub/sub connection | the `redis` crate's cluster connection (RESP3, a push channel), which routes each command to its slot's master |
//! | commands | one multiplexed connection | a second cluster connection |
//!
//! On a cluster, each event channel is a shard channel that lives on its
//! hash slot's shard, and a node holds a connection to each shard it
//! needs. The crate resubscribes its tracked channels after a topology
//! change, but in one command for all of them (refused as CROSSSLOT when
//! they span slots), so Clarion does not rely on it: when any shard's
//! connection drops, the [`Messages`] stream ends and the subscriber task
//! links again from scratch, as after losing a single server — a new
//! cluster connection reads the topology, the control channel is
//! subscribed, and the interest ledger subscribes every wanted channel,
//! one command each, so the flusher's reply matching holds. A shard
//! channel a node loses without a disconnection (its slot moved: Redis
//! sends an unsolicited `sunsubscribe`) is subscribed again on its own.
//!
//! The slot of every key is chosen in `redis.rs` (`channel_key`,
//! `history_key`) and `webhooks/store.rs` (`Keys`).

use std::pin::Pin;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use redis::aio::{ConnectionLike, MultiplexedConnection, PubSubSink};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Cmd, Pipeline, PushKind, RedisFuture, RedisResult, Value};

use crate::config::ScalingConfig;

/// How long a connection attempt to one node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a command may wait for its reply. Longer than the outbox
/// reader's one-second blocking read.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Retries of a cluster command (redirects, a shard in fail-over) before
/// it fails: few and short, so a failure reaches the caller's own retry
/// loop (the flusher, the subscriber task) quickly instead of hiding in
/// the crate's minute-long default backoff.
const CLUSTER_RETRIES: u32 = 3;

/// Redis: one server or a cluster.
#[derive(Debug, Clone)]
pub(crate) enum Endpoint {
    /// One server (`scaling.url` or the parts).
    Server(redis::Client),
    /// Redis Cluster, reached through these seed nodes.
    Cluster(Vec<String>),
}

impl Endpoint {
    /// The endpoint `config` names.
    ///
    /// # Errors
    /// A message when a URL is invalid.
    pub(crate) fn from_config(config: &ScalingConfig) -> Result<Self, String> {
        // `rediss://` uses rustls with the ring provider (the only one built in).
        let _ = rustls::crypto::ring::default_provider().install_default();
        if config.redis_cluster() {
            // Checks the URLs (one TLS mode, one password) without connecting.
            Endpoint::cluster_builder(&config.cluster_nodes)
                .build()
                .map_err(|e| format!("invalid Redis Cluster nodes: {e}"))?;
            return Ok(Endpoint::Cluster(config.cluster_nodes.clone()));
        }
        redis::Client::open(config.redis_url().as_str())
            .map(Endpoint::Server)
            .map_err(|e| format!("invalid Redis URL: {e}"))
    }

    /// Whether this is a Redis Cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Endpoint::Cluster(_))
    }

    /// The command that publishes on a pub/sub channel here.
    pub(crate) fn publish_command(&self) -> &'static str {
        match self {
            Endpoint::Server(_) => "PUBLISH",
            Endpoint::Cluster(_) => "SPUBLISH",
        }
    }

    fn cluster_builder(nodes: &[String]) -> ClusterClientBuilder {
        ClusterClientBuilder::new(nodes.iter().map(String::as_str))
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .retries(CLUSTER_RETRIES)
            .min_retry_wait(50)
            .max_retry_wait(500)
    }

    /// A command connection.
    pub(crate) async fn commands(&self) -> RedisResult<Commands> {
        match self {
            Endpoint::Server(client) => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(CONNECT_TIMEOUT)
                    .set_response_timeout(RESPONSE_TIMEOUT);
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map(Commands::Server)
            }
            Endpoint::Cluster(nodes) => Endpoint::cluster_builder(nodes)
                .build()?
                .get_async_connection()
                .await
                .map(Commands::Cluster),
        }
    }

    /// A pub/sub link subscribed to `control`: the side that subscribes,
    /// the messages of every subscribed channel, and a command connection.
    pub(super) async fn link(
        &self,
        control: &str,
    ) -> RedisResult<(Subscriptions, Messages, Commands)> {
        match self {
            Endpoint::Server(client) => {
                let (mut sink, stream) = client.get_async_pubsub().await?.split();
                sink.subscribe(control).await?;
                let messages = stream.filter_map(|message| async move {
                    message.get_payload::<String>().ok().map(Message::Payload)
                });
                let commands = self.commands().await?;
                Ok((Subscriptions::Server(sink), Box::pin(messages), commands))
            }
            Endpoint::Cluster(nodes) => {
                let (pushes, received) = tokio::sync::mpsc::unbounded_channel();
                let mut conn = Endpoint::cluster_builder(nodes)
                    .use_protocol(redis::ProtocolVersion::RESP3)
                    .push_sender(pushes)
                    .build()?
                    .get_async_connection()
                    .await?;
                conn.ssubscribe(control).await?;
                // Ends at the first disconnection of any shard's connection.
                let pushes = futures_util::stream::unfold(received, |mut received| async move {
                    received.recv().await.map(|push| (push, received))
                });
                let messages = pushes
                    .take_while(|push| std::future::ready(push.kind != PushKind::Disconnection))
                    .filter_map(|push| std::future::ready(Message::of_push(push)));
                let commands = self.commands().await?;
                Ok((Subscriptions::Cluster(conn), Box::pin(messages), commands))
            }
        }
    }
}

/// What the subscriber side receives.
#[derive(Debug)]
pub(super) enum Message {
    /// A message published on a subscribed channel.
    Payload(String),
    /// Redis says this channel is no longer subscribed (on a cluster: its
    /// slot moved to another shard, or a reply to our own `SUNSUBSCRIBE`).
    Unsubscribed(String),
}

impl Message {
    fn of_push(push: redis::PushInfo) -> Option<Message> {
        let text = |value: Option<&Value>| -> Option<String> {
            redis::from_redis_value::<String>(value?).ok()
        };
        match push.kind {
            PushKind::SMessage | PushKind::Message => text(push.data.get(1)).map(Message::Payload),
            PushKind::SUnsubscribe => text(push.data.first()).map(Message::Unsubscribed),
            _ => None,
        }
    }
}

/// The messages of every channel the link subscribes; ends when the link
/// is lost.
pub(super) type Messages = Pin<Box<dyn Stream<Item = Message> + Send>>;

/// The subscribing side of a link (cheap to clone).
#[derive(Clone)]
pub(super) enum Subscriptions {
    /// One server's pub/sub connection.
    Server(PubSubSink),
    /// The cluster connection: each command goes to its channel's shard.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Subscriptions::Server(_) => "Subscriptions::Server",
            Subscriptions::Cluster(_) => "Subscriptions::Cluster",
        })
    }
}

impl Subscriptions {
    /// Subscribes `channel`; returns once Redis confirmed it. One channel
    /// per command: the reply is matched to its command.
    pub(super) async fn subscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Subscriptions::Server(sink) => sink.subscribe(channel).await,
            Subscriptions::Cluster(conn) => conn.ssubscribe(channel).await,
        }
    }

    /// Unsubscribes `channel`; returns once Redis confirmed it.
    pub(super) async fn unsubscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Subscriptions::Server(sink) => sink.unsubscribe(channel).await,
            Subscriptions::Cluster(conn) => conn.sunsubscribe(channel).await,
        }
    }
}

/// A command connection to a server or a cluster (cheap to clone; runs
/// any command, pipeline or script through `redis`'s usual calls).
#[derive(Clone)]
pub(crate) enum Commands {
    /// One server.
    Server(MultiplexedConnection),
    /// A cluster: each command goes to its key's shard.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Commands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Commands::Server(_) => "Commands::Server",
            Commands::Cluster(_) => "Commands::Cluster",
        })
    }
}

impl ConnectionLike for Commands {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Commands::Server(conn) => conn.req_packed_command(cmd),
            Commands::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Commands::Server(conn) => conn.req_packed_commands(pipeline, offset, count),
            Commands::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Commands::Server(conn) => conn.get_db(),
            Commands::Cluster(conn) => conn.get_db(),
        }
    }
}
