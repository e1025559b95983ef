//! Publish one event through the signed Pusher HTTP API, as a backend SDK
//! would.
//!
//! Run with:
//! `cargo run --example trigger -- 127.0.0.1:8080 orders OrderShipped '{"id":1}'`
//! (app `1000` / `app-key` / `app-secret`, the development app).

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let channel = args.next().unwrap_or_else(|| "orders".to_owned());
    let event = args.next().unwrap_or_else(|| "OrderShipped".to_owned());
    let data = args.next().unwrap_or_else(|| r#"{"id":1}"#.to_owned());

    let body = serde_json::json!({ "name": event, "channel": channel, "data": data }).to_string();
    let path = "/apps/1000/events";
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let query = clarion::auth::http_signature::signed_query(
        "app-key",
        "app-secret",
        "POST",
        path,
        &[],
        body.as_bytes(),
        now,
    );

    let mut stream = tokio::net::TcpStream::connect(&addr).await?;
    let request = format!(
        "POST {path}?{query} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    println!("{}", response.lines().next().unwrap_or_default());
    println!("{}", response.split("\r\n\r\n").nth(1).unwrap_or_default());
    Ok(())
}
