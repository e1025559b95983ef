//! A TLS WebSocket after the upgrade, split the way a plain one is.
//!
//! A plain socket is split into its read half (tungstenite reads it) and
//! its write half (publishers write to it directly, `outbound.rs`). A TLS
//! stream cannot be split like that: both directions go through one
//! rustls session (records are numbered, alerts and key updates are
//! answered on the write side). So the session is taken out of the stream
//! once hyper has upgraded it, the TCP socket is split as usual, and the
//! session sits in one `std::sync::Mutex` that both halves use:
//!
//! * [`TlsSocket`] is the socket's `FrameSink`: under the lock it
//!   encrypts the frames and writes the records with one non-blocking
//!   `write`. Records the kernel does not take stay in the session; the
//!   sink reports it holds bytes, so the socket's task flushes them once
//!   the socket is writable, and no plaintext is taken before they have
//!   left.
//! * [`TlsReadHalf`] is what tungstenite reads: under the lock it feeds
//!   the TCP bytes to the session and takes the plaintext out.
//!
//! The lock is held for one non-blocking `read`/`write` and the crypto on
//! it, never across an `.await`. A plain socket pays nothing for any of
//! this: its sink stays the bare write half.

use std::io::{self, IoSlice, Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::ServerConnection;

use crate::outbound::FrameSink;

/// The writing side of a TLS WebSocket, shared by every publisher.
#[derive(Debug)]
pub(crate) struct TlsSocket {
    session: Mutex<ServerConnection>,
    tcp: OwnedWriteHalf,
}

impl TlsSocket {
    /// Takes over `session`, whose records go out through `tcp`.
    pub(crate) fn new(session: ServerConnection, tcp: OwnedWriteHalf) -> Self {
        TlsSocket {
            session: Mutex::new(session),
            tcp,
        }
    }

    fn session(&self) -> MutexGuard<'_, ServerConnection> {
        // Every step under the lock leaves the session usable (rustls
        // keeps its own state consistent), so a poisoned lock is too.
        self.session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the records the session holds; `WouldBlock` while some are
    /// left.
    fn push(&self, session: &mut ServerConnection) -> io::Result<()> {
        while session.wants_write() {
            if session.write_tls(&mut NonBlocking(&self.tcp))? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }
}

impl FrameSink for TlsSocket {
    /// Writes the records held from earlier writes first (`WouldBlock`,
    /// taking nothing, while they cannot leave), then encrypts `bufs` and
    /// writes what the kernel takes. An empty `bufs` only flushes.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut session = self.session();
        self.push(&mut session)?;
        if bufs.iter().all(|b| b.is_empty()) {
            return Ok(0);
        }
        let taken = session.writer().write_vectored(bufs)?;
        if taken == 0 {
            // The session's buffer limit; cannot happen once it is empty.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        match self.push(&mut session) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(taken),
        }
    }

    fn buffers(&self) -> bool {
        true
    }

    fn holds_bytes(&self) -> bool {
        self.session().wants_write()
    }
}

impl AsRef<TcpStream> for TlsSocket {
    fn as_ref(&self) -> &TcpStream {
        self.tcp.as_ref()
    }
}

impl Drop for TlsSocket {
    /// Ends the session properly: a `close_notify` alert, if the kernel
    /// takes it now (the WebSocket close frame has already been sent).
    fn drop(&mut self) {
        let mut session = self.session();
        session.send_close_notify();
        let _ = self.push(&mut session);
    }
}

/// The reading side of a TLS WebSocket, as tungstenite needs it; writes
/// are discarded, as `connection::ReadHalf` does for plain sockets.
#[derive(Debug)]
pub(crate) struct TlsReadHalf {
    tcp: OwnedReadHalf,
    socket: Arc<TlsSocket>,
}

impl TlsReadHalf {
    /// Reads `tcp` through `socket`'s session.
    pub(crate) fn new(tcp: OwnedReadHalf, socket: Arc<TlsSocket>) -> Self {
        TlsReadHalf { tcp, socket }
    }
}

impl AsyncRead for TlsReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            {
                let mut session = this.socket.session();
                match session.reader().read(buf.initialize_unfilled()) {
                    // Plaintext, or 0 after the peer's close_notify.
                    Ok(n) => {
                        buf.advance(n);
                        return Poll::Ready(Ok(()));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The TCP stream ended without a close_notify.
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            ready!(this.tcp.as_ref().poll_read_ready(cx))?;
            let mut session = this.socket.session();
            match session.read_tls(&mut NonBlocking(&this.tcp)) {
                Ok(_) => {}
                // The readiness was stale and is now cleared: poll again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
            let processed = session.process_new_packets();
            // Alerts and key updates the records asked for go out now if
            // the kernel takes them, else ahead of the next frame.
            let _ = this.socket.push(&mut session);
            if let Err(e) = processed {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
            }
        }
    }
}

impl AsyncWrite for TlsReadHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A half of a tokio socket as the blocking `Read`/`Write` rustls takes:
/// each call is one non-blocking `try_read`/`try_write`, `WouldBlock`
/// when the socket is not ready.
struct NonBlocking<'a, T>(&'a T);

impl Read for NonBlocking<'_, OwnedReadHalf> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl Write for NonBlocking<'_, OwnedWriteHalf> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
