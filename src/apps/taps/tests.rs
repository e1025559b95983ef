//! Unit tests of channel taps.

use super::*;

fn channel(name: &str) -> ChannelName {
    ChannelName::parse(name).expect("valid name")
}

#[test]
fn a_tap_gets_its_channels_events_until_it_is_closed() {
    let taps = Taps::default();
    let watched = channel("presence-room");
    let tap = taps.open(&watched);
    let other = taps.open(&channel("other"));
    taps.record(&watched, &Frame::text("one"));
    taps.record(&channel("elsewhere"), &Frame::text("not this"));
    assert_eq!(
        tap.handle.pop().map(|f| f.as_str().to_owned()).as_deref(),
        Some("one")
    );
    assert!(tap.handle.pop().is_none());
    assert!(other.handle.pop().is_none());

    taps.close(&watched, tap.id);
    taps.close(&watched, tap.id);
    taps.record(&watched, &Frame::text("two"));
    assert!(tap.handle.pop().is_none(), "closed taps get nothing");
    assert_eq!(
        taps.open.load(Ordering::Acquire),
        1,
        "closing twice counts once"
    );
    taps.close(&channel("other"), other.id);
    assert_eq!(taps.open.load(Ordering::Acquire), 0);
    assert!(taps.lock().is_empty());
}
