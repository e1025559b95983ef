//! Graceful shutdown: every socket, subscribed or not, gets `pusher:error`
//! 4200 and a close frame 4200; the listener stops accepting; an HTTP
//! request already in flight still completes (checklist item 110).

mod support;

use support::*;

#[tokio::test]
async fn every_socket_gets_4200_then_close() {
    let server = TestServer::start().await;
    let mut idle = server.connect().await;
    let mut subscribed = server.connect().await;
    subscribed.subscribe("orders").await;
    let mut present = server.connect().await;
    present.subscribe_presence("presence-room", "1").await;
    let addr = server.addr;
    server.shutdown().await;
    for client in [&mut idle, &mut subscribed, &mut present] {
        client.expect_refusal(4200, "Server shutting down").await;
    }
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn queued_events_are_flushed_before_the_shutdown_error() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.subscribe("orders").await;
    server.trigger("orders", "last-words", "x").await;
    server.shutdown().await;
    assert_eq!(client.frame().await["event"], "last-words");
    client.expect_refusal(4200, "Server shutting down").await;
}

#[tokio::test]
async fn an_http_request_in_flight_completes() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let mut watcher = server.connect().await;
    let body = serde_json::json!({"name":"e","channel":"orders","data":"x"}).to_string();
    let query = server.signed("POST", "/apps/1000/events", &[], &body);
    let head = format!(
        "POST /apps/1000/events?{query} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.as_bytes().split_at(10);
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(first).await.expect("write");
    // Prove the server has the request: a round trip on another socket
    // happens after it read the head (same single-threaded runtime).
    watcher.assert_nothing_pending().await;

    let stopping = tokio::spawn(server.shutdown());
    // Shutdown has begun once the WebSocket is told.
    watcher.expect_refusal(4200, "Server shutting down").await;
    stream
        .write_all(rest)
        .await
        .expect("write the rest of the body");
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, async {
        use tokio::io::AsyncReadExt;
        let _ = stream.read_to_end(&mut response).await;
    })
    .await
    .expect("response in time");
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("{}"), "{text}");
    stopping.await.expect("shutdown finished");
}
