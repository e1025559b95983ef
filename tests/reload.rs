//! SIGHUP reloads the apps from the same sources, through the real binary:
//! a new secret applies at once without dropping a socket, an added app is
//! usable, a removed app's sockets get 4001, a broken file keeps the
//! running configuration (and the log says why), and a setting that needs
//! a restart is named in a warning.

mod support;

use std::net::SocketAddr;

use serde_json::{json, Value};

use support::process::{ConfigFile, Process};
use support::*;

/// The `[server]` table every file here starts with: stop at once.
const SERVER: &str = "[server]\ndrain_pause = 0\ndrain_spread = 0\n";

/// A config file text with `apps` as `(id, secret)`; each key is `key-{id}`.
fn config(apps: &[(&str, &str)]) -> String {
    let mut text = SERVER.to_owned();
    for (id, secret) in apps {
        text.push_str(&format!(
            "\n[[apps]]\nid = \"{id}\"\nkey = \"key-{id}\"\nsecret = \"{secret}\"\n"
        ));
    }
    text
}

async fn start(file: &ConfigFile) -> Process {
    Process::start(&["--config", file.arg()], &[]).await
}

/// Sends SIGHUP and waits for the log line that ends the reload.
async fn reload(server: &mut Process, outcome: &str) -> String {
    server.signal("HUP");
    server.line_with(outcome).await
}

/// Publishes through the HTTP API of app `id`, signed with `secret`.
async fn publish(addr: SocketAddr, id: &str, secret: &str, channel: &str, event: &str) -> u16 {
    let body = json!({"name": event, "channel": channel, "data": "{}"}).to_string();
    let path = format!("/apps/{id}/events");
    let (status, _) = signed_api(
        addr,
        &format!("key-{id}"),
        secret,
        "POST",
        &path,
        &[],
        &body,
    )
    .await;
    status
}

/// Subscribes `client` (of app `id`) to a private channel with a token
/// signed by `secret`; returns the answer's event name.
async fn subscribe_private(client: &mut Client, id: &str, secret: &str, channel: &str) -> String {
    let auth = clarion::auth::channel_auth_token(
        &format!("key-{id}"),
        secret,
        &client.socket_id,
        channel,
        None,
    );
    client
        .send_json(json!({"event": "pusher:subscribe", "data": {"auth": auth, "channel": channel}}))
        .await;
    let frame: Value = client.frame().await;
    frame["event"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_new_secret_applies_at_once_and_no_socket_is_dropped() {
    let file = ConfigFile::new(&config(&[("1", "old-secret")]));
    let mut server = start(&file).await;
    let mut client = server.connect_key("key-1").await;
    client.subscribe("orders").await;

    file.write(&config(&[("1", "new-secret")]));
    let line = reload(&mut server, "configuration reloaded").await;
    assert!(line.contains(r#"changed=["1"]"#), "{line}");

    let addr = server.addr;
    assert_eq!(publish(addr, "1", "old-secret", "orders", "old").await, 401);
    assert_eq!(publish(addr, "1", "new-secret", "orders", "new").await, 200);
    assert_eq!(
        client.frame().await["event"],
        "new",
        "the socket is still connected and subscribed"
    );
    let refused = subscribe_private(&mut client, "1", "old-secret", "private-a").await;
    assert_eq!(refused, "pusher:error");
    let accepted = subscribe_private(&mut client, "1", "new-secret", "private-b").await;
    assert_eq!(accepted, "pusher_internal:subscription_succeeded");
}

#[tokio::test]
async fn an_added_app_is_usable_and_a_removed_apps_sockets_get_4001() {
    let file = ConfigFile::new(&config(&[("1", "s1"), ("2", "s2")]));
    let mut server = start(&file).await;
    let mut kept = server.connect_key("key-1").await;
    kept.subscribe("orders").await;
    let mut removed = server.connect_key("key-2").await;
    removed.subscribe("orders").await;

    file.write(&config(&[("1", "s1"), ("3", "s3")]));
    let line = reload(&mut server, "configuration reloaded").await;
    assert!(
        line.contains(r#"added=["3"]"#) && line.contains(r#"removed=["2"]"#),
        "{line}"
    );

    removed
        .expect_refusal(4001, "Application does not exist")
        .await;
    let addr = server.addr;
    assert_eq!(publish(addr, "2", "s2", "orders", "e").await, 404);
    let mut refused = server.connect_raw_key("key-2").await;
    refused
        .expect_refusal(4001, "Application does not exist")
        .await;

    let mut added = server.connect_key("key-3").await;
    added.subscribe("orders").await;
    assert_eq!(publish(addr, "3", "s3", "orders", "to-3").await, 200);
    assert_eq!(added.frame().await["event"], "to-3");
    assert_eq!(publish(addr, "1", "s1", "orders", "to-1").await, 200);
    assert_eq!(kept.frame().await["event"], "to-1", "app 1 untouched");
}

#[tokio::test]
async fn a_broken_file_keeps_the_running_configuration_and_says_why() {
    let file = ConfigFile::new(&config(&[("1", "s1")]));
    let mut server = start(&file).await;
    let mut client = server.connect_key("key-1").await;
    client.subscribe("orders").await;

    file.write("[server\nthis is not TOML\n");
    let line = reload(&mut server, "configuration not reloaded").await;
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        line.contains(&file.path().display().to_string()) && line.contains("line 1"),
        "names the file and the place: {line}"
    );
    // Valid TOML, invalid configuration: also refused as a whole.
    file.write(&format!(
        "{}\n[[apps]]\nid = \"9\"\nkey = \"key-9\"\n",
        config(&[("1", "changed")])
    ));
    let line = reload(&mut server, "configuration not reloaded").await;
    assert!(line.contains("missing secret"), "{line}");

    let addr = server.addr;
    assert_eq!(publish(addr, "1", "changed", "orders", "no").await, 401);
    assert_eq!(publish(addr, "1", "s1", "orders", "still").await, 200);
    assert_eq!(client.frame().await["event"], "still");
}

#[tokio::test]
async fn a_setting_that_needs_a_restart_is_named_in_a_warning() {
    let file = ConfigFile::new(&config(&[("1", "s1")]));
    let mut server = start(&file).await;
    let changed = config(&[("1", "s2")]).replace(
        SERVER,
        "[server]\ndrain_pause = 0\ndrain_spread = 0\nmax_request_size = 20000\n\
         [scaling]\nchannel = \"other\"\n",
    );
    file.write(&changed);
    server.signal("HUP");
    let warning = server.line_with("only with a restart").await;
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        warning.contains("server.max_request_size, scaling.channel"),
        "{warning}"
    );
    let line = server.line_with("configuration reloaded").await;
    assert!(
        line.contains(r#"changed=["1"]"#),
        "apps still reload: {line}"
    );
    assert_eq!(publish(server.addr, "1", "s2", "orders", "e").await, 200);
}
