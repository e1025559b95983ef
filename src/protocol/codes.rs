//! Pusher error and close codes: the one place where a failure becomes the
//! number a client library acts on.
//!
//! | range | pusher-js reaction |
//! |---|---|
//! | 4000–4099 | refused: do not reconnect with the same parameters |
//! | 4100–4199 | back off: reconnect after at least one second |
//! | 4200–4299 | reconnect immediately |
//! | 4300–4399 | other errors (after the handshake: reported, socket kept) |
//!
//! The app's limits (`limits.rs`) follow one rule: a *quota* (channels per
//! socket, members per presence channel, `user_info` size) refuses the one
//! request with 4004 — asking again unchanged cannot succeed — and a *rate*
//! (client events, subscriptions per second) refuses it with 4301 — asking
//! again later can. Either way the socket stays open and keeps everything
//! else it had: closing it would make pusher-js reconnect and ask for the
//! same channels again (4100–4299) or give up on the whole connection
//! (4000–4099). pusher-js reports the `pusher:error` as a connection
//! `error` event and changes nothing else.

/// Every `pusher:error` this server sends, with its code and exact message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 4001: the key in `/app/{key}` names no app.
    ApplicationDoesNotExist,
    /// 4004: the app is at its `max_connections`.
    OverConnectionQuota,
    /// 4004: a subscribe beyond the socket's `max_channels_per_socket`
    /// (socket kept).
    OverChannelQuota,
    /// 4004: a new member for a presence channel at its
    /// `max_presence_members` (socket kept).
    PresenceChannelFull,
    /// 4004: a presence `user_info` over `max_user_info_bytes` (socket
    /// kept).
    UserInfoTooLarge,
    /// 4009: the `Origin` header is not in the app's `allowed_origins`.
    OriginNotAllowed,
    /// 4009: bad or missing channel auth on subscribe.
    Unauthorized,
    /// 4009: a client event from a socket not subscribed to the channel.
    NotAMember,
    /// 4009: `pusher:signin` with a bad signature or bad `user_data`.
    SigninFailed,
    /// 4009: `pusher:signin` whose `user_data` names more watched users
    /// than a watchlist may hold.
    WatchlistTooLong,
    /// 4009: the app requires sign-in and the socket did not sign in in time.
    SigninTimeout,
    /// 4009: the publisher called `terminate_connections` for this user.
    TerminatedByApp,
    /// 4100: the socket's outbound queue overflowed (slow consumer).
    OverCapacity,
    /// 4100: writing the socket's queue took longer than
    /// `server.write_timeout` (a stalled consumer).
    WriteTimedOut,
    /// 4100: the process is at its connection capacity (file limit).
    ServerOverCapacity,
    /// 4200: the frame is not a valid Pusher message.
    InvalidMessageFormat,
    /// 4200: the server is shutting down; reconnect (to another replica).
    ServerShuttingDown,
    /// 4201: the socket stayed silent after a ping.
    PongNotReceived,
    /// 4301: the per-socket message rate limit was exceeded.
    RateLimitExceeded,
    /// 4301: a client event beyond `client_events_per_second` (dropped).
    ClientEventRateLimited,
    /// 4301: a subscribe beyond `subscriptions_per_second` (refused).
    SubscriptionRateLimited,
    /// 4301: the app does not accept client events.
    ClientEventsDisabled,
    /// 4301: client events are not allowed on this kind of channel.
    ClientEventsNotAllowedOnChannel,
}

impl ErrorCode {
    /// The numeric Pusher code (also used as the WebSocket close code).
    pub fn code(self) -> u16 {
        use ErrorCode::*;
        match self {
            ApplicationDoesNotExist => 4001,
            OverConnectionQuota | OverChannelQuota | PresenceChannelFull | UserInfoTooLarge => 4004,
            OriginNotAllowed | Unauthorized | NotAMember | SigninFailed | WatchlistTooLong
            | SigninTimeout | TerminatedByApp => 4009,
            OverCapacity | WriteTimedOut | ServerOverCapacity => 4100,
            InvalidMessageFormat | ServerShuttingDown => 4200,
            PongNotReceived => 4201,
            RateLimitExceeded
            | ClientEventRateLimited
            | SubscriptionRateLimited
            | ClientEventsDisabled
            | ClientEventsNotAllowedOnChannel => 4301,
        }
    }

    /// The human-readable message (Reverb's exact text where Reverb has one).
    pub fn message(self) -> &'static str {
        use ErrorCode::*;
        match self {
            ApplicationDoesNotExist => "Application does not exist",
            OverConnectionQuota => "Application is over connection quota",
            OverChannelQuota => "Subscription refused: the connection is at its channel limit",
            PresenceChannelFull => "Subscription refused: the presence channel is full",
            UserInfoTooLarge => "Subscription refused: user_info is too large",
            OriginNotAllowed => "Origin not allowed",
            Unauthorized => "Connection is unauthorized",
            NotAMember => "The client is not a member of the specified channel.",
            SigninFailed => "Invalid signin: signature or user_data rejected",
            WatchlistTooLong => "Invalid signin: a watchlist holds at most 100 user ids",
            SigninTimeout => "Connection not signed in within the allowed time",
            TerminatedByApp => "Connection terminated by the application",
            OverCapacity => "Connection is over capacity: too many undelivered messages",
            WriteTimedOut => "Connection is over capacity: writing to it timed out",
            ServerOverCapacity => "Server is over capacity",
            InvalidMessageFormat => "Invalid message format",
            ServerShuttingDown => "Server shutting down",
            PongNotReceived => "Pong reply not received in time",
            RateLimitExceeded => "Rate limit exceeded",
            ClientEventRateLimited => "Client event rejected due to rate limit",
            SubscriptionRateLimited => "Subscription rejected due to rate limit",
            ClientEventsDisabled => "The app does not have client messaging enabled.",
            ClientEventsNotAllowedOnChannel => {
                "Client events are only allowed on private and presence channels"
            }
        }
    }

    /// Whether the server closes the socket after sending this error.
    pub fn closes_connection(self) -> bool {
        use ErrorCode::*;
        matches!(
            self,
            ApplicationDoesNotExist
                | OverConnectionQuota
                | OriginNotAllowed
                | SigninFailed
                | WatchlistTooLong
                | SigninTimeout
                | TerminatedByApp
                | OverCapacity
                | WriteTimedOut
                | ServerOverCapacity
                | ServerShuttingDown
                | PongNotReceived
        )
    }
}

/// WebSocket close code for a frame over the size limit (RFC 6455).
pub(crate) const CLOSE_MESSAGE_TOO_BIG: u16 = 1009;
/// WebSocket close code for invalid UTF-8 in a text frame (RFC 6455).
pub(crate) const CLOSE_INVALID_PAYLOAD: u16 = 1007;
/// WebSocket close code for a protocol violation (RFC 6455).
pub(crate) const CLOSE_PROTOCOL_ERROR: u16 = 1002;
