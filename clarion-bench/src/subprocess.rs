//! Child processes of the bench, for runs that need more sockets than one
//! process may open (the 20,000-descriptor limit): each child is this same
//! binary run with the hidden `cluster-child` scenario. A child writes one
//! JSON object per line on stdout; the parent reads every child's lines
//! into one queue, tagged with the child's number, and writes commands
//! (`stop`) on each child's stdin. Children are killed if the parent drops
//! them.

use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant};

use super::BenchError;

/// A line from child number `.0`.
pub(crate) type Message = (usize, Value);

/// The children of one run and the queue of their messages.
#[derive(Debug)]
pub(crate) struct Children {
    procs: Vec<(Child, Option<ChildStdin>)>,
    tx: mpsc::UnboundedSender<Message>,
    rx: mpsc::UnboundedReceiver<Message>,
}

impl Children {
    /// No children yet.
    pub(crate) fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            procs: Vec::new(),
            tx,
            rx,
        }
    }

    /// Starts this binary with `args`; returns the child's number.
    ///
    /// # Errors
    /// [`BenchError::Setup`] when the process cannot be started.
    pub(crate) fn spawn(&mut self, args: &[String]) -> Result<usize, BenchError> {
        let exe = std::env::current_exe()
            .map_err(|e| BenchError::Setup(format!("cannot find this program: {e}")))?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::Setup(format!("cannot start a child process: {e}")))?;
        let number = self.procs.len();
        if let Some(stdout) = child.stdout.take() {
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(v) = serde_json::from_str::<Value>(&line) {
                        if tx.send((number, v)).is_err() {
                            return;
                        }
                    }
                }
            });
        }
        let stdin = child.stdin.take();
        self.procs.push((child, stdin));
        Ok(number)
    }

    /// How many children were started.
    pub(crate) fn len(&self) -> usize {
        self.procs.len()
    }

    /// The next message of any child, or `None` once `deadline` passes.
    pub(crate) async fn next(&mut self, deadline: Instant) -> Option<Message> {
        tokio::time::timeout_at(deadline, self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Writes `line` to every child's stdin.
    pub(crate) async fn send_all(&mut self, line: &str) {
        for (_, stdin) in &mut self.procs {
            if let Some(pipe) = stdin {
                let sent = pipe.write_all(format!("{line}\n").as_bytes()).await;
                if sent.is_err() || pipe.flush().await.is_err() {
                    *stdin = None;
                }
            }
        }
    }

    /// Waits up to `wait` for every child to exit, then kills the rest.
    pub(crate) async fn finish(mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        for (child, stdin) in &mut self.procs {
            drop(stdin.take());
            if tokio::time::timeout_at(deadline, child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}
