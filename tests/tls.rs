//! `[server.tls]`: `wss://` and `https://` on the one listener, a burst
//! larger than the socket buffers through the TLS write path, and
//! certificate reload on SIGHUP through the real binary (new connections
//! get the new certificate, open sockets keep receiving; a bad pair keeps
//! the old one).

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio_rustls::rustls::ClientConfig;

use clarion::auth::http_signature::signed_query;
use support::process::{ConfigFile, Process};
use support::tls::{client_config, connect_wss, https, peer_certificate, TestCa, TlsFiles};
use support::{app, config_with, now, TestServer};

/// A signed HTTP API call over HTTPS with the development app.
async fn api(
    addr: SocketAddr,
    tls: Arc<ClientConfig>,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    let query = signed_query(
        "app-key",
        "app-secret",
        method,
        path,
        &[],
        body.as_bytes(),
        now(),
    );
    let (status, text, _) = https(addr, tls, method, &format!("{path}?{query}"), body).await;
    (status, text)
}

async fn tls_server(files: &TlsFiles) -> TestServer {
    let mut config = config_with(app());
    config.server.tls = Some(files.config());
    config.server.max_request_size = 4 << 20;
    TestServer::with_config(config).await
}

#[tokio::test]
async fn wss_and_https_are_served_on_the_one_port() {
    let ca = TestCa::new("clarion-test-ca");
    let leaf = ca.leaf();
    let files = TlsFiles::new(&leaf);
    let server = tls_server(&files).await;
    let trust = client_config(&[&ca]);

    let mut client = connect_wss(server.addr, "app-key", trust.clone()).await;
    assert_eq!(peer_certificate(&client), leaf.der);
    client.subscribe("news").await;
    let body = json!({"name": "headline", "channel": "news", "data": "{\"n\":1}"}).to_string();
    let (status, reply) = api(
        server.addr,
        trust.clone(),
        "POST",
        "/apps/1000/events",
        &body,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let event = client.expect_event("headline").await;
    assert_eq!(event["data"], "{\"n\":1}");

    // Client events and pings go the other way through the same session.
    client
        .send_json(json!({"event": "pusher:ping", "data": {}}))
        .await;
    client.expect_event("pusher:pong").await;

    let (status, text, cert) = https(server.addr, trust.clone(), "GET", "/up", "").await;
    assert_eq!((status, text.as_str()), (200, r#"{"health":"OK"}"#));
    assert_eq!(cert, leaf.der);

    // Plain HTTP on the TLS port gets no HTTP answer.
    let (status, _) = support::raw_http(server.addr, "GET", "/up", "").await;
    assert_eq!(status, 0, "plain HTTP is not served on a TLS listener");

    // A client that trusts another CA refuses the certificate.
    let stranger = client_config(&[&TestCa::new("another-ca")]);
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("tcp");
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let refused = tokio_rustls::TlsConnector::from(stranger)
        .connect(name, tcp)
        .await;
    assert!(refused.is_err(), "an untrusted certificate is refused");

    client.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_burst_larger_than_the_socket_buffers_arrives_whole_and_in_order() {
    let ca = TestCa::new("clarion-test-ca");
    let files = TlsFiles::new(&ca.leaf());
    let server = tls_server(&files).await;
    let trust = client_config(&[&ca]);
    let mut reader = connect_wss(server.addr, "app-key", trust.clone()).await;
    reader.subscribe("burst").await;

    // 400 events of 16 KiB (6.4 MiB) while the client reads nothing: the
    // kernel buffers fill, records wait in the session and frames in the
    // queue, and the socket's task writes them as the client catches up.
    let payload = "x".repeat(16 << 10);
    for batch in 0..4 {
        let events: Vec<Value> = (0..100)
            .map(|i| {
                let n = batch * 100 + i;
                json!({"name": "chunk", "channel": "burst", "data": format!("{n}:{payload}")})
            })
            .collect();
        let body = json!({ "batch": events }).to_string();
        let (status, reply) = api(
            server.addr,
            trust.clone(),
            "POST",
            "/apps/1000/batch_events",
            &body,
        )
        .await;
        assert_eq!(status, 200, "{reply}");
    }
    for expected in 0..400 {
        let event = reader.expect_event("chunk").await;
        let data = event["data"].as_str().expect("data");
        let (n, rest) = data.split_once(':').expect("n:payload");
        assert_eq!(n, expected.to_string(), "in order");
        assert_eq!(rest.len(), payload.len(), "whole");
    }
    reader.assert_nothing_pending().await;
    server.shutdown().await;
}

/// Waits until a new connection is served the certificate `want`.
async fn wait_for_certificate(addr: SocketAddr, trust: Arc<ClientConfig>, want: &[u8]) {
    support::eventually(Duration::from_secs(10), || {
        let trust = trust.clone();
        async move {
            let (_, _, cert) = https(addr, trust, "GET", "/up", "").await;
            (cert.as_ref() == want).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn sighup_reloads_the_certificate_without_dropping_sockets() {
    let (first_ca, second_ca) = (TestCa::new("first-ca"), TestCa::new("second-ca"));
    let (first, second) = (first_ca.leaf(), second_ca.leaf());
    let files = TlsFiles::new(&first);
    let config = ConfigFile::new(&format!(
        "{}[[apps]]\nid = \"1000\"\nkey = \"app-key\"\nsecret = \"app-secret\"\n",
        files.toml()
    ));
    let mut server = Process::start(&["--config", config.arg()], &[]).await;
    let trust = client_config(&[&first_ca, &second_ca]);

    let mut old = connect_wss(server.addr, "app-key", trust.clone()).await;
    assert_eq!(peer_certificate(&old), first.der);
    old.subscribe("news").await;

    files.write(&second);
    server.signal("HUP");
    server.line_with("TLS certificate reloaded").await;
    wait_for_certificate(server.addr, trust.clone(), &second.der).await;
    let new = connect_wss(server.addr, "app-key", trust.clone()).await;
    assert_eq!(peer_certificate(&new), second.der);

    // The socket opened before the reload still receives events.
    let body = json!({"name": "after-reload", "channel": "news", "data": "{}"}).to_string();
    let (status, reply) = api(
        server.addr,
        trust.clone(),
        "POST",
        "/apps/1000/events",
        &body,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    old.expect_event("after-reload").await;

    // A file that holds no certificate keeps the one in use, and says why.
    std::fs::write(&files.cert, "not a certificate").expect("write");
    server.signal("HUP");
    let line = server.line_with("TLS certificate not reloaded").await;
    assert!(line.contains("cert.pem"), "{line}");
    // A key that is not the certificate's is refused too.
    let stranger = first_ca.leaf();
    std::fs::write(&files.cert, &second.cert_pem).expect("write");
    std::fs::write(&files.key, &stranger.key_pem).expect("write");
    server.signal("HUP");
    let line = server.line_with("TLS certificate not reloaded").await;
    assert!(line.contains("does not belong"), "{line}");
    assert!(
        !line.contains("PRIVATE KEY"),
        "no key material in the log: {line}"
    );
    let (_, _, cert) = https(server.addr, trust.clone(), "GET", "/up", "").await;
    assert_eq!(cert, second.der, "the certificate in use stays");

    let body = json!({"name": "still-here", "channel": "news", "data": "{}"}).to_string();
    let (status, _) = api(server.addr, trust, "POST", "/apps/1000/events", &body).await;
    assert_eq!(status, 200);
    old.expect_event("still-here").await;
    old.close().await;
    new.close().await;
}

#[tokio::test]
async fn a_certificate_that_does_not_load_stops_the_start() {
    let ca = TestCa::new("clarion-test-ca");
    let (leaf, stranger) = (ca.leaf(), ca.leaf());
    let files = TlsFiles::new(&leaf);
    for (cert, key, says) in [
        ("garbage", leaf.key_pem.as_str(), "no CERTIFICATE"),
        (
            leaf.cert_pem.as_str(),
            stranger.key_pem.as_str(),
            "does not belong",
        ),
    ] {
        std::fs::write(&files.cert, cert).expect("write");
        std::fs::write(&files.key, key).expect("write");
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_clarion"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .env_clear()
            .env("CLARION_TLS_CERT", &files.cert)
            .env("CLARION_TLS_KEY", &files.key)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(10), output)
            .await
            .expect("exits at once")
            .expect("run clarion");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("server.tls") && stderr.contains(says),
            "{stderr}"
        );
        assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
    }
}
