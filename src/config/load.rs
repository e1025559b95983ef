//! Builds the [`Config`] from its sources and validates it.
//!
//! Precedence, lowest to highest: built-in defaults, the TOML file, the
//! Laravel `.env` file, then the process environment snapshot handed over in
//! [`Sources::env`] (a real variable beats the `.env` file, as in Laravel).
//! Variables use Laravel Reverb's names (`REVERB_*`, `REDIS_*`) plus
//! `CLARION_*` for Clarion-only server options; [`ENV_VARS`] lists them all.
//! An empty, blank, `null` or `(null)` value counts as not set, so it never
//! overrides a lower source. This module never reads the process
//! environment itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::{
    AppConfig, AuthEndpointConfig, ClientEventsFrom, Config, JwtAlgorithm, WebhookConfig,
    WebhookEventKind,
};
use crate::auth::jwt::ALGORITHM_NAMES;

pub(crate) mod dotenv;
mod tls;
mod validate;

use dotenv::parse_dotenv;
use tls::apply_tls;
use validate::{validate, AppOrigin};

/// Where [`load`] reads the configuration from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// TOML configuration file (`--config`).
    pub config_file: Option<PathBuf>,
    /// Laravel-style `.env` file (`--env-file`).
    pub env_file: Option<PathBuf>,
    /// Snapshot of the process environment, taken once by the caller
    /// (`std::env::vars()` panics on non-UTF-8 variables; `vars_os()` with
    /// the non-UTF-8 pairs dropped does not).
    pub env: Vec<(String, String)>,
}

/// Why the configuration could not be loaded; every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A configuration or `.env` file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The TOML file is malformed or has an unknown or mistyped option.
    #[error("config file {}: {message}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// An environment variable has a value that does not parse.
    #[error("invalid {var}={value:?}: {reason}")]
    Env {
        /// The variable name.
        var: String,
        /// The offending value (credentials in URLs are masked).
        value: String,
        /// What was expected.
        reason: String,
    },
    /// The configuration is inconsistent or a `.env` file is malformed.
    #[error("{0}")]
    Invalid(String),
}

/// Every environment variable [`load`] honours.
///
/// Reverb's `config/reverb.php` reads `REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS`
/// and `REVERB_APP_RATE_LIMIT_DECAY_SECONDS`; the `RATE_LIMITING_` spellings
/// are accepted too, and the Reverb names win when both are set.
pub(super) const ENV_VARS: &[&str] = &[
    "REVERB_SERVER_HOST",
    "REVERB_SERVER_PORT",
    "REVERB_SERVER_PATH",
    "REVERB_MAX_REQUEST_SIZE",
    "CLARION_SHUTDOWN_GRACE_PERIOD",
    "CLARION_WEBHOOKS_BATCH_SIZE",
    "CLARION_WEBHOOKS_BATCH_WAIT_MS",
    "CLARION_WEBHOOKS_TIMEOUT_MS",
    "CLARION_WEBHOOKS_RETRY_FOR",
    "CLARION_WEBHOOKS_RETRY_INITIAL_MS",
    "CLARION_WEBHOOKS_RETRY_MAX_MS",
    "CLARION_WEBHOOKS_CLAIM_AFTER_MS",
    "CLARION_WEBHOOKS_DEAD_LETTERS",
    "CLARION_WEBHOOKS_OUTBOX_FILE",
    "CLARION_DRAIN_PAUSE",
    "CLARION_DRAIN_SPREAD",
    "CLARION_MAX_CONNECTIONS",
    "CLARION_MAX_SOCKETS",
    "CLARION_OUTBOUND_QUEUE_CAPACITY",
    "CLARION_WRITE_TIMEOUT",
    "CLARION_HANDSHAKE_TIMEOUT",
    "CLARION_WORKER_THREADS",
    "CLARION_RUNTIME",
    "CLARION_AUTH_TIMESTAMP_WINDOW",
    "CLARION_TLS_CERT",
    "CLARION_TLS_KEY",
    "CLARION_METRICS_ENABLED",
    "CLARION_METRICS_PORT",
    "CLARION_DASHBOARD_ENABLED",
    "CLARION_DASHBOARD_TOKEN",
    "REVERB_APP_ID",
    "REVERB_APP_KEY",
    "REVERB_APP_SECRET",
    "REVERB_APP_PING_INTERVAL",
    "REVERB_APP_ACTIVITY_TIMEOUT",
    "REVERB_APP_MAX_CONNECTIONS",
    "REVERB_APP_MAX_MESSAGE_SIZE",
    "REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM",
    "REVERB_APP_RATE_LIMITING_ENABLED",
    "REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS",
    "REVERB_APP_RATE_LIMITING_MAX_ATTEMPTS",
    "REVERB_APP_RATE_LIMIT_DECAY_SECONDS",
    "REVERB_APP_RATE_LIMITING_DECAY_SECONDS",
    "REVERB_APP_RATE_LIMIT_TERMINATE",
    "REVERB_APP_ALLOWED_ORIGINS",
    "CLARION_MAX_CHANNELS_PER_SOCKET",
    "CLARION_MAX_PRESENCE_MEMBERS",
    "CLARION_MAX_USER_INFO_BYTES",
    "CLARION_CLIENT_EVENTS_PER_SECOND",
    "CLARION_SUBSCRIPTIONS_PER_SECOND",
    "CLARION_HTTP_API_REQUESTS_PER_SECOND",
    "CLARION_AUTH_JWT_SECRET",
    "CLARION_AUTH_JWT_PUBLIC_KEY",
    "CLARION_AUTH_JWT_ALGORITHM",
    "CLARION_AUTH_JWT_ISSUER",
    "CLARION_AUTH_JWT_AUDIENCE",
    "CLARION_WEBHOOK_URL",
    "CLARION_WEBHOOK_EVENT_TYPES",
    "REVERB_SCALING_ENABLED",
    "REVERB_SCALING_CHANNEL",
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_USERNAME",
    "REDIS_PASSWORD",
    "REDIS_DB",
    "CLARION_SCALING_HEARTBEAT_INTERVAL_MS",
    "CLARION_SCALING_NODE_TIMEOUT_MS",
    "CLARION_SCALING_ROUTING",
    "REDIS_CLUSTER_NODES",
];

/// The variables of the env app's limits, in the order of the
/// `AppConfig` fields they set (`max_channels_per_socket` …
/// `http_api_requests_per_second`); 0 means unlimited for each.
const APP_LIMIT_VARS: [&str; 6] = [
    "CLARION_MAX_CHANNELS_PER_SOCKET",
    "CLARION_MAX_PRESENCE_MEMBERS",
    "CLARION_MAX_USER_INFO_BYTES",
    "CLARION_CLIENT_EVENTS_PER_SECOND",
    "CLARION_SUBSCRIPTIONS_PER_SECOND",
    "CLARION_HTTP_API_REQUESTS_PER_SECOND",
];

/// Whether `var` is a per-app option of the env app (a `REVERB_APP_*`
/// variable beyond id, key and secret, a `CLARION_AUTH_JWT_*` or
/// `CLARION_WEBHOOK_*` one, or one of [`APP_LIMIT_VARS`]).
fn is_app_option(var: &str) -> bool {
    var.starts_with("CLARION_AUTH_JWT_")
        || var.starts_with("CLARION_WEBHOOK_")
        || APP_LIMIT_VARS.contains(&var)
        || (var.starts_with("REVERB_APP_")
            && !matches!(
                var,
                "REVERB_APP_ID" | "REVERB_APP_KEY" | "REVERB_APP_SECRET"
            ))
}

/// URL schemes the redis client accepts (after [`normalise_redis_url`]).
const REDIS_SCHEMES: &[&str] = &["redis://", "rediss://", "redis+unix://", "unix://"];

/// URL schemes of Redis Cluster nodes (the cluster announces nodes by IP
/// and port, so no Unix sockets).
const CLUSTER_SCHEMES: &[&str] = &["redis://", "rediss://"];

/// Loads, merges and validates the configuration from `sources`.
///
/// When no source configures an app, the result holds only
/// [`AppConfig::development`]; see [`uses_development_app`].
pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let toml = match sources.config_file.as_deref() {
        Some(path) => Some((path, read(path)?)),
        None => None,
    };
    let dotenv = match sources.env_file.as_deref() {
        Some(path) => Some((path, read(path)?)),
        None => None,
    };
    let texts = Texts {
        toml: toml.as_ref().map(|(path, text)| (*path, text.as_str())),
        dotenv: dotenv.as_ref().map(|(path, text)| (*path, text.as_str())),
        env: &sources.env,
    };
    load_with(&texts, &Disk)
}

/// The text of each source, already read: what [`load_with`] parses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Texts<'a> {
    /// The TOML file's path and text.
    pub(crate) toml: Option<(&'a Path, &'a str)>,
    /// The `.env` file's path and text.
    pub(crate) dotenv: Option<(&'a Path, &'a str)>,
    /// The environment snapshot.
    pub(crate) env: &'a [(String, String)],
}

/// The files a configuration names (the TLS certificate and key, JWT
/// public keys): the disk for [`load`], nothing for the fuzz target.
pub(crate) trait Files {
    /// Checks that `path` can be opened.
    fn open(&self, path: &Path) -> std::io::Result<()>;
    /// The text of `path`.
    fn read(&self, path: &Path) -> std::io::Result<String>;
}

/// The real file system.
struct Disk;

impl Files for Disk {
    fn open(&self, path: &Path) -> std::io::Result<()> {
        std::fs::File::open(path).map(drop)
    }

    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// [`load`] over texts already read; the files they name are reached
/// through `files`.
pub(crate) fn load_with(texts: &Texts<'_>, files: &dyn Files) -> Result<Config, ConfigError> {
    let file = texts.toml.map(|(path, _)| path);
    let mut cfg = match texts.toml {
        Some((path, text)) => parse_toml(text, path)?,
        None => Config::default(),
    };
    cfg.server.path = normalise_path(&cfg.server.path);
    cfg.scaling.url = cfg.scaling.url.as_deref().map(normalise_redis_url);
    for node in &mut cfg.scaling.cluster_nodes {
        *node = normalise_redis_url(node);
    }
    let mut origins: Vec<AppOrigin> = (0..cfg.apps.len()).map(AppOrigin::File).collect();

    let env = Env::new(texts)?;
    apply_server(&env, &mut cfg)?;
    apply_tls(&env, &mut cfg, file, files)?;
    apply_scaling(&env, &mut cfg)?;
    apply_webhooks(&env, &mut cfg)?;
    apply_observability(&env, &mut cfg)?;
    apply_app(&env, &mut cfg.apps, &mut origins)?;
    if cfg.apps.is_empty() {
        cfg.apps.push(AppConfig::development());
        origins.push(AppOrigin::Development);
    }
    read_public_keys(&mut cfg, &origins, file, files)?;
    validate(&cfg, &origins, file)?;
    Ok(cfg)
}

/// True when the only app is [`AppConfig::development`], i.e. the server
/// runs with the well-known development credentials.
pub fn uses_development_app(cfg: &Config) -> bool {
    matches!(cfg.apps.as_slice(), [app] if *app == AppConfig::development())
}

/// Parses the TOML text of `path`; errors carry line and column.
fn parse_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
    toml::from_str(text).map_err(|err| {
        // One line: the parser's own line breaks become ": ", and control
        // characters from the input (an unknown key `"a\rb"` is quoted
        // raw) are escaped.
        let mut message = String::new();
        for c in err.message().trim().replace('\n', ": ").chars() {
            if c.is_control() {
                message.extend(c.escape_default());
            } else {
                message.push(c);
            }
        }
        if let Some(span) = err.span() {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let table = toml_table(before).map_or_else(String::new, |t| format!(" (in {t})"));
            message = format!("line {line}, column {column}{table}: {message}");
        }
        ConfigError::Toml {
            path: path.to_path_buf(),
            message,
        }
    })
}

/// The table that text ending at an error position is in, from the last
/// header of its complete lines: `[server]`, or `apps[1].rate_limiting`.
fn toml_table(before: &str) -> Option<String> {
    let complete = before.rsplit_once('\n').map_or("", |(done, _)| done);
    let headers = complete
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('['));
    let header = headers.clone().next_back()?;
    let apps = headers.filter(|h| h.replace(' ', "") == "[[apps]]").count();
    let inner = header
        .trim_matches(|c| c == '[' || c == ']')
        .replace(' ', "");
    match inner.strip_prefix("apps") {
        Some(rest) if apps > 0 && (rest.is_empty() || rest.starts_with('.')) => {
            Some(format!("apps[{}]{rest}", apps - 1))
        }
        _ => Some(header.to_owned()),
    }
}

/// Normalises a route prefix as Reverb (Symfony's `addPrefix`) does:
/// `ws`, `/ws/` → `/ws`; `/` → empty.
fn normalise_path(path: &str) -> String {
    match path.trim().trim_matches('/') {
        "" => String::new(),
        inner => format!("/{inner}"),
    }
}

/// True when a normalised route prefix can appear in a URL path.
fn valid_path(path: &str) -> bool {
    !path.contains(|c: char| c.is_whitespace() || matches!(c, '?' | '#' | '%'))
}

/// Rewrites Laravel/Predis Redis URL schemes (`tcp://`, `tls://`) to the
/// redis client's (`redis://`, `rediss://`).
fn normalise_redis_url(url: &str) -> String {
    let url = url.trim();
    for (alias, scheme) in [("tcp://", "redis://"), ("tls://", "rediss://")] {
        if let Some(rest) = url.strip_prefix(alias) {
            return format!("{scheme}{rest}");
        }
    }
    url.to_owned()
}

/// The merged `.env` file and environment snapshot.
#[derive(Debug)]
struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    fn new(texts: &Texts<'_>) -> Result<Self, ConfigError> {
        let snapshot: HashMap<String, String> = texts.env.iter().cloned().collect();
        let mut vars = HashMap::new();
        if let Some((path, text)) = texts.dotenv {
            let entries = parse_dotenv(text, &snapshot).map_err(|msg| {
                ConfigError::Invalid(format!("env file {}: {msg}", path.display()))
            })?;
            vars.extend(entries.into_iter().filter(|(_, value)| !is_unset(value)));
        }
        vars.extend(snapshot.into_iter().filter(|(_, value)| !is_unset(value)));
        Ok(Env { vars })
    }

    /// The value, if set.
    fn get(&self, var: &str) -> Option<&str> {
        self.vars.get(var).map(String::as_str)
    }

    fn string(&self, var: &str) -> Option<String> {
        self.get(var).map(str::to_owned)
    }

    fn parse<T: FromStr>(&self, var: &str, expected: &str) -> Result<Option<T>, ConfigError> {
        self.get(var)
            .map(|v| v.trim().parse().map_err(|_| env_error(var, v, expected)))
            .transpose()
    }

    /// A whole number that must not be zero.
    fn positive<T: FromStr + Default + PartialEq>(
        &self,
        var: &str,
    ) -> Result<Option<T>, ConfigError> {
        let value = self.parse::<T>(var, "expected a whole number greater than 0")?;
        match (value, self.get(var)) {
            (Some(zero), Some(raw)) if zero == T::default() => {
                Err(env_error(var, raw, "must be greater than 0"))
            }
            (value, _) => Ok(value),
        }
    }

    fn bool(&self, var: &str) -> Result<Option<bool>, ConfigError> {
        let Some(value) = self.get(var) else {
            return Ok(None);
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "(true)" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "(false)" | "0" | "no" | "off" => Ok(Some(false)),
            _ => Err(env_error(
                var,
                value,
                "expected true/false, 1/0, yes/no or on/off",
            )),
        }
    }
}

/// Empty, blank, `null` and `(null)` values count as not set at all, so they
/// never override a lower-precedence source.
fn is_unset(value: &str) -> bool {
    let value = value.trim();
    value.is_empty() || value.eq_ignore_ascii_case("null") || value.eq_ignore_ascii_case("(null)")
}

fn env_error(var: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Env {
        var: var.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Overwrites `field` when the variable was set.
fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

fn apply_server(env: &Env, cfg: &mut Config) -> Result<(), ConfigError> {
    let s = &mut cfg.server;
    set(&mut s.host, env.string("REVERB_SERVER_HOST"));
    set(
        &mut s.port,
        env.parse("REVERB_SERVER_PORT", "expected a port number (0-65535)")?,
    );
    if let Some(path) = env.get("REVERB_SERVER_PATH") {
        s.path = normalise_path(path);
        if !valid_path(&s.path) {
            let reason = "expected a URL path without spaces, '?', '#' or '%'";
            return Err(env_error("REVERB_SERVER_PATH", path, reason));
        }
    }
    set(
        &mut s.max_request_size,
        env.positive("REVERB_MAX_REQUEST_SIZE")?,
    );
    set(
        &mut s.shutdown_grace_period,
        env.parse(
            "CLARION_SHUTDOWN_GRACE_PERIOD",
            "expected a number of seconds",
        )?,
    );
    set(
        &mut s.drain_pause,
        env.parse("CLARION_DRAIN_PAUSE", "expected a number of seconds")?,
    );
    if let Some(spread) = env.parse("CLARION_DRAIN_SPREAD", "expected a number of seconds")? {
        s.drain_spread = Some(spread);
    }
    if let Some(max) = env.positive("CLARION_MAX_CONNECTIONS")? {
        s.max_connections = Some(max);
    }
    if let Some(max) = env.positive("CLARION_MAX_SOCKETS")? {
        s.max_sockets = Some(max);
    }
    set(
        &mut s.outbound_queue_capacity,
        env.positive("CLARION_OUTBOUND_QUEUE_CAPACITY")?,
    );
    set(&mut s.write_timeout, env.positive("CLARION_WRITE_TIMEOUT")?);
    set(
        &mut s.handshake_timeout,
        env.positive("CLARION_HANDSHAKE_TIMEOUT")?,
    );
    if let Some(threads) = env.positive("CLARION_WORKER_THREADS")? {
        s.worker_threads = Some(threads);
    }
    set(
        &mut s.runtime,
        env.parse("CLARION_RUNTIME", "expected shared or per_core")?,
    );
    set(
        &mut s.auth_timestamp_window,
        env.parse(
            "CLARION_AUTH_TIMESTAMP_WINDOW",
            "expected a number of seconds (0 disables)",
        )?,
    );
    Ok(())
}

fn apply_webhooks(env: &Env, cfg: &mut Config) -> Result<(), ConfigError> {
    let w = &mut cfg.webhooks;
    set(
        &mut w.batch_size,
        env.positive("CLARION_WEBHOOKS_BATCH_SIZE")?,
    );
    let ms = "expected a number of milliseconds";
    set(
        &mut w.batch_wait_ms,
        env.parse("CLARION_WEBHOOKS_BATCH_WAIT_MS", ms)?,
    );
    set(
        &mut w.timeout_ms,
        env.positive("CLARION_WEBHOOKS_TIMEOUT_MS")?,
    );
    set(
        &mut w.retry_for,
        env.parse("CLARION_WEBHOOKS_RETRY_FOR", "expected a number of seconds")?,
    );
    set(
        &mut w.retry_initial_ms,
        env.positive("CLARION_WEBHOOKS_RETRY_INITIAL_MS")?,
    );
    set(
        &mut w.retry_max_ms,
        env.positive("CLARION_WEBHOOKS_RETRY_MAX_MS")?,
    );
    set(
        &mut w.claim_after_ms,
        env.positive("CLARION_WEBHOOKS_CLAIM_AFTER_MS")?,
    );
    set(
        &mut w.dead_letters,
        env.parse("CLARION_WEBHOOKS_DEAD_LETTERS", "expected a whole number")?,
    );
    if let Some(file) = env.string("CLARION_WEBHOOKS_OUTBOX_FILE") {
        w.outbox_file = PathBuf::from(file);
    }
    Ok(())
}

fn apply_scaling(env: &Env, cfg: &mut Config) -> Result<(), ConfigError> {
    let s = &mut cfg.scaling;
    set(&mut s.enabled, env.bool("REVERB_SCALING_ENABLED")?);
    set(&mut s.channel, env.string("REVERB_SCALING_CHANNEL"));
    if let Some(url) = env.get("REDIS_URL") {
        let url = normalise_redis_url(url);
        if !REDIS_SCHEMES.iter().any(|scheme| url.starts_with(scheme)) {
            let reason = format!("expected a URL starting with {}", REDIS_SCHEMES.join(", "));
            return Err(env_error("REDIS_URL", &mask_url(&url), &reason));
        }
        s.url = Some(url);
    }
    set(&mut s.host, env.string("REDIS_HOST"));
    set(
        &mut s.port,
        env.parse("REDIS_PORT", "expected a port number (0-65535)")?,
    );
    if let Some(username) = env.string("REDIS_USERNAME") {
        s.username = Some(username);
    }
    if let Some(password) = env.string("REDIS_PASSWORD") {
        s.password = Some(password);
    }
    set(
        &mut s.database,
        env.parse("REDIS_DB", "expected a database number")?,
    );
    set(
        &mut s.heartbeat_interval_ms,
        env.positive("CLARION_SCALING_HEARTBEAT_INTERVAL_MS")?,
    );
    set(
        &mut s.node_timeout_ms,
        env.positive("CLARION_SCALING_NODE_TIMEOUT_MS")?,
    );
    set(
        &mut s.routing,
        env.parse("CLARION_SCALING_ROUTING", "expected channel or broadcast")?,
    );
    if let Some(list) = env.get("REDIS_CLUSTER_NODES") {
        let mut nodes = Vec::new();
        for url in list.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            let url = normalise_redis_url(url);
            if !CLUSTER_SCHEMES.iter().any(|scheme| url.starts_with(scheme)) {
                let reason = format!(
                    "expected comma-separated URLs starting with {}",
                    CLUSTER_SCHEMES.join(" or ")
                );
                return Err(env_error("REDIS_CLUSTER_NODES", &mask_url(&url), &reason));
            }
            nodes.push(url);
        }
        s.cluster_nodes = nodes;
    }
    Ok(())
}

/// `[metrics]` and `[dashboard]`.
fn apply_observability(env: &Env, cfg: &mut Config) -> Result<(), ConfigError> {
    set(
        &mut cfg.metrics.enabled,
        env.bool("CLARION_METRICS_ENABLED")?,
    );
    if let Some(port) = env.parse("CLARION_METRICS_PORT", "expected a port number (0-65535)")? {
        cfg.metrics.port = Some(port);
    }
    set(
        &mut cfg.dashboard.enabled,
        env.bool("CLARION_DASHBOARD_ENABLED")?,
    );
    if let Some(token) = env.string("CLARION_DASHBOARD_TOKEN") {
        cfg.dashboard.token = Some(token);
    }
    Ok(())
}

/// Hides the user-info part of a URL (`redis://u:p@h` → `redis://***@h`).
fn mask_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Applies `REVERB_APP_*` to the app whose id is `REVERB_APP_ID`, adding it
/// when the TOML file does not declare it.
fn apply_app(
    env: &Env,
    apps: &mut Vec<AppConfig>,
    origins: &mut Vec<AppOrigin>,
) -> Result<(), ConfigError> {
    let key = env.string("REVERB_APP_KEY");
    let secret = env.string("REVERB_APP_SECRET");
    let Some(id) = env.string("REVERB_APP_ID") else {
        if key.is_some() || secret.is_some() {
            return Err(ConfigError::Invalid(
                "REVERB_APP_ID is required when REVERB_APP_KEY or REVERB_APP_SECRET is set"
                    .to_owned(),
            ));
        }
        let mut options = ENV_VARS.iter().filter(|var| is_app_option(var));
        if let Some(var) = options.find(|var| env.get(var).is_some()) {
            return Err(ConfigError::Invalid(format!(
                "{var} is set but REVERB_APP_ID is not; REVERB_APP_* options apply only to \
                 the app named by REVERB_APP_ID"
            )));
        }
        return Ok(());
    };
    let index = match apps.iter().position(|app| app.id == id) {
        Some(index) => {
            origins[index] = AppOrigin::FileAndEnv(index);
            index
        }
        None => {
            apps.push(AppConfig {
                id,
                ..AppConfig::default()
            });
            origins.push(AppOrigin::Env);
            apps.len() - 1
        }
    };
    let app = &mut apps[index];
    set(&mut app.key, key);
    set(&mut app.secret, secret);
    set(
        &mut app.ping_interval,
        env.positive("REVERB_APP_PING_INTERVAL")?,
    );
    set(
        &mut app.activity_timeout,
        env.positive("REVERB_APP_ACTIVITY_TIMEOUT")?,
    );
    if let Some(max) = env.parse("REVERB_APP_MAX_CONNECTIONS", "expected a whole number")? {
        app.max_connections = Some(max);
    }
    set(
        &mut app.max_message_size,
        env.positive("REVERB_APP_MAX_MESSAGE_SIZE")?,
    );
    if let Some(value) = env.get("REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM") {
        app.accept_client_events_from = match value.trim().to_ascii_lowercase().as_str() {
            "members" => ClientEventsFrom::Members,
            "all" => ClientEventsFrom::All,
            "none" => ClientEventsFrom::None,
            _ => {
                let var = "REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM";
                return Err(env_error(var, value, "expected members, all or none"));
            }
        };
    }
    let limits = &mut app.rate_limiting;
    set(
        &mut limits.enabled,
        env.bool("REVERB_APP_RATE_LIMITING_ENABLED")?,
    );
    for prefix in ["REVERB_APP_RATE_LIMITING_", "REVERB_APP_RATE_LIMIT_"] {
        let var = format!("{prefix}MAX_ATTEMPTS");
        set(&mut limits.max_attempts, env.positive(&var)?);
        let var = format!("{prefix}DECAY_SECONDS");
        set(&mut limits.decay_seconds, env.positive(&var)?);
    }
    set(
        &mut limits.terminate_on_limit,
        env.bool("REVERB_APP_RATE_LIMIT_TERMINATE")?,
    );
    if let Some(list) = env.get("REVERB_APP_ALLOWED_ORIGINS") {
        app.allowed_origins = list
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(str::to_owned)
            .collect();
    }
    apply_limits(env, app)?;
    apply_auth(env, app)?;
    apply_webhook(env, app)
}

/// Applies [`APP_LIMIT_VARS`] to the env app.
fn apply_limits(env: &Env, app: &mut AppConfig) -> Result<(), ConfigError> {
    let count = "expected a whole number (0 for unlimited)";
    let [channels, members, info, client_events, subscriptions, http] = APP_LIMIT_VARS;
    set(
        &mut app.max_channels_per_socket,
        env.parse(channels, count)?,
    );
    set(&mut app.max_presence_members, env.parse(members, count)?);
    set(&mut app.max_user_info_bytes, env.parse(info, count)?);
    set(
        &mut app.client_events_per_second,
        env.parse(client_events, count)?,
    );
    set(
        &mut app.subscriptions_per_second,
        env.parse(subscriptions, count)?,
    );
    set(
        &mut app.http_api_requests_per_second,
        env.parse(http, count)?,
    );
    Ok(())
}

/// `CLARION_WEBHOOK_URL` adds a webhook target to the env app (replacing
/// one with the same URL from the file); `CLARION_WEBHOOK_EVENT_TYPES`, a
/// comma-separated list, narrows its events (all by default).
fn apply_webhook(env: &Env, app: &mut AppConfig) -> Result<(), ConfigError> {
    let types = env.get("CLARION_WEBHOOK_EVENT_TYPES");
    let Some(url) = env.string("CLARION_WEBHOOK_URL") else {
        if let Some(value) = types {
            let reason = "CLARION_WEBHOOK_URL is not set";
            return Err(env_error("CLARION_WEBHOOK_EVENT_TYPES", value, reason));
        }
        return Ok(());
    };
    let mut hook = WebhookConfig::to(url);
    if let Some(list) = types {
        hook.event_types = list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| {
                WebhookEventKind::ALL
                    .into_iter()
                    .find(|kind| kind.as_str() == name)
                    .ok_or_else(|| {
                        let names: Vec<&str> =
                            WebhookEventKind::ALL.iter().map(|k| k.as_str()).collect();
                        let reason =
                            format!("unknown event type {name:?}; expected {}", names.join(", "));
                        env_error("CLARION_WEBHOOK_EVENT_TYPES", list, &reason)
                    })
            })
            .collect::<Result<_, _>>()?;
    }
    app.webhooks.retain(|existing| existing.url != hook.url);
    app.webhooks.push(hook);
    Ok(())
}

/// Applies `CLARION_AUTH_*` to the env app's endpoint, turning it on when
/// any is set. A secret or key from the environment replaces the other
/// kind from the file; both set in the environment is an error later.
fn apply_auth(env: &Env, app: &mut AppConfig) -> Result<(), ConfigError> {
    let secret = env.string("CLARION_AUTH_JWT_SECRET");
    let key = env.get("CLARION_AUTH_JWT_PUBLIC_KEY").map(PathBuf::from);
    let algorithm = match env.get("CLARION_AUTH_JWT_ALGORITHM") {
        Some(name) => Some(name.parse::<JwtAlgorithm>().map_err(|()| {
            let reason = format!("expected one of {ALGORITHM_NAMES}");
            env_error("CLARION_AUTH_JWT_ALGORITHM", name, &reason)
        })?),
        None => None,
    };
    let issuer = env.string("CLARION_AUTH_JWT_ISSUER");
    let audience = env.string("CLARION_AUTH_JWT_AUDIENCE");
    let any = secret.is_some()
        || key.is_some()
        || algorithm.is_some()
        || issuer.is_some()
        || audience.is_some();
    if !any {
        return Ok(());
    }
    let auth = app.auth.get_or_insert_with(AuthEndpointConfig::default);
    if secret.is_some() || key.is_some() {
        auth.jwt_secret = secret;
        auth.jwt_public_key = key;
    }
    set(&mut auth.algorithm, algorithm.map(Some));
    set(&mut auth.issuer, issuer.map(Some));
    set(&mut auth.audience, audience.map(Some));
    Ok(())
}

/// Reads every app's `auth.jwt_public_key` PEM file into
/// `jwt_public_key_pem`. A relative path from the TOML file is taken from
/// the file's directory; one from the environment, from the working
/// directory.
fn read_public_keys(
    cfg: &mut Config,
    origins: &[AppOrigin],
    file: Option<&Path>,
    files: &dyn Files,
) -> Result<(), ConfigError> {
    let base = file.and_then(Path::parent);
    for (app, origin) in cfg.apps.iter_mut().zip(origins) {
        let Some(auth) = app.auth.as_mut() else {
            continue;
        };
        let Some(path) = auth.jwt_public_key.as_ref() else {
            continue;
        };
        let from_file = matches!(origin, AppOrigin::File(_) | AppOrigin::FileAndEnv(_));
        let full = match base {
            Some(base) if from_file && path.is_relative() => base.join(path),
            _ => path.clone(),
        };
        let pem = files.read(&full).map_err(|e| {
            ConfigError::Invalid(format!(
                "{}: auth.jwt_public_key: cannot read {}: {e}",
                origin.describe(file),
                full.display()
            ))
        })?;
        auth.jwt_public_key_pem = Some(pem);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
