//! Reads the outbox stream through the consumer group: first the entries
//! of nodes that went silent (idle past `claim_after_ms`), then new ones,
//! each entry handed to this node's dispatcher.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{GROUP, READ_COUNT};
use crate::adapter::redis::endpoint::Commands;
use crate::webhooks::event::Entry;
use crate::webhooks::store::{Keys, Link};

/// Feeds the dispatcher from the stream: entries idle past `claim_after`
/// (a silent node's) first, then new ones, until `stop`.
pub(super) async fn fetch(
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
    let mut blocking: Option<Commands> = None;
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
            None => match link.endpoint().commands().await {
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
pub(crate) fn parse_read(value: redis::Value) -> Vec<Entry> {
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
pub(crate) fn parse_autoclaim(value: redis::Value) -> Vec<Entry> {
    match value {
        redis::Value::Array(mut parts) if parts.len() >= 2 => parse_entries(parts.swap_remove(1)),
        _ => Vec::new(),
    }
}

pub(crate) fn parse_entries(value: redis::Value) -> Vec<Entry> {
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
