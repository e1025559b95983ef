//! Dead letters: batches that no retry delivered, kept per app (newest
//! first, at most `webhooks.dead_letters`) for the operator to read through
//! `GET /apps/{id}/webhooks/dead_letters`. In Redis (a list per app) when
//! scaling is on, so every node lists the same; in memory otherwise.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

use super::store::{Keys, Link};
use crate::adapter::redis::endpoint::Endpoint;

/// One buried batch, as the HTTP API lists it.
#[derive(Debug, Serialize)]
pub(crate) struct DeadLetter<'a> {
    /// The target.
    pub(crate) url: &'a str,
    /// Attempts made.
    pub(crate) attempts: u32,
    /// The last failure.
    pub(crate) error: &'a str,
    /// When it was given up, ms since the epoch.
    pub(crate) failed_at_ms: u64,
    /// The events, each with its id, as they were sent.
    pub(crate) events: Vec<&'a serde_json::value::RawValue>,
}

/// Where dead letters are kept.
#[derive(Debug, Clone)]
pub(crate) enum DeadLetters {
    /// One node.
    Memory {
        /// Per app, newest first.
        letters: Arc<Mutex<HashMap<String, VecDeque<String>>>>,
        /// Most kept per app.
        cap: usize,
    },
    /// Scaling on: a Redis list per app.
    Redis {
        /// The server or cluster.
        endpoint: Endpoint,
        /// Key names.
        keys: Keys,
        /// Most kept per app.
        cap: usize,
    },
}

impl DeadLetters {
    pub(crate) fn memory(cap: usize) -> Self {
        DeadLetters::Memory {
            letters: Arc::default(),
            cap,
        }
    }

    pub(crate) fn redis(endpoint: Endpoint, keys: Keys, cap: usize) -> Self {
        DeadLetters::Redis {
            endpoint,
            keys,
            cap,
        }
    }

    /// Keeps `letter` (JSON) for `app_id`.
    pub(crate) async fn bury(&self, app_id: &str, letter: String) {
        match self {
            DeadLetters::Memory { letters, cap } => {
                let mut letters = letters.lock().unwrap_or_else(PoisonError::into_inner);
                let list = letters.entry(app_id.to_owned()).or_default();
                list.push_front(letter);
                list.truncate(*cap);
            }
            DeadLetters::Redis {
                endpoint,
                keys,
                cap,
            } => {
                let key = keys.dead(app_id);
                let mut pipe = redis::pipe();
                pipe.cmd("LPUSH").arg(&key).arg(letter).ignore();
                pipe.cmd("LTRIM")
                    .arg(&key)
                    .arg(0)
                    .arg(cap.saturating_sub(1))
                    .ignore();
                let mut link = Link::new(endpoint.clone());
                let result = match link.get().await {
                    Ok(mut conn) => pipe.query_async::<()>(&mut conn).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    tracing::error!(app_id, error = %e, "webhooks: cannot keep a dead letter");
                }
            }
        }
    }

    /// The app's dead letters (JSON), newest first.
    pub(crate) async fn list(&self, app_id: &str) -> Result<Vec<String>, String> {
        match self {
            DeadLetters::Memory { letters, .. } => Ok(letters
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(app_id)
                .map(|l| l.iter().cloned().collect())
                .unwrap_or_default()),
            DeadLetters::Redis { endpoint, keys, .. } => {
                let mut link = Link::new(endpoint.clone());
                let mut conn = link.get().await.map_err(|e| e.to_string())?;
                redis::cmd("LRANGE")
                    .arg(keys.dead(app_id))
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Forgets the app's dead letters; returns how many there were.
    pub(crate) async fn clear(&self, app_id: &str) -> Result<usize, String> {
        match self {
            DeadLetters::Memory { letters, .. } => Ok(letters
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(app_id)
                .map_or(0, |l| l.len())),
            DeadLetters::Redis { endpoint, keys, .. } => {
                let mut link = Link::new(endpoint.clone());
                let mut conn = link.get().await.map_err(|e| e.to_string())?;
                let key = keys.dead(app_id);
                let (count,): (usize,) = redis::pipe()
                    .atomic()
                    .cmd("LLEN")
                    .arg(&key)
                    .cmd("DEL")
                    .arg(&key)
                    .ignore()
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(count)
            }
        }
    }
}
