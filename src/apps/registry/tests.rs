//! Unit tests of `apps/registry.rs`.

use super::*;
use crate::config::AuthEndpointConfig;
use crate::outbound::SocketHandle;

fn app(id: &str, key: &str, secret: &str) -> AppConfig {
    AppConfig {
        id: id.to_owned(),
        key: key.to_owned(),
        secret: secret.to_owned(),
        ..AppConfig::default()
    }
}

#[test]
fn the_development_app_also_answers_to_its_old_id() {
    let dev = AppRegistry::new(&[AppConfig::development()]);
    let numeric = dev.by_id("1000").expect("the numeric id");
    let legacy = dev.by_id(LEGACY_DEVELOPMENT_APP_ID).expect("the old id");
    assert!(Arc::ptr_eq(&numeric, &legacy));
    assert_eq!(dev.iter().count(), 1, "listed once");
    let configured = AppRegistry::new(&[AppConfig {
        id: "42".to_owned(),
        ..AppConfig::development()
    }]);
    assert!(configured.by_id(LEGACY_DEVELOPMENT_APP_ID).is_none());
}

#[test]
fn a_reload_changes_kept_apps_in_place_adds_new_ones_and_removes_the_rest() {
    let registry = AppRegistry::new(&[app("1", "k1", "s1"), app("2", "k2", "s2")]);
    let kept = registry.by_id("1").expect("app 1");
    let gone = registry.by_id("2").expect("app 2");
    let (kept_socket, gone_socket) = (SocketHandle::new(4), SocketHandle::new(4));
    kept.add_socket(&kept_socket).expect("fits");
    gone.add_socket(&gone_socket).expect("fits");
    let iterated = registry.iter();

    let changes = registry.reload(&[app("1", "k1", "new secret"), app("3", "k3", "s3")]);

    assert_eq!(
        changes,
        AppChanges {
            added: vec!["3".to_owned()],
            changed: vec!["1".to_owned()],
            removed: vec!["2".to_owned()],
            closed_sockets: 1,
        }
    );
    let now = registry.by_key("k1").expect("app 1 by key");
    assert!(
        Arc::ptr_eq(&now, &kept),
        "the same app: sockets and channels kept"
    );
    assert_eq!(kept.config().secret, "new secret");
    assert_eq!(kept_socket.close_reason(), None, "its socket stays open");
    assert_eq!(kept.connection_count(), 1);
    assert!(registry.by_id("3").is_some() && registry.by_key("k3").is_some());
    assert!(registry.by_id("2").is_none() && registry.by_key("k2").is_none());
    assert_eq!(
        gone_socket.close_reason(),
        Some(ErrorCode::ApplicationDoesNotExist)
    );
    assert_eq!(
        gone.add_socket(&SocketHandle::new(4)),
        Err(ErrorCode::ApplicationDoesNotExist),
        "a socket that found the app just before it was removed is refused"
    );
    assert_eq!(
        iterated.count(),
        2,
        "an iteration sees the list it began with"
    );
    let ids: Vec<String> = registry.iter().map(|a| a.id.to_string()).collect();
    assert_eq!(ids, ["1", "3"], "configuration order");
}

#[test]
fn an_unchanged_app_is_not_reported_and_a_new_key_replaces_the_old() {
    let registry = AppRegistry::new(&[app("1", "k1", "s1")]);
    let changes = registry.reload(&[app("1", "k1", "s1")]);
    assert_eq!(changes, AppChanges::default());
    let before = registry.by_id("1").expect("app 1");
    let changes = registry.reload(&[app("1", "renamed", "s1")]);
    assert_eq!(changes.changed, ["1"]);
    assert!(registry.by_key("k1").is_none());
    let after = registry.by_key("renamed").expect("the new key");
    assert!(Arc::ptr_eq(&before, &after));
}

#[test]
fn a_reload_applies_history_sizes_the_auth_endpoint_and_cluster_ids() {
    let registry = AppRegistry::new(&[app("1", "k1", "s1")]);
    registry.use_cluster_ids();
    let one = registry.by_id("1").expect("app 1");
    assert!(one.history.enabled() && one.auth_endpoint().is_none());
    let with_auth = AppConfig {
        event_history: 0,
        auth: Some(AuthEndpointConfig {
            jwt_secret: Some("jwt".to_owned()),
            ..AuthEndpointConfig::default()
        }),
        ..app("1", "k1", "s1")
    };
    registry.reload(&[with_auth, app("2", "k2", "s2")]);
    assert!(!one.history.enabled(), "history turned off");
    assert!(one.auth_endpoint().is_some(), "endpoint turned on");
    let two = registry.by_id("2").expect("app 2");
    assert!(
        two.history.clustered(),
        "an added app takes the cluster's ids"
    );
    registry.reload(&[app("1", "k1", "s1")]);
    assert!(one.auth_endpoint().is_none(), "endpoint turned off again");
}
