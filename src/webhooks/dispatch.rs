//! The dispatcher: reads the outbox, groups events into batches per target
//! (`batch_size` events, or `batch_wait_ms` after a batch's first event),
//! delivers each batch in its own task, and acknowledges an event once
//! every target it was meant for has it or has buried it.
//!
//! At shutdown it sends what is batched at once, gives deliveries in
//! flight until the deadline, and hands back to the outbox every event not
//! yet done (a later run, or another node, delivers it: at least once).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::dead::{DeadLetter, DeadLetters};
use super::deliver::{self, Batch, Outcome, Target};
use super::event::Entry;
use super::outbox::Outbox;
use crate::apps::AppRegistry;
use crate::config::WebhooksConfig;

/// An event in flight and the deliveries it still waits for.
#[derive(Debug)]
struct Held {
    entry: Entry,
    pending: usize,
    /// Admission order, kept when events are handed back.
    seq: u64,
}

/// A batch being filled.
#[derive(Debug)]
struct Filling {
    batch: Batch,
    since: Instant,
}

/// The dispatcher's state.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    outbox: Outbox,
    entries: mpsc::UnboundedReceiver<Entry>,
    apps: Arc<AppRegistry>,
    config: WebhooksConfig,
    dead: DeadLetters,
    client: reqwest::Client,
    /// Stops the outbox reader.
    fetching: CancellationToken,
    /// Stops deliveries (their events are handed back).
    interrupt: CancellationToken,
    /// Shutdown began: deliveries make no further retries.
    draining: CancellationToken,
    held: HashMap<String, Held>,
    admitted: u64,
    filling: HashMap<(String, String), Filling>,
    /// Targets with a batch in flight: one at a time each, so a target
    /// gets its events in order and a failing one is not flooded.
    busy: HashSet<(String, String)>,
    deliveries: JoinSet<(Batch, Outcome)>,
}

impl Dispatcher {
    pub(crate) fn new(
        outbox: Outbox,
        entries: mpsc::UnboundedReceiver<Entry>,
        apps: Arc<AppRegistry>,
        config: WebhooksConfig,
        dead: DeadLetters,
        client: reqwest::Client,
        fetching: CancellationToken,
    ) -> Self {
        Dispatcher {
            outbox,
            entries,
            apps,
            config,
            dead,
            client,
            fetching,
            interrupt: CancellationToken::new(),
            draining: CancellationToken::new(),
            held: HashMap::new(),
            admitted: 0,
            filling: HashMap::new(),
            busy: HashSet::new(),
            deliveries: JoinSet::new(),
        }
    }

    /// Splits a new entry into the batches of the targets that want it.
    async fn admit(&mut self, entry: Entry) {
        if self.held.contains_key(&entry.key) {
            return;
        }
        let targets: Vec<String> = match (self.apps.by_id(&entry.app_id), entry.routing()) {
            (Some(app), Some(routing)) => app
                .config()
                .webhooks
                .iter()
                .filter(|h| h.wants(routing.name, &routing.channel))
                .map(|h| h.url.clone())
                .collect(),
            _ => Vec::new(),
        };
        let event = entry.with_id();
        let Some(event) = event.filter(|_| !targets.is_empty()) else {
            self.outbox.ack(&[entry.key]).await;
            return;
        };
        for url in &targets {
            let slot = self
                .filling
                .entry((entry.app_id.clone(), url.clone()))
                .or_insert_with(|| Filling {
                    batch: Batch {
                        app_id: entry.app_id.clone(),
                        url: url.clone(),
                        keys: Vec::new(),
                        events: Vec::new(),
                    },
                    since: Instant::now(),
                });
            slot.batch.keys.push(entry.key.clone());
            slot.batch.events.push(event.clone());
        }
        self.admitted += 1;
        self.held.insert(
            entry.key.clone(),
            Held {
                entry,
                pending: targets.len(),
                seq: self.admitted,
            },
        );
    }

    /// Starts the delivery of every batch that is full or due (every one
    /// when `all`), for targets with nothing in flight; a batch takes at
    /// most `batch_size` events and the rest waits for the next request.
    fn send_due(&mut self, all: bool) {
        let wait = Duration::from_millis(self.config.batch_wait_ms);
        let size = self.config.batch_size;
        let due: Vec<(String, String)> = self
            .filling
            .iter()
            .filter(|(k, f)| {
                !self.busy.contains(*k)
                    && (all || f.batch.events.len() >= size || f.since.elapsed() >= wait)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for target in due {
            let Some(mut filling) = self.filling.remove(&target) else {
                continue;
            };
            if filling.batch.events.len() > size {
                let rest = Batch {
                    app_id: filling.batch.app_id.clone(),
                    url: filling.batch.url.clone(),
                    keys: filling.batch.keys.split_off(size),
                    events: filling.batch.events.split_off(size),
                };
                self.filling.insert(
                    target.clone(),
                    Filling {
                        batch: rest,
                        since: filling.since,
                    },
                );
            }
            self.busy.insert(target);
            self.start(filling.batch);
        }
    }

    fn start(&mut self, batch: Batch) {
        let target = self.apps.by_id(&batch.app_id).and_then(|app| {
            let config = app.config();
            let hook = config.webhooks.iter().find(|h| h.url == batch.url)?.clone();
            Some(Target {
                key: config.key.clone(),
                secret: config.secret.clone(),
                hook,
                app: app.clone(),
            })
        });
        let client = self.client.clone();
        let config = self.config.clone();
        let stop = self.interrupt.clone();
        let draining = self.draining.clone();
        self.deliveries.spawn(async move {
            let outcome = match target {
                Some(target) => {
                    deliver::deliver(&client, &target, &batch, &config, &stop, &draining).await
                }
                // The app or the target was removed by a reload.
                None => Outcome::GaveUp {
                    attempts: 0,
                    error: "the target is no longer configured".to_owned(),
                },
            };
            (batch, outcome)
        });
    }

    /// Books a finished delivery: acknowledges the events that are done.
    async fn finished(&mut self, batch: Batch, outcome: Outcome) {
        self.busy.remove(&(batch.app_id.clone(), batch.url.clone()));
        match &outcome {
            Outcome::Delivered { attempts } => {
                tracing::debug!(
                    app_id = %batch.app_id,
                    events = batch.events.len(),
                    attempts,
                    "webhook delivered"
                );
            }
            Outcome::GaveUp { attempts, error } => {
                tracing::warn!(
                    app_id = %batch.app_id,
                    url = %deliver::redact(&batch.url),
                    events = batch.events.len(),
                    attempts,
                    %error,
                    "webhook undeliverable; kept as a dead letter"
                );
                let events = batch
                    .events
                    .iter()
                    .filter_map(|e| serde_json::from_str(e).ok())
                    .collect();
                let letter = DeadLetter {
                    url: &batch.url,
                    attempts: *attempts,
                    error,
                    failed_at_ms: deliver::now_ms(),
                    events,
                };
                if let Ok(letter) = serde_json::to_string(&letter) {
                    self.dead.bury(&batch.app_id, letter).await;
                }
                if let Some(app) = self.apps.by_id(&batch.app_id) {
                    app.metrics.webhook_dead_letter();
                }
            }
            // Stays held: handed back at the end of the shutdown.
            Outcome::Interrupted => return,
        }
        let mut done = Vec::new();
        for key in batch.keys {
            if let Some(held) = self.held.get_mut(&key) {
                held.pending = held.pending.saturating_sub(1);
                if held.pending == 0 {
                    self.held.remove(&key);
                    done.push(key);
                }
            }
        }
        self.outbox.ack(&done).await;
    }

    /// When the oldest filling batch of an idle target is due.
    fn next_due(&self) -> Option<Instant> {
        let wait = Duration::from_millis(self.config.batch_wait_ms);
        self.filling
            .iter()
            .filter(|(k, _)| !self.busy.contains(*k))
            .map(|(_, f)| f.since + wait)
            .min()
    }
}

/// Runs the dispatcher until `stop` says how long deliveries in flight
/// may still take.
pub(crate) async fn run(mut d: Dispatcher, mut stop: oneshot::Receiver<Duration>) {
    let renew_every = Duration::from_millis((d.config.claim_after_ms / 3).max(100));
    let mut renew = tokio::time::interval(renew_every);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deadline = loop {
        let due = d.next_due();
        tokio::select! {
            deadline = &mut stop => break deadline.unwrap_or_default(),
            entry = d.entries.recv() => match entry {
                Some(entry) => {
                    d.admit(entry).await;
                    // Take what else is already waiting before sending.
                    while let Ok(entry) = d.entries.try_recv() {
                        d.admit(entry).await;
                    }
                }
                None => break Duration::ZERO,
            },
            Some(Ok((batch, outcome))) = d.deliveries.join_next(), if !d.deliveries.is_empty() => {
                d.finished(batch, outcome).await;
            }
            _ = sleep_until(due), if due.is_some() => {}
            _ = renew.tick() => {
                let held: Vec<String> = d.held.keys().cloned().collect();
                d.outbox.keep(&held).await;
            }
        }
        d.send_due(false);
    };
    // Shutdown: no new entries from the outbox; what was already read is
    // sent now, once, and what fails is handed back rather than retried.
    d.fetching.cancel();
    d.draining.cancel();
    while let Ok(entry) = d.entries.try_recv() {
        d.admit(entry).await;
    }
    d.send_due(true);
    let until = Instant::now() + deadline;
    while !d.deliveries.is_empty() {
        tokio::select! {
            joined = d.deliveries.join_next() => {
                if let Some(Ok((batch, outcome))) = joined {
                    let delivered = matches!(outcome, Outcome::Delivered { .. });
                    d.finished(batch, outcome).await;
                    if delivered && !d.interrupt.is_cancelled() {
                        d.send_due(true);
                    }
                }
            }
            _ = tokio::time::sleep_until(until) => {
                d.interrupt.cancel();
                while let Some(joined) = d.deliveries.join_next().await {
                    if let Ok((batch, outcome)) = joined {
                        d.finished(batch, outcome).await;
                    }
                }
            }
        }
    }
    let mut left: Vec<Held> = d.held.drain().map(|(_, held)| held).collect();
    left.sort_by_key(|held| held.seq);
    let left = left.into_iter().map(|held| held.entry).collect();
    d.outbox.hand_back(left).await;
}

async fn sleep_until(due: Option<Instant>) {
    if let Some(due) = due {
        tokio::time::sleep_until(due).await;
    }
}
