//! What one socket's messages do: subscribe, unsubscribe, client events,
//! sign-in, ping. A `Session` holds the socket's protocol state and acts on
//! the app's registry and the adapter; it does no IO itself — replies go
//! into the socket's own queue, in order with everything else it receives.

use std::sync::Arc;

use tokio::time::{Duration, Instant};

use crate::apps::App;
use crate::auth;
use crate::channels::Member;
use crate::config::ClientEventsFrom;
use crate::lifecycle::LifecycleEvent;
use crate::node::Node;
use crate::outbound::{Frame, SocketHandle};
use crate::protocol::{ChannelKind, ChannelName, ClientEvent, ErrorCode, ServerEvent, SocketId};

/// What the connection should do after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep serving the socket.
    Continue,
    /// Send this error and close the socket with its code.
    Close(ErrorCode),
}

/// Per-socket message-rate window (Reverb's opt-in rate limiting).
#[derive(Debug)]
struct RateWindow {
    started: Instant,
    count: u32,
}

/// The protocol state of one socket.
#[derive(Debug)]
pub struct Session {
    pub(super) node: Arc<Node>,
    pub(super) app: Arc<App>,
    pub(super) socket_id: SocketId,
    pub(super) handle: SocketHandle,
    /// Channels this socket is subscribed to, for cleanup on close.
    channels: Vec<ChannelName>,
    /// The user this socket signed in as (`pusher:signin`).
    user_id: Option<Arc<str>>,
    rate: Option<RateWindow>,
}

impl Session {
    /// A session for a registered socket.
    pub fn new(node: Arc<Node>, app: Arc<App>, socket_id: SocketId, handle: SocketHandle) -> Self {
        Session {
            node,
            app,
            socket_id,
            handle,
            channels: Vec::new(),
            user_id: None,
            rate: None,
        }
    }

    /// Whether the socket has signed in.
    pub fn signed_in(&self) -> bool {
        self.user_id.is_some()
    }

    fn reply(&self, event: ServerEvent<'_>) {
        let _ = self.handle.send(&Frame::from(event.to_json()));
    }

    fn error(&self, code: ErrorCode) -> Flow {
        if code.closes_connection() {
            return Flow::Close(code);
        }
        self.reply(ServerEvent::Error(code));
        Flow::Continue
    }

    /// Handles a frame that cannot be a Pusher message (binary).
    pub fn on_invalid(&mut self) -> Flow {
        if let Some(flow) = self.rate_limited() {
            return flow;
        }
        self.error(ErrorCode::InvalidMessageFormat)
    }

    /// Handles one text frame.
    pub fn on_text(&mut self, text: &str) -> Flow {
        if let Some(flow) = self.rate_limited() {
            return flow;
        }
        let event = match ClientEvent::parse(text) {
            Ok(event) => event,
            Err(e) => {
                tracing::debug!(socket_id = %self.socket_id, error = %e, "invalid message");
                return self.error(ErrorCode::InvalidMessageFormat);
            }
        };
        match event {
            ClientEvent::Ping => {
                self.reply(ServerEvent::Pong);
                Flow::Continue
            }
            ClientEvent::Pong | ClientEvent::Ignored => Flow::Continue,
            ClientEvent::Subscribe {
                channel,
                auth,
                channel_data,
            } => self.subscribe(&channel, auth.as_deref(), channel_data.as_deref()),
            ClientEvent::Unsubscribe { channel } => {
                self.unsubscribe(&channel);
                Flow::Continue
            }
            ClientEvent::Signin { auth, user_data } => self.signin(&auth, &user_data),
            ClientEvent::Client {
                event,
                channel,
                data,
            } => self.client_event(&event, &channel, &data),
        }
    }

    /// Counts a message against the app's rate limit, if enabled.
    fn rate_limited(&mut self) -> Option<Flow> {
        let limits = &self.app.config.rate_limiting;
        if !limits.enabled {
            return None;
        }
        let now = Instant::now();
        let window = Duration::from_secs(limits.decay_seconds);
        let rate = self.rate.get_or_insert(RateWindow {
            started: now,
            count: 0,
        });
        if now.duration_since(rate.started) >= window {
            rate.started = now;
            rate.count = 0;
        }
        rate.count = rate.count.saturating_add(1);
        if rate.count <= limits.max_attempts {
            return None;
        }
        if limits.terminate_on_limit {
            Some(Flow::Close(ErrorCode::RateLimitExceeded))
        } else {
            self.reply(ServerEvent::Error(ErrorCode::RateLimitExceeded));
            Some(Flow::Continue)
        }
    }

    fn subscribe(
        &mut self,
        name: &str,
        auth_token: Option<&str>,
        channel_data: Option<&str>,
    ) -> Flow {
        let Ok(channel) = ChannelName::parse(name) else {
            return self.error(ErrorCode::InvalidMessageFormat);
        };
        let socket_id = self.socket_id.to_string();
        let config = &self.app.config;
        let kind = channel.kind();
        let allowed = match kind {
            ChannelKind::Public => true,
            ChannelKind::Reserved => false,
            ChannelKind::ServerToUser => channel.server_to_user_id() == self.user_id.as_deref(),
            ChannelKind::Private | ChannelKind::PrivateEncrypted => auth::verify_channel_auth(
                &config.key,
                &config.secret,
                &socket_id,
                name,
                None,
                auth_token,
            )
            .is_ok(),
            ChannelKind::Presence => channel_data.is_some_and(|data| {
                auth::verify_channel_auth(
                    &config.key,
                    &config.secret,
                    &socket_id,
                    name,
                    Some(data),
                    auth_token,
                )
                .is_ok()
            }),
        };
        if !allowed {
            return self.error(ErrorCode::Unauthorized);
        }
        let member = match (kind, channel_data) {
            (ChannelKind::Presence, Some(data)) => match Member::from_channel_data(data) {
                Ok(m) => Some(m),
                Err(_) => return self.error(ErrorCode::Unauthorized),
            },
            _ => None,
        };
        // Register before acknowledging: the ack is queued by the registry
        // under the channel's guard, after the socket is in place.
        let outcome = self.app.channels.subscribe(
            &channel,
            self.socket_id,
            &self.handle,
            member.as_ref(),
            config.subscription_count_events,
        );
        if outcome.already {
            return Flow::Continue;
        }
        if let Some(m) = &member {
            self.app.add_user_socket(&m.user_id, self.socket_id);
            if outcome.first_local {
                self.node.adapter.member_joined(&self.app, &channel, m);
            }
        }
        if channel.is_cache() {
            match self.app.cached(channel.as_str()) {
                Some(frame) => {
                    let _ = self.handle.send(&frame);
                }
                None => self.reply(ServerEvent::CacheMiss {
                    channel: channel.as_str(),
                }),
            }
        }
        let app_id = &self.app.id;
        if outcome.occupied {
            self.node.lifecycle.emit(LifecycleEvent::ChannelOccupied {
                app_id: app_id.clone(),
                channel: channel.clone(),
            });
        }
        if let Some(user_id) = outcome.member_added {
            self.node.lifecycle.emit(LifecycleEvent::MemberAdded {
                app_id: app_id.clone(),
                channel: channel.clone(),
                user_id,
            });
        }
        self.channels.push(channel);
        Flow::Continue
    }

    fn unsubscribe(&mut self, name: &str) {
        let Some(pos) = self.channels.iter().position(|c| c.as_str() == name) else {
            return;
        };
        let channel = self.channels.swap_remove(pos);
        self.leave(&channel);
    }

    fn leave(&self, channel: &ChannelName) {
        let count_events = self.app.config.subscription_count_events;
        let outcome = self
            .app
            .channels
            .unsubscribe(channel.as_str(), self.socket_id, count_events);
        if let Some(user) = &outcome.user_id {
            self.app.remove_user_socket(user, self.socket_id);
        }
        if let Some(user_id) = &outcome.last_local {
            self.node.adapter.member_left(&self.app, channel, user_id);
        }
        if let Some(user_id) = outcome.member_removed {
            self.node.lifecycle.emit(LifecycleEvent::MemberRemoved {
                app_id: self.app.id.clone(),
                channel: channel.clone(),
                user_id,
            });
        }
        if outcome.vacated {
            self.node.lifecycle.emit(LifecycleEvent::ChannelVacated {
                app_id: self.app.id.clone(),
                channel: channel.clone(),
            });
        }
    }

    fn client_event(&mut self, event: &str, name: &str, data_json: &str) -> Flow {
        let config = &self.app.config;
        if config.accept_client_events_from == ClientEventsFrom::None {
            return self.error(ErrorCode::ClientEventsDisabled);
        }
        let Ok(channel) = ChannelName::parse(name) else {
            return self.error(ErrorCode::InvalidMessageFormat);
        };
        let kind_allowed = match channel.kind() {
            ChannelKind::Private | ChannelKind::Presence => true,
            ChannelKind::Public => config.client_events_on_public_channels,
            ChannelKind::PrivateEncrypted | ChannelKind::ServerToUser | ChannelKind::Reserved => {
                false
            }
        };
        if !kind_allowed {
            return self.error(ErrorCode::ClientEventsNotAllowedOnChannel);
        }
        let user_id = match self.app.channels.subscription(name, self.socket_id) {
            Some(user_id) => user_id,
            None if config.accept_client_events_from == ClientEventsFrom::All => None,
            None => return self.error(ErrorCode::NotAMember),
        };
        let frame = Frame::from(
            ServerEvent::ClientRelay {
                event,
                channel: name,
                data_json,
                user_id: user_id.as_deref(),
            }
            .to_json(),
        );
        self.node
            .adapter
            .publish(&self.app, &channel, &frame, Some(self.socket_id));
        self.node
            .lifecycle
            .emit_with(|| LifecycleEvent::ClientEvent {
                app_id: self.app.id.clone(),
                channel: channel.clone(),
                event: Arc::from(event),
                socket_id: self.socket_id,
            });
        Flow::Continue
    }

    fn signin(&mut self, auth_token: &str, user_data: &str) -> Flow {
        let config = &self.app.config;
        let socket_id = self.socket_id.to_string();
        if auth::verify_user_auth(
            &config.key,
            &config.secret,
            &socket_id,
            user_data,
            auth_token,
        )
        .is_err()
        {
            return Flow::Close(ErrorCode::SigninFailed);
        }
        let id = serde_json::from_str::<serde_json::Value>(user_data)
            .ok()
            .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned))
            .filter(|id| !id.is_empty());
        let Some(id) = id else {
            return Flow::Close(ErrorCode::SigninFailed);
        };
        let id: Arc<str> = Arc::from(id);
        if let Some(old) = self.user_id.replace(id.clone()) {
            self.app.remove_user_socket(&old, self.socket_id);
        }
        self.app.add_user_socket(&id, self.socket_id);
        self.reply(ServerEvent::SigninSuccess { user_data });
        Flow::Continue
    }

    /// Leaves every channel and forgets the socket: the last step of every
    /// connection, however it ended.
    pub fn close(&mut self) {
        for channel in std::mem::take(&mut self.channels) {
            self.leave(&channel);
        }
        if let Some(user) = self.user_id.take() {
            self.app.remove_user_socket(&user, self.socket_id);
        }
        self.app.remove_socket(self.socket_id);
    }
}
