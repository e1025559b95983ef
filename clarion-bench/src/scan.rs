//! Cheap scanning of Pusher frames: the event name and the bench payload's
//! numbers are found with substring searches, so the hot receive path never
//! builds a JSON tree. Works on both encodings a server may use for `data`
//! (a JSON string with escaped quotes for HTTP events, an object for client
//! events).

/// Key of the per-channel sequence number in the bench payload.
pub(crate) const SEQ_KEY: &str = "seq";
/// Key of the send timestamp (unix µs) in the bench payload.
pub(crate) const TS_KEY: &str = "ts";

/// The value of the frame's top-level `"event"` key.
///
/// Assumes `"event"` appears before any nested object that also has an
/// `event` key; every server encodes frames that way.
pub(crate) fn event_name(frame: &str) -> Option<&str> {
    let at = frame.find("\"event\"")? + "\"event\"".len();
    let rest = frame[at..].trim_start();
    let rest = rest.strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(&rest[..end])
}

/// Finds `"key"` (or `\"key\"` inside an escaped JSON string) at or after byte
/// `from`, and parses the unsigned integer that follows its colon. Returns the
/// value and the byte offset just past it.
pub(crate) fn u64_after(frame: &str, key: &str, from: usize) -> Option<(u64, usize)> {
    let bytes = frame.as_bytes();
    let mut start = from;
    loop {
        let pos = start + frame.get(start..)?.find(key)?;
        let after = pos + key.len();
        start = after;
        if pos == 0 || bytes[pos - 1] != b'"' {
            continue;
        }
        let mut i = after;
        // Closing quote, possibly escaped, then optional spaces and a colon.
        if bytes.get(i) == Some(&b'\\') {
            i += 1;
        }
        if bytes.get(i) != Some(&b'"') {
            continue;
        }
        i += 1;
        while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        if bytes.get(i) != Some(&b':') {
            continue;
        }
        i += 1;
        while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        let digits_start = i;
        let mut value: u64 = 0;
        while let Some(b) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            i += 1;
        }
        if i == digits_start {
            return None;
        }
        return Some((value, i));
    }
}

/// The (sequence number, send timestamp µs) of a bench payload in a frame.
pub(crate) fn bench_payload(frame: &str) -> Option<(u64, u64)> {
    let (seq, end) = u64_after(frame, SEQ_KEY, 0)?;
    let (ts, _) = u64_after(frame, TS_KEY, end)?;
    Some((seq, ts))
}

/// The bench payload as a JSON object text: `{"seq":n,"ts":t,"pad":"xx…"}`,
/// padded with `x` so that the whole text is about `size` bytes.
pub(crate) fn payload_object(seq: u64, ts: u64, size: usize) -> String {
    let mut s = format!("{{\"{SEQ_KEY}\":{seq},\"{TS_KEY}\":{ts},\"pad\":\"");
    let pad = size.saturating_sub(s.len() + 2);
    s.push_str(&"x".repeat(pad));
    s.push_str("\"}");
    s
}

/// The same payload escaped as the content of a JSON string (quotes become
/// `\"`): what the HTTP API's `data` field carries.
pub(crate) fn payload_escaped(seq: u64, ts: u64, size: usize) -> String {
    payload_object(seq, ts, size).replace('"', "\\\"")
}

/// Current time as unix microseconds (0 if the clock is before 1970).
pub(crate) fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
