//! Unit tests of `target.rs`.

use super::*;

#[test]
fn splits_urls_with_and_without_prefix() {
    let (h, p, pre) = split_url("ws://127.0.0.1:8080", &["ws"], 80).unwrap_or_default();
    assert_eq!((h.as_str(), p, pre.as_str()), ("127.0.0.1", 8080, ""));
    let (h, p, pre) = split_url("ws://localhost/reverb/", &["ws"], 80).unwrap_or_default();
    assert_eq!((h.as_str(), p, pre.as_str()), ("localhost", 80, "/reverb"));
    let (h, _, _) = split_url("ws://[::1]:9000", &["ws"], 80).unwrap_or_default();
    assert_eq!(host_header(&h, 9000), "[::1]:9000");
    assert!(split_url("wss://x", &["ws"], 80).is_err());
    assert!(split_url("not a url", &["ws"], 80).is_err());
}

#[tokio::test]
async fn a_channel_prefix_keeps_the_channel_kind() {
    use clap::Parser;
    let args = crate::BenchArgs::parse_from([
        "clarion-bench",
        "--url",
        "ws://127.0.0.1:8080",
        "--channel-prefix",
        "ab-",
        "churn",
    ]);
    let target = Target::new(&args.common).await.expect("target");
    assert_eq!(target.channel("bench-1"), "ab-bench-1");
    assert_eq!(target.channel("private-bench-1"), "private-ab-bench-1");
    assert_eq!(target.channel("presence-soak-0"), "presence-ab-soak-0");
    assert_eq!(
        target.channel("private-encrypted-x"),
        "private-encrypted-ab-x"
    );
}
