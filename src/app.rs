//! The application: what the features share, built in one call from the configuration, and
//! the router that hands each request to the feature that answers it, with one log line and
//! one latency measurement per request. `/metrics` is answered here too.

use crate::check_script;
use crate::config::{Checks, Config, TrustedProxies};
use crate::dashboard;
use crate::http::request_log::RequestLog;
use crate::http::response::{self, Body};
use crate::http::{base_url, client_ip, has_several_hosts, ArrivedAt, RequestError};
use crate::ingest;
use crate::metrics::{self, Metrics, Route};
use crate::storage::Store;
use crate::throttle::Throttle;
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Where a learner's own data lives: `/installation_data/<key>/`.
const LEARNER_PREFIX: &str = "/installation_data/";

/// The path as logged: the key in a learner's path is their only credential, not ours to log.
fn loggable(path: &str) -> String {
    match path.strip_prefix(LEARNER_PREFIX) {
        Some(rest) if !rest.is_empty() => format!("{LEARNER_PREFIX}<key>/"),
        _ => path.to_owned(),
    }
}

/// Everything a request may need, complete from [`App::new`] on.
pub struct App {
    /// The database.
    pub store: Store,
    throttle: Throttle,
    proxies: TrustedProxies,
    /// The address learners reach us at, when the Host header cannot be trusted to say it
    /// (behind a proxy that rewrites it, or to pin https).
    public_url: Option<String>,
    /// The checks the served script runs.
    checks: Checks,
    /// What `/metrics` reports; every part records into the same registry.
    metrics: Metrics,
    /// `--metrics off`: `/metrics` is not served.
    serve_metrics: bool,
    /// Where the server listens: the base URL of a request that says neither its Host nor
    /// the address it arrived on (only requests built in tests do that).
    listen: SocketAddr,
    /// One line per request, client errors within a budget.
    log: RequestLog,
}

impl App {
    /// The application for `config`, over an opened store and the throttle it chose, with a
    /// registry of its own (`serve` passes the one the store and throttle record into).
    pub fn new(config: &Config, store: Store, throttle: Throttle) -> App {
        App::with_metrics(config, store, throttle, Metrics::new())
    }

    /// As [`App::new`], recording into `metrics`.
    pub fn with_metrics(
        config: &Config,
        store: Store,
        throttle: Throttle,
        metrics: Metrics,
    ) -> App {
        App {
            store,
            throttle,
            proxies: config.trusted_proxies.clone(),
            public_url: config.public_url.clone(),
            checks: config.checks.clone(),
            metrics,
            serve_metrics: config.metrics,
            listen: config.listen,
            log: RequestLog::default(),
        }
    }

    /// Answers one request from `peer`. Generic over the body so tests can hand-build one.
    pub async fn handle<B>(&self, request: Request<B>, peer: SocketAddr) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let started = Instant::now();
        let client = client_ip(&self.proxies, peer.ip(), request.headers());
        let method = request.method().clone();
        // The path only: a query string is the client's to fill and is not ours to log. A
        // learner's key and a host's secret in the path are cut out.
        let path = request.uri().path();
        let path = dashboard::redacted_path(path).unwrap_or_else(|| loggable(path));
        // The server says which of our addresses the request came in on; an in-process test's
        // request says nothing, and `--listen` is the best guess then.
        let arrived_at = request
            .extensions()
            .get::<ArrivedAt>()
            .map_or(self.listen, |a| a.0);
        // Only a trusted proxy's forwarding headers say how the learner reached us.
        let from_proxy = self.proxies.trusts(peer.ip());
        let response = match self.route(request, client, arrived_at, from_proxy).await {
            Ok(response) => response,
            Err(e) => e.into_response(),
        };
        self.metrics
            .request_answered(route_of(&path, response.status()), started.elapsed());
        self.log
            .request(client, &method, &path, response.status(), started.elapsed());
        response
    }

    async fn route<B>(
        &self,
        request: Request<B>,
        client: IpAddr,
        arrived_at: SocketAddr,
        from_proxy: bool,
    ) -> Result<Response<Body>, RequestError>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        if has_several_hosts(request.headers()) {
            return Err(RequestError::SeveralHosts);
        }
        let path = request.uri().path();
        let method = request.method();
        let public_url = self.public_url.as_deref();
        match path {
            // The original's URL, with and without the slash its clients always sent.
            "/installation_data/" | "/installation_data" => match *method {
                Method::POST => {
                    Ok(
                        ingest::submit(&self.store, &self.throttle, &self.metrics, request, client)
                            .await,
                    )
                }
                _ => Err(RequestError::MethodNotAllowed("POST")),
            },
            p if p.starts_with(LEARNER_PREFIX) => match *method {
                Method::DELETE => {
                    let key = p[LEARNER_PREFIX.len()..].trim_end_matches('/');
                    let key = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
                    Ok(ingest::forget(&self.store, &self.throttle, &key, client).await)
                }
                _ => Err(RequestError::MethodNotAllowed("DELETE")),
            },
            "/healthz" => match *method {
                Method::GET | Method::HEAD => {
                    self.store.ping().await?;
                    self.store
                        .writable()
                        .await
                        .map_err(RequestError::NotWritable)?;
                    Ok(response::with_type(
                        StatusCode::OK,
                        "text/plain; charset=utf-8",
                        "ok\n",
                    ))
                }
                _ => Err(RequestError::MethodNotAllowed("GET, HEAD")),
            },
            "/metrics" if self.serve_metrics => match *method {
                Method::GET | Method::HEAD => {
                    self.store.measure(&self.metrics);
                    Ok(response::with_type(
                        StatusCode::OK,
                        metrics::CONTENT_TYPE,
                        self.metrics.encode(),
                    ))
                }
                _ => Err(RequestError::MethodNotAllowed("GET, HEAD")),
            },
            "/check.py" => match *method {
                Method::GET | Method::HEAD => {
                    check_script::serve(
                        &self.store,
                        &base_url(public_url, request.headers(), arrived_at, from_proxy),
                        request.uri().query(),
                        &self.checks,
                    )
                    .await
                }
                _ => Err(RequestError::MethodNotAllowed("GET, HEAD")),
            },
            "/" | "/view" | "/fixes" | "/fixes/" => {
                let base_url = base_url(public_url, request.headers(), arrived_at, from_proxy);
                dashboard::route(&self.store, request, &base_url).await
            }
            p if p.starts_with("/host/") => {
                let base_url = base_url(public_url, request.headers(), arrived_at, from_proxy);
                dashboard::host(&self.store, request, &base_url, &self.checks).await
            }
            p if p.starts_with("/view/") || p.starts_with("/static/") => {
                let base_url = base_url(public_url, request.headers(), arrived_at, from_proxy);
                dashboard::route(&self.store, request, &base_url).await
            }
            _ => Err(RequestError::NotFound(path.to_owned())),
        }
    }
}

/// The route a path was answered by, as the latency metric labels it: a fixed few values,
/// whatever paths clients make up. A 404 is `other`, whichever prefix it had.
fn route_of(path: &str, status: StatusCode) -> Route {
    match path {
        _ if status == StatusCode::NOT_FOUND => Route::Other,
        "/installation_data/" | "/installation_data" => Route::Submit,
        "/healthz" => Route::Health,
        "/check.py" => Route::CheckScript,
        "/metrics" => Route::Metrics,
        p if p.starts_with("/static/") => Route::Static,
        "/" | "/view" | "/fixes" | "/fixes/" => Route::Dashboard,
        p if p.starts_with("/view/") => Route::Dashboard,
        p if p.starts_with("/host/") => Route::Host,
        p if p.starts_with("/installation_data/") => Route::Forget,
        _ => Route::Other,
    }
}
