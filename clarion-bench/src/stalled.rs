//! `fanout --stalled N`: N more subscribers that connect, subscribe to
//! every channel of the run and then never read, the slow consumers a
//! server must cut loose without delaying anyone else; and the server's
//! peak RSS, sampled through the run.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::client::{self, ClientError, Ws};
use super::publisher;
use super::target::Target;

/// How often the server's RSS is sampled for its peak.
const RSS_EVERY: Duration = Duration::from_millis(100);

/// Connects `n` sockets (numbered from `first`, for `--source-addrs`) and
/// subscribes each to channels `0..channels`; they are never read again.
///
/// # Errors
/// The first socket that could not connect or subscribe.
pub(crate) async fn connect(
    target: &Target,
    first: usize,
    n: usize,
    channels: usize,
) -> Result<Vec<Ws>, ClientError> {
    let mut stalled = Vec::with_capacity(n);
    for i in 0..n {
        let mut conn = client::connect(target, first + i).await?;
        for c in 0..channels {
            let name = publisher::channel_name(target, c);
            client::subscribe(&mut conn, target, &name, false, None).await?;
        }
        stalled.push(conn.ws);
    }
    Ok(stalled)
}

/// How many of the stalled sockets the server has closed: each is read
/// (what the kernel still holds, then the close) for at most `wait`.
pub(crate) async fn closed_by_server(stalled: Vec<Ws>, wait: Duration) -> usize {
    let mut closed = 0;
    for mut ws in stalled {
        let drained = tokio::time::timeout(wait, async {
            while let Some(Ok(msg)) = ws.next().await {
                if msg.is_close() {
                    break;
                }
            }
        });
        if drained.await.is_ok() {
            closed += 1;
        }
    }
    closed
}

/// Samples the server's RSS until `stop`; the task returns the peak, or
/// `None` without `--server-pid`.
pub(crate) fn peak_rss(target: Arc<Target>, stop: CancellationToken) -> JoinHandle<Option<u64>> {
    tokio::spawn(async move {
        let mut peak = None;
        loop {
            if let Some(sample) = target.server_sample() {
                peak = Some(peak.unwrap_or(0).max(sample.rss_bytes));
            }
            tokio::select! {
                () = stop.cancelled() => return peak,
                () = tokio::time::sleep(RSS_EVERY) => {}
            }
        }
    })
}
