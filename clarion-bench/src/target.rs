//! The server under test: its WebSocket and HTTP API addresses, the app's
//! credentials and the local source addresses to spread sockets over.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};

use super::proc_stats::{self, ProcSample};
use super::{BenchError, CommonArgs};

/// Everything a scenario needs to reach the server.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Full WebSocket endpoint URL, `ws://host:port{prefix}/app/{key}?protocol=7…`.
    pub ws_endpoint: String,
    /// Resolved address of the WebSocket server.
    pub ws_addr: SocketAddr,
    /// Resolved address of the HTTP API.
    pub http_addr: SocketAddr,
    /// `Host` header value for the HTTP API.
    pub http_host: String,
    /// Path prefix of the HTTP API (`""` or `/prefix`), not part of signatures.
    pub http_prefix: String,
    /// App id.
    pub app_id: String,
    /// App key.
    pub key: String,
    /// App secret.
    pub secret: String,
    /// Source addresses to bind to, round-robin; empty = let the kernel pick.
    pub source_addrs: Vec<IpAddr>,
    /// Server pid for /proc figures.
    pub server_pid: Option<u32>,
    /// Instead of a pid: the `/proc` entry (`<pid>/task/<tid>`) of the one
    /// thread that serves (the `floor` scenario's in-process server).
    pub server_task: Option<String>,
    /// Handshakes in flight at once.
    pub connect_concurrency: usize,
    /// Time allowed for one connect + subscribe.
    pub connect_timeout: Duration,
    /// Whether to print progress on stderr.
    pub progress: bool,
    /// Prefix of every channel name (`--channel-prefix`).
    pub channel_prefix: String,
}

/// Splits a `scheme://host:port/prefix` URL into (host, port, prefix).
pub(crate) fn split_url(
    raw: &str,
    schemes: &[&str],
    default_port: u16,
) -> Result<(String, u16, String), BenchError> {
    let bad = |reason: &str| BenchError::Url {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = url::Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
    if !schemes.contains(&url.scheme()) {
        return Err(bad(&format!("scheme must be one of {schemes:?}")));
    }
    let host = url.host_str().ok_or_else(|| bad("no host"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port().unwrap_or(default_port);
    let prefix = url.path().trim_end_matches('/').to_owned();
    Ok((host, port, prefix))
}

async fn resolve(host: &str, port: u16, raw: &str) -> Result<SocketAddr, BenchError> {
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| BenchError::Url {
            url: raw.to_owned(),
            reason: e.to_string(),
        })?;
    addrs.next().ok_or_else(|| BenchError::Url {
        url: raw.to_owned(),
        reason: "host resolves to no address".to_owned(),
    })
}

fn host_header(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl Target {
    /// Validates the common options and resolves the server's addresses.
    pub(crate) async fn new(args: &CommonArgs) -> Result<Self, BenchError> {
        let (host, port, prefix) = split_url(&args.url, &["ws"], 80)?;
        let ws_addr = resolve(&host, port, &args.url).await?;
        let ws_endpoint = format!(
            "ws://{}{prefix}/app/{}?protocol=7&client=clarion-bench&version={}&flash=false",
            host_header(&host, port),
            args.key,
            env!("CARGO_PKG_VERSION"),
        );
        let (http_addr, http_host, http_prefix) = match &args.http_url {
            Some(raw) => {
                let (h, p, pre) = split_url(raw, &["http"], 80)?;
                (resolve(&h, p, raw).await?, host_header(&h, p), pre)
            }
            None => (ws_addr, host_header(&host, port), prefix),
        };
        if args.connect_concurrency == 0 {
            return Err(BenchError::Args(
                "--connect-concurrency must be at least 1".to_owned(),
            ));
        }
        if let Some(pid) = args.server_pid {
            proc_stats::sample(pid).map_err(|e| {
                BenchError::Args(format!("--server-pid {pid}: cannot read /proc: {e}"))
            })?;
        }
        Ok(Self {
            ws_endpoint,
            ws_addr,
            http_addr,
            http_host,
            http_prefix,
            app_id: args.app_id.clone(),
            key: args.key.clone(),
            secret: args.secret.clone(),
            source_addrs: args.source_addrs.clone(),
            server_pid: args.server_pid,
            server_task: None,
            connect_concurrency: args.connect_concurrency,
            connect_timeout: super::secs_arg("connect-timeout", args.connect_timeout)?,
            progress: !args.no_progress,
            channel_prefix: args.channel_prefix.clone(),
        })
    }

    /// The channel `name` under this run's `--channel-prefix`, put after a
    /// `private-`/`presence-` kind prefix so the channel keeps its kind.
    pub(crate) fn channel(&self, name: &str) -> String {
        let kind = ["private-encrypted-", "private-", "presence-"]
            .into_iter()
            .find(|kind| name.starts_with(kind))
            .unwrap_or("");
        format!("{kind}{}{}", self.channel_prefix, &name[kind.len()..])
    }

    /// Opens a TCP connection to the WebSocket server, bound to the
    /// `index`-th source address (round-robin) when any were given.
    pub(crate) async fn tcp_connect(&self, index: usize) -> std::io::Result<TcpStream> {
        let stream = if self.source_addrs.is_empty() {
            TcpStream::connect(self.ws_addr).await?
        } else {
            let src = self.source_addrs[index % self.source_addrs.len()];
            let socket = if src.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            socket.bind(SocketAddr::new(src, 0))?;
            socket.connect(self.ws_addr).await?
        };
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// Samples the server's /proc figures, if a pid (or thread) was given
    /// and readable.
    pub(crate) fn server_sample(&self) -> Option<ProcSample> {
        if let Some(task) = &self.server_task {
            return proc_stats::sample_entry(task).ok();
        }
        self.server_pid.and_then(|pid| proc_stats::sample(pid).ok())
    }

    /// This target with its WebSocket and HTTP API both at `addr` (no path
    /// prefix), measuring the thread whose `/proc` entry is `task`.
    pub(crate) fn serving(&self, addr: SocketAddr, task: String) -> Self {
        let host = host_header(&addr.ip().to_string(), addr.port());
        Self {
            ws_endpoint: format!(
                "ws://{host}/app/{}?protocol=7&client=clarion-bench&version={}&flash=false",
                self.key,
                env!("CARGO_PKG_VERSION"),
            ),
            ws_addr: addr,
            http_addr: addr,
            http_host: host,
            http_prefix: String::new(),
            server_pid: None,
            server_task: Some(task),
            ..self.clone()
        }
    }

    /// Warns (stderr) when `sockets` exceeds what this process may open.
    pub(crate) fn check_fd_budget(&self, sockets: usize) {
        if let Some(limit) = proc_stats::own_fd_limit() {
            if sockets as u64 + 64 > limit {
                eprintln!(
                    "warning: {sockets} sockets requested but this process may open only \
                     {limit} files; expect connection failures"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
