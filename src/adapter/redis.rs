//! The Redis adapter: several Clarion replicas behave as one server.
//!
//! Every node PUBLISHes [`Envelope`]s on Redis pub/sub and SUBSCRIBEs on
//! a dedicated connection. The control channel, `{scaling.channel}:clarion`
//! (so deployments with different `REVERB_SCALING_CHANNEL`s never
//! cross-talk), carries presence, queries, heartbeats and terminations.
//! Events go on their Pusher channel's own Redis channel, which a node
//! subscribes to only while it has subscribers there (`interest.rs`); with
//! `scaling.routing = "broadcast"` they go on the control channel and reach
//! every node. Events are delivered locally first, then published; other
//! nodes deliver them through the same `App::deliver`.
//!
//! Presence is replicated: each node announces a user's first and last
//! socket on a presence channel, and every node keeps the whole cluster's
//! roster, so `subscription_succeeded` lists members from every node and
//! `member_added`/`member_removed` fire once per user for the cluster. A
//! node that stops heartbeating for `node_timeout_ms` is presumed dead and
//! its members are removed everywhere. After Redis returns, every node
//! republishes its state (`State`, authoritative for its sender) and asks
//! for everyone else's (`Sync`), so rosters converge. Signed-in users (for
//! watchlists) ride the same machinery (`online.rs`).
//!
//! Counts that are not presence (subscriptions, connections) are gathered
//! on demand: a `Query` is published, each node replies, and the asker
//! waits for as many replies as `PUBLISH` reported receivers, or at most
//! `query_timeout_ms`.
//!
//! With `scaling.cluster_nodes` the same runs on a Redis Cluster with
//! sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`, `endpoint.rs`): each event
//! channel lives on its hash slot's shard (`keys.rs`), the control channel
//! on one of them; every node subscribes to it there, so `SPUBLISH`'s
//! receiver count (per shard) still counts the nodes.

pub(crate) mod endpoint;
pub(crate) mod envelope;
mod history;
mod interest;
mod keys;
mod link;
mod online;
mod queries;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dashmap::DashMap;
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use super::{Adapter, AdapterError, HistoricEvent, Link, Reach};
use crate::apps::history::EventId;
use crate::apps::{App, AppRegistry};
use crate::channels::{ChannelStats, Member};
use crate::config::{Routing, ScalingConfig};
use crate::metrics::RedisMetrics;
use crate::outbound::Frame;
use crate::protocol::{ChannelName, SocketId};
use endpoint::{Commands, Endpoint};
pub(crate) use envelope::{Answer, Envelope, Query, WireMember};

/// Messages waiting for the publisher task before publishing counts as
/// failed (the cluster link is too slow or down).
const PUBLISH_QUEUE: usize = 65_536;

/// Fan-out and cluster state through Redis pub/sub.
#[derive(Debug, Clone)]
pub(crate) struct RedisAdapter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    node_id: u64,
    /// The Redis channel and stream names of this deployment.
    keys: keys::Keys,
    config: ScalingConfig,
    /// One Redis server or a Redis Cluster.
    endpoint: Endpoint,
    apps: Arc<AppRegistry>,
    /// Ordered queue to the publisher task (keeps per-publisher order).
    outbox: mpsc::Sender<Outgoing>,
    /// Subscribed and able to publish.
    connected: AtomicBool,
    /// A command connection for queries (cloned out; never held across await).
    commands: Mutex<Option<Commands>>,
    /// Other nodes and when each was last heard from.
    peers: Mutex<HashMap<u64, Instant>>,
    /// Queries waiting for replies.
    pending: DashMap<u64, mpsc::UnboundedSender<Answer>>,
    next_query: AtomicU64,
    stop: CancellationToken,
    /// Link state and round trip, for `GET /metrics`.
    metrics: RedisMetrics,
    /// With channel routing: the channels whose events this node receives.
    interest: interest::Interest,
    /// An app's history was turned on after its channels were laid out
    /// over a cluster's slots (warned once).
    unpinned_history: AtomicBool,
}

impl RedisAdapter {
    /// Starts the adapter's tasks (subscriber, publisher, heartbeat). Redis
    /// need not be up yet: the tasks connect and reconnect with backoff.
    ///
    /// # Errors
    /// A message when a Redis URL is invalid.
    pub(crate) fn start(
        config: &ScalingConfig,
        apps: Arc<AppRegistry>,
        metrics: RedisMetrics,
    ) -> Result<Self, String> {
        let endpoint = Endpoint::from_config(config)?;
        let (outbox, queue) = mpsc::channel(PUBLISH_QUEUE);
        let inner = Arc::new(Inner {
            node_id: rand::random::<u64>() >> 11,
            keys: keys::Keys::new(&config.channel, endpoint.is_cluster()),
            config: config.clone(),
            endpoint,
            apps,
            outbox,
            connected: AtomicBool::new(false),
            commands: Mutex::new(None),
            peers: Mutex::new(HashMap::new()),
            pending: DashMap::new(),
            next_query: AtomicU64::new(1),
            stop: CancellationToken::new(),
            metrics,
            interest: interest::Interest::default(),
            unpinned_history: AtomicBool::new(false),
        });
        inner.apps.use_cluster_ids();
        tokio::spawn(link::subscriber(inner.clone()));
        tokio::spawn(link::publisher(inner.clone(), queue));
        tokio::spawn(link::heartbeat(inner.clone()));
        if config.routing == Routing::Channel {
            tokio::spawn(interest::flusher(inner.clone()));
        }
        tracing::info!(
            node_id = inner.node_id,
            channel = %inner.keys.control(),
            routing = ?config.routing,
            redis_cluster = inner.endpoint.is_cluster(),
            "scaling through Redis"
        );
        Ok(RedisAdapter { inner })
    }
}

/// One message for the publisher task.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// The Redis channel it is published on.
    to: String,
    /// The envelope's JSON.
    text: String,
    /// For an event on a cache channel (channel routing): the Redis key of
    /// the channel's last event and the frame, SET before the publish so a
    /// node that links to the channel later reads it (see `interest.rs`).
    cache: Option<(String, String)>,
    /// For an event of an app that keeps history: the app's Redis stream
    /// and its length. The event is then added to the stream and published
    /// in one script, prefixed with the id the stream gave it.
    history: Option<(String, usize)>,
}

impl Inner {
    /// Publishes on the control channel.
    fn send(&self, envelope: &Envelope) -> Reach {
        self.enqueue(self.keys.control().to_owned(), envelope, None, None)
    }

    fn enqueue(
        &self,
        to: String,
        envelope: &Envelope,
        history: Option<(String, usize)>,
        cache: Option<(String, String)>,
    ) -> Reach {
        if !self.connected.load(Ordering::Acquire) {
            return Reach::LocalOnly;
        }
        let Ok(text) = serde_json::to_string(envelope) else {
            return Reach::LocalOnly;
        };
        match self.outbox.try_send(Outgoing {
            to,
            text,
            history,
            cache,
        }) {
            Ok(()) => Reach::Cluster,
            Err(_) => Reach::LocalOnly,
        }
    }

    /// Applies one message from the pub/sub channel: an envelope, or an
    /// event prefixed with its history id (`h{id} {envelope}`).
    fn receive(&self, payload: &str) {
        match envelope::decode(payload) {
            Ok((Some(id), envelope)) => self.handle_historic(id, envelope),
            Ok((None, envelope)) => self.handle(envelope),
            Err(e) => tracing::debug!(error = %e, "ignoring an unreadable cluster message"),
        }
    }

    /// Subscribed and able to publish.
    fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// The Redis channel carrying the events of `app`'s `channel` (with
    /// channel routing).
    fn channel_key(&self, app: &App, channel: &str) -> String {
        self.keys.channel(app, channel)
    }

    /// The cluster's copy of a cache channel's last event; `None` when
    /// there is none or Redis does not answer in time.
    async fn cluster_cached(&self, app: &App, channel: &str) -> Option<Frame> {
        let mut conn = Inner::lock(&self.commands).clone()?;
        let mut get = redis::cmd("GET");
        get.arg(self.keys.cache(app, channel));
        let get = get.query_async::<Option<String>>(&mut conn);
        let limit = Duration::from_millis(self.config.query_timeout_ms);
        tokio::time::timeout(limit, get)
            .await
            .ok()?
            .ok()?
            .map(Frame::from)
    }

    /// Where an event of `app`'s `channel` is published.
    fn event_key(&self, app: &App, channel: &str) -> String {
        match self.config.routing {
            Routing::Channel => self.channel_key(app, channel),
            Routing::Broadcast => self.keys.control().to_owned(),
        }
    }

    /// For an app that keeps history: its Redis stream and length, which
    /// its events are added to as they are published. `None` on a cluster
    /// for an app whose history was turned on after its channels were laid
    /// out (the stream is in another slot than its channels): its events go
    /// out without cluster ids until every node restarts.
    fn history_of(&self, app: &App) -> Option<(String, usize)> {
        if !app.history.enabled() {
            return None;
        }
        if self.endpoint.is_cluster() && !self.keys.pinned(app) {
            if !self.unpinned_history.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    app_id = %app.id,
                    "event_history was turned on after start under Redis Cluster; \
                     events stay out of the cluster's history until every node restarts"
                );
            }
            return None;
        }
        Some((self.keys.history(app), app.config().event_history))
    }

    /// Applies an event that Redis numbered `id` in the app's stream: logs
    /// it (own events too: they come back in the cluster's order), then
    /// delivers it unless this node published it (it delivered locally).
    fn handle_historic(&self, id: EventId, envelope: Envelope) {
        let Envelope::Event {
            node,
            app,
            channel,
            except,
            frame,
        } = envelope
        else {
            return;
        };
        let Some((app, channel, frame)) = self.event_of(&app, &channel, frame) else {
            return;
        };
        app.history.record_with_id(&channel, &frame, id);
        if node == self.node_id {
            return;
        }
        Inner::lock(&self.peers).insert(node, Instant::now());
        app.deliver(
            &channel,
            &frame,
            except.as_deref().and_then(SocketId::parse),
        );
    }

    /// The app, channel and frame of another node's event; `None` for an
    /// app or channel this node does not know.
    fn event_of(
        &self,
        app: &str,
        channel: &str,
        frame: String,
    ) -> Option<(Arc<App>, ChannelName, Frame)> {
        let app = self.apps.by_id(app)?;
        let channel = ChannelName::parse(channel).ok()?;
        Some((app, channel, Frame::from(frame)))
    }

    fn lock<'a, T>(m: &'a Mutex<T>) -> std::sync::MutexGuard<'a, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn state(&self) -> Envelope {
        let mut presence = Vec::new();
        for app in self.apps.iter() {
            for (channel, member) in app.channels.local_presence() {
                presence.push((
                    app.id.to_string(),
                    channel.to_string(),
                    WireMember::from(&member),
                ));
            }
        }
        Envelope::State {
            node: self.node_id,
            presence,
        }
    }

    /// Forgets everything `node` reported; members only it had are removed.
    fn forget(&self, node: u64) {
        Inner::lock(&self.peers).remove(&node);
        for app in self.apps.iter() {
            for (channel, user) in app.channels.remote_users(node) {
                app.channels.remote_leave(channel.as_str(), node, &user);
            }
        }
        self.forget_signed_in(node);
    }

    fn handle(&self, envelope: Envelope) {
        let sender = envelope.sender();
        if sender == self.node_id {
            return;
        }
        Inner::lock(&self.peers).insert(sender, Instant::now());
        match envelope {
            Envelope::Event {
                app,
                channel,
                except,
                frame,
                ..
            } => {
                if let Some((app, channel, frame)) = self.event_of(&app, &channel, frame) {
                    app.deliver(
                        &channel,
                        &frame,
                        except.as_deref().and_then(SocketId::parse),
                    );
                }
            }
            Envelope::Terminate { app, user, .. } => {
                if let Some(app) = self.apps.by_id(&app) {
                    app.terminate_user(&user);
                }
            }
            Envelope::Join {
                node,
                app,
                channel,
                member,
            } => {
                if let (Some(app), Ok(channel)) =
                    (self.apps.by_id(&app), ChannelName::parse(&channel))
                {
                    app.channels.remote_join(&channel, node, &member.into());
                }
            }
            Envelope::Leave {
                node,
                app,
                channel,
                user,
            } => {
                if let Some(app) = self.apps.by_id(&app) {
                    app.channels.remote_leave(&channel, node, &user);
                }
            }
            Envelope::State { node, presence } => self.replace_state(node, presence),
            Envelope::Sync { .. } => {
                self.send(&self.state());
                self.publish_signed_in();
            }
            Envelope::Heartbeat { .. } => {}
            Envelope::Bye { node } => {
                tracing::info!(node, "node left the cluster");
                self.forget(node);
            }
            Envelope::Query {
                node,
                id,
                app,
                query,
            } => {
                if let Some(app) = self.apps.by_id(&app) {
                    self.send(&Envelope::Reply {
                        node: self.node_id,
                        to: node,
                        id,
                        answer: queries::answer(&app, &query),
                    });
                }
            }
            Envelope::Reply { to, id, answer, .. } => {
                if to == self.node_id {
                    if let Some(waiter) = self.pending.get(&id) {
                        let _ = waiter.send(answer);
                    }
                }
            }
            envelope @ (Envelope::Online { .. }
            | Envelope::Offline { .. }
            | Envelope::SignedIn { .. }) => self.apply_online(envelope),
        }
    }

    /// Applies a node's full presence state, removing what it no longer has.
    fn replace_state(&self, node: u64, entries: Vec<(String, String, WireMember)>) {
        let mut kept: HashSet<(String, String, String)> = HashSet::new();
        for (app_id, channel, member) in entries {
            kept.insert((app_id.clone(), channel.clone(), member.id.clone()));
            if let (Some(app), Ok(channel)) =
                (self.apps.by_id(&app_id), ChannelName::parse(&channel))
            {
                app.channels.remote_join(&channel, node, &member.into());
            }
        }
        for app in self.apps.iter() {
            for (channel, user) in app.channels.remote_users(node) {
                let key = (app.id.to_string(), channel.to_string(), user.to_string());
                if !kept.contains(&key) {
                    app.channels.remote_leave(channel.as_str(), node, &user);
                }
            }
        }
    }
}

#[async_trait]
impl Adapter for RedisAdapter {
    fn publish(
        &self,
        app: &App,
        channel: &ChannelName,
        frame: &Frame,
        except: Option<SocketId>,
    ) -> Reach {
        app.deliver(channel, frame, except);
        let history = self.inner.history_of(app);
        let cache =
            (channel.is_cache() && self.inner.config.routing == Routing::Channel).then(|| {
                (
                    self.inner.keys.cache(app, channel.as_str()),
                    frame.as_str().to_owned(),
                )
            });
        self.inner.enqueue(
            self.inner.event_key(app, channel.as_str()),
            &Envelope::Event {
                node: self.inner.node_id,
                app: app.id.to_string(),
                channel: channel.to_string(),
                except: except.map(|s| s.to_string()),
                frame: frame.as_str().to_owned(),
            },
            history,
            cache,
        )
    }

    async fn link(&self, app: &App, channel: &ChannelName) -> Link {
        match self.inner.config.routing {
            Routing::Channel => interest::link(&self.inner, app, channel).await,
            Routing::Broadcast => Link::none(),
        }
    }

    async fn cached(&self, app: &App, channel: &ChannelName) -> Option<Frame> {
        if self.inner.config.routing == Routing::Broadcast || !self.inner.is_connected() {
            return app.cached(channel.as_str());
        }
        // A node without subscribers on the channel has no copy of its own.
        match app.cached(channel.as_str()) {
            Some(frame) => Some(frame),
            None => self.inner.cluster_cached(app, channel.as_str()).await,
        }
    }

    fn occupancy_changed(&self, app: &App, channel: &ChannelName) {
        if self.inner.config.routing == Routing::Channel {
            let key = self.inner.channel_key(app, channel.as_str());
            self.inner.interest.occupancy_changed(key, app, channel);
        }
    }

    fn member_joined(&self, app: &App, channel: &ChannelName, member: &Member) {
        self.inner.send(&Envelope::Join {
            node: self.inner.node_id,
            app: app.id.to_string(),
            channel: channel.to_string(),
            member: member.into(),
        });
    }

    fn member_left(&self, app: &App, channel: &ChannelName, user_id: &str) {
        self.inner.send(&Envelope::Leave {
            node: self.inner.node_id,
            app: app.id.to_string(),
            channel: channel.to_string(),
            user: user_id.to_owned(),
        });
    }

    fn user_online(&self, app: &App, user_id: &str) {
        self.inner.send(&Envelope::Online {
            node: self.inner.node_id,
            app: app.id.to_string(),
            user: user_id.to_owned(),
        });
    }

    fn user_offline(&self, app: &App, user_id: &str) {
        self.inner.send(&Envelope::Offline {
            node: self.inner.node_id,
            app: app.id.to_string(),
            user: user_id.to_owned(),
        });
    }

    fn terminate_user(&self, app: &App, user_id: &str) -> Reach {
        app.terminate_user(user_id);
        self.inner.send(&Envelope::Terminate {
            node: self.inner.node_id,
            app: app.id.to_string(),
            user: user_id.to_owned(),
        })
    }

    async fn channels(
        &self,
        app: &App,
        prefix: &str,
    ) -> Result<Vec<(ChannelName, ChannelStats)>, AdapterError> {
        self.inner.channels(app, prefix).await
    }

    async fn channel(
        &self,
        app: &App,
        channel: &str,
    ) -> Result<Option<ChannelStats>, AdapterError> {
        self.inner.channel(app, channel).await
    }

    async fn members(&self, app: &App, channel: &str) -> Result<Option<Vec<Member>>, AdapterError> {
        // Every node holds the whole cluster's roster.
        Ok(app.channels.members(channel))
    }

    async fn connections(&self, app: &App) -> Result<usize, AdapterError> {
        self.inner.connections(app).await
    }

    async fn history_after(&self, app: &App, after: EventId) -> Option<Vec<HistoricEvent>> {
        self.inner.history_after(app, after).await
    }

    async fn shutdown(&self) {
        let inner = &self.inner;
        // Let the publisher send what the closing sockets queued (their
        // `leave`s) before saying goodbye.
        let drained = async {
            while inner.outbox.capacity() < PUBLISH_QUEUE && inner.connected.load(Ordering::Acquire)
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), drained).await;
        let conn = Inner::lock(&inner.commands).clone();
        if let Some(mut conn) = conn {
            let bye = serde_json::to_string(&Envelope::Bye {
                node: inner.node_id,
            })
            .unwrap_or_default();
            let mut publish = redis::cmd(inner.endpoint.publish_command());
            publish.arg(inner.keys.control()).arg(bye);
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                publish.query_async::<i64>(&mut conn),
            )
            .await;
        }
        inner.stop.cancel();
    }
}

#[cfg(test)]
mod tests;
