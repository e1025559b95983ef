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
