//! Shutdown: the process's stop signals, and the tokens and task tracker
//! through which every task sees each step of a drain and is waited on.
//!
//! A drain has three steps (`server::run`, timings in `drain.rs`):
//! `draining` (not ready, still serving), `closing` (every socket closes
//! at its own moment within the spread) and `now` (a second signal: close
//! everything at once). Each token is cancelled once and never reset.

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Lets every task see that shutdown began, and lets the server wait for
/// all of them to finish.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shutdown {
    /// Cancelled when the drain begins: `/ready` answers 503 and HTTP
    /// responses ask their clients not to reuse the connection, while
    /// everything keeps working.
    pub(crate) draining: CancellationToken,
    /// Cancelled after the drain pause: every socket and event stream picks
    /// its own moment within the spread to close (4200); idle HTTP
    /// connections close, requests in flight finish.
    pub(crate) token: CancellationToken,
    /// Cancelled to close every socket at once (a second signal). Never
    /// cancelled before `token`, so a task that watches `token` first and
    /// then `now` misses nothing.
    pub(crate) now: CancellationToken,
    /// Every connection task is spawned on this, so the server can wait.
    pub(crate) tracker: TaskTracker,
}

impl Shutdown {
    /// Whether the node is draining (or done): not ready for new clients.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// Skips what is left of the drain: every socket closes now.
    pub(crate) fn close_now(&self) {
        self.draining.cancel();
        self.token.cancel();
        self.now.cancel();
    }
}

/// SIGTERM and SIGINT (Ctrl-C), listened to from creation on, so a second
/// signal during the drain is not missed.
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    listeners: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Starts listening. Must run inside a tokio runtime.
    pub fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listeners = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(term), Ok(int)) => Some((term, int)),
                _ => None,
            };
            Signals { listeners }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Resolves at the next SIGTERM or SIGINT; returns its name.
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        if let Some((term, int)) = &mut self.listeners {
            return tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "interrupt"
    }
}

impl Default for Signals {
    fn default() -> Self {
        Signals::new()
    }
}

/// Resolves when the process receives SIGINT or SIGTERM, and logs which.
pub async fn signal() {
    let name = Signals::new().recv().await;
    tracing::info!("{name} received, shutting down");
}
