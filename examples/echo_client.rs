//! A WebSocket client that subscribes to one public channel and prints
//! every frame it receives.
//!
//! Run with:
//! `cargo run --example echo_client -- ws://127.0.0.1:8080/app/app-key orders`

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:8080/app/app-key".to_owned());
    let channel = args.next().unwrap_or_else(|| "orders".to_owned());
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}?protocol=7")).await?;
    let subscribe =
        serde_json::json!({ "event": "pusher:subscribe", "data": { "channel": channel } });
    ws.send(Message::text(subscribe.to_string())).await?;
    while let Some(message) = ws.next().await {
        match message? {
            Message::Text(text) => println!("{text}"),
            Message::Close(frame) => {
                println!("closed: {frame:?}");
                break;
            }
            _ => {}
        }
    }
    Ok(())
}
