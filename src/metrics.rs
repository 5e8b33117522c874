//! What the server counts for Prometheus: one [`Metrics`] registry, made at start-up and
//! handed to the parts that record into it, encoded as text for `GET /metrics`. It sits at
//! the bottom of the tree so that storage, the throttle and the handlers can all record
//! without knowing about each other; it knows nothing about them either.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;
use std::time::Duration;

/// The media type of [`Metrics::encode`]'s text (OpenMetrics, which Prometheus asks for).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Request latency buckets: 0.5 ms to about 16 s, doubling (a submission takes a few ms; the
/// writer's busy wait and nginx's timeout are tens of seconds).
const LATENCY_BUCKETS: (f64, f64, u16) = (0.0005, 2.0, 16);
/// Jobs per commit: 1 to 512 (the writer's largest batch), doubling.
const BATCH_BUCKETS: (f64, f64, u16) = (1.0, 2.0, 10);
/// Commit time: 0.5 ms to about 4 s, doubling (an fsync is a few ms on a good disk).
const COMMIT_BUCKETS: (f64, f64, u16) = (0.0005, 2.0, 14);

/// Why a submission was not stored.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed JSON, the wrong shape, or a body that could not be read (400, 422).
    BadInput,
    /// Over a size limit: the body (413), or the number or length of its entries (422).
    TooLarge,
    /// Over the rate limit (429).
    Throttled,
    /// The database could not store it (503, 500).
    Storage,
}

/// Where the throttle counts right now.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Backend {
    /// `--rate-limit off`: nothing is counted.
    Off,
    /// In this process (no `--redis-url`).
    Memory,
    /// In Redis, shared by every instance that names it.
    Redis,
    /// In this process because Redis does not answer; Redis is being retried.
    Fallback,
}

/// What a request asked for, in few enough values to be a label.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Route {
    /// `POST /installation_data/`.
    Submit,
    /// `/healthz`.
    Health,
    /// `/check.py`.
    CheckScript,
    /// The landing page and the statistics, "What gets fixed" included.
    Dashboard,
    /// A host's private page.
    Host,
    /// `DELETE /installation_data/<key>/`: a learner taking their data back.
    Forget,
    /// The dashboard's CSS and script.
    Static,
    /// `/metrics` itself.
    Metrics,
    /// Anything else (404s, mostly scanners).
    Other,
}

/// The database's files, whose sizes are reported.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum DatabaseFile {
    /// The database file itself.
    Main,
    /// Its write-ahead log, folded back into it by checkpoints.
    Wal,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Refusal::BadInput => "bad_input",
            Refusal::TooLarge => "too_large",
            Refusal::Throttled => "throttled",
            Refusal::Storage => "storage",
        }
    }
}

impl Backend {
    const ALL: [Backend; 4] = [
        Backend::Off,
        Backend::Memory,
        Backend::Redis,
        Backend::Fallback,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Backend::Off => "off",
            Backend::Memory => "memory",
            Backend::Redis => "redis",
            Backend::Fallback => "fallback",
        }
    }
}

impl Route {
    fn as_str(self) -> &'static str {
        match self {
            Route::Submit => "submit",
            Route::Health => "healthz",
            Route::CheckScript => "check_script",
            Route::Dashboard => "dashboard",
            Route::Host => "host",
            Route::Forget => "forget",
            Route::Static => "static",
            Route::Metrics => "metrics",
            Route::Other => "other",
        }
    }
}

impl DatabaseFile {
    fn as_str(self) -> &'static str {
        match self {
            DatabaseFile::Main => "main",
            DatabaseFile::Wal => "wal",
        }
    }
}

/// Label values are the snake-case names above, not the variants' Rust names.
macro_rules! label_value {
    ($($kind:ty),*) => {$(
        impl EncodeLabelValue for $kind {
            fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
                EncodeLabelValue::encode(&self.as_str(), encoder)
            }
        }
    )*};
}
label_value!(Refusal, Backend, Route, DatabaseFile);

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: Refusal,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabel {
    backend: Backend,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: Route,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FileLabel {
    file: DatabaseFile,
}

fn latency_histogram() -> Histogram {
    let (start, factor, length) = LATENCY_BUCKETS;
    Histogram::new(exponential_buckets(start, factor, length))
}

/// The registry and every metric in it. Cloning is cheap and shares them.
#[derive(Clone)]
pub struct Metrics(Arc<Families>);

struct Families {
    registry: Registry,
    accepted: Counter,
    refused: Family<ReasonLabel, Counter>,
    backend: Family<BackendLabel, Gauge>,
    redis_errors: Counter,
    latency: Family<RouteLabel, Histogram, fn() -> Histogram>,
    batch_size: Histogram,
    commit_time: Histogram,
    lock_waits: Counter,
    database_size: Family<FileLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ras");
        let accepted = Counter::default();
        registry.register(
            "reports_accepted",
            "Reports stored and acknowledged with 200",
            accepted.clone(),
        );
        let refused = Family::default();
        registry.register(
            "reports_refused",
            "Reports not stored, by reason",
            refused.clone(),
        );
        let backend = Family::default();
        registry.register(
            "throttle_backend",
            "Where the rate limit is counted now: 1 for the current backend, 0 for the others",
            backend.clone(),
        );
        let redis_errors = Counter::default();
        registry.register(
            "redis_errors",
            "Redis calls that failed or missed their deadline (submissions and retries)",
            redis_errors.clone(),
        );
        let latency = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "request_duration",
            "Time from a request's arrival to its answer, by route",
            Unit::Seconds,
            latency.clone(),
        );
        let (start, factor, length) = BATCH_BUCKETS;
        let batch_size = Histogram::new(exponential_buckets(start, factor, length));
        registry.register(
            "writer_batch_size",
            "Writes committed together in one transaction",
            batch_size.clone(),
        );
        let (start, factor, length) = COMMIT_BUCKETS;
        let commit_time = Histogram::new(exponential_buckets(start, factor, length));
        registry.register_with_unit(
            "writer_commit",
            "Time to run and commit one batch of writes, waiting for the write lock included",
            Unit::Seconds,
            commit_time.clone(),
        );
        let lock_waits = Counter::default();
        registry.register(
            "writer_lock_waits",
            "Times the writer found the database locked by another process for longer than \
             its busy timeout, and waited again",
            lock_waits.clone(),
        );
        let database_size = Family::default();
        registry.register_with_unit(
            "database_size",
            "Size of the database's files on disk",
            Unit::Bytes,
            database_size.clone(),
        );
        Metrics(Arc::new(Families {
            registry,
            accepted,
            refused,
            backend,
            redis_errors,
            latency,
            batch_size,
            commit_time,
            lock_waits,
            database_size,
        }))
    }

    /// A report was stored and acknowledged.
    pub fn accepted(&self) {
        self.0.accepted.inc();
    }

    /// A report was refused.
    pub fn refused(&self, reason: Refusal) {
        self.0.refused.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// The throttle now counts in `current`.
    pub fn throttle_backend(&self, current: Backend) {
        for backend in Backend::ALL {
            let value = i64::from(backend == current);
            self.0
                .backend
                .get_or_create(&BackendLabel { backend })
                .set(value);
        }
    }

    /// A Redis call failed or missed its deadline.
    pub fn redis_error(&self) {
        self.0.redis_errors.inc();
    }

    /// A request to `route` was answered after `took`.
    pub fn request_answered(&self, route: Route, took: Duration) {
        self.0
            .latency
            .get_or_create(&RouteLabel { route })
            .observe(took.as_secs_f64());
    }

    /// The writer committed (or tried to commit) `writes` jobs in `took`.
    pub fn batch_committed(&self, writes: usize, took: Duration) {
        self.0.batch_size.observe(writes as f64);
        self.0.commit_time.observe(took.as_secs_f64());
    }

    /// The writer waited a busy timeout for another process's write lock, and waits again.
    pub fn write_lock_waited(&self) {
        self.0.lock_waits.inc();
    }

    /// A database file's size now.
    pub fn database_size(&self, file: DatabaseFile, bytes: u64) {
        self.0
            .database_size
            .get_or_create(&FileLabel { file })
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Every metric in the OpenMetrics text format, ending with `# EOF`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.0.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_snake_case_and_one_backend_is_current() {
        let metrics = Metrics::new();
        metrics.refused(Refusal::TooLarge);
        metrics.throttle_backend(Backend::Fallback);
        metrics.request_answered(Route::CheckScript, Duration::from_millis(3));
        let text = metrics.encode();
        assert!(
            text.contains("ras_reports_refused_total{reason=\"too_large\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ras_throttle_backend{backend=\"fallback\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ras_throttle_backend{backend=\"redis\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("ras_request_duration_seconds_count{route=\"check_script\"} 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
