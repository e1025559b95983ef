//! Just enough of a Redis client to read a server's counters: one command
//! per connection in RESP, the reply parsed for bulk strings, integers and
//! arrays. The cluster scenarios read `INFO` (`total_commands_processed`,
//! `total_net_output_bytes`, `cmdstat_publish`, `used_cpu_*`) and
//! `PUBSUB NUMSUB` before and after a phase, so the load generator links no
//! Redis library.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Longest wait for one command.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A RESP reply (errors become `Err`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `+OK` or a bulk string.
    Text(String),
    /// `:n`.
    Int(i64),
    /// `*n` elements.
    Array(Vec<Reply>),
    /// `$-1` or `*-1`.
    Nil,
}

/// One command in RESP form.
pub(crate) fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads one reply.
async fn read_reply<R>(r: &mut R) -> Result<Reply, String>
where
    R: tokio::io::AsyncBufRead + Unpin + Send,
{
    let mut line = String::new();
    r.read_line(&mut line).await.map_err(|e| e.to_string())?;
    let line = line.trim_end_matches(['\r', '\n']);
    let (kind, rest) = line.split_at(line.len().min(1));
    let number = || {
        rest.parse::<i64>()
            .map_err(|_| format!("bad reply `{line}`"))
    };
    match kind {
        "+" => Ok(Reply::Text(rest.to_owned())),
        "-" => Err(format!("redis: {rest}")),
        ":" => Ok(Reply::Int(number()?)),
        "$" => {
            let Ok(len) = usize::try_from(number()?) else {
                return Ok(Reply::Nil);
            };
            let mut buf = vec![0; len + 2];
            r.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
            buf.truncate(len);
            Ok(Reply::Text(String::from_utf8_lossy(&buf).into_owned()))
        }
        "*" => {
            let Ok(n) = usize::try_from(number()?) else {
                return Ok(Reply::Nil);
            };
            let mut items = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                items.push(Box::pin(read_reply(r)).await?);
            }
            Ok(Reply::Array(items))
        }
        _ => Err(format!("bad reply `{line}`")),
    }
}

/// Runs one command against the Redis at `addr` (`host:port`).
pub(crate) async fn command(addr: &str, args: &[&str]) -> Result<Reply, String> {
    let run = async {
        let mut tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        tcp.write_all(&encode(args))
            .await
            .map_err(|e| e.to_string())?;
        read_reply(&mut BufReader::new(tcp)).await
    };
    tokio::time::timeout(TIMEOUT, run)
        .await
        .map_err(|_| format!("no reply from Redis at {addr}"))?
}

/// The `key:value` lines of an `INFO` reply.
pub(crate) fn parse_info(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect()
}

/// The counters a phase is measured with.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Counters {
    /// `total_commands_processed`.
    pub commands: u64,
    /// `calls` of `cmdstat_publish`.
    pub publishes: u64,
    /// `calls` of `cmdstat_subscribe` (one per command, however many channels).
    pub subscribes: u64,
    /// `total_net_output_bytes` (replies and pub/sub messages).
    pub output_bytes: u64,
    /// `used_cpu_sys` + `used_cpu_user`, in microseconds.
    pub cpu_us: u64,
}

/// `calls=N` inside a `cmdstat_*` value.
fn calls(info: &HashMap<String, String>, command: &str) -> u64 {
    info.get(&format!("cmdstat_{command}"))
        .and_then(|v| v.split(',').find_map(|kv| kv.strip_prefix("calls=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Counters {
    /// Reads the counters from parsed `INFO all`.
    pub(crate) fn from_info(info: &HashMap<String, String>) -> Self {
        let int = |k: &str| info.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
        let secs = |k: &str| {
            info.get(k)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        Self {
            commands: int("total_commands_processed"),
            publishes: calls(info, "publish"),
            subscribes: calls(info, "subscribe"),
            output_bytes: int("total_net_output_bytes"),
            cpu_us: ((secs("used_cpu_sys") + secs("used_cpu_user")) * 1e6) as u64,
        }
    }

    /// What happened between `self` (before) and `after`.
    pub(crate) fn delta(&self, after: &Counters) -> Counters {
        Counters {
            commands: after.commands.saturating_sub(self.commands),
            publishes: after.publishes.saturating_sub(self.publishes),
            subscribes: after.subscribes.saturating_sub(self.subscribes),
            output_bytes: after.output_bytes.saturating_sub(self.output_bytes),
            cpu_us: after.cpu_us.saturating_sub(self.cpu_us),
        }
    }
}

/// Reads the counters of the Redis at `addr`.
pub(crate) async fn counters(addr: &str) -> Result<Counters, String> {
    match command(addr, &["INFO", "all"]).await? {
        Reply::Text(text) => Ok(Counters::from_info(&parse_info(&text))),
        other => Err(format!("unexpected INFO reply {other:?}")),
    }
}

/// Subscribers of the pub/sub `channel` (`PUBSUB NUMSUB`).
pub(crate) async fn numsub(addr: &str, channel: &str) -> Result<u64, String> {
    match command(addr, &["PUBSUB", "NUMSUB", channel]).await? {
        Reply::Array(items) => match items.get(1) {
            Some(Reply::Int(n)) => Ok(u64::try_from(*n).unwrap_or(0)),
            _ => Err("unexpected PUBSUB NUMSUB reply".to_owned()),
        },
        other => Err(format!("unexpected PUBSUB NUMSUB reply {other:?}")),
    }
}

#[cfg(test)]
mod tests;
