//! Draining a stopping node so that nobody notices the restart: the
//! timings of each step and the random moment each socket closes at.
//!
//! On the first SIGTERM/SIGINT (`server::run`):
//!
//! 1. **Pause** (`server.drain_pause`, default 2 s): `/ready` answers 503 so
//!    load balancers take the node out of rotation, while the listener and
//!    every socket, stream and HTTP request keep working.
//! 2. **Spread** (`server.drain_spread`, default 80 % of
//!    `shutdown_grace_period`): the listener closes, and every WebSocket
//!    and event stream closes at its own uniformly random moment within
//!    the spread (`pusher:error` 4200 "reconnect now"), so its clients
//!    reconnect to the other replicas gradually instead of all at once.
//! 3. **Grace** (`server.shutdown_grace_period`, counted from the end of the
//!    pause): the process waits for every task, then says `bye` to the
//!    cluster and exits, at the latest when the grace period ends. The
//!    20 % the default spread leaves are for the last close frames (a
//!    socket has at most 2 s to take them) and the cluster's `bye`.
//!
//! A second signal at any point closes every socket at once
//! (`Shutdown::close_now`).

use std::time::Duration;

use crate::config::ServerConfig;
use crate::node::Node;

/// Share of the grace period the closes are spread over when
/// `drain_spread` is not set: 4/5.
const DEFAULT_SPREAD: (u32, u32) = (4, 5);

/// How long a stopping node keeps serving while not ready.
pub(crate) fn pause(server: &ServerConfig) -> Duration {
    Duration::from_secs(server.drain_pause)
}

/// The window the sockets' closes are spread over: `drain_spread`, else
/// 80 % of the grace period.
pub(crate) fn spread(server: &ServerConfig) -> Duration {
    match server.drain_spread {
        Some(secs) => Duration::from_secs(secs),
        None => {
            Duration::from_secs(server.shutdown_grace_period) * DEFAULT_SPREAD.0 / DEFAULT_SPREAD.1
        }
    }
}

/// How long after the pause one socket waits before it closes: uniform
/// within the spread, drawn once per socket.
pub(crate) fn close_delay(server: &ServerConfig) -> Duration {
    spread(server).mul_f64(rand::random::<f64>())
}

/// Step 1: waits out the pause, or less when a second signal closes
/// everything now. The caller keeps accepting meanwhile.
pub(crate) async fn wait_pause(node: &Node) {
    let pause = pause(&node.server);
    if pause.is_zero() {
        return;
    }
    tokio::select! {
        _ = tokio::time::sleep(pause) => {}
        _ = node.shutdown.now.cancelled() => {}
    }
}

#[cfg(test)]
mod tests;
