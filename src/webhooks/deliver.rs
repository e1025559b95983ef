//! Delivers one batch to one target: a signed `POST`, retried with
//! exponential backoff until it succeeds or `retry_for` has passed.
//!
//! The request is what Pusher's SDK validators accept: body
//! `{"time_ms":…,"events":[…]}`, `Content-Type: application/json` exactly,
//! `X-Pusher-Key` (the app key) and `X-Pusher-Signature` (hex HMAC-SHA256
//! of the body with the app secret). Any 2xx is success; another status,
//! a timeout or a refused connection is a failure to retry.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::value::RawValue;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::apps::App;
use crate::auth;
use crate::config::{WebhookConfig, WebhooksConfig};
use crate::metrics::WebhookOutcome;

/// One request's worth of events for one target.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The app.
    pub(crate) app_id: String,
    /// The target URL.
    pub(crate) url: String,
    /// The outbox keys of the events (acknowledged when done).
    pub(crate) keys: Vec<String>,
    /// The events' JSON, each with its id.
    pub(crate) events: Vec<String>,
}

/// The app's credentials and the target's settings at delivery time.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The app: its metric handles count attempts and retries.
    pub(crate) app: Arc<App>,
    /// `X-Pusher-Key`.
    pub(crate) key: String,
    /// Signs the body.
    pub(crate) secret: String,
    /// The target's settings.
    pub(crate) hook: WebhookConfig,
}

/// How a batch ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A 2xx answer, after this many attempts.
    Delivered { attempts: u32 },
    /// Retried for `retry_for` without success: bury it.
    GaveUp { attempts: u32, error: String },
    /// Shutdown came first: hand the events back to the outbox.
    Interrupted,
}

#[derive(Serialize)]
struct Body<'a> {
    time_ms: u64,
    events: Vec<&'a RawValue>,
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The request body for `events` (each a JSON object).
pub(crate) fn body(events: &[String]) -> String {
    let events = events
        .iter()
        .filter_map(|e| serde_json::from_str::<&RawValue>(e).ok())
        .collect();
    serde_json::to_string(&Body {
        time_ms: now_ms(),
        events,
    })
    .unwrap_or_else(|_| unreachable!("raw JSON values serialise"))
}

/// The wait before retry number `attempt` (1-based): `initial` doubling,
/// at most `max`, with up to a fifth of it added at random so retries of
/// many nodes do not arrive together.
pub(crate) fn backoff(attempt: u32, config: &WebhooksConfig) -> Duration {
    let base = config
        .retry_initial_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(20))
        .min(config.retry_max_ms.max(config.retry_initial_ms));
    let jitter = rand::random::<u64>() % (base / 5 + 1);
    Duration::from_millis(base + jitter)
}

/// Sends `batch` to `target` until it is delivered, `retry_for` has
/// passed, or `stop` is cancelled. Once `draining` is cancelled (shutdown)
/// a failed attempt is not retried here: the batch is handed back.
pub(crate) async fn deliver(
    client: &reqwest::Client,
    target: &Target,
    batch: &Batch,
    config: &WebhooksConfig,
    stop: &CancellationToken,
    draining: &CancellationToken,
) -> Outcome {
    let body = body(&batch.events);
    let signature = auth::sign(&target.secret, &body);
    let give_up_at = Instant::now() + Duration::from_secs(config.retry_for);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut request = client
            .post(&target.hook.url)
            .header("Content-Type", "application/json")
            .header("X-Pusher-Key", &target.key)
            .header("X-Pusher-Signature", &signature)
            .body(body.clone());
        for (name, value) in &target.hook.headers {
            request = request.header(name, value);
        }
        let error = tokio::select! {
            _ = stop.cancelled() => return Outcome::Interrupted,
            sent = request.send() => match sent {
                Ok(res) if res.status().is_success() => {
                    target.app.metrics.webhook_delivery(WebhookOutcome::Delivered);
                    return Outcome::Delivered { attempts };
                }
                Ok(res) => format!("HTTP {}", res.status().as_u16()),
                Err(e) if e.is_timeout() => "timed out".to_owned(),
                Err(e) if e.is_connect() => "connection failed".to_owned(),
                Err(e) => e.to_string(),
            },
        };
        target.app.metrics.webhook_delivery(WebhookOutcome::Failed);
        if draining.is_cancelled() {
            return Outcome::Interrupted;
        }
        let wait = backoff(attempts, config);
        if Instant::now() + wait > give_up_at {
            return Outcome::GaveUp { attempts, error };
        }
        tracing::debug!(
            url = %redact(&target.hook.url),
            attempts,
            %error,
            retry_in_ms = wait.as_millis(),
            "webhook delivery failed; retrying"
        );
        tokio::select! {
            _ = stop.cancelled() => return Outcome::Interrupted,
            _ = draining.cancelled() => return Outcome::Interrupted,
            _ = tokio::time::sleep(wait) => {}
        }
        target.app.metrics.webhook_retry();
    }
}

/// The URL without its query string or credentials, for logs.
pub(crate) fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut url) => {
            url.set_query(None);
            let _ = url.set_password(None);
            let _ = url.set_username("");
            url.to_string()
        }
        Err(_) => "(invalid URL)".to_owned(),
    }
}
