//! Unit tests of `reload.rs`.

use super::*;
use crate::config::AppConfig;
use crate::outbound::SocketHandle;
use crate::protocol::ErrorCode;

fn config(apps: Vec<AppConfig>) -> Config {
    Config {
        apps,
        ..Config::default()
    }
}

fn app(id: &str, secret: &str) -> AppConfig {
    AppConfig {
        id: id.to_owned(),
        key: format!("key-{id}"),
        secret: secret.to_owned(),
        ..AppConfig::default()
    }
}

#[test]
fn only_changed_server_and_scaling_settings_are_named() {
    let running = Config::default();
    assert!(needs_restart(&running, &running.clone()).is_empty());
    let mut next = running.clone();
    next.apps.push(app("1", "s"));
    assert!(needs_restart(&running, &next).is_empty(), "apps reload");
    next.server.port = 9999;
    next.server.drain_pause = 5;
    next.scaling.enabled = true;
    assert_eq!(
        needs_restart(&running, &next),
        ["server.port", "server.drain_pause", "scaling.enabled"]
    );
}

#[tokio::test]
async fn apply_takes_the_apps_and_keeps_the_running_server_settings() {
    let running = config(vec![app("1", "old"), app("2", "s")]);
    let node = crate::server::local_node(&running);
    let socket = SocketHandle::new(4);
    let removed = node.apps.by_id("2").expect("app 2");
    removed.add_socket(&socket).expect("fits");
    let mut next = config(vec![app("1", "new")]);
    next.server.port = 1;

    let now = apply(&node, &running, next);

    assert_eq!(now.server, running.server, "kept: needs a restart");
    assert_eq!(now.apps, [app("1", "new")]);
    let one = node.apps.by_id("1").expect("app 1");
    assert_eq!(one.config().secret, "new");
    assert!(node.apps.by_id("2").is_none());
    assert_eq!(
        socket.close_reason(),
        Some(ErrorCode::ApplicationDoesNotExist)
    );
}

#[test]
fn redis_cluster_nodes_need_a_restart_and_a_history_toggle_is_named() {
    let mut running = config(vec![app("1", "s"), app("2", "s")]);
    running.scaling.enabled = true;
    let mut next = running.clone();
    next.scaling.cluster_nodes = vec!["redis://127.0.0.1:7000".to_owned()];
    assert_eq!(needs_restart(&running, &next), ["scaling.cluster_nodes"]);
    // Without Redis Cluster, history on or off is an app setting like any other.
    next.scaling.cluster_nodes.clear();
    next.apps[0].event_history = 0;
    assert!(slot_layout_changes(&running, &next).is_empty());
    running.scaling.cluster_nodes = vec!["redis://127.0.0.1:7000".to_owned()];
    next.scaling.cluster_nodes = running.scaling.cluster_nodes.clone();
    // Resizing keeps the layout; turning it off (or on) changes it.
    next.apps[1].event_history = 10;
    assert_eq!(slot_layout_changes(&running, &next), ["1"]);
}

#[test]
fn process_wide_sections_and_a_first_clustered_webhook_target_are_named() {
    let mut running = config(vec![app("1", "s")]);
    running.scaling.enabled = true;
    let mut next = running.clone();
    next.webhooks.batch_size = 5;
    next.metrics.enabled = false;
    next.apps[0].webhooks = vec![crate::config::WebhookConfig::to("http://127.0.0.1:9/hook")];
    assert_eq!(
        needs_restart(&running, &next),
        [
            "webhooks",
            "metrics",
            "the first webhook target (with scaling on)"
        ]
    );
    // Without scaling a new target is an app setting like any other.
    running.scaling.enabled = false;
    next.scaling.enabled = false;
    next.webhooks = running.webhooks.clone();
    next.metrics = running.metrics.clone();
    assert!(needs_restart(&running, &next).is_empty());
}
