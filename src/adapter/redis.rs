//! The Redis adapter: several Clarion replicas behave as one server.
//!
//! Every node PUBLISHes [`Envelope`]s on one Redis pub/sub channel,
//! `{scaling.channel}:clarion` (so deployments with different
//! `REVERB_SCALING_CHANNEL`s never cross-talk), and SUBSCRIBEs to it on a
//! dedicated connection. Events are delivered locally first, then
//! published; other nodes deliver them through the same `App::deliver`.
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

pub(crate) mod envelope;
mod link;
mod online;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dashmap::DashMap;
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use super::{Adapter, AdapterError, HistoricEvent, Reach};
use crate::apps::history::EventId;
use crate::apps::{App, AppRegistry};
use crate::channels::{ChannelStats, Member};
use crate::config::ScalingConfig;
use crate::metrics::RedisMetrics;
use crate::outbound::Frame;
use crate::protocol::{ChannelName, SocketId};
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
    /// The Redis pub/sub channel of this deployment.
    channel: String,
    config: ScalingConfig,
    client: redis::Client,
    apps: Arc<AppRegistry>,
    /// Ordered queue to the publisher task (keeps per-publisher order).
    outbox: mpsc::Sender<Outgoing>,
    /// Subscribed and able to publish.
    connected: AtomicBool,
    /// A command connection for queries (cloned out; never held across await).
    commands: Mutex<Option<MultiplexedConnection>>,
    /// Other nodes and when each was last heard from.
    peers: Mutex<HashMap<u64, Instant>>,
    /// Queries waiting for replies.
    pending: DashMap<u64, mpsc::UnboundedSender<Answer>>,
    next_query: AtomicU64,
    stop: CancellationToken,
    /// Link state and round trip, for `GET /metrics`.
    metrics: RedisMetrics,
}

impl RedisAdapter {
    /// Starts the adapter's tasks (subscriber, publisher, heartbeat). Redis
    /// need not be up yet: the tasks connect and reconnect with backoff.
    ///
    /// # Errors
    /// A message when the Redis URL is invalid.
    pub(crate) fn start(
        config: &ScalingConfig,
        apps: Arc<AppRegistry>,
        metrics: RedisMetrics,
    ) -> Result<Self, String> {
        // `rediss://` uses rustls with the ring provider (the only one built in).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = config.redis_url();
        let client =
            redis::Client::open(url.as_str()).map_err(|e| format!("invalid Redis URL: {e}"))?;
        let (outbox, queue) = mpsc::channel(PUBLISH_QUEUE);
        let inner = Arc::new(Inner {
            node_id: rand::random::<u64>() >> 11,
            channel: format!("{}:clarion", config.channel),
            config: config.clone(),
            client,
            apps,
            outbox,
            connected: AtomicBool::new(false),
            commands: Mutex::new(None),
            peers: Mutex::new(HashMap::new()),
            pending: DashMap::new(),
            next_query: AtomicU64::new(1),
            stop: CancellationToken::new(),
            metrics,
        });
        inner.apps.use_cluster_ids();
        tokio::spawn(link::subscriber(inner.clone()));
        tokio::spawn(link::publisher(inner.clone(), queue));
        tokio::spawn(link::heartbeat(inner.clone()));
        tracing::info!(node_id = inner.node_id, channel = %inner.channel, "scaling through Redis");
        Ok(RedisAdapter { inner })
    }
}

/// One message for the publisher task.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// The envelope's JSON.
    text: String,
    /// For an event of an app that keeps history: the app's Redis stream
    /// and its length. The event is then added to the stream and published
    /// in one script, prefixed with the id the stream gave it.
    history: Option<(String, usize)>,
}

impl Inner {
    fn send(&self, envelope: &Envelope) -> Reach {
        self.enqueue(envelope, None)
    }

    fn enqueue(&self, envelope: &Envelope, history: Option<(String, usize)>) -> Reach {
        if !self.connected.load(Ordering::Acquire) {
            return Reach::LocalOnly;
        }
        let Ok(text) = serde_json::to_string(envelope) else {
            return Reach::LocalOnly;
        };
        match self.outbox.try_send(Outgoing { text, history }) {
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

    /// The Redis stream holding `app_id`'s event history.
    fn history_key(&self, app_id: &str) -> String {
        format!("{}:history:{app_id}", self.channel)
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
                        answer: answer(&app, &query),
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

    async fn scatter(&self, app: &App, query: Query) -> Result<Vec<Answer>, AdapterError> {
        let conn = Inner::lock(&self.commands).clone();
        let Some(mut conn) = conn.filter(|_| self.connected.load(Ordering::Acquire)) else {
            return Err(AdapterError::Unavailable(
                "Redis is not reachable".to_owned(),
            ));
        };
        let id = self.next_query.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.pending.insert(id, tx);
        // However the query ends, its entry goes: also when the caller stops
        // waiting (an HTTP client that hangs up drops this future mid-await).
        let _pending = PendingQuery {
            pending: &self.pending,
            id,
        };
        let message = Envelope::Query {
            node: self.node_id,
            id,
            app: app.id.to_string(),
            query,
        };
        let text = serde_json::to_string(&message)
            .map_err(|e| AdapterError::Unavailable(e.to_string()))?;
        let receivers: Result<usize, _> = redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(text)
            .query_async(&mut conn)
            .await;
        let mut answers = Vec::new();
        if let Ok(receivers) = receivers {
            // Every subscriber but this node answers.
            let expected = receivers.saturating_sub(1);
            let deadline = Instant::now() + Duration::from_millis(self.config.query_timeout_ms);
            while answers.len() < expected {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(a)) => answers.push(a),
                    _ => {
                        tracing::warn!(
                            expected,
                            got = answers.len(),
                            "cluster query timed out; answering with the nodes that replied"
                        );
                        break;
                    }
                }
            }
        }
        Ok(answers)
    }
}

/// Removes a query's waiter from `pending` when the query ends or is
/// cancelled.
#[derive(Debug)]
struct PendingQuery<'a> {
    pending: &'a DashMap<u64, mpsc::UnboundedSender<Answer>>,
    id: u64,
}

impl Drop for PendingQuery<'_> {
    fn drop(&mut self) {
        self.pending.remove(&self.id);
    }
}

/// `(id, envelope text)` of each entry of an `XRANGE` reply (entries are
/// `[id, [field, value, …]]`; the envelope is field `m`).
fn stream_entries(reply: redis::Value) -> Vec<(EventId, String)> {
    let redis::Value::Array(entries) = reply else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let redis::Value::Array(mut parts) = entry else {
                return None;
            };
            let fields = parts.pop()?;
            let id: String = redis::from_redis_value(&parts.pop()?).ok()?;
            let fields: Vec<String> = redis::from_redis_value(&fields).ok()?;
            let text = fields
                .chunks(2)
                .find(|kv| kv.first().is_some_and(|k| k == "m"))?
                .get(1)?
                .clone();
            Some((EventId::parse(&id)?, text))
        })
        .collect()
}

fn answer(app: &App, query: &Query) -> Answer {
    match query {
        Query::Channels { prefix } => Answer::Channels {
            list: app
                .channels
                .list(prefix)
                .into_iter()
                .filter(|(_, s)| s.subscription_count > 0)
                .map(|(c, s)| (c.to_string(), s.subscription_count))
                .collect(),
        },
        Query::Channel { name } => Answer::Channel {
            count: app
                .channels
                .stats(name)
                .map(|s| s.subscription_count)
                .filter(|c| *c > 0),
        },
        Query::Connections => Answer::Connections {
            count: app.connection_count(),
        },
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
        let history = app
            .history
            .enabled()
            .then(|| (self.inner.history_key(&app.id), app.config().event_history));
        self.inner.enqueue(
            &Envelope::Event {
                node: self.inner.node_id,
                app: app.id.to_string(),
                channel: channel.to_string(),
                except: except.map(|s| s.to_string()),
                frame: frame.as_str().to_owned(),
            },
            history,
        )
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
        let answers = self
            .inner
            .scatter(
                app,
                Query::Channels {
                    prefix: prefix.to_owned(),
                },
            )
            .await?;
        let mut counts: HashMap<String, usize> = HashMap::new();
        for (name, stats) in app.channels.list(prefix) {
            *counts.entry(name.to_string()).or_default() += stats.subscription_count;
        }
        for a in answers {
            if let Answer::Channels { list } = a {
                for (name, count) in list {
                    *counts.entry(name).or_default() += count;
                }
            }
        }
        let mut out: Vec<(ChannelName, ChannelStats)> = counts
            .into_iter()
            .filter_map(|(name, subscription_count)| {
                let channel = ChannelName::parse(&name).ok()?;
                let user_count = app.channels.stats(&name).and_then(|s| s.user_count);
                Some((
                    channel,
                    ChannelStats {
                        subscription_count,
                        user_count,
                    },
                ))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    async fn channel(
        &self,
        app: &App,
        channel: &str,
    ) -> Result<Option<ChannelStats>, AdapterError> {
        let answers = self
            .inner
            .scatter(
                app,
                Query::Channel {
                    name: channel.to_owned(),
                },
            )
            .await?;
        let local = app.channels.stats(channel);
        let mut total = local.as_ref().map_or(0, |s| s.subscription_count);
        for a in answers {
            if let Answer::Channel { count: Some(c) } = a {
                total += c;
            }
        }
        let user_count = local.and_then(|s| s.user_count);
        let occupied = total > 0 || user_count.is_some_and(|u| u > 0);
        Ok(occupied.then_some(ChannelStats {
            subscription_count: total,
            user_count,
        }))
    }

    async fn members(&self, app: &App, channel: &str) -> Result<Option<Vec<Member>>, AdapterError> {
        // Every node holds the whole cluster's roster.
        Ok(app.channels.members(channel))
    }

    async fn connections(&self, app: &App) -> Result<usize, AdapterError> {
        let answers = self.inner.scatter(app, Query::Connections).await?;
        Ok(answers
            .into_iter()
            .fold(app.connection_count(), |sum, a| match a {
                Answer::Connections { count } => sum + count,
                _ => sum,
            }))
    }

    async fn history_after(&self, app: &App, after: EventId) -> Option<Vec<HistoricEvent>> {
        let inner = &self.inner;
        let mut conn = Inner::lock(&inner.commands).clone()?;
        let key = inner.history_key(&app.id);
        let timeout = Duration::from_millis(inner.config.query_timeout_ms);
        let first: redis::Value = tokio::time::timeout(
            timeout,
            redis::cmd("XRANGE")
                .arg(&key)
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut conn),
        )
        .await
        .ok()?
        .ok()?;
        // Complete only if the stream still holds the client's last event:
        // everything after it is then still there.
        let oldest = stream_entries(first).into_iter().next()?.0;
        if after < oldest {
            return None;
        }
        let rest: redis::Value = tokio::time::timeout(
            timeout,
            redis::cmd("XRANGE")
                .arg(&key)
                .arg(format!("({after}"))
                .arg("+")
                .query_async(&mut conn),
        )
        .await
        .ok()?
        .ok()?;
        Some(
            stream_entries(rest)
                .into_iter()
                .filter_map(|(id, text)| match serde_json::from_str(&text).ok()? {
                    Envelope::Event { channel, frame, .. } => Some(HistoricEvent {
                        id,
                        channel: ChannelName::parse(&channel).ok()?,
                        frame: Frame::from(frame),
                    }),
                    _ => None,
                })
                .collect(),
        )
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
            let mut publish = redis::cmd("PUBLISH");
            publish.arg(&inner.channel).arg(bye);
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
