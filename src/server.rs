//! Serving: open what the configuration names, accept connections until the shutdown future
//! resolves, then drain in-flight requests, commit what is queued and close the database.

use crate::app::App;
use crate::config::Config;
use crate::http::ArrivedAt;
use crate::metrics::Metrics;
use crate::storage::{StorageError, Store, SCHEMA_VERSION};
use crate::throttle::Throttle;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};

/// How long in-flight requests may take to finish once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Once shutdown begins, how long a connection that has not begun a request may take to send
/// its first: a client that connected just before the signal is answered, not reset.
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(1);
/// A client must send its request headers within this time (slow-loris protection).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How often `--retention` runs.
const RETENTION_EVERY: Duration = Duration::from_secs(86_400);
/// Pause after a failed accept (out of file descriptors, say) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Longest time one write to a client may wait for it to read: a client that asks for a page
/// and never reads it is dropped, with the response it held, after this.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Open files kept free of connections for the server's own: the database, its WAL and
/// shared memory, each reader's and the writer's, the listener, Redis, standard streams.
const FILES_BESIDES_CONNECTIONS: usize = 64;

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    /// The async runtime could not be built (out of threads or memory, say).
    Runtime(std::io::Error),
    /// The listening address could not be bound.
    Bind(std::net::SocketAddr, std::io::Error),
    /// The database could not be opened, created or migrated.
    Storage(StorageError),
    /// `--redis-url` names nothing the Redis client can connect to (an unreachable Redis is
    /// no error: the throttle counts in this process until it answers).
    Redis(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Runtime(e) => write!(f, "cannot start the async runtime: {e}"),
            StartError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            StartError::Storage(e) => write!(f, "cannot open the database: {e}"),
            StartError::Redis(e) => write!(f, "cannot use the Redis URL: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

impl From<StorageError> for StartError {
    fn from(e: StorageError) -> Self {
        StartError::Storage(e)
    }
}

/// Serves until `shutdown` resolves: opens the database named in `config`, accepts on
/// `listener`, then drains in-flight requests, commits what was queued and closes the
/// database. Tests bind `127.0.0.1:0` and call this the same way `main` does.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let metrics = Metrics::new();
    let db = config.db.clone();
    let recorder = metrics.clone();
    let store = tokio::task::spawn_blocking(move || Store::open_with_metrics(&db, recorder))
        .await
        .map_err(StorageError::from)??;
    log::info!(
        "database {} (schema version {SCHEMA_VERSION}); rate limit {}; trusted proxies: {}",
        config.db,
        config
            .rate_limit
            .map_or("off".to_string(), |l| format!("{l} per address")),
        if config.trusted_proxies.is_empty() {
            "none".to_string()
        } else {
            config.trusted_proxies.to_string()
        }
    );
    log::info!("the served check script runs checks: {}", config.checks);
    let throttle = Throttle::start(&config, &metrics)
        .await
        .map_err(|e| StartError::Redis(e.to_string()))?;
    if config.metrics {
        log::info!("metrics at /metrics (keep them from the public: see the nginx site)");
    }
    let app = Arc::new(App::with_metrics(&config, store, throttle, metrics));
    let retention = config
        .retention
        .map(|age| tokio::spawn(retain(app.clone(), age)));
    let max_connections = connection_cap(config.max_connections);
    accept_until(listener, app.clone(), max_connections, shutdown).await;
    if let Some(task) = retention {
        task.abort();
    }
    tokio::task::spawn_blocking(move || app.store.close())
        .await
        .map_err(StorageError::from)?;
    log::info!("database closed; goodbye");
    Ok(())
}

/// `--retention`: a purge at start-up and once a day after it.
async fn retain(app: Arc<App>, age: Duration) {
    let mut every = tokio::time::interval(RETENTION_EVERY);
    loop {
        every.tick().await;
        match app.store.purge(age, false).await {
            Ok(purged) => log::info!(
                "retention: deleted {} learners whose latest attempt was before {} \
                 ({} attempts)",
                purged.deleted.learners,
                purged.before,
                purged.deleted.attempts
            ),
            Err(e) => log::warn!("retention: the daily purge failed: {e}"),
        }
    }
}

/// The accept loop: one task per connection, each told when shutdown begins. At most
/// `max_connections` are served at once: at the cap the loop stops accepting, so further
/// clients wait in the kernel's accept queue (and past its length, their connection attempts
/// are retried by their own TCP stack) rather than being accepted into a process out of file
/// descriptors.
async fn accept_until(
    listener: TcpListener,
    app: Arc<App>,
    max_connections: usize,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Connections::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => connections.serve(stream, peer, &app, Some(slot)),
                Err(e) => {
                    log::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    let drained = drain_backlog(listener, &app, &connections);
    log::info!("shutting down: finishing in-flight requests ({drained} taken from the backlog)");
    tokio::select! {
        () = connections.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            log::warn!("some requests did not finish within {SHUTDOWN_GRACE:?}; closing anyway");
        }
    }
}

/// Serves the connections the kernel already completed, which closing the socket would reset
/// after their clients sent a request, and closes the socket: from then on a new connection
/// is refused, cleanly, before anything is sent.
fn drain_backlog(listener: TcpListener, app: &Arc<App>, connections: &Connections) -> usize {
    let Ok(listener) = listener.into_std() else {
        return 0;
    };
    let mut drained = 0;
    // The socket is non-blocking (tokio made it so): the loop ends when the backlog is empty.
    while let Ok((stream, peer)) = listener.accept() {
        let stream = stream
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpStream::from_std(stream));
        if let Ok(stream) = stream {
            // Beyond the cap: the backlog is bounded by the kernel, and this is the end.
            connections.serve(stream, peer, app, None);
            drained += 1;
        }
    }
    drained
}

/// The open connections: told together when shutdown begins, and waited for until they end.
/// (hyper-util's `GracefulShutdown` does the same, but closes at once a connection whose
/// client has not sent its request yet, so a client that connected just before the signal
/// was reset instead of answered.)
struct Connections {
    /// `true` once shutdown began; every connection's task holds a receiver until it ends.
    stopping: watch::Sender<bool>,
}

impl Connections {
    fn new() -> Self {
        Connections {
            stopping: watch::Sender::new(false),
        }
    }

    /// Serves one connection in a task of its own, holding `slot` (one of the connection
    /// cap's) until it ends. Once shutdown begins, the connection finishes the request in
    /// progress, or the first one its client sends within [`FIRST_REQUEST_GRACE`], and closes.
    fn serve(
        &self,
        stream: tokio::net::TcpStream,
        peer: std::net::SocketAddr,
        app: &Arc<App>,
        slot: Option<OwnedSemaphorePermit>,
    ) {
        let app = app.clone();
        // Which of our addresses the client reached: the base URL when its Host header says
        // none.
        let arrived_at = stream.local_addr().ok().map(ArrivedAt);
        // Holds a permit from the connection's first request on.
        let begun = Arc::new(Notify::new());
        let service = service_fn({
            let begun = begun.clone();
            move |mut request: Request<Incoming>| {
                begun.notify_one();
                let app = app.clone();
                if let Some(arrived_at) = arrived_at {
                    request.extensions_mut().insert(arrived_at);
                }
                async move { Ok::<_, Infallible>(app.handle(request, peer).await) }
            }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(StallLimited::new(stream)), service);
        let mut stopping = self.stopping.subscribe();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = async { drop(stopping.wait_for(|stopping| *stopping).await) } => {
                    let first_request = tokio::time::timeout(FIRST_REQUEST_GRACE, begun.notified());
                    tokio::select! {
                        ended = connection.as_mut() => ended,
                        _ = first_request => {
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    }
                }
            };
            if let Err(e) = ended {
                log::debug!("connection from {peer} ended: {e}");
            }
            drop((slot, stopping));
        });
    }

    /// Tells every connection that shutdown began, and waits until all of them ended.
    async fn shutdown(&self) {
        self.stopping.send_replace(true);
        self.stopping.closed().await;
    }
}

/// The connection cap for `wanted` connections, lowered to fit this process's open-files
/// limit (read from `/proc/self/limits` where there is one), with a warning when it is.
fn connection_cap(wanted: usize) -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let open_files = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|soft| soft.parse::<usize>().ok());
    match open_files {
        Some(files) if files < wanted + FILES_BESIDES_CONNECTIONS => {
            let cap = files.saturating_sub(FILES_BESIDES_CONNECTIONS).max(1);
            log::warn!(
                "the open-files limit is {files}: serving {cap} connections at once, not \
                 {wanted} (raise LimitNOFILE or ulimit -n)"
            );
            cap
        }
        _ => wanted,
    }
}

/// A connection whose writes may stall for [`WRITE_STALL_TIMEOUT`] at most: hyper has no
/// write timeout, and a client that requests a page and never reads it would hold the
/// connection, and the response's memory, for as long as the kernel keeps the socket.
struct StallLimited<S> {
    inner: S,
    /// Armed when a write cannot go on; disarmed by any progress.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> StallLimited<S> {
    fn new(inner: S) -> Self {
        StallLimited {
            inner,
            stalled: None,
        }
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
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallLimited<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.guard(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.guard(cx, poll)
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
        let mut ours = StallLimited::new(ours);
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
        let mut ours = StallLimited::new(ours);
        ours.write_all(&[1; 512]).await.unwrap();
        ours.shutdown().await.unwrap();
        drop(ours);
        assert_eq!(reader.await.unwrap(), 512);
    }
}
