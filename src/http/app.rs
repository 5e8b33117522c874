//! The application: shared state, routing, and the one log line per request.

use super::error::RequestError;
use super::response::{self, Body};
use super::TrustedProxies;
use crate::check_script::{self, Checks};
use crate::ingest;
use crate::storage::Store;
use crate::throttle::Throttle;
use hyper::body::Bytes;
use hyper::header::HOST;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// What every request handler may use.
pub struct App {
    pub store: Store,
    pub throttle: Throttle,
    pub proxies: TrustedProxies,
    /// The address learners reach us at, when the Host header cannot be trusted to say it
    /// (behind a proxy that rewrites it, or to pin https).
    pub public_url: Option<String>,
    /// The checks the served script runs.
    pub checks: Checks,
}

impl App {
    pub fn new(store: Store, throttle: Throttle, proxies: TrustedProxies) -> App {
        App {
            store,
            throttle,
            proxies,
            public_url: None,
            checks: Checks::default(),
        }
    }

    /// The base URL learners use to reach this server: `--public-url` when set, otherwise
    /// what the request's Host header says (if it looks like a host), as http.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let host = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.len() <= 255
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".:-[]".contains(c))
            })
            .unwrap_or("127.0.0.1:8080");
        format!("http://{host}")
    }

    /// The dashboard's pages, exports and files; it shows learners this server's address.
    async fn dashboard<B>(&self, request: Request<B>) -> Result<Response<Body>, RequestError> {
        let base_url = self.base_url(request.headers());
        crate::dashboard::route(self, request, &base_url).await
    }

    /// Answers one request from `peer`. Generic over the body so tests can hand-build one.
    pub async fn handle<B>(&self, request: Request<B>, peer: SocketAddr) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let started = Instant::now();
        let client = self.proxies.client_ip(peer.ip(), request.headers());
        let method = request.method().clone();
        // The path only: a query string is the client's to fill and is not ours to log.
        let path = request.uri().path().to_owned();
        let response = match self.route(request, client).await {
            Ok(response) => response,
            Err(e) => e.into_response(),
        };
        log::info!(
            "{client} {method} {path} {} {:.1}ms",
            response.status().as_u16(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        response
    }

    async fn route<B>(
        &self,
        request: Request<B>,
        client: IpAddr,
    ) -> Result<Response<Body>, RequestError>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let path = request.uri().path();
        let method = request.method();
        match path {
            // The original's URL, with and without the slash its clients always sent.
            "/installation_data/" | "/installation_data" => match *method {
                Method::POST => Ok(ingest::handle_submission(self, request, client).await),
                _ => Err(RequestError::MethodNotAllowed("POST")),
            },
            "/healthz" => match *method {
                Method::GET | Method::HEAD => {
                    self.store.ping().await?;
                    Ok(response::with_type(
                        StatusCode::OK,
                        "text/plain; charset=utf-8",
                        "ok\n",
                    ))
                }
                _ => Err(RequestError::MethodNotAllowed("GET, HEAD")),
            },
            "/check.py" => match *method {
                Method::GET | Method::HEAD => check_script::serve(
                    &self.base_url(request.headers()),
                    request.uri().query(),
                    &self.checks,
                ),
                _ => Err(RequestError::MethodNotAllowed("GET, HEAD")),
            },
            "/" | "/view" => self.dashboard(request).await,
            p if p.starts_with("/view/") || p.starts_with("/static/") => {
                self.dashboard(request).await
            }
            _ => Err(RequestError::NotFound(path.to_owned())),
        }
    }
}
