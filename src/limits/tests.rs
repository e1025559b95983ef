use std::sync::Arc;

use tokio::time::{Duration, Instant};

use super::sockets::SocketBudget;
use super::{step, RateGate, SocketLimits};
use crate::metrics::SocketMetrics;

const SECOND: u64 = 1_000_000_000;

#[test]
fn a_bucket_admits_its_burst_at_once_then_one_per_interval() {
    // 10 a second, burst 10: ten at t=0, the eleventh waits 100 ms.
    let mut tat = 0;
    for _ in 0..10 {
        tat = step(tat, 0, 10, 10).expect("within the burst");
    }
    assert_eq!(step(tat, 0, 10, 10), Err(SECOND / 10));
    assert_eq!(step(tat, SECOND / 20, 10, 10), Err(SECOND / 20));
    let tat = step(tat, SECOND / 10, 10, 10).expect("one interval later");
    assert!(step(tat, SECOND / 10, 10, 10).is_err());
}

#[test]
fn an_idle_bucket_refills_only_up_to_its_burst() {
    let mut tat = 0;
    for _ in 0..3 {
        tat = step(tat, 0, 1, 3).expect("burst");
    }
    // A minute idle gives back 3, not 60.
    let later = 60 * SECOND;
    for _ in 0..3 {
        tat = step(tat, later, 1, 3).expect("refilled");
    }
    assert!(step(tat, later, 1, 3).is_err());
}

#[test]
fn zero_means_unlimited() {
    let now = Instant::now();
    let mut socket = SocketLimits::new(now);
    let gate = RateGate::new();
    for _ in 0..10_000 {
        assert!(socket.client_event(now, 0));
        assert!(socket.subscription(now, 0, 0));
        assert!(gate.admit(now, 0, 0).is_ok());
    }
}

#[tokio::test(start_paused = true)]
async fn socket_buckets_count_separately_and_refill_with_time() {
    let mut socket = SocketLimits::new(Instant::now());
    let now = Instant::now();
    for _ in 0..10 {
        assert!(socket.client_event(now, 10));
    }
    assert!(!socket.client_event(now, 10));
    // Client events used up do not touch the subscription bucket.
    for _ in 0..5 {
        assert!(socket.subscription(now, 1, 5));
    }
    assert!(!socket.subscription(now, 1, 5));
    tokio::time::advance(Duration::from_millis(100)).await;
    assert!(socket.client_event(Instant::now(), 10));
    assert!(!socket.client_event(Instant::now(), 10));
    assert!(!socket.subscription(Instant::now(), 1, 5));
}

#[tokio::test(start_paused = true)]
async fn the_shared_gate_says_how_long_to_wait() {
    let gate = RateGate::new();
    let now = Instant::now();
    for _ in 0..4 {
        gate.admit(now, 4, 4).expect("burst");
    }
    let wait = gate.admit(now, 4, 4).expect_err("empty");
    assert_eq!(wait, Duration::from_millis(250));
    tokio::time::advance(wait).await;
    assert!(gate.admit(Instant::now(), 4, 4).is_ok());
}

#[test]
fn the_shared_gate_admits_exactly_its_burst_across_threads() {
    let gate = Arc::new(RateGate::new());
    let now = Instant::now();
    let admitted: usize = (0..8)
        .map(|_| {
            let gate = gate.clone();
            std::thread::spawn(move || {
                (0..1000)
                    .filter(|_| gate.admit(now, 1, 500).is_ok())
                    .count()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .sum();
    assert_eq!(admitted, 500);
}

#[test]
fn the_socket_budget_frees_a_place_when_its_permit_drops() {
    let budget = Arc::new(SocketBudget::new(Some(2), SocketMetrics::default()));
    let a = budget.admit().expect("first");
    let b = budget.admit().expect("second");
    assert!(budget.admit().is_none());
    assert_eq!(budget.open(), 2);
    drop(a);
    let c = budget.admit().expect("a place again");
    assert_eq!(budget.open(), 2);
    drop((b, c));
    assert_eq!(budget.open(), 0);
    let unlimited = Arc::new(SocketBudget::new(None, SocketMetrics::default()));
    let many: Vec<_> = (0..1000).filter_map(|_| unlimited.admit()).collect();
    assert_eq!(many.len(), 1000);
}
