//! Unit tests of `receiver.rs`.

use super::*;

fn rx(stream: usize, seqs: &[u64], last: u64) -> Received {
    let mut seq = SeqTracker::default();
    seqs.iter().for_each(|s| seq.record(*s));
    Received {
        stream,
        seq,
        last_rx_us: last,
        unparsable: 0,
        dropped: false,
    }
}

#[test]
fn totals_against_sent() {
    let received = vec![
        rx(0, &[0, 1, 2], 10),
        rx(0, &[0, 2, 1, 1], 30),
        rx(1, &[0], 20),
    ];
    let sent = vec![(3, vec![]), (2, vec![1])];
    let t = totals(&received, &sent);
    assert_eq!(
        t,
        Totals {
            delivered: 8,
            lost: 0,
            receivers_with_loss: 0,
            duplicates: 1,
            reordered: 1,
            invalid: 0,
            unparsable: 0,
            last_rx_us: 30,
        }
    );
    let sent = vec![(4, vec![]), (2, vec![])];
    let t = totals(&received, &sent);
    assert_eq!((t.lost, t.receivers_with_loss), (3, 3));
}
