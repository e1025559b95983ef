//! `rediss://`: two nodes link through a TLS-only `redis-server` whose
//! certificate is signed by a throwaway CA (trusted through
//! `SSL_CERT_FILE`), and an event published on one reaches the other.

mod cluster_support;
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cluster_support::ProcessNode;

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl must be installed (scripts/test.sh installs it)");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A CA and a server certificate for 127.0.0.1, in `dir`.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=clarion-test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("write ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// Whether a frame named `event` arrives within `limit`.
async fn received(client: &mut support::Client, event: &str, limit: Duration) -> bool {
    use futures_util::StreamExt;
    let deadline = tokio::time::Instant::now() + limit;
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, client.ws.next()).await {
        if message.to_text().is_ok_and(|t| t.contains(event)) {
            return true;
        }
    }
    false
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_link_through_a_tls_redis() {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!("clarion-tls-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    certificates(&dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let _redis = Child(
        Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args([
                "--tls-cert-file",
                "server.pem",
                "--tls-key-file",
                "server.key",
                "--tls-ca-cert-file",
                "ca.pem",
                "--tls-auth-clients",
                "no",
            ])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server"),
    );
    let url = format!("rediss://127.0.0.1:{port}/0");
    let ca = dir.join("ca.pem");
    let ca = ca.to_str().expect("utf-8 path");
    let a = ProcessNode::start_with(&url, "tls", &[("SSL_CERT_FILE", ca)]).await;
    let b = ProcessNode::start_with(&url, "tls", &[("SSL_CERT_FILE", ca)]).await;

    let url_b = format!("ws://{}/app/app-key?protocol=7", b.addr);
    let (ws, _) = tokio_tungstenite::connect_async(url_b)
        .await
        .expect("connect");
    let mut client = support::Client {
        ws,
        socket_id: String::new(),
    };
    client.expect_event("pusher:connection_established").await;
    client.subscribe("secure").await;
    // Publish on A until the nodes are linked and the event reaches B.
    let mut delivered = false;
    for _ in 0..50 {
        let body = r#"{"name":"over-tls","channel":"secure","data":"{}"}"#;
        let (status, _) = support::signed_api(
            a.addr,
            "app-key",
            "app-secret",
            "POST",
            "/apps/1000/events",
            &[],
            body,
        )
        .await;
        // Waiting for the event also paces the retries while A links.
        let got = received(&mut client, "over-tls", Duration::from_millis(300)).await;
        if status == 200 && got {
            delivered = true;
            break;
        }
    }
    assert!(
        delivered,
        "an event published on A never reached B through the TLS Redis"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
