//! Unit tests of `apps.rs`.

use super::*;

fn app(origins: &[&str]) -> App {
    App::new(AppConfig {
        allowed_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
        ..AppConfig::development()
    })
}

#[test]
fn origins_match_reverb_datasets() {
    let wildcard = app(&["*.laravel.com"]);
    assert!(wildcard.origin_allowed(Some("https://sub.laravel.com")));
    assert!(!wildcard.origin_allowed(Some("https://laravel.com")));
    let exact = app(&["laravel.com"]);
    assert!(exact.origin_allowed(Some("http://laravel.com:8000")));
    assert!(!exact.origin_allowed(Some("https://sub.laravel.com")));
    assert!(
        !exact.origin_allowed(None),
        "a missing Origin is refused unless *"
    );
    assert!(!exact.origin_allowed(Some("not a url")));
    assert!(app(&["*"]).origin_allowed(None));
}

#[tokio::test(start_paused = true)]
async fn expired_cache_entries_are_swept_without_being_read() {
    let app = App::new(AppConfig::development());
    let frame = Frame::text("{}");
    let old = ChannelName::parse("cache-once").expect("valid");
    app.deliver(&old, &frame, None);
    tokio::time::advance(CACHE_TTL + Duration::from_secs(1)).await;
    let busy = ChannelName::parse("cache-busy").expect("valid");
    for _ in 0..CACHE_SWEEP_EVERY {
        app.deliver(&busy, &frame, None);
    }
    assert!(app.cache.get("cache-once").is_none(), "swept");
    assert!(app.cached("cache-busy").is_some(), "fresh entries stay");
}

#[test]
fn quota_refuses_the_connection_over_the_limit() {
    let app = App::new(AppConfig {
        max_connections: Some(1),
        ..AppConfig::development()
    });
    let h = SocketHandle::new(4);
    let first = app.add_socket(&h).expect("first fits");
    assert_eq!(app.add_socket(&h), Err(ErrorCode::OverConnectionQuota));
    app.remove_socket(first);
    assert!(app.add_socket(&h).is_ok());
}

#[test]
fn terminate_closes_each_socket_of_a_user_once() {
    let app = App::new(AppConfig::development());
    let (h1, h2, other) = (
        SocketHandle::new(4),
        SocketHandle::new(4),
        SocketHandle::new(4),
    );
    let s1 = app.add_socket(&h1).expect("fits");
    let s2 = app.add_socket(&h2).expect("fits");
    let s3 = app.add_socket(&other).expect("fits");
    let ann: Arc<str> = Arc::from("ann");
    // Signed in and on a presence channel: two associations of one socket.
    app.sockets.add_user(&ann, s1);
    app.sockets.add_user(&ann, s1);
    app.sockets.add_user(&ann, s2);
    app.sockets.add_user(&Arc::from("bob"), s3);
    assert_eq!(app.connection_count(), 3);
    assert_eq!(app.terminate_user("ann"), 2, "two sockets, each once");
    assert_eq!(app.terminate_user("nobody"), 0);
    app.sockets.remove_user("ann", s1);
    assert!(app.sockets.has_user("ann"), "one association of s1 remains");
    app.sockets.remove_user("ann", s1);
    app.sockets.remove_user("ann", s2);
    assert!(!app.sockets.has_user("ann"));
    app.remove_socket(s1);
    app.remove_socket(s1);
    assert_eq!(app.connection_count(), 2, "a second remove is a no-op");
}
