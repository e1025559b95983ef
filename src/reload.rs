//! SIGHUP: applies a re-read configuration to the running node without
//! dropping a socket.
//!
//! The binary re-reads the sources it started with (config file,
//! `--env-file`, environment) and validates the whole result first; a bad
//! one changes nothing (`main.rs` logs why). [`apply`] then:
//!
//! * **apps** — takes the new list: new ids become usable (WebSocket, HTTP
//!   API, event streams), kept ids take their new settings in place
//!   (secret, limits, client-event rules, origins, history sizes, the auth
//!   endpoint, …; their sockets stay connected), and removed ids answer as
//!   unknown apps while their sockets get `pusher:error` 4001 and close;
//! * **the TLS certificate** — with `[server.tls]` on, the certificate and
//!   key are read again from the (possibly new) paths: new handshakes get
//!   them, open sockets keep their session; a pair that does not load is
//!   logged and the old one stays. Turning TLS on or off needs a restart;
//! * **`[server]`, `[scaling]`, `[webhooks]`, `[metrics]`, `[dashboard]`**
//!   — keeps the running values: the listener, the runtime, the cluster
//!   link and the webhook pipeline are built once. A changed one is named
//!   in a warning. An app's webhook *targets* are app settings and apply at
//!   once — except the first target of a deployment with scaling on, whose
//!   Redis side starts only at start-up.
//!
//! What a kept app's change means for a socket that is already open: the
//! secret, quota, rate limit, the limits of `limits.rs` (channels per socket,
//! presence members, `user_info` size, client-event, subscription and HTTP
//! API rates), client-event rules and history apply at once;
//! the ping interval from its next ping; `activity_timeout`,
//! `max_message_size`, `allowed_origins` and `user_authentication_timeout`
//! are checked or sent when a socket connects, so they apply to new ones.

use crate::config::{self, Config, ScalingConfig, ServerConfig, TlsConfig};
use crate::node::Node;

/// Applies `next` (loaded and validated) to `node`, which runs `running`;
/// logs what changed, and warns about settings that need a restart.
/// Returns the configuration the node runs now: `next`'s apps with
/// `running`'s server and scaling settings.
pub fn apply(node: &Node, running: &Config, next: Config) -> Config {
    let restart = needs_restart(running, &next);
    if !restart.is_empty() {
        tracing::warn!(
            settings = %restart.join(", "),
            "configuration reload: these settings change only with a restart; \
             keeping the running values"
        );
    }
    if config::uses_development_app(&next) && !config::uses_development_app(running) {
        tracing::warn!(
            "no app configured any more: serving the DEVELOPMENT app id=1000 key=app-key \
             secret=app-secret; never use these credentials in production"
        );
    }
    let relaid = slot_layout_changes(running, &next);
    if !relaid.is_empty() {
        tracing::warn!(
            apps = %relaid.join(", "),
            "configuration reload: event_history turned on or off under Redis Cluster; \
             these apps keep the slot layout they started with (their history stays \
             local to each node, or their channels stay on one shard) until every node restarts"
        );
    }
    let tls = reload_tls(node, &next);
    let changes = node.apps.reload(&next.apps);
    tracing::info!(
        added = ?changes.added,
        changed = ?changes.changed,
        removed = ?changes.removed,
        closed_sockets = changes.closed_sockets,
        "configuration reloaded"
    );
    let mut now = Config {
        apps: next.apps,
        ..running.clone()
    };
    if tls.is_some() {
        now.server.tls = tls;
    }
    now
}

/// Reads the certificate and key again (from `next`'s paths) when the node
/// serves TLS; returns the paths now in use. A pair that does not load is
/// logged and the certificate in use stays.
fn reload_tls(node: &Node, next: &Config) -> Option<TlsConfig> {
    let (tls, paths) = (node.tls.as_ref()?, next.server.tls.as_ref()?);
    match tls.reload(paths) {
        Ok(()) => {
            tracing::info!(
                cert = %paths.cert.display(),
                key = %paths.key.display(),
                "TLS certificate reloaded: new connections get it, open ones keep theirs"
            );
            Some(paths.clone())
        }
        Err(e) => {
            tracing::error!("TLS certificate not reloaded, the one in use is kept: {e}");
            None
        }
    }
}

/// Under Redis Cluster, the ids of the running apps whose event history
/// `next` turns on or off: an app's channels are laid out over the slots
/// when its node starts (see `adapter/redis/endpoint.rs`), so the change
/// takes full effect only with a restart of every node.
fn slot_layout_changes(running: &Config, next: &Config) -> Vec<String> {
    if !running.scaling.redis_cluster() {
        return Vec::new();
    }
    next.apps
        .iter()
        .filter(|app| {
            running
                .apps
                .iter()
                .find(|old| old.id == app.id)
                .is_some_and(|old| (old.event_history > 0) != (app.event_history > 0))
        })
        .map(|app| app.id.clone())
        .collect()
}

/// The names of the process-wide settings that differ.
fn needs_restart(running: &Config, next: &Config) -> Vec<&'static str> {
    let mut names = Vec::new();
    // Destructured, so a new setting cannot be forgotten here.
    let ServerConfig {
        host,
        port,
        path,
        max_request_size,
        shutdown_grace_period,
        drain_pause,
        drain_spread,
        max_connections,
        max_sockets,
        outbound_queue_capacity,
        write_timeout,
        handshake_timeout,
        auth_timestamp_window,
        worker_threads,
        runtime,
        tls,
    } = &next.server;
    let old = &running.server;
    for (name, changed) in [
        ("server.host", *host != old.host),
        ("server.port", *port != old.port),
        ("server.path", *path != old.path),
        (
            "server.max_request_size",
            *max_request_size != old.max_request_size,
        ),
        (
            "server.shutdown_grace_period",
            *shutdown_grace_period != old.shutdown_grace_period,
        ),
        ("server.drain_pause", *drain_pause != old.drain_pause),
        ("server.drain_spread", *drain_spread != old.drain_spread),
        (
            "server.max_connections",
            *max_connections != old.max_connections,
        ),
        ("server.max_sockets", *max_sockets != old.max_sockets),
        (
            "server.outbound_queue_capacity",
            *outbound_queue_capacity != old.outbound_queue_capacity,
        ),
        ("server.write_timeout", *write_timeout != old.write_timeout),
        (
            "server.handshake_timeout",
            *handshake_timeout != old.handshake_timeout,
        ),
        (
            "server.auth_timestamp_window",
            *auth_timestamp_window != old.auth_timestamp_window,
        ),
        (
            "server.worker_threads",
            *worker_threads != old.worker_threads,
        ),
        ("server.runtime", *runtime != old.runtime),
        // Turning TLS on or off needs a restart; new paths (and the files'
        // contents) are read by `reload_tls`.
        ("server.tls", tls.is_some() != old.tls.is_some()),
    ] {
        if changed {
            names.push(name);
        }
    }
    let ScalingConfig {
        enabled,
        channel,
        url,
        host,
        port,
        username,
        password,
        database,
        tls,
        query_timeout_ms,
        heartbeat_interval_ms,
        node_timeout_ms,
        routing,
        cluster_nodes,
    } = &next.scaling;
    let old = &running.scaling;
    for (name, changed) in [
        ("scaling.enabled", *enabled != old.enabled),
        ("scaling.channel", *channel != old.channel),
        ("scaling.url", *url != old.url),
        ("scaling.host", *host != old.host),
        ("scaling.port", *port != old.port),
        ("scaling.username", *username != old.username),
        ("scaling.password", *password != old.password),
        ("scaling.database", *database != old.database),
        ("scaling.tls", *tls != old.tls),
        (
            "scaling.query_timeout_ms",
            *query_timeout_ms != old.query_timeout_ms,
        ),
        (
            "scaling.heartbeat_interval_ms",
            *heartbeat_interval_ms != old.heartbeat_interval_ms,
        ),
        (
            "scaling.node_timeout_ms",
            *node_timeout_ms != old.node_timeout_ms,
        ),
        ("scaling.routing", *routing != old.routing),
        ("scaling.cluster_nodes", *cluster_nodes != old.cluster_nodes),
    ] {
        if changed {
            names.push(name);
        }
    }
    // The other process-wide sections, whole; destructured for the same
    // reason.
    let Config {
        server: _,
        apps: _,
        scaling: _,
        webhooks,
        metrics,
        dashboard,
    } = next;
    for (name, changed) in [
        ("webhooks", *webhooks != running.webhooks),
        ("metrics", *metrics != running.metrics),
        ("dashboard", *dashboard != running.dashboard),
    ] {
        if changed {
            names.push(name);
        }
    }
    // With scaling on, the Redis side of webhooks starts only when some app
    // has a target at start-up.
    let targets = |c: &Config| c.apps.iter().any(|a| !a.webhooks.is_empty());
    if running.scaling.enabled && !targets(running) && targets(next) {
        names.push("the first webhook target (with scaling on)");
    }
    names
}

#[cfg(test)]
mod tests;
