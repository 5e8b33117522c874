//! The dashboard: the landing page, the statistics views with their JSON and CSV exports,
//! and the files they load, all served by the binary so it works with no internet.

mod assets;
mod charts;
mod commands;
mod export;
mod fixes;
mod host;
mod pages;
mod query;
mod readiness;

pub(crate) use commands::LearnerCommands;
pub(crate) use host::{host_url, redacted as redacted_path};

use crate::config::Checks;
use crate::http::response::{self, Body};
use crate::http::RequestError;
use crate::storage::{Scope, Store};
use askama::Template;
use export::{DetailJson, FixesJson, OverviewJson};
use hyper::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, LOCATION,
    REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use hyper::{Method, Request, Response, StatusCode};
use query::{DetailQuery, Export, FixesQuery, ViewQuery, ALL_WORKSHOPS};

/// Scripts and styles from our own files only, nothing inline, nothing from elsewhere.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
    frame-ancestors 'none'";
/// The host's page names learners: kept by nobody on the way, indexed by no one.
const PRIVATE_CACHE: &str = "no-store";
/// Built-in files are named by their digest, so they never go stale.
const ASSET_CACHE: &str = "public, max-age=31536000, immutable";

/// Answers `/`, `/view/...` and `/static/...`; any other path is not ours.
pub(crate) async fn route<B>(
    store: &Store,
    request: Request<B>,
    base_url: &str,
) -> Result<Response<Body>, RequestError> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return Err(RequestError::MethodNotAllowed("GET, HEAD"));
    }
    let path = request.uri().path();
    let query = request.uri().query();
    if let Some(name) = path.strip_prefix("/static/") {
        return asset(name);
    }
    match path {
        "/" => landing(store, query, base_url).await,
        "/view" => Ok(redirect(&with_query("/view/", query))),
        "/view/" => {
            let view = ViewQuery::parse(query);
            match view.workshop.clone() {
                None => overview(store, None, &view).await,
                Some(workshop) => {
                    // The selector form sends ?workshop_id=; its page lives at /view/<id>/
                    // unless no path can carry the id.
                    let href =
                        query::view_href(Some(&workshop), view.all_attempts.all(), view.export);
                    if href.starts_with("/view/?") {
                        overview(store, Some(&workshop), &view).await
                    } else {
                        Ok(redirect(&href))
                    }
                }
            }
        }
        "/view/detail/" | "/view/detail" => detail(store, DetailQuery::parse(query)).await,
        "/fixes/" => what_gets_fixed(store, FixesQuery::parse(query)).await,
        "/fixes" => Ok(redirect(&with_query("/fixes/", query))),
        _ => match path.strip_prefix("/view/") {
            Some(rest) => {
                let workshop = query::workshop_from_segment(rest.strip_suffix('/').unwrap_or(rest));
                let view = ViewQuery::parse(query);
                if workshop.is_empty() || workshop == ALL_WORKSHOPS {
                    // As the original did for its selector's "All workshops".
                    let href = query::view_href(None, view.all_attempts.all(), view.export);
                    Ok(redirect(&href))
                } else {
                    overview(store, Some(&workshop), &view).await
                }
            }
            None => Err(RequestError::NotFound(path.to_owned())),
        },
    }
}

/// Answers `/host/<workshop>/<secret>/`: the page, or its CSV with `?export=csv`, for the
/// workshop's current secret; any other path, workshop or secret gets one and the same 404.
pub(crate) async fn host<B>(
    store: &Store,
    request: Request<B>,
    base_url: &str,
    checks: &Checks,
) -> Result<Response<Body>, RequestError> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return Err(RequestError::MethodNotAllowed("GET, HEAD"));
    }
    let hidden = || RequestError::NotFound(host::HIDDEN_PATH.to_owned());
    let (workshop, secret) = host::parse_path(request.uri().path()).ok_or_else(hidden)?;
    let query = host::HostQuery::parse(request.uri().query());
    let report = host::HostReport::load(store, workshop, secret, checks)
        .await?
        .ok_or_else(hidden)?;
    let mut response = if query.csv {
        csv(
            host::learners_csv(&report, &query),
            &export::file_name("learners", Some(&report.workshop)),
        )
    } else {
        html(host::HostPage::new(&report, &query, base_url).render())
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(PRIVATE_CACHE));
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(response)
}

async fn landing(
    store: &Store,
    query: Option<&str>,
    base_url: &str,
) -> Result<Response<Body>, RequestError> {
    let summaries = store.workshop_summaries().await?;
    let page = pages::LandingPage::new(base_url, query::landing_workshop(query), &summaries);
    Ok(html(page.render()))
}

async fn overview(
    store: &Store,
    workshop: Option<&str>,
    view: &ViewQuery,
) -> Result<Response<Body>, RequestError> {
    let scope = Scope {
        workshop: workshop.map(str::to_owned),
        all_attempts: view.all_attempts.all(),
    };
    let overview = store.overview(scope).await?;
    Ok(match view.export {
        Export::Json => json(&OverviewJson::new(&overview, workshop, view.all_attempts)),
        Export::Csv => csv(
            export::overview_csv(&overview),
            &export::file_name("failures", workshop),
        ),
        Export::Html => html(pages::OverviewPage::new(&overview, workshop, view).render()),
    })
}

async fn detail(store: &Store, query: DetailQuery) -> Result<Response<Body>, RequestError> {
    if query.first.is_none() {
        // Nothing to detail: the overview is where packages are chosen.
        let href = query::view_href(
            query.workshop.as_deref(),
            query.all_attempts.all(),
            Export::Html,
        );
        return Ok(redirect(&href));
    }
    let comparison = store.comparison(query.packages(), query.scope()).await?;
    let workshop = query.workshop.as_deref();
    Ok(match query.export {
        Export::Json => json(&DetailJson::new(
            &comparison.details,
            workshop,
            query.all_attempts,
        )),
        Export::Csv => csv(
            export::detail_csv(&comparison.details),
            &export::file_name("package-details", workshop),
        ),
        Export::Html => html(pages::DetailPage::new(&comparison, &query).render()),
    })
}

async fn what_gets_fixed(store: &Store, query: FixesQuery) -> Result<Response<Body>, RequestError> {
    let overview = store
        .fix_overview(query.workshop.clone(), query.min_learners)
        .await?;
    let workshop = query.workshop.as_deref();
    Ok(match query.export {
        Export::Json => json(&FixesJson::new(&overview, workshop, query.min_learners)),
        Export::Csv => csv(
            export::fixes_csv(&overview),
            &export::file_name("fixes", workshop),
        ),
        Export::Html => html(fixes::FixesPage::new(&overview, &query).render()),
    })
}

fn asset(name: &str) -> Result<Response<Body>, RequestError> {
    let asset =
        assets::find(name).ok_or_else(|| RequestError::NotFound(format!("/static/{name}")))?;
    let mut response = response::with_type(StatusCode::OK, asset.content_type, asset.body);
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(ASSET_CACHE));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

/// A page, with the headers that keep it from running anything but our own files.
fn html(rendered: askama::Result<String>) -> Response<Body> {
    // The templates print only strings and numbers, whose formatting cannot fail.
    let body = rendered.expect("a dashboard template renders");
    let mut response = response::with_type(StatusCode::OK, "text/html; charset=utf-8", body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn json(value: &impl serde::Serialize) -> Response<Body> {
    let mut response = response::json(StatusCode::OK, value);
    response
        .headers_mut()
        .insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn csv(body: Vec<u8>, file_name: &str) -> Response<Body> {
    let mut response = response::with_type(StatusCode::OK, "text/csv; charset=utf-8", body);
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // export::file_name keeps to letters, digits and -_. so the header is always valid.
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    response
}

/// 303 See Other: the client GETs `href` (one of our own links, percent-encoded).
fn redirect(href: &str) -> Response<Body> {
    let mut response = response::with_type(
        StatusCode::SEE_OTHER,
        "text/plain; charset=utf-8",
        format!("see {href}\n"),
    );
    let location = HeaderValue::from_str(href).unwrap_or(HeaderValue::from_static("/view/"));
    response.headers_mut().insert(LOCATION, location);
    response
        .headers_mut()
        .insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn with_query(path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    }
}
