//! Cluster-wide counts that are not replicated (channels' subscription
//! counts, connections) are scatter-gathered: a `Query` is published on the
//! control channel, each node replies, and the asker waits for as many
//! replies as the publish reported receivers, or at most
//! `query_timeout_ms`. Presence answers come from the replicated roster.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use dashmap::DashMap;
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant};

use super::{Answer, Envelope, Inner, Query};
use crate::adapter::AdapterError;
use crate::apps::App;
use crate::channels::ChannelStats;
use crate::protocol::ChannelName;

impl Inner {
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
        let receivers: Result<usize, _> = redis::cmd(self.endpoint.publish_command())
            .arg(self.keys.control())
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

    /// Occupied channels under `prefix`, counts summed over the nodes.
    pub(super) async fn channels(
        &self,
        app: &App,
        prefix: &str,
    ) -> Result<Vec<(ChannelName, ChannelStats)>, AdapterError> {
        let answers = self
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

    /// One channel's counts over the nodes; `None` when unoccupied.
    pub(super) async fn channel(
        &self,
        app: &App,
        channel: &str,
    ) -> Result<Option<ChannelStats>, AdapterError> {
        let answers = self
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

    /// Live sockets of `app` over the nodes.
    pub(super) async fn connections(&self, app: &App) -> Result<usize, AdapterError> {
        let answers = self.scatter(app, Query::Connections).await?;
        Ok(answers
            .into_iter()
            .fold(app.connection_count(), |sum, a| match a {
                Answer::Connections { count } => sum + count,
                _ => sum,
            }))
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

/// This node's answer to another node's query.
pub(super) fn answer(app: &App, query: &Query) -> Answer {
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
