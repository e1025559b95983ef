//! `clarion trigger`, through the real binary against a running server: it
//! signs with the configured app (development app, or the one the
//! environment describes, as the server itself would read it), the event
//! reaches subscribers, `--socket-id` leaves one out, and a refusal exits
//! non-zero with the server's reason.

mod support;

use std::process::Output;

use clarion::config::AppConfig;
use serde_json::json;
use support::*;

async fn clarion_trigger(args: &[&str], env: &[(&str, &str)]) -> Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_clarion"))
        .arg("trigger")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output();
    tokio::time::timeout(WAIT, run)
        .await
        .expect("clarion trigger finished in time")
        .expect("run clarion trigger")
}

#[tokio::test]
async fn publishes_with_the_development_app_and_honours_socket_id() {
    let server = TestServer::start().await;
    let url = format!("http://{}", server.addr);
    let mut watcher = server.connect().await;
    watcher.subscribe("orders").await;
    watcher.subscribe("audit").await;
    let mut sender = server.connect().await;
    sender.subscribe("orders").await;

    let out = clarion_trigger(
        &[
            "--url",
            &url,
            "--channel",
            "orders",
            "--channel",
            "audit",
            "--event",
            "OrderShipped",
            "--data",
            r#"{"id":1}"#,
            "--socket-id",
            &sender.socket_id,
        ],
        &[],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "{}");
    for channel in ["orders", "audit"] {
        assert_eq!(
            watcher.frame().await,
            json!({"event":"OrderShipped","channel":channel,"data":"{\"id\":1}"})
        );
    }
    sender.assert_nothing_pending().await;
    server.shutdown().await;
}

#[tokio::test]
async fn reads_the_app_from_the_environment_and_reports_refusals() {
    let app = AppConfig {
        id: "4242".to_owned(),
        key: "status-key".to_owned(),
        secret: "status-secret".to_owned(),
        ..AppConfig::development()
    };
    let server = TestServer::with_config(config_with(app)).await;
    let url = format!("http://{}", server.addr);
    let mut page = server.connect_raw("status-key").await;
    page.expect_event("pusher:connection_established").await;
    page.subscribe("organization.7").await;
    let reverb_env = [
        ("REVERB_APP_ID", "4242"),
        ("REVERB_APP_KEY", "status-key"),
        ("REVERB_APP_SECRET", "status-secret"),
    ];
    let args = [
        "--url",
        &url,
        "--channel",
        "organization.7",
        "--event",
        "incident.created",
        "--data",
        r#"{"title":"API degraded"}"#,
    ];
    let out = clarion_trigger(&args, &reverb_env).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        page.frame().await,
        json!({"event":"incident.created","channel":"organization.7","data":"{\"title\":\"API degraded\"}"})
    );

    let wrong = [
        ("REVERB_APP_ID", "4242"),
        ("REVERB_APP_KEY", "status-key"),
        ("REVERB_APP_SECRET", "not-the-secret"),
    ];
    let out = clarion_trigger(&args, &wrong).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    page.assert_nothing_pending().await;

    let out = clarion_trigger(
        &[
            "--url",
            "https://example.test",
            "--channel",
            "c",
            "--event",
            "e",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only http://"));
    server.shutdown().await;
}
