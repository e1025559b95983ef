//! Online status across the cluster, for watchlists: the node side of the
//! `online` / `offline` / `signed_in` envelopes.
//!
//! It follows the presence machinery: a node announces a user's first and
//! last signed-in socket on it (`online` / `offline`), every node keeps, per
//! user, the set of other nodes where the user is signed in, and a node that
//! is forgotten (`bye`, or silent for `node_timeout_ms`) takes its users
//! with it. After (re)linking, and in answer to `sync`, a node publishes one
//! `signed_in` per app: the complete list of its signed-in users, which
//! replaces whatever receivers held for it.

use super::{Envelope, Inner};

impl Inner {
    /// Applies another node's online-status envelope; other envelopes are
    /// ignored.
    pub(super) fn apply_online(&self, envelope: Envelope) {
        match envelope {
            Envelope::Online { node, app, user } => {
                if let Some(app) = self.apps.by_id(&app) {
                    app.watchlists.remote_online(node, &user);
                }
            }
            Envelope::Offline { node, app, user } => {
                if let Some(app) = self.apps.by_id(&app) {
                    app.watchlists.remote_offline(node, &user);
                }
            }
            Envelope::SignedIn { node, app, users } => {
                if let Some(app) = self.apps.by_id(&app) {
                    app.watchlists.replace_node(node, &users);
                }
            }
            _ => {}
        }
    }

    /// Publishes, for every app, the users signed in on this node. Each
    /// list is queued under its app's watchlist lock, so no later
    /// `online`/`offline` of this node can overtake it.
    pub(super) fn publish_signed_in(&self) {
        for app in self.apps.iter() {
            app.watchlists.local_users(|users| {
                self.send(&Envelope::SignedIn {
                    node: self.node_id,
                    app: app.id.to_string(),
                    users,
                })
            });
        }
    }

    /// Forgets the users node `node` had signed in: those signed in nowhere
    /// else go offline for their watchers here.
    pub(super) fn forget_signed_in(&self, node: u64) {
        for app in self.apps.iter() {
            app.watchlists.forget_node(node);
        }
    }
}
