//! Unit tests of `report.rs`.

use super::*;

#[test]
fn nested_paths_keep_insertion_order() {
    let mut r = Report::new("fanout");
    r.set("published.ok", 10);
    r.set("latency_us.p50", 120);
    r.set("published.failed", 0);
    r.set_f("delivered_per_s", Some(1234.5678));
    r.set_f("server.cpu_us_per_message", None);
    r.set("published.ok", 11);
    assert_eq!(
        r.to_json(),
        r#"{"scenario":"fanout","published":{"ok":11,"failed":0},"latency_us":{"p50":120},"delivered_per_s":1234.57,"server":{"cpu_us_per_message":null}}"#
    );
    let human = r.to_human();
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(lines[0], format!("{:<25}  fanout", "scenario"));
    assert_eq!(lines[2], format!("{:<25}  0", "published.failed"));
    assert_eq!(lines[5], "server.cpu_us_per_message  null");
    let parsed: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap_or_default();
    assert_eq!(parsed["published"]["ok"], 11);
}

#[test]
fn latency_and_cpu_sections() {
    let mut h = stats::new_histogram();
    for v in [100, 200, 300, 400] {
        h.saturating_record(v);
    }
    let mut r = Report::new("x");
    r.set_latency("latency_us", &h);
    let at = tokio::time::Instant::now();
    let b = ProcSample {
        cpu_us: 0,
        rss_bytes: 1000,
        sleeps: Some(100),
        at,
    };
    let a = ProcSample {
        cpu_us: 40_000,
        rss_bytes: 5000,
        sleeps: Some(4100),
        at: at + std::time::Duration::from_secs(2),
    };
    r.set_cpu("server", Some(b), Some(a), "per_message", 8000);
    r.set_cpu("bench", None, Some(a), "per_message", 1);
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap_or_default();
    assert_eq!(v["latency_us"]["count"], 4);
    assert_eq!(v["latency_us"]["p50"], 200);
    assert_eq!(v["latency_us"]["max"], 400);
    assert_eq!(v["server"]["cpu_us"], 40_000);
    assert_eq!(v["server"]["cpu_us_per_message"], 5.0);
    assert_eq!(v["server"]["cores_used"], 0.02);
    assert_eq!(v["server"]["sleeps"], 4000);
    assert_eq!(v["server"]["sleeps_per_message"], 0.5);
    assert!(v.get("bench").is_none());
}

#[test]
fn leaf_becomes_section_when_extended() {
    let mut r = Report::new("x");
    r.set("a", 1);
    r.set("a.b", 2);
    r.set_failures(&[("connect", 3, "refused".to_owned())]);
    assert_eq!(
        r.to_json(),
        r#"{"scenario":"x","a":{"b":2},"failures":{"total":3,"connect":3},"failure_samples":{"connect":"refused"}}"#
    );
}
