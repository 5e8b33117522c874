//! HTTP: the accept loop with its graceful shutdown, routing, the client's address, and the
//! one place where request errors become status codes.

mod app;
mod client;
mod error;
pub mod response;

pub use app::App;
pub use client::TrustedProxies;
pub use error::RequestError;

use crate::cli::Config;
use crate::storage::{StorageError, Store, SCHEMA_VERSION};
use crate::throttle::{MemoryThrottle, SystemClock, Throttle};
use hyper::server::conn::http1;
use hyper::service::service_fn;
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
/// Pause after a failed accept (out of file descriptors, say) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    Bind(std::net::SocketAddr, std::io::Error),
    Storage(StorageError),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            StartError::Storage(e) => write!(f, "cannot open the database: {e}"),
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
    let db = config.db.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&db))
        .await
        .map_err(|e| StartError::Storage(StorageError::Other(e.to_string())))??;
    let throttle = match config.rate_limit {
        Some(limit) => Throttle::Memory(MemoryThrottle::new(limit, Box::new(SystemClock))),
        None => Throttle::Off,
    };
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
    let mut app = App::new(store, throttle, config.trusted_proxies.clone());
    app.public_url = config.public_url.clone();
    app.checks = config.checks.clone();
    log::info!("the served check script runs checks: {}", app.checks);
    let app = Arc::new(app);
    run(listener, app.clone(), shutdown).await;
    tokio::task::spawn_blocking(move || app.store.close())
        .await
        .map_err(|e| StartError::Storage(StorageError::Other(e.to_string())))?;
    log::info!("database closed; goodbye");
    Ok(())
}

/// The accept loop: one task per connection, each watched for graceful shutdown.
pub async fn run(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        log::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                let app = app.clone();
                let service = service_fn(move |request| {
                    let app = app.clone();
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
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    log::info!("shutting down: finishing in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            log::warn!("some requests did not finish within {SHUTDOWN_GRACE:?}; closing anyway");
        }
    }
}
