//! Unit tests of `drain.rs`.

use super::*;

fn server(grace: u64, spread: Option<u64>) -> ServerConfig {
    ServerConfig {
        shutdown_grace_period: grace,
        drain_spread: spread,
        ..ServerConfig::default()
    }
}

#[test]
fn the_spread_is_the_option_or_four_fifths_of_the_grace_period() {
    assert_eq!(spread(&server(10, None)), Duration::from_secs(8));
    assert_eq!(spread(&server(1, None)), Duration::from_millis(800));
    assert_eq!(spread(&server(0, None)), Duration::ZERO);
    assert_eq!(spread(&server(10, Some(3))), Duration::from_secs(3));
    assert_eq!(spread(&server(10, Some(0))), Duration::ZERO);
    assert_eq!(pause(&ServerConfig::default()), Duration::from_secs(2));
}

#[test]
fn close_delays_are_spread_uniformly_over_the_window() {
    let config = server(10, Some(4));
    let window = spread(&config);
    let mut buckets = [0u32; 4];
    for _ in 0..4_000 {
        let delay = close_delay(&config);
        assert!(delay < window, "{delay:?}");
        let bucket = (delay.as_secs_f64() / window.as_secs_f64() * 4.0) as usize;
        buckets[bucket.min(3)] += 1;
    }
    // 1,000 expected per quarter; a uniform draw lands within ±20 %
    // (about 7 standard deviations).
    for count in buckets {
        assert!((800..=1_200).contains(&count), "{buckets:?}");
    }
    assert_eq!(close_delay(&server(10, Some(0))), Duration::ZERO);
}
