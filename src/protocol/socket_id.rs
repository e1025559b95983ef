//! Socket ids: `"<digits>.<digits>"`, unique among live connections.

use std::fmt;

/// A connection's id as Pusher clients see it (e.g. `"483920175.90817234"`).
///
/// Stored as the two numbers, so it is `Copy` and 8 bytes; the text form is
/// produced on demand.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId {
    high: u32,
    low: u32,
}

impl SocketId {
    /// Builds a socket id from two numbers (each at least 1, as Reverb does).
    pub fn new(high: u32, low: u32) -> Self {
        SocketId {
            high: high.max(1),
            low: low.max(1),
        }
    }

    /// Parses the `"<digits>.<digits>"` form; anything else is `None`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (high, low) = text.split_once('.')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(high) || !digits(low) {
            return None;
        }
        Some(SocketId {
            high: high.parse().ok()?,
            low: low.parse().ok()?,
        })
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.high, self.low)
    }
}

impl fmt::Debug for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SocketId({self})")
    }
}

#[cfg(test)]
mod tests;
