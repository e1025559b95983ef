//! The `floor` scenario's minimal server: just enough of the Pusher protocol
//! for the bench's clients, on one thread running a single-threaded tokio
//! runtime, doing the least work a server must do per message.
//!
//! * A `GET` with `Upgrade: websocket` is answered 101; the socket is sent
//!   `pusher:connection_established`, and each `pusher:subscribe` is
//!   answered `pusher_internal:subscription_succeeded` (no signature check).
//! * A `POST` is a publish in the SDKs' form (`name`, `channels`, `data`):
//!   the frame is encoded once and written to every subscriber of each
//!   channel with one non-blocking `write` each, then `{}` is answered.
//! * A `client-*` frame is forwarded, its payload unchanged, to every other
//!   member of its channel with one `write` each.
//!
//! No queue, no timers, no limits: a write the kernel does not take whole
//! is finished with an awaited `write_all` (it does not happen at the
//! bench's rates). Client frames are read with a small hand-written parser
//! (masked frames, lengths up to 64 bits, no fragmentation).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_util::sync::CancellationToken;

/// Longest request head or client frame accepted.
const MAX_MESSAGE: usize = 1 << 20;

/// A running minimal server.
#[derive(Debug)]
pub(crate) struct FloorServer {
    /// Where it listens (loopback, an ephemeral port).
    pub addr: SocketAddr,
    /// Its thread's `/proc` entry, `<pid>/task/<tid>`.
    pub stat_path: String,
    stop: CancellationToken,
    thread: Option<JoinHandle<()>>,
}

impl FloorServer {
    /// Binds 127.0.0.1 on an ephemeral port and starts serving on a thread
    /// of its own.
    pub(crate) fn start() -> std::io::Result<Self> {
        let stop = CancellationToken::new();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let serving = stop.clone();
        let thread = std::thread::Builder::new()
            .name("floor-server".to_owned())
            .spawn(move || {
                let started = (|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_io()
                        .build()?;
                    let listener = runtime.block_on(async {
                        let socket = TcpSocket::new_v4()?;
                        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
                        socket.listen(4096)
                    })?;
                    let task = std::fs::read_link("/proc/thread-self")?;
                    let addr = listener.local_addr()?;
                    Ok::<_, std::io::Error>((runtime, listener, addr, task))
                })();
                match started {
                    Ok((runtime, listener, addr, task)) => {
                        let _ = ready_tx.send(Ok((addr, task.to_string_lossy().into_owned())));
                        runtime.block_on(serve(listener, serving));
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })?;
        let (addr, stat_path) = ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("the floor server thread ended"))??;
        Ok(Self {
            addr,
            stat_path,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops serving (every socket is dropped) and waits for the thread.
    pub(crate) fn stop(mut self) {
        self.stop.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One subscribed socket's write half and its id.
#[derive(Debug, Clone)]
struct Member {
    id: u64,
    write: Arc<OwnedWriteHalf>,
}

/// Channel name → its members.
type Channels = Arc<Mutex<HashMap<String, Vec<Member>>>>;

async fn serve(listener: TcpListener, stop: CancellationToken) {
    let channels: Channels = Arc::default();
    let ids = Arc::new(AtomicU64::new(1));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let id = ids.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(stream, id, channels.clone()));
            }
        }
    }
}

/// Serves one TCP connection: a WebSocket after an upgrade request, else
/// publish requests until the client leaves.
async fn connection(mut stream: TcpStream, id: u64, channels: Channels) {
    let mut buf = Vec::with_capacity(4096);
    loop {
        let Some(head_len) = read_head(&mut stream, &mut buf).await else {
            return;
        };
        let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
        if let Some(key) = header(&head, "sec-websocket-key") {
            let reply = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                derive_accept_key(key.as_bytes())
            );
            if stream.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
            buf.drain(..head_len);
            websocket(stream, buf, id, channels).await;
            return;
        }
        let body_len: usize = header(&head, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if body_len > MAX_MESSAGE {
            return;
        }
        while buf.len() < head_len + body_len {
            if read_more(&mut stream, &mut buf).await.is_none() {
                return;
            }
        }
        publish(&channels, &buf[head_len..head_len + body_len]).await;
        let ok = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        if stream.write_all(ok.as_bytes()).await.is_err() {
            return;
        }
        buf.drain(..head_len + body_len);
    }
}

/// Reads until `buf` holds a whole request head; returns its length with
/// the blank line.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(at + 4);
        }
        if buf.len() > MAX_MESSAGE {
            return None;
        }
        read_more(stream, buf).await?;
    }
}

/// Appends what the socket has to `buf`; `None` at end of stream or error.
async fn read_more<R: AsyncReadExt + Unpin>(stream: &mut R, buf: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 4096];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Some(())
        }
    }
}

/// The value of header `name` (lower case) in a request head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Writes the event in `body` to every subscriber of its channels.
async fn publish(channels: &Channels, body: &[u8]) {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let (Some(name), Some(data), Some(list)) = (
        event["name"].as_str(),
        event["data"].as_str(),
        event["channels"].as_array(),
    ) else {
        return;
    };
    for channel in list.iter().filter_map(serde_json::Value::as_str) {
        let payload = format!(
            r#"{{"event":{},"channel":{},"data":{}}}"#,
            serde_json::Value::from(name),
            serde_json::Value::from(channel),
            serde_json::Value::from(data),
        );
        deliver(
            channels,
            channel,
            None,
            &server_frame(0x1, payload.as_bytes()),
        )
        .await;
    }
}

/// Writes `frame` to every member of `channel` but `except`: one
/// non-blocking `write` each; what the kernel does not take is finished
/// afterwards, outside the lock.
async fn deliver(channels: &Channels, channel: &str, except: Option<u64>, frame: &[u8]) {
    let mut unfinished = Vec::new();
    {
        let map = channels.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(members) = map.get(channel) else {
            return;
        };
        for m in members.iter().filter(|m| Some(m.id) != except) {
            match m.write.try_write(frame) {
                Ok(n) if n == frame.len() => {}
                Ok(n) => unfinished.push((m.write.clone(), n)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    unfinished.push((m.write.clone(), 0));
                }
                Err(_) => {}
            }
        }
    }
    for (write, done) in unfinished {
        let _ = write_rest(&write, &frame[done..]).await;
    }
}

/// Writes all of `bytes` to a shared write half, waiting for room.
async fn write_rest(write: &OwnedWriteHalf, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        write.writable().await?;
        match write.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// An unmasked, final server frame with `opcode`.
fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 10);
    frame.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => frame.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            frame.push(126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// One client frame: its opcode and unmasked payload.
#[derive(Debug, PartialEq, Eq)]
struct ClientFrame {
    opcode: u8,
    payload: Vec<u8>,
}

/// Takes one whole frame off the front of `buf`, if it holds one.
/// `Err(())` for a frame longer than [`MAX_MESSAGE`].
fn take_frame(buf: &mut Vec<u8>) -> Result<Option<ClientFrame>, ()> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let opcode = buf[0] & 0x0f;
    let masked = buf[1] & 0x80 != 0;
    let (len, mut at) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&buf[2..10]);
            (usize::try_from(u64::from_be_bytes(n)).map_err(|_| ())?, 10)
        }
        126 | 127 => return Ok(None),
        n => (usize::from(n), 2),
    };
    if len > MAX_MESSAGE {
        return Err(());
    }
    let mask_len = if masked { 4 } else { 0 };
    if buf.len() < at + mask_len + len {
        return Ok(None);
    }
    let mut mask = [0u8; 4];
    if masked {
        mask.copy_from_slice(&buf[at..at + 4]);
        at += 4;
    }
    let mut payload = buf[at..at + len].to_vec();
    if masked {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    buf.drain(..at + len);
    Ok(Some(ClientFrame { opcode, payload }))
}

/// A WebSocket after the handshake: Pusher setup messages, pings, client
/// events, close.
async fn websocket(stream: TcpStream, mut buf: Vec<u8>, id: u64, channels: Channels) {
    let (mut read, write) = stream.into_split();
    let write = Arc::new(write);
    let established = format!(
        r#"{{"event":"pusher:connection_established","data":"{{\"socket_id\":\"{id}.{id}\",\"activity_timeout\":120}}"}}"#
    );
    let mut joined: Vec<String> = Vec::new();
    if write_rest(&write, &server_frame(0x1, established.as_bytes()))
        .await
        .is_ok()
    {
        serve_frames(&mut read, &write, &mut buf, id, &channels, &mut joined).await;
    }
    let mut map = channels.lock().unwrap_or_else(PoisonError::into_inner);
    for channel in joined {
        if let Some(members) = map.get_mut(&channel) {
            members.retain(|m| m.id != id);
        }
    }
}

/// Reads and handles frames until the socket closes.
async fn serve_frames(
    read: &mut OwnedReadHalf,
    write: &Arc<OwnedWriteHalf>,
    buf: &mut Vec<u8>,
    id: u64,
    channels: &Channels,
    joined: &mut Vec<String>,
) {
    loop {
        let frame = match take_frame(buf) {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                if read_more(read, buf).await.is_none() {
                    return;
                }
                continue;
            }
            Err(()) => return,
        };
        let reply = match frame.opcode {
            0x1 => on_text(&frame.payload, id, write, channels, joined)
                .await
                .map(|text| server_frame(0x1, text.as_bytes())),
            0x8 => {
                let _ = write_rest(write, &server_frame(0x8, &frame.payload)).await;
                return;
            }
            0x9 => Some(server_frame(0xA, &frame.payload)),
            _ => None,
        };
        if let Some(reply) = reply {
            if write_rest(write, &reply).await.is_err() {
                return;
            }
        }
    }
}

/// Handles one text message; returns the reply to send, if any.
async fn on_text(
    payload: &[u8],
    id: u64,
    write: &Arc<OwnedWriteHalf>,
    channels: &Channels,
    joined: &mut Vec<String>,
) -> Option<String> {
    let text = std::str::from_utf8(payload).ok()?;
    let event = field(text, "event")?;
    if event.starts_with("client-") {
        let channel = field(text, "channel")?;
        deliver(channels, channel, Some(id), &server_frame(0x1, payload)).await;
        return None;
    }
    match event {
        "pusher:ping" => Some(r#"{"event":"pusher:pong","data":{}}"#.to_owned()),
        "pusher:subscribe" => {
            let v: serde_json::Value = serde_json::from_str(text).ok()?;
            let channel = v["data"]["channel"].as_str()?.to_owned();
            let reply = format!(
                r#"{{"event":"pusher_internal:subscription_succeeded","channel":{},"data":"{{}}"}}"#,
                serde_json::Value::from(channel.as_str())
            );
            let member = Member {
                id,
                write: write.clone(),
            };
            channels
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(channel.clone())
                .or_default()
                .push(member);
            joined.push(channel);
            Some(reply)
        }
        _ => None,
    }
}

/// The string value of the first `"name":"…"` in `text` (no escapes).
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\":\"");
    let start = text.find(&key)? + key.len();
    let end = start + text[start..].find('"')?;
    Some(&text[start..end])
}

#[cfg(test)]
mod tests;
