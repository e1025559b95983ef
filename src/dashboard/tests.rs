//! Unit tests of the dashboard's access check, page and snapshots.

use super::snapshot::Sampler;
use super::*;
use crate::config::{AppConfig, Config};
use crate::outbound::{Frame, SocketHandle};
use crate::protocol::{ChannelName, SocketId};
use crate::subscriptions;

#[test]
fn only_the_configured_token_is_allowed() {
    let off = DashboardConfig {
        enabled: false,
        token: Some("secret-token".to_owned()),
    };
    assert!(Access::from_config(&off).is_none());
    let no_token = DashboardConfig {
        enabled: true,
        token: Some("  ".to_owned()),
    };
    assert!(Access::from_config(&no_token).is_none());
    let on = DashboardConfig {
        enabled: true,
        token: Some("secret-token".to_owned()),
    };
    let access = Access::from_config(&on).expect("on");
    assert!(access.allows("secret-token"));
    for wrong in ["", "secret-toke", "secret-token ", "SECRET-TOKEN"] {
        assert!(!access.allows(wrong), "{wrong:?}");
    }
    assert!(!format!("{access:?}").contains("secret"));
}

#[test]
fn the_page_inlines_every_part_once() {
    let page = assemble_page();
    for placeholder in [
        "/*uplot.css*/",
        "/*dashboard.css*/",
        "/*uplot.js*/",
        "/*dashboard.js*/",
    ] {
        assert!(!page.contains(placeholder), "{placeholder} left");
    }
    assert_eq!(page.matches("var uPlot=").count(), 1);
    assert_eq!(page.matches("window.clarionDashboard").count(), 1);
    assert_eq!(page.matches("</script>").count(), 2);
    assert!(is_route("/dashboard") && is_route("/dashboard/stream"));
    assert!(!is_route("/dashboards") && !is_route("/app/dashboard"));
}

fn channel(name: &str) -> ChannelName {
    ChannelName::parse(name).expect("valid")
}

#[tokio::test]
async fn snapshots_report_counts_rates_and_latency_per_app() {
    let config = Config {
        apps: vec![
            AppConfig::development(),
            AppConfig {
                id: "0-other".to_owned(),
                key: "other-key".to_owned(),
                secret: "s".to_owned(),
                ..AppConfig::default()
            },
        ],
        ..Config::default()
    };
    let node = crate::server::local_node(&config);
    let app = node.apps.by_id("1000").expect("app").clone();
    let mut sampler = Sampler::new(&node);
    let first = sampler.sample();
    assert_eq!(
        first.apps.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["0-other", "1000"],
        "sorted by id"
    );
    assert_eq!(first.apps[1].published_per_second, 0.0);
    assert_eq!(first.apps[1].latency_p50_ms, None);

    let news = channel("news");
    let room = channel("presence-room");
    let mut handles = Vec::new();
    for _ in 0..3 {
        let handle = SocketHandle::new(16);
        let id = app.add_socket(&handle).expect("room");
        subscriptions::subscribe(&node, &app, id, &handle, &news, None);
        handles.push(handle);
    }
    let member = crate::channels::Member::from_channel_data(r#"{"user_id":"7"}"#).expect("member");
    let handle = SocketHandle::new(16);
    let id = app.add_socket(&handle).expect("room");
    subscriptions::subscribe(&node, &app, id, &handle, &room, Some(&member));
    for _ in 0..4 {
        app.deliver(&news, &Frame::text("{}"), None::<SocketId>);
    }
    let second = sampler.sample();
    let figures = &second.apps[1];
    assert_eq!(figures.connections, 4);
    assert_eq!(figures.channels, 2);
    assert_eq!(figures.members, 1);
    assert!(figures.published_per_second > 0.0, "{figures:?}");
    assert!(
        (figures.delivered_per_second / figures.published_per_second - 3.0).abs() < 1e-9,
        "three subscribers per event: {figures:?}"
    );
    assert!(figures.latency_p50_ms.is_some() && figures.latency_p99_ms.is_some());
    assert_eq!(second.apps[0].published_per_second, 0.0, "apps apart");
    let third = sampler.sample();
    assert_eq!(
        third.apps[1].published_per_second, 0.0,
        "rates since the last one"
    );
    assert_eq!(third.apps[1].latency_p99_ms, None);
    let json = serde_json::to_value(&third).expect("json");
    assert!(json["time"].as_u64().is_some_and(|t| t > 0));
    assert_eq!(json["apps"][1]["connections"], 4);
}
