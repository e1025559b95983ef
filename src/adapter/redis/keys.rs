//! The names of the adapter's Redis channels and streams, and on a Redis
//! Cluster the hash slot each one lands in.
//!
//! - control channel: `{scaling.channel}:clarion`;
//! - a channel's events: `{scaling.channel}:clarion:{app id}:{channel}`;
//! - an app's event history: `{scaling.channel}:clarion:history:{app id}`;
//! - a cache channel's last event: `{scaling.channel}:clarion:cache:{app id}:{channel}`.
//!
//! On a cluster, a Redis key (or shard channel) lives in the slot of its
//! hash tag — the text between the first `{` and the next `}` — or of the
//! whole name without one. Event channels carry no tag, so one app's
//! channels spread over every shard. The exception is an app that keeps
//! event history: each of its events is added to the app's stream and
//! published in one script (so every node receives them in the order of
//! their stream ids, see `link.rs`), and a script may only touch one
//! slot. Such an app is *pinned*: its channels and its stream share the
//! hash tag `{app id}` (`…:clarion:{1000}:news`, `…:clarion:history:{1000}`),
//! so all its event traffic goes through one shard. Adding to the stream
//! and then publishing separately would spread it, but two nodes
//! publishing on one channel could then deliver events out of id order
//! and break resuming. Whether an app is pinned is decided the first time
//! this node uses it and kept (every node must agree on it, so turning
//! history on or off takes effect with a restart of every node; the reload
//! warns).

use std::sync::Arc;

use dashmap::DashMap;

use crate::apps::App;

/// Channel and stream names of one deployment.
#[derive(Debug)]
pub(super) struct Keys {
    /// The control channel, also the prefix of every other name.
    control: String,
    /// Names for a Redis Cluster (hash tags for pinned apps).
    cluster: bool,
    /// On a cluster: for each app seen, whether it is pinned.
    pinned: DashMap<Arc<str>, bool>,
}

impl Keys {
    /// The names under `{scaling_channel}:clarion`.
    pub(super) fn new(scaling_channel: &str, cluster: bool) -> Self {
        Keys {
            control: format!("{scaling_channel}:clarion"),
            cluster,
            pinned: DashMap::new(),
        }
    }

    /// The control channel.
    pub(super) fn control(&self) -> &str {
        &self.control
    }

    /// On a cluster, whether `app`'s keys share its slot (see the module
    /// header); decided at the first call.
    pub(super) fn pinned(&self, app: &App) -> bool {
        if !self.cluster {
            return false;
        }
        if let Some(pinned) = self.pinned.get(&app.id) {
            return *pinned;
        }
        *self
            .pinned
            .entry(app.id.clone())
            .or_insert_with(|| app.history.enabled())
    }

    /// The pub/sub channel of `app`'s `channel`. Pusher channel names have
    /// no `:`, so the last one separates the parts whatever the app id
    /// holds.
    pub(super) fn channel(&self, app: &App, channel: &str) -> String {
        if self.pinned(app) {
            format!("{}:{}:{channel}", self.control, tag(&app.id))
        } else {
            format!("{}:{}:{channel}", self.control, app.id)
        }
    }

    /// The key holding the last event of `app`'s cache channel `channel`
    /// (a plain key, read and written alone: any slot will do).
    pub(super) fn cache(&self, app: &App, channel: &str) -> String {
        format!("{}:cache:{}:{channel}", self.control, app.id)
    }

    /// The stream of `app`'s event history.
    pub(super) fn history(&self, app: &App) -> String {
        if self.cluster {
            format!("{}:history:{}", self.control, tag(&app.id))
        } else {
            format!("{}:history:{}", self.control, app.id)
        }
    }
}

/// `{app id}`: a hash tag that is the whole app id (braces inside it would
/// end the tag early, so they become `_`; two ids that then collide only
/// share a slot and a channel name, and each event still names its app).
fn tag(app_id: &str) -> String {
    let inner: String = app_id
        .chars()
        .map(|c| if matches!(c, '{' | '}') { '_' } else { c })
        .collect();
    format!("{{{inner}}}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AppConfig;

    fn app(id: &str, history: usize) -> App {
        App::new(AppConfig {
            id: id.to_owned(),
            event_history: history,
            ..AppConfig::development()
        })
    }

    #[test]
    fn one_server_keeps_the_plain_names() {
        let keys = Keys::new("reverb", false);
        let app = app("1000", 100);
        assert_eq!(keys.control(), "reverb:clarion");
        assert_eq!(keys.channel(&app, "news"), "reverb:clarion:1000:news");
        assert_eq!(keys.history(&app), "reverb:clarion:history:1000");
    }

    #[test]
    fn a_cluster_pins_only_apps_with_history_and_keeps_the_decision() {
        let keys = Keys::new("reverb", true);
        let spread = app("1", 0);
        assert_eq!(keys.channel(&spread, "news"), "reverb:clarion:1:news");
        let pinned = app("a{b}", 100);
        assert_eq!(keys.channel(&pinned, "news"), "reverb:clarion:{a_b_}:news");
        assert_eq!(keys.history(&pinned), "reverb:clarion:history:{a_b_}");
        // Turning history off later does not move the app's channels.
        pinned.reconfigure(AppConfig {
            id: "a{b}".to_owned(),
            event_history: 0,
            ..AppConfig::development()
        });
        assert!(!pinned.history.enabled());
        assert!(keys.pinned(&pinned));
    }
}
