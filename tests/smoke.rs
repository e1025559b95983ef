mod support;
use support::*;

#[tokio::test]
async fn publish_reaches_subscriber() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    a.subscribe("orders").await;
    server
        .trigger("orders", "OrderShipped", r#"{"id":1}"#)
        .await;
    let f = a.expect_event("OrderShipped").await;
    assert_eq!(f["data"], r#"{"id":1}"#);
    assert_eq!(f["channel"], "orders");
    server.shutdown().await;
}

#[tokio::test]
async fn terminate_closes_presence_member() {
    let server = TestServer::start().await;
    let mut a = server.connect().await;
    a.subscribe_presence("presence-x", "alice").await;
    let (status, _) = server
        .api(
            "POST",
            "/apps/1000/users/alice/terminate_connections",
            &[],
            "{}",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(a.expect_close().await, 4009);
    server.shutdown().await;
}
