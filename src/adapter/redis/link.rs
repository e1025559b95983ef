//! The background tasks that keep a node linked to Redis: the SUBSCRIBE
//! connection (reconnected with backoff, resynchronising presence each
//! time), the ordered publisher, and the heartbeat that also reaps silent
//! nodes and times a `PING` for `clarion_redis_roundtrip_seconds`. On a
//! Redis Cluster the link is the cluster connection (`endpoint.rs`), lost
//! and made again as a whole when any shard's connection drops.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant};

use super::endpoint::Message;
use super::{Envelope, Inner, Outgoing};

/// The longest (re)linking may take: connecting, reading a cluster's
/// topology and subscribing the control channel.
const LINK_TIMEOUT: Duration = Duration::from_secs(10);

/// Backoff between reconnection attempts: 100 ms doubling to 5 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((100u64 << attempt.min(6)).min(5_000))
}

/// Keeps one SUBSCRIBE connection up and applies what arrives.
pub(super) async fn subscriber(inner: Arc<Inner>) {
    let mut attempt = 0u32;
    let mut ever_connected = false;
    loop {
        let linked = inner.endpoint.link(inner.keys.control());
        let result = tokio::select! {
            _ = inner.stop.cancelled() => return,
            r = tokio::time::timeout(LINK_TIMEOUT, linked) => r.unwrap_or_else(|_| {
                Err(redis::RedisError::from((
                    redis::ErrorKind::IoError,
                    "linking to Redis timed out",
                )))
            }),
        };
        match result {
            Ok((sink, mut messages, commands)) => {
                attempt = 0;
                *Inner::lock(&inner.commands) = Some(commands);
                // Channel routing: subscribe every wanted channel again
                // (events published while unlinked are not delivered here,
                // as with the control channel).
                inner.interest.relink_all(sink);
                inner.connected.store(true, Ordering::Release);
                inner.metrics.connected(true);
                if ever_connected {
                    tracing::info!("reconnected to Redis; resynchronising presence");
                } else {
                    tracing::info!("connected to Redis");
                }
                ever_connected = true;
                // Peers could not be heard while we were away: restart their clocks.
                for seen in Inner::lock(&inner.peers).values_mut() {
                    *seen = Instant::now();
                }
                inner.send(&inner.state());
                inner.publish_signed_in();
                inner.send(&Envelope::Sync {
                    node: inner.node_id,
                });
                loop {
                    tokio::select! {
                        _ = inner.stop.cancelled() => return,
                        message = messages.next() => match message {
                            Some(Message::Payload(payload)) => inner.receive(&payload),
                            Some(Message::Unsubscribed(key)) => inner.interest.lost(&key),
                            None => break,
                        }
                    }
                }
                inner.connected.store(false, Ordering::Release);
                inner.interest.unlink_all();
                inner.metrics.connected(false);
                tracing::warn!(
                    "lost the Redis connection; serving local sockets only until it returns"
                );
            }
            Err(e) => {
                inner.connected.store(false, Ordering::Release);
                inner.metrics.connected(false);
                // Logged once per outage, not once per attempt.
                if attempt == 0 {
                    tracing::warn!(error = %e, "cannot reach Redis; retrying with backoff");
                }
            }
        }
        tokio::select! {
            _ = inner.stop.cancelled() => return,
            _ = tokio::time::sleep(backoff(attempt)) => {}
        }
        attempt = attempt.saturating_add(1);
    }
}

/// Adds an event to its app's capped history stream and publishes it,
/// prefixed `h{id} `, in one step: Redis runs one script at a time, so the
/// order in which nodes receive events is the order of their ids. ARGV[3]
/// is the publish command (`PUBLISH`, or `SPUBLISH` on a cluster, where the
/// stream and the channel share a slot: `keys.rs`).
const ADD_AND_PUBLISH: &str =
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[2])
redis.call(ARGV[3], KEYS[2], 'h' .. id .. ' ' .. ARGV[2])
return id";

/// Publishes queued envelopes in order on the command connection.
pub(super) async fn publisher(inner: Arc<Inner>, mut queue: mpsc::Receiver<Outgoing>) {
    let mut failing = false;
    loop {
        let outgoing = tokio::select! {
            _ = inner.stop.cancelled() => return,
            t = queue.recv() => match t { Some(t) => t, None => return },
        };
        let conn = Inner::lock(&inner.commands).clone();
        let Some(mut conn) = conn else { continue };
        // A cache channel's last event is kept for nodes that link to the
        // channel later; SET first, on the same connection, so it is there
        // before the event is.
        if let Some((key, frame)) = outgoing.cache {
            let ttl = u64::try_from(crate::apps::CACHE_TTL.as_millis()).unwrap_or(u64::MAX);
            let set = redis::cmd("SET")
                .arg(key)
                .arg(frame)
                .arg("PX")
                .arg(ttl)
                .query_async::<()>(&mut conn)
                .await;
            if let Err(e) = set {
                tracing::debug!(error = %e, "could not keep a cache channel's last event in Redis");
            }
        }
        let sent: Result<(), redis::RedisError> = match outgoing.history {
            None => redis::cmd(inner.endpoint.publish_command())
                .arg(&outgoing.to)
                .arg(outgoing.text)
                .query_async::<i64>(&mut conn)
                .await
                .map(drop),
            Some((stream, length)) => redis::cmd("EVAL")
                .arg(ADD_AND_PUBLISH)
                .arg(2)
                .arg(stream)
                .arg(&outgoing.to)
                .arg(length.max(1))
                .arg(outgoing.text)
                .arg(inner.endpoint.publish_command())
                .query_async::<String>(&mut conn)
                .await
                .map(drop),
        };
        match sent {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("publishing to Redis again");
            }
            Ok(_) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "publishing to Redis failed; events stay local until it recovers");
            }
            Err(_) => {}
        }
    }
}

/// Announces this node every `heartbeat_interval_ms` and removes nodes not
/// heard from for `node_timeout_ms` (only while this node itself is linked).
pub(super) async fn heartbeat(inner: Arc<Inner>) {
    let every = Duration::from_millis(inner.config.heartbeat_interval_ms);
    let timeout = Duration::from_millis(inner.config.node_timeout_ms);
    let mut tick = tokio::time::interval(every.min(Duration::from_secs(1)));
    let mut last_beat = Instant::now() - every;
    loop {
        tokio::select! {
            _ = inner.stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if !inner.connected.load(Ordering::Acquire) {
            continue;
        }
        if last_beat.elapsed() >= every {
            inner.send(&Envelope::Heartbeat {
                node: inner.node_id,
            });
            last_beat = Instant::now();
            tokio::spawn(time_roundtrip(inner.clone(), every));
        }
        let dead: Vec<u64> = Inner::lock(&inner.peers)
            .iter()
            .filter(|(_, seen)| seen.elapsed() > timeout)
            .map(|(n, _)| *n)
            .collect();
        for node in dead {
            tracing::warn!(node, "node silent for {timeout:?}; removing its members");
            inner.forget(node);
        }
    }
}

/// Times one `PING` on the command connection (in its own task, so a slow
/// Redis never delays reaping); gives up after `limit`.
async fn time_roundtrip(inner: Arc<Inner>, limit: Duration) {
    let conn = Inner::lock(&inner.commands).clone();
    let Some(mut conn) = conn else { return };
    let command = redis::cmd("PING");
    let started = Instant::now();
    let ping = command.query_async::<String>(&mut conn);
    if let Ok(Ok(_)) = tokio::time::timeout(limit, ping).await {
        inner.metrics.roundtrip(started.elapsed());
    }
}
