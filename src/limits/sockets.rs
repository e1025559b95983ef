//! The process's socket budget: how many TCP connections (WebSockets, HTTP
//! requests, event streams) it holds at once, so that a new connection
//! never takes the descriptor an accepted one, Redis or a webhook needs.
//!
//! `server.max_sockets` (by default the open-file limit minus a reserve,
//! see `main.rs`) bounds every accepted connection. The accept loop takes a
//! [`SocketPermit`] for each; the permit travels with the connection (into
//! the WebSocket task after an upgrade) and frees its place when the last
//! holder drops it. A connection accepted while the budget is spent is
//! answered at once, before any parsing, with `503 Service Unavailable`,
//! `Retry-After: 1` and `Connection: close` ([`refuse`]): the reserve means
//! `accept` itself still succeeds, so the client gets an answer instead of
//! waiting in the kernel's backlog while the process spins on `EMFILE`.
//!
//! WebSockets have their own, lower capacity (`max_connections`, refused
//! with `pusher:error` 4100 after the upgrade, which pusher-js answers by
//! backing off and retrying); the gap between the two is what lets those
//! refusals, and the HTTP API, still be served when every WebSocket slot is
//! taken.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::metrics::SocketMetrics;

/// Refusals still being written and drained at once; beyond it a refused
/// connection is closed without an answer, so refusals cannot themselves
/// spend the reserve.
const MAX_REFUSING: usize = 16;

/// How long a refused connection may take to read its answer.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// The answer to a connection over the budget.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 63\r\n\
\r\n\
{\"error\":\"Server is over capacity: too many open connections.\"}";

/// Open TCP connections against `server.max_sockets`.
#[derive(Debug)]
pub(crate) struct SocketBudget {
    /// Connections open now.
    open: AtomicUsize,
    /// The most this process holds (`usize::MAX`: no budget).
    max: usize,
    /// Refusals being written now (at most [`MAX_REFUSING`]).
    refusing: AtomicUsize,
    /// The open gauge and the refusal counter.
    metrics: SocketMetrics,
}

impl SocketBudget {
    /// A budget of `max` connections (`None`: unlimited).
    pub(crate) fn new(max: Option<usize>, metrics: SocketMetrics) -> Self {
        SocketBudget {
            open: AtomicUsize::new(0),
            max: max.unwrap_or(usize::MAX),
            refusing: AtomicUsize::new(0),
            metrics,
        }
    }

    /// Takes a place for one accepted connection; `None` when the budget is
    /// spent.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<SocketPermit> {
        let before = self.open.fetch_add(1, Ordering::AcqRel);
        if before >= self.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        self.metrics.opened();
        Some(SocketPermit {
            budget: self.clone(),
        })
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

/// One connection's place in the budget; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct SocketPermit {
    budget: Arc<SocketBudget>,
}

impl Drop for SocketPermit {
    fn drop(&mut self) {
        self.budget.open.fetch_sub(1, Ordering::AcqRel);
        self.budget.metrics.closed();
    }
}

/// Answers a connection the budget has no place for with 503 and closes
/// it: the answer is written, the write side shut, and what the client
/// sent is read (for at most a second) so that closing does not reset the
/// connection before the client read the answer.
pub(crate) fn refuse(budget: &Arc<SocketBudget>, mut stream: TcpStream) {
    budget.metrics.refused();
    if budget.refusing.fetch_add(1, Ordering::AcqRel) >= MAX_REFUSING {
        budget.refusing.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let budget = budget.clone();
    tokio::spawn(async move {
        let answered = async {
            stream.write_all(REFUSAL).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 1024];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        };
        let _ = tokio::time::timeout(REFUSAL_LINGER, answered).await;
        budget.refusing.fetch_sub(1, Ordering::AcqRel);
    });
}
