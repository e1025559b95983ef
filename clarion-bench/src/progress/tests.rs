//! Unit tests of `progress.rs`.

use super::*;

#[test]
fn progress_line_format() {
    let live = Live::new();
    Live::add(&live.ready, 10);
    Live::add(&live.done, 3);
    let s = line("fanout", Duration::from_secs(7), &live, 12, 500, 100);
    assert_eq!(
        s,
        "[fanout    7s] conns 10/12 (failed 0, dropped 0)  delivered 500 (+100/s)  done 3"
    );
}
