//! The listening socket's side of "one client must not take the server
//! down": at most N connections open at once, and a connection that stays
//! silent after it is accepted is closed.
//!
//! [`incoming`] takes a connection slot (a semaphore permit) *before* it
//! accepts: with every slot taken the server accepts nothing, and new
//! connections wait in the kernel's accept queue (the listen backlog) until
//! a connection closes; a client whose connect times out there retries
//! like with any busy server. Closing them at once instead would turn a
//! short burst into errors, and accepting them only to close them costs
//! the same file descriptors the limit is there to save.
//!
//! Each accepted socket is wrapped in [`Limited`], which holds the permit
//! until it is dropped, that is until tonic is done with the connection
//! (closed by either side, a failed TLS handshake, a keepalive timeout),
//! and which fails reads with `TimedOut` when the first
//! [`PREFACE_LEN`] bytes have not arrived within the handshake timeout. TLS
//! (tonic's `ServerTlsConfig`, with its own handshake timeout) runs on top
//! of `Limited`, so its handshakes hold slots too.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tonic::transport::server::Connected;

/// Bytes a client must send within the handshake timeout: the HTTP/2
/// client preface (`PRI * HTTP/2.0…`), or the start of a TLS ClientHello.
pub(crate) const PREFACE_LEN: usize = 24;

/// Pause after an accept error that is not about one connection (out of
/// file descriptors, ...), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The accepted connections of `listener`, at most `max` open at once,
/// each given `handshake` (zero: no limit) to send its first bytes.
pub(crate) fn incoming(
    listener: TcpListener,
    max: usize,
    handshake: Duration,
) -> impl Stream<Item = io::Result<Limited<TcpStream>>> + Send + 'static {
    let slots = Arc::new(Semaphore::new(max));
    futures::stream::unfold((listener, slots), move |(listener, slots)| async move {
        let io = accept(&listener, &slots, handshake).await;
        Some((Ok(io), (listener, slots)))
    })
}

/// Waits for a free slot, then for a connection.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    handshake: Duration,
) -> Limited<TcpStream> {
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            // Only a closed semaphore fails, and this one is never closed.
            return std::future::pending().await;
        };
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                return Limited::new(stream, permit, handshake);
            }
            Err(e) if is_connection_error(&e) => {
                tracing::debug!(error = %e, "accept: connection failed");
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; pausing");
                drop(permit);
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

/// Errors of one connection (the next accept may well succeed).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// A connection holding its slot, and a deadline for its first bytes.
#[derive(Debug)]
pub(crate) struct Limited<IO> {
    io: IO,
    _permit: OwnedSemaphorePermit,
    preface: Option<Preface>,
}

/// The handshake deadline, until [`PREFACE_LEN`] bytes have been read.
#[derive(Debug)]
struct Preface {
    missing: usize,
    deadline: Pin<Box<Sleep>>,
}

impl<IO> Limited<IO> {
    pub(crate) fn new(io: IO, permit: OwnedSemaphorePermit, handshake: Duration) -> Self {
        let preface = (!handshake.is_zero()).then(|| Preface {
            missing: PREFACE_LEN,
            deadline: Box::pin(tokio::time::sleep(handshake)),
        });
        Limited {
            io,
            _permit: permit,
            preface,
        }
    }
}

impl<IO: Connected> Connected for Limited<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> IO::ConnectInfo {
        self.io.connect_info()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Limited<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(p) = &mut this.preface
            && p.deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client sent no HTTP/2 preface or TLS ClientHello within the handshake timeout",
            )));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if let (Some(p), Poll::Ready(Ok(()))) = (&mut this.preface, &read) {
            p.missing = p.missing.saturating_sub(buf.filled().len() - before);
            if p.missing == 0 {
                this.preface = None;
            }
        }
        read
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Limited<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn permit(slots: &Arc<Semaphore>) -> OwnedSemaphorePermit {
        slots.clone().try_acquire_owned().unwrap()
    }

    #[tokio::test]
    async fn the_slot_is_freed_when_the_connection_is_dropped() {
        let slots = Arc::new(Semaphore::new(1));
        let (a, _b) = tokio::io::duplex(64);
        let io = Limited::new(a, permit(&slots), Duration::ZERO);
        assert_eq!(slots.available_permits(), 0);
        drop(io);
        assert_eq!(slots.available_permits(), 1);
    }

    #[tokio::test]
    async fn reads_and_writes_pass_through() {
        let slots = Arc::new(Semaphore::new(1));
        let (a, mut b) = tokio::io::duplex(64);
        let mut io = Limited::new(a, permit(&slots), Duration::from_secs(5));
        b.write_all(b"hello").await.unwrap();
        let mut got = [0u8; 5];
        io.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
        io.write_all(b"back").await.unwrap();
        let mut got = [0u8; 4];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"back");
    }

    #[tokio::test]
    async fn a_silent_connection_times_out() {
        let slots = Arc::new(Semaphore::new(1));
        let (a, mut b) = tokio::io::duplex(64);
        let mut io = Limited::new(a, permit(&slots), Duration::from_millis(50));
        // Fewer bytes than the preface: still under the deadline.
        b.write_all(&[0u8; PREFACE_LEN - 1]).await.unwrap();
        let mut buf = [0u8; 64];
        let n = io.read(&mut buf).await.unwrap();
        assert_eq!(n, PREFACE_LEN - 1);
        let err = io.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn a_connection_that_sent_its_preface_has_no_deadline() {
        let slots = Arc::new(Semaphore::new(1));
        let (a, mut b) = tokio::io::duplex(64);
        let mut io = Limited::new(a, permit(&slots), Duration::from_millis(50));
        b.write_all(&[0u8; PREFACE_LEN]).await.unwrap();
        let mut buf = [0u8; PREFACE_LEN];
        io.read_exact(&mut buf).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        b.write_all(b"later").await.unwrap();
        let mut later = [0u8; 5];
        io.read_exact(&mut later).await.unwrap();
        assert_eq!(&later, b"later");
    }

    #[tokio::test]
    async fn beyond_the_limit_connections_wait_until_one_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut conns = Box::pin(incoming(listener, 1, Duration::ZERO));
        let _c1 = TcpStream::connect(addr).await.unwrap();
        let _c2 = TcpStream::connect(addr).await.unwrap();
        let first = conns.next().await.unwrap().unwrap();
        let waited = tokio::time::timeout(Duration::from_millis(200), conns.next()).await;
        assert!(
            waited.is_err(),
            "accepted a second connection beyond the limit"
        );
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), conns.next()).await;
        assert!(matches!(second, Ok(Some(Ok(_)))));
    }
}
