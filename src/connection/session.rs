//! What one socket's messages do: subscribe, unsubscribe, client events,
//! sign-in, ping. A `Session` holds the socket's protocol state and acts on
//! the app's registry and the adapter; it does no IO itself — replies go
//! into the socket's own queue, in order with everything else it receives.

use std::sync::Arc;

use tokio::time::{Duration, Instant};

use crate::apps::watchlist::{self, Status, WatchlistError};
use crate::apps::App;
use crate::auth::{self, AuthError};
use crate::channels::{InvalidMember, Member};
use crate::config::ClientEventsFrom;
use crate::lifecycle::LifecycleEvent;
use crate::limits::SocketLimits;
use crate::metrics::Limit;
use crate::node::Node;
use crate::outbound::{Frame, SocketHandle};
use crate::protocol::{ChannelKind, ChannelName, ClientEvent, ErrorCode, ServerEvent, SocketId};
use crate::subscriptions;

/// Why a subscription was refused. The client is told 4009 whatever the
/// reason; the reason goes to the debug log.
#[derive(Debug, thiserror::Error)]
enum SubscribeRefused {
    /// The `auth` token did not verify.
    #[error("channel auth refused: {0}")]
    Auth(#[from] AuthError),
    /// A presence subscription without `channel_data`.
    #[error("presence subscription without channel_data")]
    MissingChannelData,
    /// `channel_data` names no usable member.
    #[error("{0}")]
    InvalidMember(#[from] InvalidMember),
    /// `#`-prefixed names are reserved for the server.
    #[error("reserved channel name")]
    Reserved,
    /// A `#server-to-user-` channel of another user, or before sign-in.
    #[error("server-to-user channel of another user")]
    OtherUser,
    /// The member's `user_info` is over the app's `max_user_info_bytes`.
    #[error("user_info of {0} bytes is over max_user_info_bytes")]
    UserInfoTooLarge(usize),
}

impl SubscribeRefused {
    /// The error the client is sent: 4009, or 4004 for a quota.
    fn code(&self) -> ErrorCode {
        match self {
            SubscribeRefused::UserInfoTooLarge(_) => ErrorCode::UserInfoTooLarge,
            _ => ErrorCode::Unauthorized,
        }
    }
}

/// Why a `pusher:signin` was refused (always 4009, then closed).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SigninRefused {
    /// The `auth` token did not verify.
    #[error("user auth refused: {0}")]
    Auth(#[from] AuthError),
    /// `user_data` is not a JSON object with a non-empty string `id`.
    #[error("user_data has no non-empty string id")]
    NoUserId,
    /// `user_data` has an unusable `watchlist`.
    #[error("{0}")]
    Watchlist(#[from] WatchlistError),
}

impl SigninRefused {
    /// The error the client is sent: a watchlist over the limit says so.
    fn code(&self) -> ErrorCode {
        match self {
            SigninRefused::Watchlist(WatchlistError::TooLong(_)) => ErrorCode::WatchlistTooLong,
            _ => ErrorCode::SigninFailed,
        }
    }
}

/// What the connection should do after a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Keep serving the socket.
    Continue,
    /// Send this error and close the socket with its code.
    Close(ErrorCode),
    /// An authorised subscribe: await the cluster's link to the channel
    /// (`Adapter::link`), then complete it with [`Session::subscribed`].
    /// The only message that waits, so every other one is handled without
    /// a future of its own.
    Subscribe(Accepted),
}

/// A subscribe that passed the limits and the authorisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// The channel.
    pub(crate) channel: ChannelName,
    /// The member it joins as, on presence channels.
    member: Option<Member>,
}

/// Per-socket message-rate window (Reverb's opt-in rate limiting).
#[derive(Debug)]
struct RateWindow {
    started: Instant,
    count: u32,
}

/// The protocol state of one socket.
#[derive(Debug)]
pub(crate) struct Session {
    pub(super) node: Arc<Node>,
    pub(super) app: Arc<App>,
    pub(super) socket_id: SocketId,
    pub(super) handle: SocketHandle,
    /// Channels this socket is subscribed to, for cleanup on close.
    channels: Vec<ChannelName>,
    /// The user this socket signed in as (`pusher:signin`).
    user_id: Option<Arc<str>>,
    rate: Option<RateWindow>,
    /// Client-event and subscription rate buckets (`limits.rs`).
    limits: SocketLimits,
}

impl Session {
    /// A session for a registered socket.
    pub(crate) fn new(
        node: Arc<Node>,
        app: Arc<App>,
        socket_id: SocketId,
        handle: SocketHandle,
    ) -> Self {
        Session {
            node,
            app,
            socket_id,
            handle,
            channels: Vec::new(),
            user_id: None,
            rate: None,
            limits: SocketLimits::new(Instant::now()),
        }
    }

    /// Whether the socket has signed in.
    pub(crate) fn signed_in(&self) -> bool {
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
    pub(crate) fn on_invalid(&mut self) -> Flow {
        if let Some(flow) = self.rate_limited() {
            return flow;
        }
        self.error(ErrorCode::InvalidMessageFormat)
    }

    /// Handles one text frame.
    pub(crate) fn on_text(&mut self, text: &str) -> Flow {
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
        let config = self.app.config();
        let limits = &config.rate_limiting;
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
        self.app.metrics.limited(Limit::Messages);
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
        if let Some(refused) = self.over_subscription_limits(name) {
            return self.error(refused);
        }
        let Ok(channel) = ChannelName::parse(name) else {
            return self.error(ErrorCode::InvalidMessageFormat);
        };
        let member = match self.authorize(&channel, auth_token, channel_data) {
            Ok(member) => member,
            Err(reason) => {
                tracing::debug!(socket_id = %self.socket_id, channel = name, %reason, "subscription refused");
                if matches!(reason, SubscribeRefused::UserInfoTooLarge(_)) {
                    self.app.metrics.limited(Limit::UserInfo);
                }
                return self.error(reason.code());
            }
        };
        Flow::Subscribe(Accepted { channel, member })
    }

    /// Completes an accepted subscribe; the caller holds the channel's
    /// cluster link until this returns.
    pub(crate) fn subscribed(&mut self, accepted: Accepted) -> Flow {
        let Accepted { channel, member } = accepted;
        let transition = subscriptions::subscribe(
            &self.node,
            &self.app,
            self.socket_id,
            &self.handle,
            &channel,
            member.as_ref(),
        );
        if transition.full {
            tracing::debug!(socket_id = %self.socket_id, channel = %channel, "presence channel full");
            return self.error(ErrorCode::PresenceChannelFull);
        }
        if transition.changed {
            self.channels.push(channel);
        }
        Flow::Continue
    }

    /// The socket's subscription rate and channel quota, checked before
    /// anything else (no signature is verified for a refused subscribe).
    /// A repeated subscribe to a channel the socket is on is not a new
    /// channel, but it is a request.
    fn over_subscription_limits(&mut self, name: &str) -> Option<ErrorCode> {
        let config = self.app.config();
        let max_channels = config.max_channels_per_socket;
        // The burst lets a reconnecting client subscribe to every channel
        // it may hold at once.
        let burst = match max_channels {
            0 => 100,
            n => u32::try_from(n).unwrap_or(u32::MAX),
        };
        let per_second = config.subscriptions_per_second;
        if !self
            .limits
            .subscription(Instant::now(), per_second, burst.max(per_second))
        {
            self.app.metrics.limited(Limit::Subscriptions);
            return Some(ErrorCode::SubscriptionRateLimited);
        }
        let is_new = !self.channels.iter().any(|c| c.as_str() == name);
        if max_channels > 0 && is_new && self.channels.len() >= max_channels {
            self.app.metrics.limited(Limit::Channels);
            return Some(ErrorCode::OverChannelQuota);
        }
        None
    }

    /// Checks a subscription's auth; returns the member on presence channels.
    fn authorize(
        &self,
        channel: &ChannelName,
        auth_token: Option<&str>,
        channel_data: Option<&str>,
    ) -> Result<Option<Member>, SubscribeRefused> {
        let config = self.app.config();
        let socket_id = self.socket_id.to_string();
        let name = channel.as_str();
        match channel.kind() {
            ChannelKind::Public => Ok(None),
            ChannelKind::Reserved => Err(SubscribeRefused::Reserved),
            ChannelKind::ServerToUser => {
                if channel.server_to_user_id() == self.user_id.as_deref() {
                    Ok(None)
                } else {
                    Err(SubscribeRefused::OtherUser)
                }
            }
            ChannelKind::Private | ChannelKind::PrivateEncrypted => {
                auth::verify_channel_auth(
                    &config.key,
                    &config.secret,
                    &socket_id,
                    name,
                    None,
                    auth_token,
                )?;
                Ok(None)
            }
            ChannelKind::Presence => {
                let data = channel_data.ok_or(SubscribeRefused::MissingChannelData)?;
                auth::verify_channel_auth(
                    &config.key,
                    &config.secret,
                    &socket_id,
                    name,
                    Some(data),
                    auth_token,
                )?;
                let member = Member::from_channel_data(data)?;
                let info = member.user_info_json.as_deref().map_or(0, str::len);
                let max = config.max_user_info_bytes;
                if max > 0 && info > max {
                    return Err(SubscribeRefused::UserInfoTooLarge(info));
                }
                Ok(Some(member))
            }
        }
    }

    fn unsubscribe(&mut self, name: &str) {
        let Some(pos) = self.channels.iter().position(|c| c.as_str() == name) else {
            return;
        };
        let channel = self.channels.swap_remove(pos);
        subscriptions::unsubscribe(&self.node, &self.app, self.socket_id, &channel);
    }

    fn client_event(&mut self, event: &str, name: &str, data_json: &str) -> Flow {
        let config = self.app.config();
        if config.accept_client_events_from == ClientEventsFrom::None {
            return self.error(ErrorCode::ClientEventsDisabled);
        }
        if !self
            .limits
            .client_event(Instant::now(), config.client_events_per_second)
        {
            self.app.metrics.limited(Limit::ClientEvents);
            return self.error(ErrorCode::ClientEventRateLimited);
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
        self.node.webhooks.client_event(
            &self.app,
            &channel,
            event,
            data_json,
            self.socket_id,
            user_id.as_deref(),
        );
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
        let (id, watching) = match self.verify_signin(auth_token, user_data) {
            Ok(signed) => signed,
            Err(reason) => {
                tracing::debug!(socket_id = %self.socket_id, %reason, "sign-in refused");
                return Flow::Close(reason.code());
            }
        };
        if let Some(old) = self.user_id.replace(id.clone()) {
            self.app.sockets.remove_user(&old, self.socket_id);
        }
        self.app.sockets.add_user(&id, self.socket_id);
        // Success first: the watchlist snapshot follows it.
        self.reply(ServerEvent::SigninSuccess { user_data });
        self.app.watchlists.sign_in(
            self.socket_id,
            &self.handle,
            id,
            watching,
            announce(&self.node, &self.app),
        );
        Flow::Continue
    }

    /// Checks a sign-in; returns the user id and the watchlist from
    /// `user_data`.
    fn verify_signin(
        &self,
        auth_token: &str,
        user_data: &str,
    ) -> Result<(Arc<str>, Vec<Arc<str>>), SigninRefused> {
        let config = self.app.config();
        auth::verify_user_auth(
            &config.key,
            &config.secret,
            &self.socket_id.to_string(),
            user_data,
            auth_token,
        )?;
        signed_in_user(user_data)
    }

    /// Leaves every channel and forgets the socket: the last step of every
    /// connection, however it ended.
    pub(crate) fn close(&mut self) {
        for channel in std::mem::take(&mut self.channels) {
            subscriptions::unsubscribe(&self.node, &self.app, self.socket_id, &channel);
        }
        if let Some(user) = self.user_id.take() {
            self.app.sockets.remove_user(&user, self.socket_id);
            self.app
                .watchlists
                .sign_out(self.socket_id, announce(&self.node, &self.app));
        }
        self.app.remove_socket(self.socket_id);
    }
}

/// Tells the cluster about a user's first or last signed-in socket on this
/// node.
/// The user id and watchlist of a sign-in's `user_data` (already
/// verified): a JSON object with a non-empty string `id`.
///
/// # Errors
/// [`SigninRefused::NoUserId`] or [`SigninRefused::Watchlist`].
pub(crate) fn signed_in_user(user_data: &str) -> Result<(Arc<str>, Vec<Arc<str>>), SigninRefused> {
    let data = serde_json::from_str::<serde_json::Value>(user_data)
        .map_err(|_| SigninRefused::NoUserId)?;
    let id = data
        .get("id")
        .and_then(|id| id.as_str())
        .filter(|id| !id.is_empty())
        .map(Arc::from)
        .ok_or(SigninRefused::NoUserId)?;
    Ok((id, watchlist::parse(&data)?))
}

fn announce<'a>(node: &'a Node, app: &'a App) -> impl FnMut(Status, &str) + 'a {
    move |status, user_id| match status {
        Status::Online => node.adapter.user_online(app, user_id),
        Status::Offline => node.adapter.user_offline(app, user_id),
    }
}
