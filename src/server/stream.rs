//! A connection's socket as hyper sees it: a write may stall for [`WRITE_STALL_TIMEOUT`] at
//! most, and closing after an answer the client has not finished sending its request for (a
//! 431 for headers over the cap) lingers, reading and dropping what it still sends, so that
//! the client reads the answer rather than a reset.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Longest time one write to a client may wait for it to read: a client that asks for a page
/// and never reads it is dropped, with the response it held, after this.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a lingering close reads what the client still sends, at most.
const LINGER_TIME: Duration = Duration::from_secs(5);
/// How much a lingering close reads at most (the 384 KiB of headers of issue 20 fit).
const LINGER_BYTES: usize = 1024 * 1024;

/// A connection whose writes may stall for [`WRITE_STALL_TIMEOUT`] at most: hyper has no
/// write timeout, and a client that requests a page and never reads it would hold the
/// connection, and the response's memory, for as long as the kernel keeps the socket.
///
/// When hyper closes it while the client is still sending (hyper answered 431 to headers
/// over the cap and stopped reading), closing the socket at once would make this side's
/// kernel answer the client's further bytes with a reset, and a client still writing its
/// request (Python's http.client, curl) would report the reset, never the 431. So the socket
/// is handed back, through `give_back`, with what was seen of the client at the close, to be
/// drained by [`linger`] once hyper let go of it and of its buffers.
pub(super) struct StallLimited<S> {
    /// `None` once handed back.
    inner: Option<S>,
    /// Armed when a write cannot go on; disarmed by any progress.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Where the socket goes when it is dropped while the client may still send.
    give_back: Option<oneshot::Sender<(S, Unread)>>,
    /// What hyper's shutdown of the socket found of the client's side.
    unread: Unread,
}

/// What was seen of the client's side when hyper shut the socket down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unread {
    /// The client had closed its side, or the socket failed: nothing more will come.
    Nothing,
    /// Nothing waiting yet, but the client's side is open: a client writing its request in
    /// pieces sends its next one a moment later (the probe raced it on an idle machine).
    Maybe,
    /// The client's bytes were waiting unread.
    Bytes,
}

impl<S> StallLimited<S> {
    /// `inner`, sent to `give_back` (if any) when dropped while the client may still send.
    pub(super) fn new(inner: S, give_back: Option<oneshot::Sender<(S, Unread)>>) -> Self {
        StallLimited {
            inner: Some(inner),
            stalled: None,
            give_back,
            unread: Unread::Nothing,
        }
    }

    fn inner(&mut self) -> Pin<&mut S>
    where
        S: Unpin,
    {
        Pin::new(self.inner.as_mut().expect("used before it is dropped"))
    }

    /// Passes a write's outcome on, or fails it once it has waited too long.
    fn guard<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_STALL_TIMEOUT)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallLimited<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.inner().poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for StallLimited<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = self.inner().poll_write(cx, buf);
        self.guard(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = self.inner().poll_write_vectored(cx, bufs);
        self.guard(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(S::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = self.inner().poll_flush(cx);
        self.guard(cx, poll)
    }

    /// Sends our end's FIN after the answer, then looks whether the client's side is still
    /// open, and whether its bytes are waiting unread: the socket may linger when dropped.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = self.inner().poll_shutdown(cx);
        std::task::ready!(self.guard(cx, poll))?;
        let mut scratch = [0; 1024];
        let mut probe = ReadBuf::new(&mut scratch);
        self.unread = match self.inner().poll_read(cx, &mut probe) {
            Poll::Ready(Ok(())) if !probe.filled().is_empty() => Unread::Bytes,
            Poll::Ready(_) => Unread::Nothing,
            Poll::Pending => Unread::Maybe,
        };
        Poll::Ready(Ok(()))
    }
}

impl<S> Drop for StallLimited<S> {
    fn drop(&mut self) {
        if self.unread != Unread::Nothing {
            if let (Some(inner), Some(give_back)) = (self.inner.take(), self.give_back.take()) {
                // Nobody to take it (the connection's task is gone): it just closes.
                let _ = give_back.send((inner, self.unread));
            }
        }
    }
}

/// Reads and drops what the client still sends, until it closes, for [`LINGER_TIME`] and
/// [`LINGER_BYTES`] at most; then the socket closes with a FIN and the client has read our
/// answer (nginx's lingering close does the same).
pub(super) async fn linger(socket: TcpStream) {
    let until = tokio::time::Instant::now() + LINGER_TIME;
    let mut scratch = [0; 4096];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        if !matches!(
            tokio::time::timeout_at(until, socket.readable()).await,
            Ok(Ok(()))
        ) {
            break;
        }
        match socket.try_read(&mut scratch) {
            Ok(0) => break,
            Ok(n) => drained += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// Issue 11, item 2: a client that requested an export and never read it held the
    /// response (2.3 GB for twelve of them) for minutes. A write that cannot go on for
    /// [`WRITE_STALL_TIMEOUT`] now fails, which ends the connection.
    #[tokio::test(start_paused = true)]
    async fn a_write_the_client_does_not_read_times_out() {
        let (ours, theirs) = tokio::io::duplex(64);
        let mut ours = StallLimited::new(ours, None);
        ours.write_all(&[0; 64]).await.unwrap();
        let stalled = ours.write_all(&[0; 64]);
        let failed = tokio::time::timeout(WRITE_STALL_TIMEOUT * 2, stalled)
            .await
            .expect("the write gives up before twice its timeout");
        assert_eq!(failed.unwrap_err().kind(), io::ErrorKind::TimedOut);
        drop(theirs);
    }

    /// A slow reader that keeps reading is not cut: progress disarms the timeout.
    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_is_served() {
        use tokio::io::AsyncReadExt;
        let (ours, mut theirs) = tokio::io::duplex(64);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0; 16];
            loop {
                tokio::time::sleep(WRITE_STALL_TIMEOUT / 2).await;
                match theirs.read(&mut buf).await.unwrap() {
                    0 => return got.len(),
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
        });
        let mut ours = StallLimited::new(ours, None);
        ours.write_all(&[1; 512]).await.unwrap();
        ours.shutdown().await.unwrap();
        drop(ours);
        assert_eq!(reader.await.unwrap(), 512);
    }
}
