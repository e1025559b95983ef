//! Checks of a cluster's presence state from outside, for
//! `cluster-presence`: each node's per-channel `user_count` through the HTTP
//! API (`GET /apps/{id}/channels?filter_by_prefix=…&info=user_count`, which a
//! Clarion node answers from its own copy of the rosters), polled until it
//! equals what is expected; and a probe member that joins a channel on a
//! given node and compares the roster of its `subscription_succeeded` with
//! the channel's members.

use std::collections::BTreeMap;

use serde_json::Value;
use tokio::time::{Duration, Instant};

use super::client::{self, ClientError};
use super::nodes::Node;
use super::publisher;
use super::roster::{self, Roster};

/// Channel name → user count.
pub(crate) type Counts = BTreeMap<String, u64>;

/// The `user_count`s of a channels-list answer.
pub(crate) fn user_counts(answer: &Value) -> Counts {
    answer["channels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(name, attrs)| (name.clone(), attrs["user_count"].as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

/// Channels of `expected` whose count differs in `seen` (a channel absent
/// from `seen` counts 0), plus channels in `seen` with users that
/// `expected` does not name.
pub(crate) fn mismatches(expected: &Counts, seen: &Counts) -> usize {
    let wrong = expected
        .iter()
        .filter(|(name, n)| seen.get(*name).copied().unwrap_or(0) != **n)
        .count();
    let extra = seen
        .iter()
        .filter(|(name, n)| **n > 0 && !expected.contains_key(*name))
        .count();
    wrong + extra
}

/// Polls `node` every `every` until its user counts under `prefix` equal
/// `expected`. Returns (time until the API first answered, time until the
/// counts matched), both from `since`, or the mismatch count at `deadline`.
pub(crate) async fn until_counts(
    node: &Node,
    prefix: &str,
    expected: &Counts,
    since: Instant,
    deadline: Instant,
    every: Duration,
) -> Result<(Duration, Duration), (Option<Duration>, usize)> {
    let path = format!("/apps/{}/channels", node.target.app_id);
    let params = [("filter_by_prefix", prefix), ("info", "user_count")];
    let mut sender: Option<publisher::Sender> = None;
    let mut answered: Option<Duration> = None;
    let mut last_mismatch = expected.len();
    while Instant::now() < deadline {
        let s = match sender.take().filter(|s| !s.is_closed()) {
            Some(s) => Some(s),
            None => publisher::open(&node.target).await.ok(),
        };
        if let Some(mut s) = s {
            let got = tokio::time::timeout_at(
                deadline,
                publisher::get_json(&mut s, &node.target, &path, &params),
            )
            .await;
            sender = Some(s);
            if let Ok(Ok(answer)) = got {
                answered.get_or_insert_with(|| since.elapsed());
                last_mismatch = mismatches(expected, &user_counts(&answer));
                if last_mismatch == 0 {
                    let done = since.elapsed();
                    return Ok((answered.unwrap_or(done), done));
                }
            }
        }
        tokio::time::sleep(every).await;
    }
    Err((answered, last_mismatch))
}

/// What one probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Probe {
    /// Members of the channel missing from the probe's roster.
    pub missing: u64,
    /// Bench members in the roster that should not be there.
    pub extra: u64,
}

/// Joins `channel` on `node` as a new user (`user_id` outside the bench's
/// `u{i}` ids), reads the roster of its `subscription_succeeded`, leaves,
/// and compares the roster with `expected` (over `members` bench members).
pub(crate) async fn probe(
    node: &Node,
    channel: &str,
    user_id: &str,
    members: usize,
    expected: &Roster,
) -> Result<Probe, ClientError> {
    let target = &node.target;
    let run = async {
        let mut conn = client::connect(target, 0).await?;
        let data = format!(r#"{{"user_id":"{user_id}","user_info":{{"probe":true}}}}"#);
        let frame = client::subscribe(&mut conn, target, channel, true, Some(&data)).await?;
        let mut seen = Roster::new(members);
        roster::apply(&mut seen, &frame);
        client::unsubscribe(&mut conn.ws, channel).await?;
        client::close(conn.ws, Duration::from_secs(1)).await;
        let (missing, extra) = seen.diff(expected);
        Ok(Probe { missing, extra })
    };
    tokio::time::timeout(target.connect_timeout, run)
        .await
        .map_err(|_| ClientError::Timeout("probe subscription"))?
}

#[cfg(test)]
mod tests;
