//! Channel-occupancy and presence transitions are explicit events on the
//! node's lifecycle bus, in the order they happen, once per transition.

mod support;

use std::time::Duration;

use clarion::lifecycle::LifecycleEvent;
use serde_json::json;
use support::*;
use tokio::sync::broadcast::Receiver;

async fn next(bus: &mut Receiver<LifecycleEvent>) -> LifecycleEvent {
    tokio::time::timeout(Duration::from_secs(5), bus.recv())
        .await
        .expect("a lifecycle event in time")
        .expect("bus open")
}

fn describe(e: &LifecycleEvent) -> String {
    match e {
        LifecycleEvent::ChannelOccupied { channel, .. } => format!("occupied {channel}"),
        LifecycleEvent::ChannelVacated { channel, .. } => format!("vacated {channel}"),
        LifecycleEvent::MemberAdded {
            channel, user_id, ..
        } => format!("added {user_id} {channel}"),
        LifecycleEvent::MemberRemoved {
            channel, user_id, ..
        } => format!("removed {user_id} {channel}"),
        LifecycleEvent::ClientEvent { channel, event, .. } => format!("client {event} {channel}"),
    }
}

#[tokio::test]
async fn occupancy_presence_and_client_events_are_observable() {
    let server = TestServer::start().await;
    let mut bus = server.node.lifecycle.subscribe();
    let mut a = server.connect().await;
    let mut a2 = server.connect().await;
    let mut b = server.connect().await;
    a.subscribe_presence("presence-room", "1").await;
    a2.subscribe_presence("presence-room", "1").await; // same user: no new member
    b.subscribe_presence("presence-room", "2").await;
    a.send_json(json!({"event":"client-typing","channel":"presence-room","data":{}}))
        .await;
    b.expect_event("client-typing").await;
    drop(a); // user 1 still has a2
    drop(a2);
    b.expect_event("pusher_internal:member_removed").await;
    drop(b);
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("vacated presence-room") {
        seen.push(describe(&next(&mut bus).await));
    }
    assert_eq!(
        seen,
        [
            "occupied presence-room",
            "added 1 presence-room",
            "added 2 presence-room",
            "client client-typing presence-room",
            "removed 1 presence-room",
            "removed 2 presence-room",
            "vacated presence-room",
        ]
    );
    server.shutdown().await;
}
