//! The application: what the features share, built in one call from the configuration, and
//! the router that hands each request to the feature that answers it, with one log line and
//! one latency measurement per request. `/metrics` is answered here too.

use crate::check_script;
use crate::config::{Checks, Config, TrustedProxies};
use crate::dashboard;
use crate::http::request_log::RequestLog;
use crate::http::response::{self, Body};
use crate::http::route::{Endpoint, Route};
use crate::http::{base_url, client_ip, has_several_hosts, ArrivedAt, RequestError};
use crate::ingest;
use crate::metrics::{self, Metrics};
use crate::storage::Store;
use crate::throttle::Throttle;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

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
        // Read once: who answers, the metric's label, and the path as logged (the path only:
        // a query string is the client's to fill; a learner's key and a host's secret cut out).
        let route = Route::parse(&method, request.uri().path(), self.serve_metrics);
        // The server says which of our addresses the request came in on; an in-process test's
        // request says nothing, and `--listen` is the best guess then.
        let arrived_at = request
            .extensions()
            .get::<ArrivedAt>()
            .map_or(self.listen, |a| a.0);
        // Only a trusted proxy's forwarding headers say how the learner reached us.
        let from_proxy = self.proxies.trusts(peer.ip());
        let response = match self
            .dispatch(&route, request, client, arrived_at, from_proxy)
            .await
        {
            Ok(response) => response,
            Err(e) => e.into_response(),
        };
        self.metrics
            .request_answered(route.label(response.status()), started.elapsed());
        self.log.request(
            client,
            &method,
            route.logged(),
            response.status(),
            started.elapsed(),
        );
        response
    }

    /// Hands the request to the endpoint its route names.
    async fn dispatch<B>(
        &self,
        route: &Route,
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
        let base_url = || {
            base_url(
                self.public_url.as_deref(),
                request.headers(),
                arrived_at,
                from_proxy,
            )
        };
        let query = request.uri().query();
        match route.endpoint()? {
            Endpoint::Submit => {
                Ok(
                    ingest::submit(&self.store, &self.throttle, &self.metrics, request, client)
                        .await,
                )
            }
            Endpoint::Forget { key } => {
                Ok(ingest::forget(&self.store, &self.throttle, key, client).await)
            }
            Endpoint::Health => {
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
            Endpoint::Metrics => {
                self.store.measure(&self.metrics);
                Ok(response::with_type(
                    StatusCode::OK,
                    metrics::CONTENT_TYPE,
                    self.metrics.encode(),
                ))
            }
            Endpoint::CheckScript => {
                check_script::serve(&self.store, &base_url(), query, &self.checks).await
            }
            Endpoint::Dashboard(page) => {
                dashboard::page(&self.store, page, query, &base_url()).await
            }
            Endpoint::Host(page) => {
                dashboard::host(&self.store, page.as_ref(), query, &base_url(), &self.checks).await
            }
            Endpoint::NotFound => Err(RequestError::NotFound(request.uri().path().to_owned())),
        }
    }
}
