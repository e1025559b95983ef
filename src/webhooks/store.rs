//! The Redis side shared by the webhook modules: the key names of one
//! deployment's webhook state, and a command connection that reconnects
//! on its next use after a failure.
//!
//! On a Redis Cluster every webhook key carries the hash tag
//! `{{scaling.channel}:clarion:webhooks}`, so all of them share one slot:
//! the Lua scripts reach sets named in their arguments and in the node
//! indexes (a script may only touch its own slot), and the pipelines and
//! transactions of the outbox touch several keys at once. The webhook
//! state of a deployment is small (a set per occupied channel and present
//! user, one stream); its traffic is a few commands per transition, so one
//! shard carries it.

use crate::adapter::redis::endpoint::{Commands, Endpoint};

/// Redis key names of one deployment's webhook state.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `{channel}:clarion:webhooks`, hash-tagged as a whole on a
    /// Redis Cluster.
    pub(crate) fn new(scaling_channel: &str, cluster: bool) -> Self {
        let prefix = format!("{scaling_channel}:clarion:webhooks");
        Keys {
            prefix: if cluster {
                format!("{{{prefix}}}")
            } else {
                prefix
            },
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
    endpoint: Endpoint,
    conn: Option<Commands>,
}

impl Link {
    pub(crate) fn new(endpoint: Endpoint) -> Self {
        Link {
            endpoint,
            conn: None,
        }
    }

    /// The connection, opened if needed.
    pub(crate) async fn get(&mut self) -> redis::RedisResult<Commands> {
        if let Some(conn) = &self.conn {
            return Ok(conn.clone());
        }
        let conn = self.endpoint.commands().await?;
        self.conn = Some(conn.clone());
        Ok(conn)
    }

    /// Where Redis is, for a dedicated connection (e.g. a blocking read).
    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
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
