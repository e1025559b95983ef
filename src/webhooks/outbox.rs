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

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::event::Entry;
use super::store::{Keys, Link};
use crate::adapter::redis::endpoint::Endpoint;
use crate::config::WebhooksConfig;

pub(crate) mod reader;

#[cfg(test)]
pub(crate) use reader::parse_entries;

/// The consumer group every node reads the stream through.
pub(super) const GROUP: &str = "dispatch";

/// Entries read from the stream at a time.
pub(super) const READ_COUNT: usize = 100;

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
        endpoint: Endpoint,
        keys: Keys,
        node: u64,
        config: &WebhooksConfig,
        entries: mpsc::UnboundedSender<Entry>,
        stop: CancellationToken,
    ) -> Self {
        let consumer = format!("{node:x}");
        tokio::spawn(reader::fetch(
            Link::new(endpoint.clone()),
            keys.clone(),
            consumer.clone(),
            Duration::from_millis(config.claim_after_ms),
            entries,
            stop,
        ));
        Outbox::Redis {
            link: Link::new(endpoint),
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
