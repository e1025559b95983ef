//! Opening many subscribed sockets at once: one task per socket, at most
//! `--connect-concurrency` handshakes in flight, readiness counted in
//! [`Live`], and a wait until every socket is ready or has failed (sampling
//! the server half-way, for marginal per-connection figures).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::client::{self, Conn};
use super::proc_stats::ProcSample;
use super::stats::Live;
use super::target::Target;

/// Spawns `n` socket tasks. Socket `i` subscribes to each channel of
/// `channels_of(i)` (signed for private channels when `signed`), then runs
/// `body(i, conn)`; failures are tallied in `live` and yield `None`.
pub(crate) fn spawn<T, C, F, Fut>(
    target: &Arc<Target>,
    n: usize,
    live: &Arc<Live>,
    channels_of: C,
    signed: bool,
    body: F,
) -> JoinSet<Option<T>>
where
    T: Send + 'static,
    C: Fn(usize) -> Vec<String>,
    F: Fn(usize, Conn) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(target.connect_concurrency));
    let mut set = JoinSet::new();
    for i in 0..n {
        let (target, live, gate, body) = (target.clone(), live.clone(), gate.clone(), body.clone());
        let channels = channels_of(i);
        set.spawn(async move {
            let permit = gate.acquire_owned().await.ok()?;
            let conn = client::connect_subscribed(&target, i, &channels, signed).await;
            drop(permit);
            match conn {
                Ok(conn) => {
                    Live::add(&live.ready, 1);
                    Some(body(i, conn).await)
                }
                Err(e) => {
                    Live::add(&live.failed, 1);
                    live.fail(e.kind(), e);
                    None
                }
            }
        });
    }
    set
}

/// How the opening went.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settled {
    /// Time from the call until every socket was ready or failed.
    pub elapsed: Duration,
    /// Ready sockets and server sample when half of them were ready.
    pub half: Option<(u64, ProcSample)>,
    /// Whether every socket settled before the deadline.
    pub complete: bool,
}

/// Waits until `n` sockets are ready or failed (bounded by what the connect
/// timeout allows for `n` sockets), sampling the server when half are ready.
pub(crate) async fn settle(target: &Target, live: &Live, n: usize, started: Instant) -> Settled {
    let waves = (n / target.connect_concurrency + 1) as u32;
    let deadline =
        started + target.connect_timeout * waves.saturating_mul(2) + Duration::from_secs(5);
    let mut half = None;
    loop {
        let ready = Live::get(&live.ready);
        let done = ready + Live::get(&live.failed);
        if half.is_none() && ready >= (n as u64).div_ceil(2) {
            half = target.server_sample().map(|s| (ready, s));
        }
        if done >= n as u64 || Instant::now() >= deadline {
            return Settled {
                elapsed: started.elapsed(),
                half,
                complete: done >= n as u64,
            };
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Collects task outputs, giving up on stragglers after `wait`.
pub(crate) async fn join<T: 'static>(set: &mut JoinSet<Option<T>>, wait: Duration) -> Vec<T> {
    let mut out = Vec::with_capacity(set.len());
    let deadline = Instant::now() + wait;
    while let Ok(Some(res)) = tokio::time::timeout_at(deadline, set.join_next()).await {
        if let Ok(Some(v)) = res {
            out.push(v);
        }
    }
    set.abort_all();
    out
}

/// Fails the run when not one socket of the fleet subscribed, quoting the
/// first failure so the user sees why (wrong key, server down, …).
pub(crate) fn require_some_ready(live: &Live, what: &str) -> Result<(), super::BenchError> {
    if Live::get(&live.ready) > 0 {
        return Ok(());
    }
    let why = live
        .failures()
        .first()
        .map(|f| f.2.clone())
        .unwrap_or_default();
    Err(super::BenchError::Setup(format!(
        "no {what} could subscribe: {why}"
    )))
}
