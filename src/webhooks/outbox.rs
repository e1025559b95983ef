//! Where events wait until every target has them.
//!
//! **Redis** (scaling on): one stream per deployment,
//! `{scaling.channel}:clarion:webhooks:outbox`, read by every node through
//! the consumer group `dispatch`. A node acknowledges and deletes an entry
//! once it is delivered (or buried); while it retries, it re-claims its
//! entries so nobody else takes them. Entries of a node that stopped
//! (killed, or cut off) are idle for `claim_after_ms` and then claimed by
//! another node's `XAUTOCLAIM`. At a graceful shutdown a node re-adds what
//! it still holds as fresh entries, so the others start on them at once.
//!
//! **Memory** (one node): entries pass through a channel; what is still
//! undelivered at shutdown is written to `outbox_file`, one JSON entry a
//! line, and read back (then the file removed) at the next start.

use std::path::PathBuf;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::event::Entry;
use crate::config::WebhooksConfig;

/// The consumer group every node reads the stream through.
const GROUP: &str = "dispatch";

/// Entries read from the stream at a time.
const READ_COUNT: usize = 100;

/// Redis key names of one deployment's webhook state.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `{channel}:clarion:webhooks`.
    pub(crate) fn new(scaling_channel: &str) -> Self {
        Keys {
            prefix: format!("{scaling_channel}:clarion:webhooks"),
        }
    }

    /// The stream of events waiting for delivery.
    pub(crate) fn outbox(&self) -> String {
        format!("{}:outbox", self.prefix)
    }

    /// Live nodes, scored by their last heartbeat (ms).
    pub(crate) fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    /// What one node holds: set key → how to undo it.
    pub(crate) fn node_prefix(&self) -> String {
        format!("{}:node:", self.prefix)
    }

    /// Nodes where a channel is occupied.
    pub(crate) fn occupancy(&self, app: &str, channel: &str) -> String {
        format!("{}:occ:{app}:{channel}", self.prefix)
    }

    /// Nodes where a user is on a presence channel.
    pub(crate) fn member(&self, app: &str, channel: &str, user: &str) -> String {
        format!("{}:mem:{app}:{channel}:{user}", self.prefix)
    }

    /// Subscriptions of a channel per node.
    pub(crate) fn subscriptions(&self, app: &str, channel: &str) -> String {
        format!("{}:subs:{app}:{channel}", self.prefix)
    }

    /// An app's dead letters, newest first.
    pub(crate) fn dead(&self, app: &str) -> String {
        format!("{}:dead:{app}", self.prefix)
    }
}

/// A command connection that reconnects on the next use after a failure.
#[derive(Debug)]
pub(crate) struct Link {
    client: redis::Client,
    conn: Option<MultiplexedConnection>,
}

impl Link {
    pub(crate) fn new(client: redis::Client) -> Self {
        Link { client, conn: None }
    }

    /// The connection, opened if needed.
    pub(crate) async fn get(&mut self) -> redis::RedisResult<MultiplexedConnection> {
        if let Some(conn) = &self.conn {
            return Ok(conn.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(5));
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        self.conn = Some(conn.clone());
        Ok(conn)
    }

    /// Forgets the connection after an error, so the next use reconnects.
    pub(crate) fn reset(&mut self) {
        self.conn = None;
    }

    /// Runs `cmd`; on failure, logs it once and resets the link.
    pub(crate) async fn run<T: redis::FromRedisValue>(
        &mut self,
        cmd: &redis::Cmd,
        what: &str,
    ) -> Option<T> {
        let result = match self.get().await {
            Ok(mut conn) => cmd.query_async(&mut conn).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::warn!(error = %e, "webhooks: {what} failed");
                self.reset();
                None
            }
        }
    }
}

/// The outbox of this node's dispatcher.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per process
pub(crate) enum Outbox {
    /// One node: undelivered entries go to a file at shutdown.
    Memory {
        /// The file.
        file: PathBuf,
    },
    /// Scaling on: the Redis stream.
    Redis {
        /// Commands.
        link: Link,
        /// Key names.
        keys: Keys,
        /// This node's consumer name.
        consumer: String,
    },
}

impl Outbox {
    /// The in-memory outbox; entries left in `file` by the last run are
    /// queued first.
    pub(crate) fn memory(file: PathBuf, entries: mpsc::UnboundedSender<Entry>) -> Self {
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let mut restored = 0;
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    match serde_json::from_str::<Entry>(line) {
                        Ok(mut entry) => {
                            entry.key = format!("spool-{restored}");
                            restored += 1;
                            let _ = entries.send(entry);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "webhooks: unreadable outbox line skipped")
                        }
                    }
                }
                if let Err(e) = std::fs::remove_file(&file) {
                    tracing::warn!(file = %file.display(), error = %e, "webhooks: cannot remove the outbox file");
                }
                tracing::info!(restored, file = %file.display(), "webhooks: undelivered events restored");
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "webhooks: cannot read the outbox file")
            }
        }
        Outbox::Memory { file }
    }

    /// The Redis outbox; starts the task that feeds `entries` from the
    /// stream until `stop`.
    pub(crate) fn redis(
        client: redis::Client,
        keys: Keys,
        node: u64,
        config: &WebhooksConfig,
        entries: mpsc::UnboundedSender<Entry>,
        stop: CancellationToken,
    ) -> Self {
        let consumer = format!("{node:x}");
        tokio::spawn(fetch(
            Link::new(client.clone()),
            keys.clone(),
            consumer.clone(),
            Duration::from_millis(config.claim_after_ms),
            entries,
            stop,
        ));
        Outbox::Redis {
            link: Link::new(client),
            keys,
            consumer,
        }
    }

    /// Removes delivered (or buried) entries.
    pub(crate) async fn ack(&mut self, keys: &[String]) {
        let Outbox::Redis {
            link, keys: names, ..
        } = self
        else {
            return;
        };
        if keys.is_empty() {
            return;
        }
        let stream = names.outbox();
        let mut pipe = redis::pipe();
        pipe.cmd("XACK").arg(&stream).arg(GROUP).arg(keys).ignore();
        pipe.cmd("XDEL").arg(&stream).arg(keys).ignore();
        let result = match link.get().await {
            Ok(mut conn) => pipe.query_async::<()>(&mut conn).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            // The entries stay pending and are delivered again later: at
            // least once.
            tracing::warn!(error = %e, "webhooks: acknowledging delivered events failed");
            link.reset();
        }
    }

    /// Keeps entries this node still works on from being claimed by
    /// another node.
    pub(crate) async fn keep(&mut self, held: &[String]) {
        let Outbox::Redis {
            link,
            keys,
            consumer,
        } = self
        else {
            return;
        };
        for chunk in held.chunks(READ_COUNT) {
            let mut cmd = redis::cmd("XCLAIM");
            cmd.arg(keys.outbox())
                .arg(GROUP)
                .arg(&*consumer)
                .arg(0)
                .arg(chunk)
                .arg("JUSTID");
            let _: Option<redis::Value> = link.run(&cmd, "renewing held events").await;
        }
    }

    /// Shutdown: puts back what was not delivered. Redis: as fresh
    /// entries for the other nodes (same idempotency ids), the originals
    /// removed. Memory: into the outbox file.
    pub(crate) async fn hand_back(&mut self, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        match self {
            Outbox::Memory { file } => {
                let lines: String = entries
                    .iter()
                    .filter_map(|e| serde_json::to_string(e).ok())
                    .map(|line| line + "\n")
                    .collect();
                match std::fs::write(&*file, lines) {
                    Ok(()) => tracing::info!(
                        count = entries.len(),
                        file = %file.display(),
                        "webhooks: undelivered events kept for the next start"
                    ),
                    Err(e) => tracing::error!(
                        count = entries.len(),
                        file = %file.display(),
                        error = %e,
                        "webhooks: cannot keep undelivered events; they are lost"
                    ),
                }
            }
            Outbox::Redis { link, keys, .. } => {
                let stream = keys.outbox();
                let mut pipe = redis::pipe();
                pipe.atomic();
                for entry in &entries {
                    pipe.cmd("XADD")
                        .arg(&stream)
                        .arg("*")
                        .arg("app")
                        .arg(&entry.app_id)
                        .arg("id")
                        .arg(&entry.id)
                        .arg("event")
                        .arg(&entry.event)
                        .ignore();
                    pipe.cmd("XACK")
                        .arg(&stream)
                        .arg(GROUP)
                        .arg(&entry.key)
                        .ignore();
                    pipe.cmd("XDEL").arg(&stream).arg(&entry.key).ignore();
                }
                let result = match link.get().await {
                    Ok(mut conn) => pipe.query_async::<()>(&mut conn).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(()) => tracing::info!(
                        count = entries.len(),
                        "webhooks: undelivered events handed to the other nodes"
                    ),
                    // Still pending under this consumer: another node
                    // claims them after claim_after_ms.
                    Err(e) => tracing::warn!(error = %e, "webhooks: handing events back failed"),
                }
            }
        }
    }
}

/// Feeds the dispatcher from the stream: entries idle past `claim_after`
/// (a silent node's) first, then new ones, until `stop`.
async fn fetch(
    mut link: Link,
    keys: Keys,
    consumer: String,
    claim_after: Duration,
    entries: mpsc::UnboundedSender<Entry>,
    stop: CancellationToken,
) {
    let stream = keys.outbox();
    let mut group_ready = false;
    let mut next_claim = tokio::time::Instant::now();
    let mut failures = 0u32;
    // A dedicated connection: XREADGROUP blocks it for up to a second.
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(Duration::from_secs(5));
    let mut blocking: Option<MultiplexedConnection> = None;
    while !stop.is_cancelled() {
        if failures > 0 {
            let pause = Duration::from_millis((100u64 << failures.min(5)).min(2_000));
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        if !group_ready {
            let mut create = redis::cmd("XGROUP");
            create
                .arg("CREATE")
                .arg(&stream)
                .arg(GROUP)
                .arg("0")
                .arg("MKSTREAM");
            match link.get().await {
                Ok(mut conn) => match create.query_async::<()>(&mut conn).await {
                    Ok(()) => group_ready = true,
                    Err(e) if e.code() == Some("BUSYGROUP") => group_ready = true,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhooks: cannot create the consumer group");
                        link.reset();
                        failures += 1;
                        continue;
                    }
                },
                Err(_) => {
                    failures += 1;
                    continue;
                }
            }
        }
        if tokio::time::Instant::now() >= next_claim {
            next_claim = tokio::time::Instant::now() + claim_after / 2;
            let mut claim = redis::cmd("XAUTOCLAIM");
            claim
                .arg(&stream)
                .arg(GROUP)
                .arg(&consumer)
                .arg(u64::try_from(claim_after.as_millis()).unwrap_or(u64::MAX))
                .arg("0")
                .arg("COUNT")
                .arg(READ_COUNT);
            if let Some(reply) = link
                .run::<redis::Value>(&claim, "claiming idle events")
                .await
            {
                let claimed = parse_autoclaim(reply);
                if !claimed.is_empty() {
                    tracing::info!(
                        count = claimed.len(),
                        "webhooks: took over events of a silent node"
                    );
                }
                for entry in claimed {
                    let _ = entries.send(entry);
                }
            }
        }
        let conn = match &blocking {
            Some(conn) => conn.clone(),
            None => match link
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await
            {
                Ok(conn) => {
                    blocking = Some(conn.clone());
                    conn
                }
                Err(_) => {
                    failures += 1;
                    continue;
                }
            },
        };
        let mut conn = conn;
        let mut read = redis::cmd("XREADGROUP");
        read.arg("GROUP")
            .arg(GROUP)
            .arg(&consumer)
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(1000)
            .arg("STREAMS")
            .arg(&stream)
            .arg(">");
        let reply = tokio::select! {
            _ = stop.cancelled() => return,
            reply = read.query_async::<redis::Value>(&mut conn) => reply,
        };
        match reply {
            Ok(value) => {
                failures = 0;
                for entry in parse_read(value) {
                    let _ = entries.send(entry);
                }
            }
            Err(e) => {
                if e.code() == Some("NOGROUP") {
                    // Redis restarted empty: make the group again.
                    group_ready = false;
                } else {
                    tracing::warn!(error = %e, "webhooks: reading the outbox failed");
                }
                blocking = None;
                link.reset();
                failures += 1;
            }
        }
    }
}

/// Entries of an `XREADGROUP` reply: `[[stream, [[id, [f, v, …]], …]]]`.
fn parse_read(value: redis::Value) -> Vec<Entry> {
    let redis::Value::Array(streams) = value else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for stream in streams {
        if let redis::Value::Array(mut pair) = stream {
            if pair.len() == 2 {
                out.extend(parse_entries(pair.swap_remove(1)));
            }
        }
    }
    out
}

/// Entries of an `XAUTOCLAIM` reply: `[cursor, [[id, [f, v, …]], …], …]`.
fn parse_autoclaim(value: redis::Value) -> Vec<Entry> {
    match value {
        redis::Value::Array(mut parts) if parts.len() >= 2 => parse_entries(parts.swap_remove(1)),
        _ => Vec::new(),
    }
}

pub(super) fn parse_entries(value: redis::Value) -> Vec<Entry> {
    let redis::Value::Array(items) = value else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let redis::Value::Array(mut pair) = item else {
                return None;
            };
            if pair.len() != 2 {
                return None;
            }
            let fields = pair.pop()?;
            let key: String = redis::from_redis_value(&pair.pop()?).ok()?;
            // A deleted entry claimed by XAUTOCLAIM has nil fields.
            let fields: Vec<String> = redis::from_redis_value(&fields).ok()?;
            let field = |name: &str| {
                fields
                    .chunks(2)
                    .find(|kv| kv.len() == 2 && kv[0] == name)
                    .map(|kv| kv[1].clone())
            };
            Some(Entry {
                app_id: field("app")?,
                id: field("id").unwrap_or_else(|| key.clone()),
                event: field("event")?,
                key,
            })
        })
        .collect()
}
