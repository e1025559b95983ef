//! The recorder: turns this node's facts into outbox events.
//!
//! On one node every fact is a cluster-level transition, so it becomes an
//! event at once. With scaling on, the Lua scripts in `scripts/` make Redis
//! the arbiter (see the module header of `webhooks`): facts are applied in
//! the order they happened on this node, one script call each; a heartbeat
//! tick records this node as alive and reaps silent ones; after any failed
//! call the node's whole state is resynchronised on the next tick.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::event::{Entry, WebhookEvent};
use super::store::{Keys, Link};
use super::{Fact, Ids};
use crate::adapter::redis::endpoint::Endpoint;
use crate::apps::AppRegistry;
use crate::config::{ScalingConfig, WebhookEventKind};

/// One node: facts become outbox entries directly.
pub(crate) async fn local(
    mut facts: mpsc::Receiver<Fact>,
    entries: mpsc::UnboundedSender<Entry>,
    ids: Arc<Ids>,
) {
    let mut seq = 0u64;
    while let Some(fact) = facts.recv().await {
        let (app_id, event) = match fact {
            Fact::Flush(done) => {
                let _ = done.send(());
                continue;
            }
            Fact::Occupancy {
                app_id,
                channel,
                occupied,
            } => {
                let channel = channel.to_string();
                let event = if occupied {
                    WebhookEvent::ChannelOccupied { channel }
                } else {
                    WebhookEvent::ChannelVacated { channel }
                };
                (app_id, event)
            }
            Fact::Member {
                app_id,
                channel,
                user_id,
                joined,
            } => (app_id, member_event(channel.as_str(), &user_id, joined)),
            Fact::SubscriptionCount {
                app_id,
                channel,
                count,
            } => (
                app_id,
                WebhookEvent::SubscriptionCount {
                    channel: channel.to_string(),
                    subscription_count: count,
                },
            ),
            Fact::Event { app_id, event } => (app_id, event),
        };
        seq += 1;
        let _ = entries.send(Entry {
            key: format!("local-{seq}"),
            app_id: app_id.to_string(),
            id: ids.next(),
            event: event.to_json(),
        });
    }
}

fn member_event(channel: &str, user_id: &str, joined: bool) -> WebhookEvent {
    let (channel, user_id) = (channel.to_owned(), user_id.to_owned());
    if joined {
        WebhookEvent::MemberAdded { channel, user_id }
    } else {
        WebhookEvent::MemberRemoved { channel, user_id }
    }
}

/// The Redis arbiter of this node.
#[derive(Debug)]
pub(crate) struct RedisRecorder {
    link: Link,
    keys: Keys,
    node: String,
    heartbeat: Duration,
    timeout: Duration,
    ids: Arc<Ids>,
    apps: Arc<AppRegistry>,
    transition: redis::Script,
    count: redis::Script,
    reap: redis::Script,
    resync: redis::Script,
    /// A call failed since the last resynchronisation.
    dirty: bool,
    ticks: u64,
}

impl RedisRecorder {
    pub(crate) fn new(
        endpoint: Endpoint,
        keys: Keys,
        node: u64,
        scaling: &ScalingConfig,
        ids: Arc<Ids>,
        apps: Arc<AppRegistry>,
    ) -> Self {
        RedisRecorder {
            link: Link::new(endpoint),
            keys,
            node: format!("{node:x}"),
            heartbeat: Duration::from_millis(scaling.heartbeat_interval_ms),
            timeout: Duration::from_millis(scaling.node_timeout_ms),
            ids,
            apps,
            transition: redis::Script::new(include_str!("scripts/transition.lua")),
            count: redis::Script::new(include_str!("scripts/count.lua")),
            reap: redis::Script::new(include_str!("scripts/reap.lua")),
            resync: redis::Script::new(include_str!("scripts/resync.lua")),
            dirty: false,
            ticks: 0,
        }
    }

    async fn invoke(&mut self, invocation: redis::ScriptInvocation<'_>, what: &str) -> bool {
        let result = match self.link.get().await {
            Ok(mut conn) => invocation.invoke_async::<redis::Value>(&mut conn).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(_) => true,
            Err(e) => {
                if !self.dirty {
                    tracing::warn!(error = %e, "webhooks: {what} failed; resynchronising when Redis answers");
                }
                self.link.reset();
                self.dirty = true;
                false
            }
        }
    }

    async fn apply(&mut self, fact: Fact) {
        let outbox = self.keys.outbox();
        let index = format!("{}{}", self.keys.node_prefix(), self.node);
        match fact {
            Fact::Flush(done) => {
                let _ = done.send(());
            }
            Fact::Occupancy {
                app_id,
                channel,
                occupied,
            } => {
                let set = self.keys.occupancy(&app_id, channel.as_str());
                let name = channel.to_string();
                let joined = WebhookEvent::ChannelOccupied {
                    channel: name.clone(),
                };
                let left = WebhookEvent::ChannelVacated { channel: name };
                let (emit, undo) = if occupied {
                    (joined, left)
                } else {
                    (left.clone(), left)
                };
                self.transition(set, index, outbox, &app_id, occupied, emit, undo)
                    .await;
            }
            Fact::Member {
                app_id,
                channel,
                user_id,
                joined,
            } => {
                let set = self.keys.member(&app_id, channel.as_str(), &user_id);
                let emit = member_event(channel.as_str(), &user_id, joined);
                let undo = member_event(channel.as_str(), &user_id, false);
                self.transition(set, index, outbox, &app_id, joined, emit, undo)
                    .await;
            }
            Fact::SubscriptionCount {
                app_id,
                channel,
                count,
            } => {
                let counts = self.keys.subscriptions(&app_id, channel.as_str());
                let id = self.ids.next();
                let script = self.count.clone();
                let mut call = script.prepare_invoke();
                call.key(counts)
                    .key(index)
                    .key(outbox)
                    .arg(&self.node)
                    .arg(count)
                    .arg(&*app_id)
                    .arg(channel.as_str())
                    .arg(id);
                self.invoke(call, "recording a subscription count").await;
            }
            Fact::Event { app_id, event } => {
                let mut cmd = redis::cmd("XADD");
                cmd.arg(outbox)
                    .arg("*")
                    .arg("app")
                    .arg(&*app_id)
                    .arg("id")
                    .arg(self.ids.next())
                    .arg("event")
                    .arg(event.to_json());
                if self
                    .link
                    .run::<redis::Value>(&cmd, "adding an event")
                    .await
                    .is_none()
                {
                    self.dirty = true;
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn transition(
        &mut self,
        set: String,
        index: String,
        outbox: String,
        app_id: &str,
        join: bool,
        emit: WebhookEvent,
        undo: WebhookEvent,
    ) {
        let id = self.ids.next();
        let script = self.transition.clone();
        let mut call = script.prepare_invoke();
        call.key(set)
            .key(index)
            .key(outbox)
            .arg(&self.node)
            .arg(if join { "+" } else { "-" })
            .arg(app_id)
            .arg(emit.to_json())
            .arg(undo.to_json())
            .arg(id);
        self.invoke(call, "recording a transition").await;
    }

    /// The heartbeat; resynchronises first when a call failed.
    async fn tick(&mut self) {
        self.ticks += 1;
        if self.dirty {
            self.dirty = false;
            self.resynchronise().await;
        }
        let script = self.reap.clone();
        let mut call = script.prepare_invoke();
        call.key(self.keys.nodes())
            .key(self.keys.outbox())
            .arg(&self.node)
            .arg(u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX))
            .arg(self.keys.node_prefix())
            .arg(format!("{}-reap{}", self.node, self.ticks));
        self.invoke(call, "heartbeat").await;
    }

    /// Makes Redis hold exactly this node's current occupancy and members,
    /// for the apps and kinds some target wants.
    async fn resynchronise(&mut self) {
        let mut groups: Vec<String> = Vec::new();
        for app in self.apps.iter() {
            let hooks = &app.config().webhooks;
            if hooks.is_empty() {
                continue;
            }
            let wants = |a, b, channel: &str| {
                hooks
                    .iter()
                    .any(|h| h.wants(a, channel) || h.wants(b, channel))
            };
            for (channel, stats) in app.channels.list("") {
                let name = channel.as_str();
                let kinds = (
                    WebhookEventKind::ChannelOccupied,
                    WebhookEventKind::ChannelVacated,
                );
                if stats.subscription_count > 0 && wants(kinds.0, kinds.1, name) {
                    let occupied = WebhookEvent::ChannelOccupied {
                        channel: name.to_owned(),
                    };
                    let vacated = WebhookEvent::ChannelVacated {
                        channel: name.to_owned(),
                    };
                    groups.extend([
                        self.keys.occupancy(&app.id, name),
                        app.id.to_string(),
                        occupied.to_json(),
                        vacated.to_json(),
                    ]);
                }
            }
            for (channel, member) in app.channels.local_presence() {
                let name = channel.as_str();
                if !wants(
                    WebhookEventKind::MemberAdded,
                    WebhookEventKind::MemberRemoved,
                    name,
                ) {
                    continue;
                }
                groups.extend([
                    self.keys.member(&app.id, name, &member.user_id),
                    app.id.to_string(),
                    member_event(name, &member.user_id, true).to_json(),
                    member_event(name, &member.user_id, false).to_json(),
                ]);
            }
        }
        let script = self.resync.clone();
        let mut call = script.prepare_invoke();
        call.key(format!("{}{}", self.keys.node_prefix(), self.node))
            .key(self.keys.outbox())
            .arg(&self.node)
            .arg(format!("{}-sync{}", self.node, self.ticks));
        for arg in &groups {
            call.arg(arg);
        }
        if self.invoke(call, "resynchronising").await {
            tracing::info!("webhooks: cluster state resynchronised");
        }
    }
}

/// Applies facts in order, with a heartbeat every `heartbeat_interval_ms`.
pub(crate) async fn redis(mut recorder: RedisRecorder, mut facts: mpsc::Receiver<Fact>) {
    let mut heartbeat = tokio::time::interval(recorder.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            fact = facts.recv() => match fact {
                Some(fact) => recorder.apply(fact).await,
                None => return,
            },
            _ = heartbeat.tick() => recorder.tick().await,
        }
    }
}
