//! Serving: open what the configuration names, accept connections until the shutdown future
//! resolves, then drain in-flight requests, commit what is queued and close the database.

mod per_address;
mod stream;

pub use stream::WRITE_STALL_TIMEOUT;

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
use per_address::{PerAddress, Ticket};
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use stream::{linger, StallLimited, Unread};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Notify, OwnedSemaphorePermit, Semaphore};

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
/// Most bytes of a request's head (request line and headers) one connection buffers; beyond
/// it hyper answers 431 and closes. hyper's default, about 400 KiB, let 1,000 connections
/// sending 384 KB of headers hold 393 MiB (`bench/hardening.py`); real requests here are
/// under 2 KiB (nginx allows 8 KiB a line, 32 KiB in all), and hyper's buffer may reach
/// about twice this.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// Open files kept free of connections for the server's own: the database, its WAL and
/// shared memory, each reader's and the writer's, the listener, Redis, standard streams.
const FILES_BESIDES_CONNECTIONS: usize = 64;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The async runtime could not be built (out of threads or memory, say).
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The listening address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(std::net::SocketAddr, #[source] std::io::Error),
    /// The database could not be opened, created or migrated.
    #[error("cannot open the database: {0}")]
    Storage(#[from] StorageError),
    /// `--redis-url` names nothing the Redis client can connect to (an unreachable Redis is
    /// no error: the throttle counts in this process until it answers).
    #[error("cannot use the Redis URL: {0}")]
    Redis(#[source] redis::RedisError),
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
        .map_err(StartError::Redis)?;
    if config.metrics {
        log::info!("metrics at /metrics (keep them from the public: see the nginx site)");
    }
    let app = Arc::new(App::with_metrics(&config, store, throttle, metrics));
    let retention = config
        .retention
        .map(|age| tokio::spawn(retain(app.clone(), age)));
    let limits = Limits {
        slots: connection_cap(config.max_connections),
        per_address: PerAddress::new(
            config.max_connections_per_address,
            config.trusted_proxies.clone(),
        ),
    };
    accept_until(listener, app.clone(), limits, shutdown).await;
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

/// How many connections are served at once: in all, and per client address.
struct Limits {
    slots: usize,
    per_address: PerAddress,
}

/// The accept loop: one task per connection, each told when shutdown begins. At most
/// `limits.slots` are served at once: at the cap, a client that connects makes idle
/// keep-alive connections close and waits for a slot, and the loop accepts nothing more
/// meanwhile, so further clients wait in the kernel's accept queue (and past its length,
/// their connection attempts are retried by their own TCP stack) rather than being accepted
/// into a process out of file descriptors. A connection from an address that holds its
/// share already is answered 503 and closed.
async fn accept_until(
    listener: TcpListener,
    app: Arc<App>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Connections::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let slots = Arc::new(Semaphore::new(limits.slots));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    log::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let ticket = match limits.per_address.admit(peer.ip()) {
            Ok(ticket) => ticket,
            Err(()) => {
                limits.per_address.refuse(stream, peer.ip());
                continue;
            }
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(_) => {
                // At the cap, with a client waiting: idle keep-alive connections, which wait
                // for a request that may never come, go first. Until a slot frees, the loop
                // accepts nothing more, and further clients wait in the kernel's queue.
                connections.room_wanted.send_replace(true);
                let slot = tokio::select! {
                    slot = slots.clone().acquire_owned() => Some(slot.expect("never closed")),
                    // Served all the same, beyond the cap, as the backlog is below.
                    () = &mut shutdown => None,
                };
                connections.room_wanted.send_replace(false);
                slot
            }
        };
        let stopping = slot.is_none();
        connections.serve(stream, peer, &app, slot, ticket);
        if stopping {
            break;
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
            // Beyond the caps: the backlog is bounded by the kernel, and this is the end.
            connections.serve(stream, peer, app, None, None);
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
    /// `true` while a client waits for a slot: idle keep-alive connections close then.
    room_wanted: watch::Sender<bool>,
}

/// What a connection is doing, as far as closing it to make room is concerned.
#[derive(Default)]
struct Activity {
    /// Requests begun, and answered (the answer handed to hyper).
    begun: AtomicU64,
    answered: AtomicU64,
    /// Told when a request is answered: the connection may be the idle one a waiting client
    /// needs.
    answered_one: Notify,
}

impl Activity {
    /// True between requests, once one was answered: a keep-alive connection waiting for
    /// its client's next request. (One that never sent a request is left to the header
    /// timeout: it may be a learner's script about to send.)
    fn idle(&self) -> bool {
        let answered = self.answered.load(Ordering::SeqCst);
        answered > 0 && answered == self.begun.load(Ordering::SeqCst)
    }
}

/// Counts a request as answered when dropped (also when hyper drops its future).
struct Answering(Arc<Activity>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.answered.fetch_add(1, Ordering::SeqCst);
        self.0.answered_one.notify_one();
    }
}

impl Connections {
    fn new() -> Self {
        Connections {
            stopping: watch::Sender::new(false),
            room_wanted: watch::Sender::new(false),
        }
    }

    /// Serves one connection in a task of its own, holding `slot` (one of the connection
    /// cap's) and `ticket` (its address's share) until it ends. Once shutdown begins, the
    /// connection finishes the request in progress, or the first one its client sends within
    /// [`FIRST_REQUEST_GRACE`], and closes. A connection hyper closed with the client still
    /// sending lingers before it closes (see [`StallLimited`]), holding both still.
    fn serve(
        &self,
        stream: tokio::net::TcpStream,
        peer: std::net::SocketAddr,
        app: &Arc<App>,
        slot: Option<OwnedSemaphorePermit>,
        ticket: Option<Ticket>,
    ) {
        let app = app.clone();
        // Which of our addresses the client reached: the base URL when its Host header says
        // none.
        let arrived_at = stream.local_addr().ok().map(ArrivedAt);
        // Holds a permit from the connection's first request on.
        let begun = Arc::new(Notify::new());
        let activity = Arc::new(Activity::default());
        let service = service_fn({
            let (begun, activity) = (begun.clone(), activity.clone());
            move |mut request: Request<Incoming>| {
                begun.notify_one();
                activity.begun.fetch_add(1, Ordering::SeqCst);
                let answering = Answering(activity.clone());
                let app = app.clone();
                if let Some(arrived_at) = arrived_at {
                    request.extensions_mut().insert(arrived_at);
                }
                async move {
                    let response = app.handle(request, peer).await;
                    drop(answering);
                    Ok::<_, Infallible>(response)
                }
            }
        });
        let (give_back, given_back) = oneshot::channel();
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(MAX_REQUEST_HEAD)
            .serve_connection(
                TokioIo::new(StallLimited::new(stream, Some(give_back))),
                service,
            );
        let mut stopping = self.stopping.subscribe();
        let mut room_wanted = self.room_wanted.subscribe();
        tokio::spawn(async move {
            let ended = {
                let mut connection = std::pin::pin!(connection);
                let mut asked = false;
                loop {
                    tokio::select! {
                        ended = connection.as_mut() => break ended,
                        () = async { drop(stopping.wait_for(|stopping| *stopping).await) } => {
                            let first_request =
                                tokio::time::timeout(FIRST_REQUEST_GRACE, begun.notified());
                            break tokio::select! {
                                ended = connection.as_mut() => ended,
                                _ = first_request => {
                                    connection.as_mut().graceful_shutdown();
                                    connection.await
                                }
                            };
                        }
                        // hyper closes a connection between requests at once, and finishes
                        // the answer it is writing first.
                        wanted = async { room_wanted.wait_for(|wanted| *wanted).await.is_ok() },
                            if !asked && activity.idle() => {
                            if wanted {
                                connection.as_mut().graceful_shutdown();
                            }
                            // Asked, or the accept loop is gone and nobody will ask.
                            asked = true;
                        }
                        // Idle now: look again whether a client waits.
                        () = activity.answered_one.notified(), if !asked => {}
                    }
                }
                // The connection, and hyper's buffers with it, are dropped here.
            };
            // A connection hyper ended with an error (a head over the cap, a malformed
            // request) may have closed while the client was between two pieces of its
            // request: linger then too, or its next piece meets a reset, not our answer.
            let failed = ended.is_err();
            if let Err(e) = ended {
                log::debug!("connection from {peer} ended: {e}");
            }
            if let Ok((socket, unread)) = given_back.await {
                if unread == Unread::Bytes || failed {
                    linger(socket).await;
                }
            }
            drop((slot, ticket, stopping));
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
