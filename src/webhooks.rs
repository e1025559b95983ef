//! Webhooks: the backend learns, in Pusher's format, when a channel becomes
//! occupied or vacant, when a member joins or leaves, when a client event
//! is sent, when a cache channel misses, and when a subscription count
//! changes — at least once, and once per cluster-level transition.
//!
//! The pipeline has three stages, each in its own module:
//!
//! 1. **Facts** come from the subscribe/unsubscribe seam
//!    ([`Webhooks::observe`]) and the client-event path, only for apps with
//!    a target that wants them. They say what changed *on this node*.
//! 2. The **recorder** (`record.rs`) turns facts into events in an outbox.
//!    On one node that is direct. With scaling on, Redis arbitrates: a
//!    script adds or removes this node from the channel's (or member's)
//!    set of nodes and, only when the set becomes non-empty or empty, adds
//!    the event to a Redis stream — in the same atomic step. A node that
//!    stops heartbeating is removed from every set it was in by whichever
//!    node notices first, which emits the vacated/removed events once.
//! 3. The **dispatcher** (`dispatch.rs`) reads the outbox, batches events
//!    per target (`batch_size` events or `batch_wait_ms`), signs each
//!    request (`X-Pusher-Key`, `X-Pusher-Signature`), and retries with
//!    exponential backoff for `retry_for` seconds; then the batch becomes a
//!    dead letter (`dead.rs`), listed by the signed HTTP API. An event
//!    leaves the outbox only once every target has it (or buried it).
//!
//! The outbox (`outbox.rs`; `outbox/reader.rs` reads the stream) is a Redis
//! stream read through a consumer group when scaling is on (key names and
//! the reconnecting command link in `store.rs`), so a batch whose node is killed is taken over
//! by another after `claim_after_ms`; on one node it is in memory, and what
//! is undelivered at shutdown is written to `outbox_file` and read back at
//! the next start.

mod dead;
mod deliver;
mod dispatch;
pub(crate) mod event;
pub(crate) mod outbox;
mod record;
mod store;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::adapter::redis::endpoint::Endpoint;
use crate::apps::{App, AppRegistry};
use crate::config::{Config, WebhookEventKind};
use crate::protocol::{ChannelKind, ChannelName, SocketId};
use crate::subscriptions::{MemberChange, Occupancy, Transition};
pub(crate) use dead::DeadLetters;
use event::WebhookEvent;

/// Facts waiting for the recorder before new ones are dropped (and
/// counted in the log): the seam never waits for webhooks.
const FACT_QUEUE: usize = 100_000;

/// What changed on this node, for the recorder.
#[derive(Debug)]
pub(crate) enum Fact {
    /// The channel became occupied (`true`) or vacant on this node.
    Occupancy {
        /// The app.
        app_id: Arc<str>,
        /// The channel.
        channel: ChannelName,
        /// Occupied or vacated.
        occupied: bool,
    },
    /// A user's first (`true`) or last socket on this node joined or left
    /// a presence channel.
    Member {
        /// The app.
        app_id: Arc<str>,
        /// The channel.
        channel: ChannelName,
        /// The user.
        user_id: Arc<str>,
        /// Joined or left.
        joined: bool,
    },
    /// The channel's subscription count on this node.
    SubscriptionCount {
        /// The app.
        app_id: Arc<str>,
        /// The channel.
        channel: ChannelName,
        /// Subscriptions on this node.
        count: usize,
    },
    /// An event that is not a transition (client event, cache miss).
    Event {
        /// The app.
        app_id: Arc<str>,
        /// The event.
        event: WebhookEvent,
    },
    /// Answered once every fact sent before it is in the outbox.
    Flush(oneshot::Sender<()>),
}

/// Unique idempotency ids: this process's random prefix and a sequence.
#[derive(Debug)]
pub(crate) struct Ids {
    prefix: String,
    next: AtomicU64,
}

impl Ids {
    fn new(node: u64) -> Self {
        Ids {
            prefix: format!("{node:x}"),
            next: AtomicU64::new(1),
        }
    }

    /// A fresh id.
    pub(crate) fn next(&self) -> String {
        format!(
            "{}-{}",
            self.prefix,
            self.next.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// The webhook pipeline of this node.
#[derive(Debug)]
pub(crate) struct Webhooks {
    facts: mpsc::Sender<Fact>,
    dead: DeadLetters,
    /// Stops the dispatcher, with how long deliveries in flight may still
    /// take; it then hands what it holds back to the outbox.
    stop: Mutex<Option<oneshot::Sender<Duration>>>,
    /// The recorder and the dispatcher, stopped at shutdown.
    tasks: Mutex<Option<(JoinHandle<()>, JoinHandle<()>)>>,
    dropped: AtomicU64,
}

impl Webhooks {
    /// Starts the recorder and the dispatcher for `config`: through Redis
    /// when scaling is on, in memory otherwise. Must run inside a tokio
    /// runtime.
    ///
    /// # Errors
    /// A message when the Redis URL is invalid.
    pub(crate) fn start(config: &Config, apps: Arc<AppRegistry>) -> Result<Self, String> {
        let (facts, fact_rx) = mpsc::channel(FACT_QUEUE);
        let (entries, entry_rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = oneshot::channel();
        let fetching = CancellationToken::new();
        let hooks = &config.webhooks;
        let node = rand::random::<u64>() >> 11;
        let ids = Arc::new(Ids::new(node));
        // With scaling on but no target anywhere, the Redis side (heartbeats,
        // the stream reader) is not started: a deployment without webhooks
        // pays nothing for them. Adding the first target then needs a restart.
        let any_target = config.apps.iter().any(|app| !app.webhooks.is_empty());
        let (outbox, dead, recorder) = if config.scaling.enabled && any_target {
            let endpoint = Endpoint::from_config(&config.scaling)?;
            let keys = store::Keys::new(&config.scaling.channel, endpoint.is_cluster());
            let dead = DeadLetters::redis(endpoint.clone(), keys.clone(), hooks.dead_letters);
            let outbox = outbox::Outbox::redis(
                endpoint.clone(),
                keys.clone(),
                node,
                hooks,
                entries,
                fetching.clone(),
            );
            let recorder = tokio::spawn(record::redis(
                record::RedisRecorder::new(
                    endpoint,
                    keys,
                    node,
                    &config.scaling,
                    ids,
                    apps.clone(),
                ),
                fact_rx,
            ));
            (outbox, dead, recorder)
        } else {
            let dead = DeadLetters::memory(hooks.dead_letters);
            let outbox = outbox::Outbox::memory(hooks.outbox_file.clone(), entries.clone());
            let recorder = tokio::spawn(record::local(fact_rx, entries, ids));
            (outbox, dead, recorder)
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(hooks.timeout_ms))
            .user_agent(concat!("Clarion/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?;
        let dispatcher = tokio::spawn(dispatch::run(
            dispatch::Dispatcher::new(
                outbox,
                entry_rx,
                apps,
                hooks.clone(),
                dead.clone(),
                client,
                fetching,
            ),
            stop_rx,
        ));
        Ok(Webhooks {
            facts,
            dead,
            stop: Mutex::new(Some(stop)),
            tasks: Mutex::new(Some((recorder, dispatcher))),
            dropped: AtomicU64::new(0),
        })
    }

    /// A pipeline that records nothing, for unit tests without a runtime.
    #[cfg(test)]
    pub(crate) fn inert() -> Self {
        let (facts, _) = mpsc::channel(1);
        Webhooks {
            facts,
            dead: DeadLetters::memory(0),
            stop: Mutex::new(None),
            tasks: Mutex::new(None),
            dropped: AtomicU64::new(0),
        }
    }

    fn send(&self, fact: Fact) {
        if self.facts.try_send(fact).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "webhook recorder is behind; facts dropped");
            }
        }
    }

    /// Records what one subscribe or unsubscribe changed on this node, for
    /// the kinds some target of the app wants.
    pub(crate) fn observe(&self, app: &App, channel: &ChannelName, transition: &Transition) {
        let hooks = &app.config().webhooks;
        if hooks.is_empty() || !transition.changed {
            return;
        }
        let name = channel.as_str();
        let wants = |a, b| hooks.iter().any(|h| h.wants(a, name) || h.wants(b, name));
        let occupancy = transition.occupancy.filter(|_| {
            wants(
                WebhookEventKind::ChannelOccupied,
                WebhookEventKind::ChannelVacated,
            )
        });
        let fact = |occupied| Fact::Occupancy {
            app_id: app.id.clone(),
            channel: channel.clone(),
            occupied,
        };
        // Occupied before member added; member removed before vacated.
        if occupancy == Some(Occupancy::Occupied) {
            self.send(fact(true));
        }
        if let Some(change) = &transition.node_member {
            if wants(
                WebhookEventKind::MemberAdded,
                WebhookEventKind::MemberRemoved,
            ) {
                let (user_id, joined) = match change {
                    MemberChange::Added(user) => (user.clone(), true),
                    MemberChange::Removed(user) => (user.clone(), false),
                };
                self.send(Fact::Member {
                    app_id: app.id.clone(),
                    channel: channel.clone(),
                    user_id,
                    joined,
                });
            }
        }
        if occupancy == Some(Occupancy::Vacated) {
            self.send(fact(false));
        }
        let counted = WebhookEventKind::SubscriptionCount;
        if channel.kind() != ChannelKind::Presence && wants(counted, counted) {
            self.send(Fact::SubscriptionCount {
                app_id: app.id.clone(),
                channel: channel.clone(),
                count: transition.subscription_count,
            });
        }
    }

    /// A cache channel was subscribed to while it held no event.
    pub(crate) fn cache_miss(&self, app: &App, channel: &ChannelName) {
        self.event(app, channel, WebhookEventKind::CacheMiss, || {
            WebhookEvent::CacheMiss {
                channel: channel.to_string(),
            }
        });
    }

    /// A client event was relayed; `data_json` is its data as sent.
    pub(crate) fn client_event(
        &self,
        app: &App,
        channel: &ChannelName,
        event: &str,
        data_json: &str,
        socket_id: SocketId,
        user_id: Option<&str>,
    ) {
        self.event(app, channel, WebhookEventKind::ClientEvent, || {
            let data =
                serde_json::from_str::<String>(data_json).unwrap_or_else(|_| data_json.to_owned());
            WebhookEvent::ClientEvent {
                channel: channel.to_string(),
                event: event.to_owned(),
                data,
                socket_id: socket_id.to_string(),
                user_id: user_id.map(str::to_owned),
            }
        });
    }

    fn event(
        &self,
        app: &App,
        channel: &ChannelName,
        kind: WebhookEventKind,
        event: impl FnOnce() -> WebhookEvent,
    ) {
        let hooks = &app.config().webhooks;
        if hooks.iter().any(|h| h.wants(kind, channel.as_str())) {
            self.send(Fact::Event {
                app_id: app.id.clone(),
                event: event(),
            });
        }
    }

    /// The app's dead letters, newest first.
    ///
    /// # Errors
    /// A message when Redis cannot be read.
    pub(crate) async fn dead_letters(&self, app_id: &str) -> Result<Vec<String>, String> {
        self.dead.list(app_id).await
    }

    /// Empties the app's dead letters; returns how many there were.
    ///
    /// # Errors
    /// A message when Redis cannot be written.
    pub(crate) async fn clear_dead_letters(&self, app_id: &str) -> Result<usize, String> {
        self.dead.clear(app_id).await
    }

    /// Called once every socket has closed: records the last facts, then
    /// gives deliveries in flight up to `deadline` to finish and hands the
    /// rest back to the outbox (the Redis stream, or `outbox_file`).
    pub(crate) async fn shutdown(&self, deadline: Duration) {
        let (done, flushed) = oneshot::channel();
        if self.facts.send(Fact::Flush(done)).await.is_ok() {
            let _ = tokio::time::timeout(deadline, flushed).await;
        }
        let stop = lock(&self.stop).take();
        let Some((recorder, dispatcher)) = lock(&self.tasks).take() else {
            return;
        };
        // The dispatcher flushes its batches, waits for them up to the
        // deadline, then returns what is undelivered to the outbox.
        if let Some(stop) = stop {
            let _ = stop.send(deadline);
        }
        if tokio::time::timeout(deadline + Duration::from_secs(3), dispatcher)
            .await
            .is_err()
        {
            tracing::warn!("webhook dispatcher did not stop in time");
        }
        recorder.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
