use super::*;

/// A masked client frame, as a browser would send it.
fn masked(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut frame = server_frame(opcode, payload);
    let at = frame.len() - payload.len();
    frame[1] |= 0x80;
    frame.splice(at..at, mask);
    for (i, b) in frame[at + 4..].iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
    frame
}

#[test]
fn a_masked_frame_is_unmasked_and_taken_off_the_buffer() {
    let mut buf = masked(0x1, b"{\"event\":\"client-x\"}", [1, 2, 3, 4]);
    buf.extend_from_slice(&[0x81]);
    let frame = take_frame(&mut buf).expect("valid").expect("whole");
    assert_eq!(frame.opcode, 0x1);
    assert_eq!(frame.payload, b"{\"event\":\"client-x\"}");
    assert_eq!(buf, [0x81], "the next frame's first byte stays");
}

#[test]
fn lengths_of_two_and_eight_bytes_are_read() {
    for len in [125usize, 126, 300, 70_000] {
        let payload = vec![b'a'; len];
        let mut buf = masked(0x2, &payload, [9, 8, 7, 6]);
        let whole = buf.len();
        let mut part: Vec<u8> = buf[..whole - 1].to_vec();
        assert_eq!(take_frame(&mut part), Ok(None), "{len}: one byte short");
        let frame = take_frame(&mut buf).expect("valid").expect("whole");
        assert_eq!(frame.payload.len(), len);
        assert!(buf.is_empty());
    }
}

#[test]
fn an_oversized_frame_is_refused() {
    let mut buf = vec![0x81, 0x7f];
    buf.extend_from_slice(&(u64::MAX).to_be_bytes());
    assert_eq!(take_frame(&mut buf), Err(()));
}

#[test]
fn headers_and_fields_are_found() {
    let head = "GET /app/k HTTP/1.1\r\nSec-WebSocket-Key: abc==\r\nContent-Length: 12\r\n\r\n";
    assert_eq!(header(head, "sec-websocket-key"), Some("abc=="));
    assert_eq!(header(head, "content-length"), Some("12"));
    assert_eq!(header(head, "upgrade"), None);
    let text = r#"{"event":"client-bench","channel":"private-bench-3","data":{}}"#;
    assert_eq!(field(text, "event"), Some("client-bench"));
    assert_eq!(field(text, "channel"), Some("private-bench-3"));
}
