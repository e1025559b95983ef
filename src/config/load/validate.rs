//! Checks the merged configuration; every failure is one line that says
//! what is wrong and where (config file and `apps[i]`, or the env app).

use std::collections::HashMap;
use std::path::Path;

use super::{valid_path, ConfigError, CLUSTER_SCHEMES, REDIS_SCHEMES};
use crate::config::Routing;
use crate::config::{AppConfig, Config};

/// Where an app of the final list came from, for error messages.
#[derive(Debug, Clone)]
pub(super) enum AppOrigin {
    /// `apps[i]` of the TOML file.
    File(usize),
    /// `apps[i]` of the TOML file, overridden by `REVERB_APP_*`.
    FileAndEnv(usize),
    /// Created from `REVERB_APP_*` alone.
    Env,
    /// The development fallback.
    Development,
}

impl AppOrigin {
    pub(super) fn describe(&self, file: Option<&Path>) -> String {
        let file = file.map_or_else(String::new, |p| format!("config file {}: ", p.display()));
        match self {
            AppOrigin::File(i) => format!("{file}apps[{i}]"),
            AppOrigin::FileAndEnv(i) => format!("{file}apps[{i}] (with REVERB_APP_* overrides)"),
            AppOrigin::Env => "the app from REVERB_APP_ID".to_owned(),
            AppOrigin::Development => "the development app".to_owned(),
        }
    }
}

/// Checks the merged configuration; `file` names the TOML file, the only
/// place an invalid global value can still come from (env values are
/// checked as they are read).
pub(super) fn validate(
    cfg: &Config,
    origins: &[AppOrigin],
    file: Option<&Path>,
) -> Result<(), ConfigError> {
    let fail = |what: String| -> Result<(), ConfigError> {
        let prefix = file.map_or_else(String::new, |p| format!("config file {}: ", p.display()));
        Err(ConfigError::Invalid(format!("{prefix}{what}")))
    };
    let s = &cfg.server;
    if s.host.trim().is_empty() {
        return fail("server.host must not be empty".to_owned());
    }
    if !valid_path(&s.path) {
        return fail(format!(
            "server.path {:?} must not contain spaces, '?', '#' or '%'",
            s.path
        ));
    }
    let positive = [
        ("server.max_request_size", s.max_request_size == 0),
        ("server.max_connections", s.max_connections == Some(0)),
        ("server.max_sockets", s.max_sockets == Some(0)),
        ("server.worker_threads", s.worker_threads == Some(0)),
        (
            "server.outbound_queue_capacity",
            s.outbound_queue_capacity == 0,
        ),
        ("server.write_timeout", s.write_timeout == 0),
        ("server.handshake_timeout", s.handshake_timeout == 0),
        (
            "scaling.query_timeout_ms",
            cfg.scaling.query_timeout_ms == 0,
        ),
        (
            "scaling.heartbeat_interval_ms",
            cfg.scaling.heartbeat_interval_ms == 0,
        ),
        ("webhooks.batch_size", cfg.webhooks.batch_size == 0),
        ("webhooks.timeout_ms", cfg.webhooks.timeout_ms == 0),
        (
            "webhooks.retry_initial_ms",
            cfg.webhooks.retry_initial_ms == 0,
        ),
        ("webhooks.claim_after_ms", cfg.webhooks.claim_after_ms == 0),
    ];
    if let Some((name, _)) = positive.iter().find(|(_, zero)| *zero) {
        return fail(format!("{name} must be greater than 0"));
    }
    if let Some(spread) = s.drain_spread {
        if spread > 0 && spread >= s.shutdown_grace_period {
            return fail(format!(
                "server.drain_spread ({spread}) must be less than server.shutdown_grace_period \
                 ({}), so the last sockets still close in time",
                s.shutdown_grace_period
            ));
        }
    }
    let sc = &cfg.scaling;
    if sc.channel.trim().is_empty() {
        return fail("scaling.channel must not be empty".to_owned());
    }
    if sc.node_timeout_ms <= sc.heartbeat_interval_ms {
        return fail(
            "scaling.node_timeout_ms must be greater than heartbeat_interval_ms".to_owned(),
        );
    }
    match &sc.url {
        Some(url) if !REDIS_SCHEMES.iter().any(|scheme| url.starts_with(scheme)) => {
            return fail(format!(
                "scaling.url must start with {}",
                REDIS_SCHEMES.join(", ")
            ));
        }
        None if sc.host.trim().is_empty() => {
            return fail("scaling.host must not be empty".to_owned());
        }
        _ => {}
    }
    if let Some(reason) = cluster_problem(sc) {
        return fail(reason);
    }
    if cfg.metrics.enabled && cfg.metrics.port.is_some_and(|p| p != 0 && p == s.port) {
        return fail(format!(
            "metrics.port {} must differ from server.port (leave it unset to serve /metrics on the main port)",
            s.port
        ));
    }
    let dashboard = &cfg.dashboard;
    if dashboard.enabled
        && dashboard
            .token
            .as_deref()
            .is_none_or(|t| t.trim().is_empty())
    {
        return fail(
            "the dashboard is enabled without a token: set dashboard.token or CLARION_DASHBOARD_TOKEN"
                .to_owned(),
        );
    }

    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut keys: HashMap<&str, usize> = HashMap::new();
    for (index, (app, origin)) in cfg.apps.iter().zip(origins).enumerate() {
        validate_app(app)
            .map_err(|what| ConfigError::Invalid(format!("{}: {what}", origin.describe(file))))?;
        for (kind, value, seen) in [("id", &app.id, &mut ids), ("key", &app.key, &mut keys)] {
            if let Some(&first) = seen.get(value.as_str()) {
                return Err(duplicate(kind, value, &origins[first], origin, file));
            }
            seen.insert(value, index);
        }
    }
    Ok(())
}

/// Checks one app; the error says what is wrong, without the location.
fn validate_app(app: &AppConfig) -> Result<(), String> {
    for (name, value) in [("id", &app.id), ("key", &app.key), ("secret", &app.secret)] {
        if value.is_empty() {
            return Err(format!("missing {name}"));
        }
    }
    for (name, value) in [("id", &app.id), ("key", &app.key)] {
        if value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '/' | '?' | '#'))
        {
            return Err(format!(
                "{name} {value:?} must not contain whitespace, '/', '?' or '#'"
            ));
        }
    }
    let limits = &app.rate_limiting;
    let positive = [
        ("ping_interval", app.ping_interval == 0),
        ("activity_timeout", app.activity_timeout == 0),
        ("max_message_size", app.max_message_size == 0),
        ("max_channels_per_event", app.max_channels_per_event == 0),
        ("max_batch_size", app.max_batch_size == 0),
        ("event_history_max_age", app.event_history_max_age == 0),
        (
            "rate_limiting.max_attempts",
            limits.enabled && limits.max_attempts == 0,
        ),
        (
            "rate_limiting.decay_seconds",
            limits.enabled && limits.decay_seconds == 0,
        ),
    ];
    if let Some((name, _)) = positive.iter().find(|(_, zero)| *zero) {
        return Err(format!("{name} must be greater than 0"));
    }
    for (i, hook) in app.webhooks.iter().enumerate() {
        let url = url::Url::parse(&hook.url)
            .map_err(|e| format!("webhooks[{i}].url {:?}: {e}", hook.url))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "webhooks[{i}].url {:?} must be an http:// or https:// URL",
                hook.url
            ));
        }
        for name in hook.headers.keys() {
            if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(format!(
                    "webhooks[{i}].headers: {name:?} is not a header name"
                ));
            }
        }
    }
    match &app.auth {
        Some(auth) => auth
            .verifier()
            .map(|_| ())
            .map_err(|e| format!("auth: {e}")),
        None => Ok(()),
    }
}

fn duplicate(
    kind: &str,
    value: &str,
    first: &AppOrigin,
    second: &AppOrigin,
    file: Option<&Path>,
) -> ConfigError {
    let file_index = |origin: &AppOrigin| match origin {
        AppOrigin::File(i) | AppOrigin::FileAndEnv(i) => Some(*i),
        AppOrigin::Env | AppOrigin::Development => None,
    };
    let message = match (file, file_index(first), file_index(second)) {
        (Some(path), Some(a), Some(b)) => format!(
            "config file {}: duplicate app {kind} {value:?} (apps[{a}] and apps[{b}])",
            path.display()
        ),
        _ => format!(
            "duplicate app {kind} {value:?} ({} and {})",
            first.describe(file),
            second.describe(file)
        ),
    };
    ConfigError::Invalid(message)
}

/// What is wrong with `scaling.cluster_nodes` and the settings Redis
/// Cluster constrains, if anything.
fn cluster_problem(sc: &crate::config::ScalingConfig) -> Option<String> {
    let nodes = &sc.cluster_nodes;
    if nodes.is_empty() {
        return None;
    }
    if let Some(i) = nodes
        .iter()
        .position(|url| !CLUSTER_SCHEMES.iter().any(|scheme| url.starts_with(scheme)))
    {
        return Some(format!(
            "scaling.cluster_nodes[{i}] must start with {} (a Redis Cluster announces nodes by IP and port)",
            CLUSTER_SCHEMES.join(" or ")
        ));
    }
    let tls = |url: &String| url.starts_with("rediss://");
    if nodes.iter().any(tls) && !nodes.iter().all(tls) {
        return Some("scaling.cluster_nodes must all use TLS (rediss://) or none".to_owned());
    }
    if sc.routing == Routing::Broadcast {
        return Some(
            "scaling.routing = \"broadcast\" is not supported with Redis Cluster (every event would go to the one shard of the control channel); use \"channel\"".to_owned(),
        );
    }
    if sc.channel.contains(['{', '}']) {
        return Some(
            "scaling.channel must not contain { or } with Redis Cluster: Clarion places its keys in hash slots itself".to_owned(),
        );
    }
    None
}
