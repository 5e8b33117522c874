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
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long in-flight requests may take to finish once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// A client must send its request headers within this time (slow-loris protection).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How often `--retention` runs.
const RETENTION_EVERY: Duration = Duration::from_secs(86_400);
/// Pause after a failed accept (out of file descriptors, say) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

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
    accept_until(listener, app.clone(), shutdown).await;
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

/// The accept loop: one task per connection, each watched for graceful shutdown.
async fn accept_until(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => serve_connection(stream, peer, &app, &graceful),
                Err(e) => {
                    log::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    let drained = drain_backlog(listener, &app, &graceful);
    log::info!("shutting down: finishing in-flight requests ({drained} taken from the backlog)");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            log::warn!("some requests did not finish within {SHUTDOWN_GRACE:?}; closing anyway");
        }
    }
}

/// Serves the connections the kernel already completed, which closing the socket would reset
/// after their clients sent a request, and closes the socket: from then on a new connection
/// is refused, cleanly, before anything is sent.
fn drain_backlog(listener: TcpListener, app: &Arc<App>, graceful: &GracefulShutdown) -> usize {
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
            serve_connection(stream, peer, app, graceful);
            drained += 1;
        }
    }
    drained
}

fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    app: &Arc<App>,
    graceful: &GracefulShutdown,
) {
    let app = app.clone();
    // Which of our addresses the client reached: the base URL when its Host header says none.
    let arrived_at = stream.local_addr().ok().map(ArrivedAt);
    let service = service_fn(move |mut request: Request<Incoming>| {
        let app = app.clone();
        if let Some(arrived_at) = arrived_at {
            request.extensions_mut().insert(arrived_at);
        }
        async move { Ok::<_, Infallible>(app.handle(request, peer).await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            log::debug!("connection from {peer} ended: {e}");
        }
    });
}
