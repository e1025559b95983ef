//! A raw HTTP/1.1 client for Server-Sent Events streams (the SSE tests and
//! the dashboard's streams).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::WAIT;

/// A raw HTTP/1.1 client reading an event stream (chunked) as it arrives.
pub(crate) struct SseClient {
    stream: TcpStream,
    raw: Vec<u8>,
    /// The response head (status line and headers).
    pub(crate) head: String,
    /// Decoded body text not consumed yet.
    pub(crate) body: String,
}

impl SseClient {
    pub(crate) async fn open(addr: SocketAddr, path: &str) -> SseClient {
        SseClient::open_with(addr, path, "").await
    }

    /// Opens a stream with extra request header lines (`Name: value\r\n`).
    pub(crate) async fn open_with(addr: SocketAddr, path: &str, headers: &str) -> SseClient {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n{headers}\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut client = SseClient {
            stream,
            raw: Vec::new(),
            head: String::new(),
            body: String::new(),
        };
        while !client.raw.windows(4).any(|w| w == b"\r\n\r\n") {
            client.read_more().await;
        }
        let end = client
            .raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("head")
            + 4;
        client.head = String::from_utf8_lossy(&client.raw[..end]).into_owned();
        client.raw.drain(..end);
        client
    }

    pub(crate) async fn read_more(&mut self) {
        let mut buf = [0u8; 4096];
        let Ok(read) = tokio::time::timeout(WAIT, self.stream.read(&mut buf)).await else {
            panic!(
                "no stream data in time; so far: {:?} / raw {:?}",
                self.body,
                String::from_utf8_lossy(&self.raw)
            );
        };
        let n = read.expect("read");
        assert!(n > 0, "stream closed; so far: {}", self.body);
        self.raw.extend_from_slice(&buf[..n]);
    }

    /// Decodes every complete chunk received so far into `body`.
    pub(crate) fn decode(&mut self) {
        loop {
            let Some(eol) = self.raw.windows(2).position(|w| w == b"\r\n") else {
                return;
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&self.raw[..eol]).expect("size"), 16)
                    .expect("hex size");
            if self.raw.len() < eol + 2 + size + 2 {
                return;
            }
            let chunk = self.raw[eol + 2..eol + 2 + size].to_vec();
            self.body.push_str(&String::from_utf8_lossy(&chunk));
            self.raw.drain(..eol + 2 + size + 2);
        }
    }

    /// The next SSE event (up to its blank line), split into its `id` and
    /// the rest.
    pub(crate) async fn event(&mut self) -> (String, String) {
        let block = self.until("\n\n").await;
        match block
            .strip_prefix("id: ")
            .and_then(|rest| rest.split_once('\n'))
        {
            Some((id, rest)) => (id.to_owned(), rest.to_owned()),
            None => (String::new(), block),
        }
    }

    /// Waits until the decoded body contains `needle`; returns what came
    /// before it (and it), consuming that much.
    pub(crate) async fn until(&mut self, needle: &str) -> String {
        loop {
            self.decode();
            if let Some(pos) = self.body.find(needle) {
                let taken: String = self.body.drain(..pos + needle.len()).collect();
                return taken;
            }
            self.read_more().await;
        }
    }

    /// Reads until the response ends: the connection closes or the
    /// chunked body's last chunk arrives.
    pub(crate) async fn ended(&mut self) {
        loop {
            let mut buf = [0u8; 256];
            match self.stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
            }
            if self.raw.windows(5).any(|w| w == b"0\r\n\r\n") {
                return;
            }
        }
    }
}
