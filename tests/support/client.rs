//! The WebSocket test client: sends frames, waits for specific frames
//! with a timeout, and asserts what must (not) have arrived.

use futures_util::{SinkExt, StreamExt};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::WAIT;
/// A WebSocket test client.
pub(crate) struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub socket_id: String,
}

/// What a wait ended with.
#[derive(Debug)]
pub(crate) enum Received {
    Frame(Value),
    Closed(Option<CloseFrame>),
}

impl Client {
    pub(crate) async fn send_json(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub(crate) async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_owned()))
            .await
            .expect("send");
    }

    /// The next text frame as JSON, or the close frame; panics after [`WAIT`].
    pub(crate) async fn next(&mut self) -> Received {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within the wait");
            match message {
                Some(Ok(Message::Text(t))) => {
                    return Received::Frame(
                        serde_json::from_str(t.as_str()).expect("server frames are JSON"),
                    )
                }
                Some(Ok(Message::Close(frame))) => return Received::Closed(frame),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Received::Closed(None),
            }
        }
    }

    /// The next text frame; panics on close.
    pub(crate) async fn frame(&mut self) -> Value {
        match self.next().await {
            Received::Frame(v) => v,
            Received::Closed(c) => panic!("socket closed while waiting for a frame: {c:?}"),
        }
    }

    /// Skips frames until one with `event` arrives.
    pub(crate) async fn expect_event(&mut self, event: &str) -> Value {
        loop {
            let frame = self.frame().await;
            if frame["event"] == event {
                return frame;
            }
        }
    }

    /// Waits for the close frame; returns its code.
    pub(crate) async fn expect_close(&mut self) -> u16 {
        loop {
            if let Received::Closed(frame) = self.next().await {
                return frame.map_or(1006, |f| u16::from(f.code));
            }
        }
    }

    /// Waits for a `pusher:error` and returns its code.
    pub(crate) async fn expect_error(&mut self) -> i64 {
        let frame = self.expect_event("pusher:error").await;
        let data: Value =
            serde_json::from_str(frame["data"].as_str().expect("error data is a string"))
                .expect("json");
        data["code"].as_i64().expect("code")
    }

    /// Subscribes to a public channel and waits for the ack.
    pub(crate) async fn subscribe(&mut self, channel: &str) {
        self.send_json(
            serde_json::json!({"event":"pusher:subscribe","data":{"auth":"","channel":channel}}),
        )
        .await;
        self.expect_event("pusher_internal:subscription_succeeded")
            .await;
    }

    /// Subscribes to a private channel with a valid signature.
    pub(crate) async fn subscribe_private(&mut self, channel: &str) {
        let auth = clarion::auth::channel_auth_token(
            "app-key",
            "app-secret",
            &self.socket_id,
            channel,
            None,
        );
        self.send_json(
            serde_json::json!({"event":"pusher:subscribe","data":{"auth":auth,"channel":channel}}),
        )
        .await;
        self.expect_event("pusher_internal:subscription_succeeded")
            .await;
    }

    /// Subscribes to a presence channel; returns the succeeded frame's data.
    pub(crate) async fn subscribe_presence(&mut self, channel: &str, user_id: &str) -> Value {
        let channel_data = serde_json::json!({"user_id": user_id, "user_info": {"name": format!("user {user_id}")}}).to_string();
        let auth = clarion::auth::channel_auth_token(
            "app-key",
            "app-secret",
            &self.socket_id,
            channel,
            Some(&channel_data),
        );
        self.send_json(serde_json::json!({"event":"pusher:subscribe","data":{"auth":auth,"channel":channel,"channel_data":channel_data}})).await;
        let frame = self
            .expect_event("pusher_internal:subscription_succeeded")
            .await;
        serde_json::from_str(frame["data"].as_str().expect("string data")).expect("json")
    }

    /// Proves nothing else is queued for this client: sends a ping and
    /// asserts the very next frame is the pong.
    pub(crate) async fn assert_nothing_pending(&mut self) {
        self.send_text(r#"{"event":"pusher:ping","data":{}}"#).await;
        let frame = self.frame().await;
        assert_eq!(
            frame["event"], "pusher:pong",
            "unexpected frame before pong: {frame}"
        );
    }
}

impl Client {
    /// The next WebSocket message of any kind (pings and pongs included);
    /// `None` when the stream ended.
    pub(crate) async fn next_message(&mut self) -> Option<Message> {
        tokio::time::timeout(WAIT, self.ws.next())
            .await
            .expect("a message within the wait")
            .and_then(Result::ok)
    }

    pub(crate) async fn send_message(&mut self, message: Message) {
        self.ws.send(message).await.expect("send");
    }

    /// Waits for a `pusher:error`; returns its code and message.
    pub(crate) async fn expect_error_message(&mut self) -> (i64, String) {
        let frame = self.expect_event("pusher:error").await;
        assert!(frame.get("channel").is_none(), "errors carry no channel");
        let data: Value =
            serde_json::from_str(frame["data"].as_str().expect("error data is a string"))
                .expect("json");
        (
            data["code"].as_i64().expect("code"),
            data["message"].as_str().expect("message").to_owned(),
        )
    }

    /// The very next frame must be `pusher:error` with `code` and `message`,
    /// followed by a close frame with the same code.
    pub(crate) async fn expect_refusal(&mut self, code: u16, message: &str) {
        let frame = self.frame().await;
        assert_eq!(frame["event"], "pusher:error", "got {frame}");
        let data: Value =
            serde_json::from_str(frame["data"].as_str().expect("string data")).expect("json");
        assert_eq!(data["code"], code, "got {frame}");
        assert_eq!(data["message"], message, "got {frame}");
        assert_eq!(self.expect_close().await, code);
    }

    /// A valid auth token for `channel` (and presence `channel_data`).
    pub(crate) fn auth(&self, channel: &str, channel_data: Option<&str>) -> String {
        clarion::auth::channel_auth_token(
            "app-key",
            "app-secret",
            &self.socket_id,
            channel,
            channel_data,
        )
    }

    /// Sends `pusher:subscribe` with `data` as given, waiting for nothing.
    pub(crate) async fn send_subscribe(&mut self, data: Value) {
        self.send_json(serde_json::json!({"event":"pusher:subscribe","data":data}))
            .await;
    }

    /// Subscribes to a presence channel with exactly this `channel_data`
    /// string; returns the succeeded frame.
    pub(crate) async fn subscribe_presence_raw(
        &mut self,
        channel: &str,
        channel_data: &str,
    ) -> Value {
        let auth = self.auth(channel, Some(channel_data));
        self.send_subscribe(
            serde_json::json!({"auth":auth,"channel":channel,"channel_data":channel_data}),
        )
        .await;
        self.expect_event("pusher_internal:subscription_succeeded")
            .await
    }

    pub(crate) async fn unsubscribe(&mut self, channel: &str) {
        self.send_json(
            serde_json::json!({"event":"pusher:unsubscribe","data":{"channel":channel}}),
        )
        .await;
    }

    /// Sends `pusher:signin` signed for `user_data` with the default app.
    pub(crate) async fn send_signin(&mut self, user_data: &str) {
        let sig = clarion::auth::sign(
            "app-secret",
            &format!("{}::user::{user_data}", self.socket_id),
        );
        self.send_json(serde_json::json!({"event":"pusher:signin","data":{"auth":format!("app-key:{sig}"),"user_data":user_data}}))
            .await;
    }

    /// Signs in and waits for `pusher:signin_success`.
    pub(crate) async fn signin(&mut self, user_data: &str) -> Value {
        self.send_signin(user_data).await;
        self.expect_event("pusher:signin_success").await
    }

    /// Sends a client event.
    pub(crate) async fn whisper(&mut self, channel: &str, event: &str, data: Value) {
        self.send_json(serde_json::json!({"event":event,"channel":channel,"data":data}))
            .await;
    }

    /// Closes the socket cleanly and waits for the server's close reply.
    pub(crate) async fn close(mut self) {
        let _ = self.ws.close(None).await;
        while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, self.ws.next()).await {}
    }
    /// The next text frame's exact text (control frames skipped); panics on
    /// close.
    pub(crate) async fn ws_text(&mut self) -> String {
        loop {
            match self.next_message().await {
                Some(Message::Text(t)) => return t.as_str().to_owned(),
                Some(Message::Close(c)) => panic!("closed while waiting for text: {c:?}"),
                None => panic!("stream ended while waiting for text"),
                Some(_) => continue,
            }
        }
    }
}

impl Client {
    /// The next frame named `event` within `limit`, skipping others;
    /// `None` when none came.
    pub(crate) async fn try_event(&mut self, event: &str, limit: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            if let Ok(Message::Text(t)) = message {
                let frame: Value = serde_json::from_str(t.as_str()).ok()?;
                if frame["event"] == event {
                    return Some(frame);
                }
            }
        }
    }

    /// The next frame that is not a (late) cluster link probe.
    pub(crate) async fn next_real(&mut self) -> Value {
        loop {
            let frame = self.frame().await;
            if frame["event"] != "probe" {
                return frame;
            }
        }
    }
}
