//! Criterion micro-benchmarks of the hot pure functions: client frame
//! parsing, server frame encoding, signature verification, and fan-out of
//! one encoded event to N local subscribers.
//!
//! Run with `cargo bench --bench hot_paths`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use clarion::auth;
use clarion::auth::http_signature::{self, SignedRequest};
use clarion::channels::ChannelRegistry;
use clarion::outbound::{Frame, SocketHandle};
use clarion::protocol::{ChannelName, ClientEvent, MemberRef, ServerEvent, SocketId};

fn parse(c: &mut Criterion) {
    let subscribe = r#"{"event":"pusher:subscribe","data":{"auth":"app-key:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4","channel":"private-orders.42"}}"#;
    let client = r#"{"event":"client-typing","channel":"private-chat.1","data":{"name":"Joe","typing":true}}"#;
    let mut g = c.benchmark_group("parse");
    g.bench_function("ping", |b| {
        b.iter(|| ClientEvent::parse(black_box(r#"{"event":"pusher:ping","data":{}}"#)))
    });
    g.bench_function("subscribe", |b| {
        b.iter(|| ClientEvent::parse(black_box(subscribe)))
    });
    g.bench_function("client_event", |b| {
        b.iter(|| ClientEvent::parse(black_box(client)))
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    let data = r#"{"id":1,"status":"shipped","items":[1,2,3],"note":"a \"quoted\" word"}"#;
    let mut g = c.benchmark_group("encode");
    g.bench_function("published_event", |b| {
        b.iter(|| {
            ServerEvent::Published {
                event: black_box("App\\Events\\OrderShipped"),
                channel: black_box("orders"),
                data: black_box(data),
            }
            .to_json()
        })
    });
    g.bench_function("connection_established", |b| {
        b.iter(|| {
            ServerEvent::ConnectionEstablished {
                socket_id: SocketId::new(123_456_789, 987_654_321),
                activity_timeout: 30,
            }
            .to_json()
        })
    });
    let ids: Vec<(String, String)> = (0..100)
        .map(|i| (i.to_string(), format!(r#"{{"name":"User {i}"}}"#)))
        .collect();
    let members: Vec<MemberRef<'_>> = ids
        .iter()
        .map(|(id, info)| MemberRef {
            user_id_json: id,
            user_id: id,
            user_info_json: Some(info),
        })
        .collect();
    g.bench_function("presence_roster_100", |b| {
        b.iter(|| {
            ServerEvent::PresenceSubscriptionSucceeded {
                channel: black_box("presence-chat.1"),
                members: black_box(&members),
            }
            .to_json()
        })
    });
    g.finish();

    // A broadcast as Laravel sends it: `data` is a JSON text, so every quote
    // in it is escaped once more on the wire.
    let mut g = c.benchmark_group("encode_broadcast");
    for (label, data) in [("100B", broadcast_data(1)), ("1KiB", broadcast_data(23))] {
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(label), &data, |b, data| {
            b.iter(|| {
                ServerEvent::Published {
                    event: black_box("App\\Events\\OrderShipped"),
                    channel: black_box("private-orders.42"),
                    data: black_box(data),
                }
                .to_json()
            })
        });
    }
    g.finish();
}

/// A Laravel broadcast payload with `items` order lines: 1 → 104 bytes,
/// 23 → 1,028 bytes; about a fifth of the bytes are quotes.
fn broadcast_data(items: usize) -> String {
    let lines: Vec<String> = (0..items)
        .map(|i| {
            format!(
                r#"{{"sku":"SKU-{i:04}","qty":{},"price":"9.99"}}"#,
                i % 3 + 1
            )
        })
        .collect();
    format!(
        r#"{{"order":{{"id":42,"status":"shipped","items":[{}]}},"socket":null}}"#,
        lines.join(",")
    )
}

fn signatures(c: &mut Criterion) {
    let token =
        auth::channel_auth_token("app-key", "app-secret", "1234.5678", "private-orders", None);
    let body = br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
    let query = http_signature::signed_query(
        "app-key",
        "app-secret",
        "POST",
        "/apps/1000/events",
        &[],
        body,
        1_700_000_000,
    );
    let mut g = c.benchmark_group("auth");
    g.bench_function("channel_auth", |b| {
        b.iter(|| {
            auth::verify_channel_auth(
                "app-key",
                "app-secret",
                "1234.5678",
                "private-orders",
                None,
                Some(black_box(&token)),
            )
        })
    });
    g.bench_function("http_signature", |b| {
        b.iter(|| {
            let req = SignedRequest {
                method: "POST",
                path: "/apps/1000/events",
                query: black_box(&query),
                body,
            };
            http_signature::verify("app-key", "app-secret", req, 1_700_000_000, Some(600))
        })
    });
    g.finish();
}

fn fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout");
    for n in [10usize, 100, 1000] {
        let registry = ChannelRegistry::new();
        let channel = ChannelName::parse("orders").expect("valid");
        let handles: Vec<SocketHandle> = (0..n).map(|_| SocketHandle::new(1 << 20)).collect();
        for (i, h) in handles.iter().enumerate() {
            registry.subscribe(&channel, SocketId::new(1, i as u32 + 1), h, None, false);
            while h.pop().is_some() {}
        }
        let frame = Frame::from(r#"{"event":"e","channel":"orders","data":"{\"seq\":1}"}"#);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let sent = registry.broadcast("orders", &frame, None);
                for h in &handles {
                    h.pop();
                }
                sent
            })
        });
    }
    g.finish();
}

criterion_group!(benches, parse, encode, signatures, fanout);
criterion_main!(benches);
