//! The cluster's event history: an app's events kept in a capped Redis
//! stream (added and published in one script, see `link.rs`), read back for
//! an event stream that resumes on a node that did not log them.

use tokio::time::Duration;

use super::{Envelope, Inner};
use crate::adapter::HistoricEvent;
use crate::apps::history::EventId;
use crate::apps::App;
use crate::outbound::Frame;
use crate::protocol::ChannelName;

impl Inner {
    /// Events of `app` after `after`, oldest first; `None` when the stream
    /// no longer holds them all (or Redis does not answer in time).
    pub(super) async fn history_after(
        &self,
        app: &App,
        after: EventId,
    ) -> Option<Vec<HistoricEvent>> {
        let inner = self;
        let mut conn = Inner::lock(&inner.commands).clone()?;
        let key = inner.keys.history(app);
        let timeout = Duration::from_millis(inner.config.query_timeout_ms);
        let first: redis::Value = tokio::time::timeout(
            timeout,
            redis::cmd("XRANGE")
                .arg(&key)
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut conn),
        )
        .await
        .ok()?
        .ok()?;
        // Complete only if the stream still holds the client's last event:
        // everything after it is then still there.
        let oldest = stream_entries(first).into_iter().next()?.0;
        if after < oldest {
            return None;
        }
        let rest: redis::Value = tokio::time::timeout(
            timeout,
            redis::cmd("XRANGE")
                .arg(&key)
                .arg(format!("({after}"))
                .arg("+")
                .query_async(&mut conn),
        )
        .await
        .ok()?
        .ok()?;
        Some(
            stream_entries(rest)
                .into_iter()
                .filter_map(|(id, text)| match serde_json::from_str(&text).ok()? {
                    Envelope::Event { channel, frame, .. } => Some(HistoricEvent {
                        id,
                        channel: ChannelName::parse(&channel).ok()?,
                        frame: Frame::from(frame),
                    }),
                    _ => None,
                })
                .collect(),
        )
    }
}

/// `(id, envelope text)` of each entry of an `XRANGE` reply (entries are
/// `[id, [field, value, …]]`; the envelope is field `m`).
fn stream_entries(reply: redis::Value) -> Vec<(EventId, String)> {
    let redis::Value::Array(entries) = reply else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let redis::Value::Array(mut parts) = entry else {
                return None;
            };
            let fields = parts.pop()?;
            let id: String = redis::from_redis_value(&parts.pop()?).ok()?;
            let fields: Vec<String> = redis::from_redis_value(&fields).ok()?;
            let text = fields
                .chunks(2)
                .find(|kv| kv.first().is_some_and(|k| k == "m"))?
                .get(1)?
                .clone();
            Some((EventId::parse(&id)?, text))
        })
        .collect()
}
