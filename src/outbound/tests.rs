use std::sync::Mutex;

use super::*;

/// A sink that accepts at most `room` more bytes, then says WouldBlock.
#[derive(Debug, Default)]
struct FakeSink {
    written: Mutex<Vec<u8>>,
    room: Mutex<usize>,
    calls: Mutex<usize>,
}

impl FakeSink {
    fn with_room(room: usize) -> Arc<FakeSink> {
        let sink = FakeSink::default();
        *sink.room.lock().unwrap() = room;
        Arc::new(sink)
    }
}

impl FrameSink for FakeSink {
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        *self.calls.lock().unwrap() += 1;
        let mut room = self.room.lock().unwrap();
        if *room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut n = 0;
        for buf in bufs {
            let take = buf.len().min(*room - n);
            self.written.lock().unwrap().extend_from_slice(&buf[..take]);
            n += take;
            if n == *room {
                break;
            }
        }
        *room -= n;
        Ok(n)
    }
}

#[test]
fn frames_carry_the_websocket_header() {
    assert_eq!(Frame::text("hi").wire(), b"\x81\x02hi");
    let long = "x".repeat(300);
    let f = Frame::text(&long);
    assert_eq!(&f.wire()[..4], &[0x81, 126, 0x01, 0x2c]);
    assert_eq!(f.as_str(), long);
    assert_eq!(Frame::close(4009, "bye").wire(), b"\x88\x05\x0f\xa9bye");
    assert_eq!(Frame::ping().wire(), b"\x89\x00");
    assert_eq!(Frame::pong(b"ab").wire(), b"\x8a\x02ab");
}

#[test]
fn an_idle_socket_is_written_at_once() {
    let sink = FakeSink::with_room(1 << 20);
    let h = SocketHandle::with_sink(4, sink.clone());
    h.send(&Frame::text("a")).unwrap();
    h.send(&Frame::text("b")).unwrap();
    assert!(h.is_empty(), "nothing queued for an idle socket");
    assert_eq!(&*sink.written.lock().unwrap(), b"\x81\x01a\x81\x01b");
}

#[test]
fn a_busy_socket_queues_then_coalesces_in_one_write() {
    let sink = FakeSink::with_room(3); // the first frame fits, then full
    let h = SocketHandle::with_sink(16, sink.clone());
    h.send(&Frame::text("a")).unwrap();
    h.send(&Frame::text("bb")).unwrap(); // WouldBlock: queued
    h.send(&Frame::text("cc")).unwrap(); // behind it
    assert_eq!(h.len(), 2);
    assert_eq!(h.flush(), Flushed::WouldBlock);
    *sink.room.lock().unwrap() = 1 << 20;
    let calls = *sink.calls.lock().unwrap();
    assert_eq!(h.flush(), Flushed::Done);
    assert_eq!(
        *sink.calls.lock().unwrap(),
        calls + 1,
        "both frames in one write"
    );
    assert_eq!(
        &*sink.written.lock().unwrap(),
        b"\x81\x01a\x81\x02bb\x81\x02cc"
    );
}

#[test]
fn a_partly_written_frame_is_finished_before_the_next() {
    let sink = FakeSink::with_room(2);
    let h = SocketHandle::with_sink(16, sink.clone());
    h.send(&Frame::text("abc")).unwrap(); // 2 of 5 bytes written
    h.send(&Frame::text("d")).unwrap();
    *sink.room.lock().unwrap() = 1 << 20;
    assert_eq!(h.flush(), Flushed::Done);
    assert_eq!(&*sink.written.lock().unwrap(), b"\x81\x03abc\x81\x01d");
}

#[test]
fn overflow_closes_with_4100_and_frees_the_queue() {
    let h = SocketHandle::new(2);
    let f = Frame::from("x");
    assert_eq!(h.send(&f), Ok(()));
    assert_eq!(h.send(&f), Ok(()));
    assert_eq!(h.send(&f), Err(SendError::Overflow));
    assert_eq!(h.close_reason(), Some(ErrorCode::OverCapacity));
    assert!(h.is_empty());
    assert_eq!(h.send(&f), Err(SendError::Closing));
    h.send_final(&[Frame::close(4100, "slow")]);
    assert_eq!(h.len(), 1, "final frames are queued even when closing");
}

#[test]
fn nothing_follows_the_final_frames() {
    let sink = FakeSink::with_room(0); // busy: everything queues
    let h = SocketHandle::with_sink(16, sink);
    h.send_final(&[Frame::close(4200, "bye")]);
    assert_eq!(h.send(&Frame::text("late")), Err(SendError::Closing));
    assert_eq!(h.len(), 1, "only the close frame is queued");
}

#[tokio::test]
async fn wake_up_is_not_lost_when_nobody_waits() {
    let h = SocketHandle::new(8);
    h.send(&Frame::from("a")).ok();
    tokio::time::timeout(std::time::Duration::from_secs(1), h.ready())
        .await
        .expect("the stored wake-up completes at once");
    assert_eq!(h.pop().as_ref().map(Frame::as_str), Some("a"));
    assert_eq!(h.pop(), None);
}

#[test]
fn first_close_reason_wins() {
    let h = SocketHandle::new(8);
    h.close(ErrorCode::TerminatedByApp);
    h.close(ErrorCode::ServerShuttingDown);
    assert_eq!(h.close_reason(), Some(ErrorCode::TerminatedByApp));
}

#[test]
fn a_write_batch_reports_when_its_oldest_published_frame_started() {
    let sink = FakeSink::with_room(0);
    let h = SocketHandle::with_sink(16, sink.clone());
    let first = Instant::now();
    let later = first + std::time::Duration::from_millis(5);
    h.send(&Frame::text("ack")).unwrap(); // not published: no stamp
    h.send(&Frame::text("a").published_at(first)).unwrap();
    h.send(&Frame::text("b").published_at(later)).unwrap();
    assert_eq!(Frame::text("a").published_at(first), Frame::text("a"));
    let mut oldest = None;
    assert_eq!(h.flush_sampled(&mut oldest), Flushed::WouldBlock);
    assert_eq!(oldest, None, "nothing written yet");
    *sink.room.lock().unwrap() = 1 << 20;
    assert_eq!(h.flush_sampled(&mut oldest), Flushed::Done);
    assert_eq!(oldest, Some(first));
}

/// A sink that takes every frame but passes on at most `room` bytes, holding
/// the rest, as a TLS session does with records the kernel did not take.
#[derive(Debug, Default)]
struct BufferingSink {
    held: Mutex<Vec<u8>>,
    out: Mutex<Vec<u8>>,
    room: Mutex<usize>,
}

impl BufferingSink {
    fn pass_on(&self) {
        let mut held = self.held.lock().unwrap();
        let mut room = self.room.lock().unwrap();
        let n = held.len().min(*room);
        self.out.lock().unwrap().extend(held.drain(..n));
        *room -= n;
    }
}

impl FrameSink for BufferingSink {
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.pass_on();
        if !self.held.lock().unwrap().is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut n = 0;
        for buf in bufs {
            self.held.lock().unwrap().extend_from_slice(buf);
            n += buf.len();
        }
        self.pass_on();
        Ok(n)
    }

    fn buffers(&self) -> bool {
        true
    }

    fn holds_bytes(&self) -> bool {
        !self.held.lock().unwrap().is_empty()
    }
}

#[tokio::test]
async fn bytes_a_buffering_sink_holds_wake_the_task_and_leave_with_its_flush() {
    let sink = Arc::new(BufferingSink::default());
    *sink.room.lock().unwrap() = 3;
    let h = SocketHandle::with_sink(16, sink.clone());
    h.send(&Frame::text("abcd")).unwrap(); // taken whole, 3 of 6 bytes out
    assert!(h.is_empty(), "the frame was taken");
    tokio::time::timeout(std::time::Duration::from_secs(1), h.ready())
        .await
        .expect("the task is woken to flush what the sink holds");
    assert_eq!(h.flush(), Flushed::WouldBlock, "still held");
    // Another frame waits behind the held bytes, in order.
    h.send(&Frame::text("e")).unwrap();
    assert_eq!(h.len(), 1);
    *sink.room.lock().unwrap() = 1 << 20;
    assert_eq!(h.flush(), Flushed::Done);
    assert_eq!(&*sink.out.lock().unwrap(), b"\x81\x04abcd\x81\x01e");
    assert!(!sink.holds_bytes());
}

#[test]
fn a_plain_sink_is_never_asked_whether_it_holds_bytes() {
    let sink = FakeSink::with_room(1 << 20);
    let h = SocketHandle::with_sink(4, sink.clone());
    assert!(!h.outbox.buffering);
    h.send(&Frame::text("a")).unwrap();
    assert_eq!(h.flush(), Flushed::Done);
    assert_eq!(*sink.calls.lock().unwrap(), 1, "one write, no flush call");
}
