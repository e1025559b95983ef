//! The log: only watched channels, exact resume, refusal to resume past
//! what is kept, ids of another run.

use super::*;

fn ch(name: &str) -> ChannelName {
    ChannelName::parse(name).expect("valid")
}

fn frame(n: u64) -> Frame {
    Frame::text(&format!(r#"{{"event":"e","channel":"c","data":"{n}"}}"#))
}

fn id(h: &History, seq: u64) -> String {
    EventId(h.epoch, seq).to_string()
}

fn seqs(entries: &[std::sync::Arc<Entry>]) -> Vec<u64> {
    entries.iter().map(|e| e.id.1).collect()
}

#[test]
fn only_watched_channels_are_logged_and_read_back_in_order() {
    let h = History::new(100, Duration::from_secs(60));
    h.record(&ch("a"), &frame(0));
    let start = h.open(&[ch("a"), ch("b")], None).expect("ok");
    assert_eq!(
        (start.cursor.1, start.refetch),
        (0, None),
        "nothing was logged before"
    );
    h.record(&ch("a"), &frame(1));
    h.record(&ch("other"), &frame(2));
    h.record(&ch("b"), &frame(3));
    let (entries, cursor) = h.read(&[ch("a"), ch("b")], start.cursor).expect("kept");
    assert_eq!(seqs(&entries), [1, 3], "2 went to an unwatched channel");
    assert_eq!(cursor.1, 3);
    let (only_b, _) = h.read(&[ch("b")], start.cursor).expect("kept");
    assert_eq!(seqs(&only_b), [3]);
}

#[test]
fn a_resume_gets_exactly_what_was_missed() {
    let h = History::new(100, Duration::from_secs(60));
    let channels = [ch("a")];
    h.open(&channels, None).expect("ok");
    for n in 1..=5 {
        h.record(&ch("a"), &frame(n));
    }
    h.close(&channels);
    h.record(&ch("a"), &frame(6));
    let last_seen = id(&h, 3);
    let resume = h.open(&channels, Some(&last_seen)).expect("ours");
    assert_eq!((resume.cursor.1, resume.refetch), (3, None));
    let (entries, _) = h.read(&channels, resume.cursor).expect("kept");
    assert_eq!(
        seqs(&entries),
        [4, 5, 6],
        "logged while no stream was open too"
    );
}

#[test]
fn resuming_past_what_is_kept_asks_for_a_refetch() {
    let h = History::new(3, Duration::from_secs(60));
    let channels = [ch("a")];
    h.open(&channels, None).expect("ok");
    for n in 1..=5 {
        h.record(&ch("a"), &frame(n));
    }
    let too_old = h.open(&channels, Some(&id(&h, 1))).expect("ours");
    assert_eq!(too_old.cursor.1, 5);
    assert!(too_old.refetch.is_some());
    assert!(h
        .open(&channels, Some(&id(&h, 2)))
        .expect("ours")
        .refetch
        .is_none());
    // A live reader that fell behind the log is told too.
    assert_eq!(
        h.read(&channels, EventId(h.epoch, 1)).map(|(e, _)| e.len()),
        Err(EventId(h.epoch, 5))
    );
}

#[test]
fn ids_of_another_run_or_before_the_watch_began_are_not_resumed() {
    let h = History::new(10, Duration::from_secs(60));
    h.open(&[ch("a")], None).expect("ok");
    h.record(&ch("a"), &frame(1));
    h.record(&ch("a"), &frame(2));
    let other_run = format!("{}-1", h.epoch + 1);
    assert!(h
        .open(&[ch("a")], Some(&other_run))
        .expect("well formed")
        .refetch
        .is_some());
    let future = id(&h, 99);
    assert!(h
        .open(&[ch("a")], Some(&future))
        .expect("well formed")
        .refetch
        .is_some());
    // Channel b was not watched before seq 2: events before then were not kept.
    let joined_late = h.open(&[ch("a"), ch("b")], Some(&id(&h, 1))).expect("ours");
    assert!(joined_late.refetch.is_some());
    for bad in ["", "abc", "1-", "-1", "1-2-3", "x-1"] {
        assert!(h.open(&[ch("a")], Some(bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn history_off_logs_nothing_and_refuses_resume() {
    let h = History::new(0, Duration::from_secs(60));
    let start = h.open(&[ch("a")], Some(&id(&h, 0))).expect("well formed");
    assert!(start.refetch.is_some());
    h.record(&ch("a"), &frame(1));
    assert_eq!(
        h.read(&[ch("a")], start.cursor).map(|(e, _)| e.len()),
        Ok(0)
    );
}

#[tokio::test(start_paused = true)]
async fn entries_and_idle_watches_expire() {
    let h = History::new(100, Duration::from_secs(10));
    let channels = [ch("a")];
    h.open(&channels, None).expect("ok");
    h.record(&ch("a"), &frame(1));
    h.close(&channels);
    tokio::time::advance(Duration::from_secs(11)).await;
    h.record(&ch("a"), &frame(2));
    assert_eq!(
        h.watching.load(Ordering::Acquire),
        0,
        "the idle watch expired"
    );
    let (entries, _) = h
        .read(&channels, EventId::default())
        .map_err(|_| ())
        .unwrap_or_default();
    assert!(entries.is_empty(), "the old entry expired");
}

#[test]
fn cluster_ids_are_logged_in_order_and_resumed_after() {
    let h = History::new(10, Duration::from_secs(60));
    h.use_cluster_ids();
    let channels = [ch("a")];
    h.open(&channels, None).expect("ok");
    h.record(&ch("a"), &frame(0));
    assert!(
        h.read(&channels, EventId::default())
            .expect("kept")
            .0
            .is_empty(),
        "own ids unused"
    );
    h.record_with_id(&ch("a"), &frame(1), EventId(1700, 0));
    h.record_with_id(&ch("a"), &frame(2), EventId(1700, 1));
    h.record_with_id(&ch("a"), &frame(9), EventId(1699, 5));
    h.record_with_id(&ch("a"), &frame(3), EventId(1701, 0));
    let (entries, last) = h.read(&channels, EventId(1700, 0)).expect("kept");
    let ids: Vec<EventId> = entries.iter().map(|e| e.id).collect();
    assert_eq!(
        ids,
        [EventId(1700, 1), EventId(1701, 0)],
        "an out-of-order id is ignored"
    );
    assert_eq!(last, EventId(1701, 0));
    let resume = h.open(&channels, Some("1700-1")).expect("ours");
    assert_eq!((resume.cursor, resume.refetch), (EventId(1700, 1), None));
    let other = h.open(&[ch("b")], Some("1700-1")).expect("ours");
    assert!(other.refetch.is_some(), "b was not watched here then");
    assert_eq!(other.wanted, Some(EventId(1700, 1)));
}

#[test]
fn an_entry_is_rendered_once_for_every_reader() {
    let h = History::new(10, Duration::from_secs(60));
    let channels = [ch("a")];
    h.open(&channels, None).expect("ok");
    h.open(&channels, None).expect("ok");
    h.record(&ch("a"), &frame(1));
    let mut renders = 0;
    for _ in 0..2 {
        let (entries, _) = h.read(&channels, EventId(h.epoch, 0)).expect("kept");
        let text = entries[0].rendered(false, || {
            renders += 1;
            Some("event: e\n\n".to_owned())
        });
        assert_eq!(text.as_deref(), Some("event: e\n\n"));
    }
    assert_eq!(renders, 1, "the second reader shares the first one's text");
}

#[test]
fn a_lapsed_watch_sends_a_resume_to_the_cluster_history() {
    let h = History::new(10, Duration::from_secs(60));
    h.use_cluster_ids();
    let a = [ch("a")];
    let b = [ch("b")];
    h.open(&a, None).expect("ok");
    h.open(&b, None).expect("ok");
    h.record_with_id(&ch("a"), &frame(1), EventId(1700, 0));
    h.close(&a);
    // The node stops receiving `a`; `b`'s events still move the log on.
    h.lapse(&ch("a"));
    h.record_with_id(&ch("b"), &frame(2), EventId(1700, 5));
    let resume = h.open(&a, Some("1700-0")).expect("ours");
    assert!(
        resume.refetch.is_some(),
        "events on `a` after 1700-0 may have reached other nodes only"
    );
    // Even an id equal to where a fresh watch begins is not served locally.
    h.close(&a);
    h.lapse(&ch("a"));
    let at_edge = h.open(&a, Some("1700-5")).expect("ours");
    assert!(at_edge.refetch.is_some());
    // A watch that was kept (never lapsed) still resumes locally.
    let kept = h.open(&b, Some("1700-5")).expect("ours");
    assert_eq!((kept.cursor, kept.refetch), (EventId(1700, 5), None));
}
