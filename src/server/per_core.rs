//! `server.runtime = "per_core"`: one single-threaded tokio runtime per
//! worker thread instead of one shared work-stealing runtime. Each runtime
//! accepts on a listener of its own, all bound to the same address with
//! `SO_REUSEPORT` (the kernel spreads new connections over them), and a
//! socket's task stays on the runtime that accepted it, so no task is ever
//! woken on one thread to run on another. The node (apps, channels,
//! adapter) is shared as in the default mode: a publisher on any runtime
//! writes straight to an idle subscriber's socket whichever runtime owns
//! it (`outbound.rs`), so a broadcast crosses threads only for a socket
//! whose writes are queued (one wake-up of its task, as in the default mode).
//!
//! The caller's runtime (the binary's main thread, or a test's) serves the
//! first listener and runs the drain ([`super::run`]); [`Workers`] are the
//! other threads, which accept until the drain stops accepting and keep
//! their sockets served until [`Workers::stop`].
//!
//! A second server on the same port: `SO_REUSEPORT` lets any socket of the
//! same user join the group, so before binding it, [`bind_group`] binds the
//! address once without the option. That fails while anything listens
//! there, including another per-core Clarion, which keeps "address in use"
//! as the answer to a second start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;

use super::{accept_until, ServerError, LISTEN_BACKLOG};
use crate::node::Node;

/// `n` listeners on `addr` sharing its port with `SO_REUSEPORT`: the first
/// registered with the caller's runtime, the others as std listeners (in
/// non-blocking mode) for [`Workers::start`] to hand to theirs. Port 0
/// picks one free port for the whole group.
///
/// # Errors
/// [`ServerError::Bind`] when the address is in use (also by a listener
/// that set `SO_REUSEPORT`) or cannot be bound.
pub(super) fn bind_group(
    addr: SocketAddr,
    n: usize,
) -> Result<(TcpListener, Vec<std::net::TcpListener>), ServerError> {
    let fail = |source| ServerError::Bind {
        addr: addr.to_string(),
        source,
    };
    if addr.port() != 0 {
        // Refused if anything listens on the address; released at once.
        let probe = new_socket(addr).map_err(fail)?;
        probe.bind(addr).map_err(fail)?;
    }
    let first = reuseport_listener(addr).map_err(fail)?;
    let addr = first.local_addr().map_err(fail)?;
    let mut others = Vec::with_capacity(n.saturating_sub(1));
    for _ in 1..n {
        let listener = reuseport_listener(addr).map_err(fail)?;
        others.push(listener.into_std().map_err(fail)?);
    }
    Ok((first, others))
}

fn new_socket(addr: SocketAddr) -> std::io::Result<TcpSocket> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    Ok(socket)
}

fn reuseport_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = new_socket(addr)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The runtimes beyond the caller's, one thread each.
#[derive(Debug)]
pub(super) struct Workers {
    stop: CancellationToken,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts one thread per listener, each running a single-threaded
    /// runtime that accepts on it (as the caller's runtime does on its own)
    /// until the node stops accepting.
    pub(super) fn start(listeners: Vec<std::net::TcpListener>, node: &Arc<Node>) -> Self {
        let stop = CancellationToken::new();
        let mut threads = Vec::with_capacity(listeners.len());
        for (i, listener) in listeners.into_iter().enumerate() {
            let (node, stop) = (node.clone(), stop.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("clarion-rt-{}", i + 1))
                .spawn(move || serve_on_own_runtime(listener, &node, &stop));
            match spawned {
                Ok(thread) => threads.push(thread),
                // Its listener is dropped: the others take its connections.
                Err(e) => tracing::error!(error = %e, "cannot start a runtime thread"),
            }
        }
        Self { stop, threads }
    }

    /// Ends every worker runtime (tasks still running on them are dropped)
    /// and waits for their threads.
    pub(super) async fn stop(self) {
        self.stop.cancel();
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

fn serve_on_own_runtime(
    listener: std::net::TcpListener,
    node: &Arc<Node>,
    stop: &CancellationToken,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a runtime");
            return;
        }
    };
    runtime.block_on(async {
        match TcpListener::from_std(listener) {
            Ok(listener) => {
                // The caller's runtime drops its listener right before it
                // cancels `token`: the same moment, as seen from here.
                accept_until(&listener, node, node.shutdown.token.cancelled()).await;
            }
            Err(e) => tracing::error!(error = %e, "cannot register a listener"),
        }
        stop.cancelled().await;
    });
}
