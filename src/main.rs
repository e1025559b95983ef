//! The `clarion` binary: parse the command line, load the configuration,
//! start logging, bind and serve until SIGINT/SIGTERM (then drain; a second
//! one closes everything at once), reloading the apps on SIGHUP — or, with
//! `clarion trigger`, publish one event through the signed HTTP API.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use clarion::config::{self, Config, RuntimeMode, Sources};
use clarion::node::Node;
use clarion::shutdown::Signals;
use clarion::{reload, server, trigger};

/// A Pusher protocol 7 WebSocket server, drop-in for Laravel Reverb.
#[derive(Debug, Parser)]
#[command(name = "clarion", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    start: StartArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (the default).
    Start(StartArgs),
    /// Publish one event through the signed HTTP API, with the app and
    /// address from the same configuration the server reads.
    Trigger(TriggerArgs),
}

#[derive(Debug, Clone, clap::Args)]
struct TriggerArgs {
    /// A channel to publish on; repeat for several.
    #[arg(long = "channel", required = true)]
    channels: Vec<String>,
    /// The event name.
    #[arg(long)]
    event: String,
    /// The event's data (JSON text, sent as the string given).
    #[arg(long, default_value = "{}")]
    data: String,
    /// Leave this socket out (the sender's own).
    #[arg(long)]
    socket_id: Option<String>,
    /// The server's base URL, `http://host:port[/prefix]`. Default: the
    /// configured server on this machine.
    #[arg(long)]
    url: Option<String>,
    /// Which configured app publishes. Default: the first.
    #[arg(long)]
    app_id: Option<String>,
    /// A TOML configuration file (see config/clarion.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// A Laravel `.env` file whose REVERB_* variables apply.
    #[arg(long)]
    env_file: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
struct StartArgs {
    /// A TOML configuration file (see config/clarion.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// A Laravel `.env` file whose REVERB_* / REDIS_* variables apply.
    #[arg(long)]
    env_file: Option<PathBuf>,
    /// Override the bind address.
    #[arg(long)]
    host: Option<String>,
    /// Override the port.
    #[arg(long)]
    port: Option<u16>,
    /// Log debug detail (same as RUST_LOG=debug).
    #[arg(long)]
    debug: bool,
    /// Log lines as plain text or one JSON object each (CLARION_LOG_FORMAT).
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Start(args)) => args,
        Some(Command::Trigger(args)) => return trigger(args),
        None => cli.start,
    };
    if let Err(e) = init_logging(args.debug, args.log_format) {
        eprintln!("clarion: configuration error: {e}");
        return ExitCode::from(2);
    }
    let Some(mut config) = load_config(args.config.clone(), args.env_file.clone()) else {
        return ExitCode::from(2);
    };
    args.override_listener(&mut config);
    // Per core: this thread runs the first of the runtimes, `server::serve`
    // starts the others.
    let mut builder = match config.server.runtime {
        RuntimeMode::Shared => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Some(threads) = config.server.worker_threads {
                builder.worker_threads(threads);
            }
            builder
        }
        RuntimeMode::PerCore => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clarion: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(start(config, args))
}

impl StartArgs {
    /// Applies `--host` and `--port`.
    fn override_listener(&self, config: &mut Config) {
        if let Some(host) = &self.host {
            config.server.host.clone_from(host);
        }
        if let Some(port) = self.port {
            config.server.port = port;
        }
    }

    /// Reads the configuration again from the sources the process started
    /// with, for a reload.
    ///
    /// # Errors
    /// Why the configuration cannot be used, in one line.
    fn reload_config(&self) -> Result<Config, config::ConfigError> {
        let mut config = config::load(&sources(self.config.clone(), self.env_file.clone()))?;
        self.override_listener(&mut config);
        Ok(config)
    }
}

/// The configuration sources: the files, and a snapshot of the process
/// environment.
fn sources(config_file: Option<PathBuf>, env_file: Option<PathBuf>) -> Sources {
    Sources {
        config_file,
        env_file,
        env: std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect(),
    }
}

/// Loads the configuration from the file, the `.env` file and the process
/// environment; reports a bad one on stderr.
fn load_config(config_file: Option<PathBuf>, env_file: Option<PathBuf>) -> Option<Config> {
    match config::load(&sources(config_file, env_file)) {
        Ok(config) => Some(config),
        Err(e) => {
            eprintln!("clarion: configuration error: {e}");
            None
        }
    }
}

/// `clarion trigger`: prints the server's answer, or why it failed.
fn trigger(args: TriggerArgs) -> ExitCode {
    let Some(config) = load_config(args.config, args.env_file) else {
        return ExitCode::from(2);
    };
    let app = match &args.app_id {
        Some(id) => config.apps.iter().find(|a| &a.id == id),
        None => config.apps.first(),
    };
    let Some(app) = app else {
        eprintln!("clarion trigger: no configured app with that id");
        return ExitCode::from(2);
    };
    let endpoint = match args.url.as_deref().map(trigger::Endpoint::parse) {
        Some(Ok(endpoint)) => endpoint,
        Some(Err(e)) => {
            eprintln!("clarion trigger: {e}");
            return ExitCode::from(2);
        }
        None => trigger::Endpoint::local(&config.server),
    };
    let event = trigger::Event {
        channels: args.channels,
        name: args.event,
        data: args.data,
        socket_id: args.socket_id,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clarion trigger: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(trigger::trigger(&endpoint, app, &event)) {
        Ok(answer) => {
            println!("{answer}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("clarion trigger: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logging to stderr: `RUST_LOG` or `--debug` choose the level, `--log-format`
/// (else `CLARION_LOG_FORMAT`) the format. Each WebSocket connection's
/// events carry its `socket_id` and `app_id` at debug level.
fn init_logging(debug: bool, format: Option<LogFormat>) -> Result<(), String> {
    let default = if debug { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let format = match (format, std::env::var("CLARION_LOG_FORMAT")) {
        (Some(format), _) => format,
        (None, Ok(v)) if v.trim().eq_ignore_ascii_case("json") => LogFormat::Json,
        (None, Ok(v)) if v.trim().is_empty() || v.trim().eq_ignore_ascii_case("text") => {
            LogFormat::Text
        }
        (None, Ok(v)) => return Err(format!("CLARION_LOG_FORMAT={v:?}: expected text or json")),
        (None, Err(_)) => LogFormat::Text,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    Ok(())
}

async fn start(mut config: Config, args: StartArgs) -> ExitCode {
    // Compared with what a reload reads (the capacity below is derived).
    let loaded = config.clone();
    if config::uses_development_app(&config) {
        tracing::warn!(
            "no app configured: using the DEVELOPMENT app id=1000 key=app-key secret=app-secret; \
             never use these credentials in production"
        );
    }
    let (sockets, connections) =
        connection_capacity(config.server.max_sockets, config.server.max_connections);
    config.server.max_sockets = Some(sockets);
    config.server.max_connections = Some(connections);
    let listener = match server::bind_listeners(&config).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("clarion: {e}");
            return ExitCode::FAILURE;
        }
    };
    let node = match server::build_node(&config) {
        Ok(node) => node,
        Err(e) => {
            eprintln!("clarion: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let metrics_listener = match server::bind_metrics(&config).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("clarion: metrics: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Listening before the address is logged: a signal sent as soon as
    // the server is up is handled, never the default action.
    let mut signals = Signals::new();
    watch_hangups(&node, args, loaded);
    if config.server.runtime == RuntimeMode::PerCore {
        tracing::info!("{} runtimes, one per core", listener.runtimes());
    }
    match listener.local_addr() {
        Ok(addr) => tracing::info!("listening on {addr}"),
        Err(e) => tracing::warn!(error = %e, "listening (address unknown)"),
    }
    if let Some(metrics_listener) = metrics_listener {
        if let Ok(addr) = metrics_listener.local_addr() {
            tracing::info!("metrics on http://{addr}/metrics");
        }
        tokio::spawn(server::serve_metrics(metrics_listener, node.clone()));
    }
    let stopping = node.clone();
    let shutdown = async move {
        let name = signals.recv().await;
        tracing::info!("{name} received: draining (send it again to close every socket now)");
        tokio::spawn(async move {
            let name = signals.recv().await;
            tracing::warn!("{name} received again: closing every socket now");
            stopping.close_now();
        });
    };
    server::serve(listener, node, shutdown).await;
    ExitCode::SUCCESS
}

/// Reloads the apps on every SIGHUP: the sources are read again and
/// validated whole; a bad configuration is logged and changes nothing.
#[cfg(unix)]
fn watch_hangups(node: &Arc<Node>, args: StartArgs, mut running: Config) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP: configuration reload is off");
            return;
        }
    };
    let node = node.clone();
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading the configuration");
            match args.reload_config() {
                Ok(next) => running = reload::apply(&node, &running, next),
                Err(e) => {
                    tracing::error!("configuration not reloaded, the running one is kept: {e}")
                }
            }
        }
    });
}

#[cfg(not(unix))]
fn watch_hangups(_node: &Arc<Node>, _args: StartArgs, _running: Config) {}

/// Raises the open-file limit to its hard maximum and derives the two
/// capacities from it: `max_sockets`, every TCP connection (the limit
/// minus a reserve for Redis, webhooks, files and the listener), and
/// `max_connections`, the WebSockets among them (a headroom lower, so that
/// when every WebSocket slot is taken there are still descriptors to
/// refuse new WebSockets with 4100 and to serve the HTTP API). Warns when
/// a configured value is more than the limit allows, and caps it.
fn connection_capacity(sockets: Option<usize>, connections: Option<usize>) -> (usize, usize) {
    /// Descriptors never given to a connection.
    const RESERVED: u64 = 64;
    /// Connections kept free of WebSockets by default.
    const HEADROOM: usize = 64;
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let allowed = usize::try_from(limit.saturating_sub(RESERVED))
        .unwrap_or(usize::MAX)
        .max(1);
    let sockets = match sockets {
        Some(wanted) if wanted > allowed => {
            tracing::warn!(
                configured = wanted,
                open_file_limit = limit,
                "max_sockets is above what the open-file limit allows; \
                 capping at {allowed} connections (raise `ulimit -n` for more)"
            );
            allowed
        }
        Some(wanted) => wanted,
        None => allowed,
    };
    let connections = match connections {
        Some(wanted) if wanted > sockets => {
            tracing::warn!(
                configured = wanted,
                max_sockets = sockets,
                open_file_limit = limit,
                "max_connections is above max_sockets (what the open-file limit allows); \
                 capping at {sockets} WebSockets (raise `ulimit -n` for more)"
            );
            sockets
        }
        Some(wanted) => wanted,
        None => sockets.saturating_sub(HEADROOM).max(sockets / 2).max(1),
    };
    tracing::info!(
        open_file_limit = limit,
        max_sockets = sockets,
        max_connections = connections,
        "connection capacity: {connections} WebSockets, {sockets} connections in all"
    );
    (sockets, connections)
}
