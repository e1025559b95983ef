//! The once-per-second progress line on stderr for long runs: connections,
//! messages delivered so far and their rate over the last second, failures.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use tokio_util::sync::CancellationToken;

use super::stats::Live;

/// A running progress printer; stops when dropped or [`Progress::stop`]ped.
#[derive(Debug)]
pub(crate) struct Progress {
    stop: CancellationToken,
}

impl Progress {
    /// Prints `[label Ns] conns R (+F failed, D dropped)  delivered N (+r/s)
    /// done N` every second while enabled. `total` is the socket count aimed
    /// at (shown as `R/total`).
    pub(crate) fn start(enabled: bool, label: &'static str, live: Arc<Live>, total: u64) -> Self {
        let stop = CancellationToken::new();
        if enabled {
            let token = stop.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                tick.tick().await;
                let mut last = Live::get(&live.delivered);
                loop {
                    tokio::select! {
                        () = token.cancelled() => break,
                        _ = tick.tick() => {}
                    }
                    let delivered = Live::get(&live.delivered);
                    eprintln!(
                        "{}",
                        line(
                            label,
                            start.elapsed(),
                            &live,
                            total,
                            delivered,
                            delivered - last
                        )
                    );
                    last = delivered;
                }
            });
        }
        Self { stop }
    }

    /// Stops printing.
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn line(
    label: &str,
    elapsed: Duration,
    live: &Live,
    total: u64,
    delivered: u64,
    last_second: u64,
) -> String {
    format!(
        "[{label} {:>4}s] conns {}/{total} (failed {}, dropped {})  delivered {delivered} \
         (+{last_second}/s)  done {}",
        elapsed.as_secs(),
        Live::get(&live.ready),
        Live::get(&live.failed),
        Live::get(&live.dropped),
        Live::get(&live.done),
    )
}

#[cfg(test)]
mod tests;
