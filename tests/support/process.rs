//! A Clarion process of the built binary, for what only a process has:
//! signals (drain, reload), its log lines and its exit. Binds
//! `127.0.0.1:0` and reports the address it logged.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::Client;

/// A running `clarion` process; killed when dropped.
pub(crate) struct Process {
    pub addr: SocketAddr,
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    /// Every line read so far, for failure messages.
    seen: Vec<String>,
}

impl Process {
    /// Starts the binary with `args` and only `env` (plus `RUST_LOG=info`)
    /// in its environment, and waits for its "listening on" line.
    pub(crate) async fn start(args: &[&str], env: &[(&str, &str)]) -> Process {
        let command = Command::new(env!("CARGO_BIN_EXE_clarion"));
        Process::spawn(command, args, env).await
    }

    /// Like [`start`](Process::start), with the open-file limit (soft and
    /// hard, so the binary cannot raise it) lowered to `nofile` by the
    /// shell that execs it.
    pub(crate) async fn start_with_nofile(
        nofile: u64,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Process {
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_clarion"));
        Process::spawn(command, args, env).await
    }

    async fn spawn(mut command: Command, args: &[&str], env: &[(&str, &str)]) -> Process {
        let mut child = command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .env_clear()
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn clarion");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut process = Process {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child,
            lines,
            seen: Vec::new(),
        };
        let line = process.line_with("listening on").await;
        process.addr = line
            .rsplit("listening on ")
            .next()
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        process
    }

    /// Waits up to 10 s for a log line containing `needle`; returns it.
    pub(crate) async fn line_with(&mut self, needle: &str) -> String {
        let found = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push(line.clone());
                if line.contains(needle) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("no log line with {needle:?} in {:#?}", self.seen),
        }
    }

    /// Every log line read so far and any already waiting: for checking
    /// that something was *not* logged, after a barrier.
    pub(crate) fn lines_so_far(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }

    /// Every line the process wrote to stderr; call it once the process
    /// has exited, so the reader has seen the end of the stream.
    pub(crate) async fn all_lines(&mut self) -> Vec<String> {
        while let Ok(Some(line)) =
            tokio::time::timeout(Duration::from_secs(10), self.lines.recv()).await
        {
            self.seen.push(line);
        }
        self.seen.clone()
    }

    /// Sends `signal` (`TERM`, `INT`, `HUP`, …) to the process.
    pub(crate) fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("still running");
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the process to exit, at most `within`.
    pub(crate) async fn exit(&mut self, within: Duration) -> ExitStatus {
        tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("clarion did not exit within {within:?}"))
            .expect("wait")
    }

    /// Connects a WebSocket with app key `key` and waits for
    /// `connection_established`.
    pub(crate) async fn connect_key(&self, key: &str) -> Client {
        super::connect_to(self.addr, key).await
    }

    /// Connects a WebSocket with app key `key`, reading nothing.
    pub(crate) async fn connect_raw_key(&self, key: &str) -> Client {
        super::connect_raw_to(self.addr, key).await
    }

    /// Connects with the development app's key (`app-key`).
    pub(crate) async fn connect(&self) -> Client {
        self.connect_key("app-key").await
    }
}

/// A TOML file in a fresh temporary directory, removed when dropped.
pub(crate) struct ConfigFile {
    dir: PathBuf,
    pub path: PathBuf,
}

impl ConfigFile {
    /// Writes `text` to a new `clarion.toml`.
    pub(crate) fn new(text: &str) -> ConfigFile {
        let dir = std::env::temp_dir().join(format!(
            "clarion-test-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("clarion.toml");
        std::fs::write(&path, text).expect("write config");
        ConfigFile { dir, path }
    }

    /// Replaces the file's text.
    pub(crate) fn write(&self, text: &str) {
        std::fs::write(&self.path, text).expect("write config");
    }

    /// The path as a command-line argument.
    pub(crate) fn arg(&self) -> &str {
        self.path.to_str().expect("a UTF-8 temp path")
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
