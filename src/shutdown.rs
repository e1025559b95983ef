//! Shutdown: one future that resolves on SIGINT or SIGTERM, and the token
//! and task tracker through which every task sees shutdown and is waited on.

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Lets every task see that shutdown began, and lets the server wait for
/// all of them to finish.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shutdown {
    /// Cancelled once, when shutdown begins.
    pub(crate) token: CancellationToken,
    /// Every connection task is spawned on this, so the server can wait.
    pub(crate) tracker: TaskTracker,
}

/// Resolves when the process receives SIGINT or SIGTERM, and logs which.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
                    _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
                tracing::info!("interrupt received, shutting down");
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("interrupt received, shutting down");
    }
}
