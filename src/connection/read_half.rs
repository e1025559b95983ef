//! `ReadHalf`: the reading half of a TCP socket, as tungstenite needs it.
//! Reads go to the socket (tokio's own read, which notices a drained
//! socket from a short read and so saves an extra `read` per message);
//! writes are discarded, because every frame to the client is written
//! through the socket's `SocketHandle` on the write half (tungstenite's
//! automatic pong and close replies are sent by the connection task
//! instead, in order with everything else).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::tcp::OwnedReadHalf;

/// Reads from a socket whose write half publishers write to directly.
#[derive(Debug)]
pub(crate) struct ReadHalf {
    socket: OwnedReadHalf,
}

impl ReadHalf {
    /// Reads from `socket`.
    pub(crate) fn new(socket: OwnedReadHalf) -> Self {
        ReadHalf { socket }
    }
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_read(cx, buf)
    }
}

impl AsyncWrite for ReadHalf {
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
