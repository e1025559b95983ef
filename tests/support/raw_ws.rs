//! A WebSocket client that writes frames by hand over a plain TCP socket,
//! so tests can send what no well-behaved library would: reserved bits,
//! unmasked frames, bad close codes, fragments over the size limit, frame
//! headers announcing terabytes. It reads the server's (unmasked) frames
//! back with a small parser of its own.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::WAIT;

/// The opcodes of RFC 6455.
pub(crate) const CONTINUATION: u8 = 0x0;
pub(crate) const TEXT: u8 = 0x1;
pub(crate) const CLOSE: u8 = 0x8;
pub(crate) const PING: u8 = 0x9;

/// A key that is the base64 of 16 bytes.
pub(crate) const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// One frame as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerFrame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl ServerFrame {
    /// The close code of a close frame.
    pub(crate) fn close_code(&self) -> Option<u16> {
        (self.opcode == CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

/// Encodes one client frame: `first` is the first header byte (FIN, RSV
/// bits, opcode), `mask` whether to mask it as clients must.
pub(crate) fn frame(first: u8, payload: &[u8], mask: bool) -> Vec<u8> {
    let mut out = header(first, payload.len() as u64, mask);
    let key = [0x37, 0xfa, 0x21, 0x3d];
    if mask {
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// The header of a frame of `len` bytes, without the masking key.
pub(crate) fn header(first: u8, len: u64, mask: bool) -> Vec<u8> {
    let m = if mask { 0x80 } else { 0 };
    let mut out = vec![first];
    if len < 126 {
        out.push(m | len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(m | 126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out
}

/// A masked frame with FIN set.
pub(crate) fn fin(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(0x80 | opcode, payload, true)
}

/// A raw WebSocket connection.
pub(crate) struct RawWs {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawWs {
    /// Connects to `/app/app-key`, completes the handshake and reads
    /// `connection_established`.
    pub(crate) async fn connect(addr: SocketAddr) -> RawWs {
        let stream = TcpStream::connect(addr).await.expect("tcp connect");
        RawWs::handshake(stream, addr).await
    }

    /// Completes the handshake on `stream` and reads `connection_established`.
    pub(crate) async fn handshake(mut stream: TcpStream, addr: SocketAddr) -> RawWs {
        stream.set_nodelay(true).expect("nodelay");
        let request = format!(
            "GET /app/app-key?protocol=7 HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut ws = RawWs {
            stream,
            buf: Vec::new(),
        };
        let head = ws.read_until_head().await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let hello = ws.read_frame().await.expect("hello");
        assert!(
            hello.text().contains("pusher:connection_established"),
            "{hello:?}"
        );
        ws
    }

    async fn read_until_head(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 4);
                return head;
            }
            assert!(self.fill().await, "closed before the response head");
        }
    }

    /// Reads more bytes; `false` at EOF or on a reset.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        let read = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
            .await
            .expect("the server answers in time");
        match read {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// Writes raw bytes.
    pub(crate) async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// The next frame from the server; `None` once the connection ends.
    pub(crate) async fn read_frame(&mut self) -> Option<ServerFrame> {
        loop {
            if let Some((frame, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                return Some(frame);
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// Reads frames until a close frame; returns its code (skipping data
    /// frames and pongs, failing on EOF first).
    pub(crate) async fn expect_close(&mut self) -> u16 {
        loop {
            let frame = self
                .read_frame()
                .await
                .expect("a close frame before the connection ends");
            if let Some(code) = frame.close_code() {
                return code;
            }
            assert_ne!(frame.opcode, CLOSE, "close frame without a code");
        }
    }

    /// Waits until the server closes the TCP connection, reading and
    /// dropping whatever arrives.
    pub(crate) async fn expect_eof(&mut self) {
        while self.read_frame().await.is_some() {}
    }
}

/// One unmasked server frame from the front of `buf`, and its length.
fn parse(buf: &[u8]) -> Option<(ServerFrame, usize)> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    assert_eq!(b1 & 0x80, 0, "server frames are never masked");
    let (len, at) = match b1 & 0x7f {
        126 => (
            u64::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])),
            4,
        ),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let end = at + usize::try_from(len).ok()?;
    let payload = buf.get(at..end)?.to_vec();
    Some((
        ServerFrame {
            fin: b0 & 0x80 != 0,
            opcode: b0 & 0x0f,
            payload,
        },
        end,
    ))
}
