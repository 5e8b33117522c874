//! The dashboard: the landing page, the statistics views with their JSON and CSV exports,
//! and the files they load, all served by the binary so it works with no internet.

mod assets;
mod charts;
mod commands;
mod detail;
mod export;
mod fixes;
mod host;
mod pages;
mod query;
mod readiness;
mod series;
mod timeline;

pub(crate) use commands::LearnerCommands;
pub(crate) use host::host_url;

use crate::config::Checks;
use crate::http::response::{self, Body};
use crate::http::route::{HostPage, Page};
use crate::http::RequestError;
use crate::storage::{Extent, Overview, Rows, Scope, Store};
use askama::Template;
use export::{DetailJson, FixesJson, OverviewJson};
use hyper::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, LINK, LOCATION,
    REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use hyper::{Response, StatusCode};
use query::{DetailQuery, Export, FixesQuery, ViewQuery, ALL_WORKSHOPS};

/// Scripts and styles from our own files only, nothing inline, nothing from elsewhere.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
    frame-ancestors 'none'";
/// The host's page names learners: kept by nobody on the way, indexed by no one.
const PRIVATE_CACHE: &str = "no-store";
/// Built-in files are named by their digest, so they never go stale.
const ASSET_CACHE: &str = "public, max-age=31536000, immutable";
/// Rows of each list in one page of an export (`?page=2` for the next): a response of a few
/// hundred KiB whatever the data, where a database with 400,000 failed versions made one of
/// 20 MB (105 MB in the review's data) and twelve of them nearly 900 MiB of memory.
pub(crate) const EXPORT_ROWS: usize = 1000;
/// Workshops, package names and versions a page's forms offer to choose from at most.
pub(crate) const MAX_CHOICES: usize = 1000;
/// Cells the heat map reads at most (its 8 packages on that many systems).
const HEAT_CELLS: usize = 1000;

/// How much of a view to read for `export`'s page `page`: a page shows its tables' first
/// rows and says when there are more; an export gives a page of every list. One row more
/// than is shown is read, to tell whether there are more.
fn extent(export: Export, page: usize) -> Extent {
    match export {
        Export::Html => Extent {
            lists: Rows::first(pages::MAX_TABLE_ROWS + 1),
            choices: Rows::first(MAX_CHOICES),
            heat_names: pages::HEAT_COLUMNS,
            heat_cells: HEAT_CELLS,
        },
        Export::Json | Export::Csv => {
            let window = Rows {
                offset: (page - 1) * EXPORT_ROWS,
                limit: EXPORT_ROWS + 1,
            };
            Extent {
                lists: window,
                choices: window,
                heat_names: 0,
                heat_cells: 0,
            }
        }
    }
}

/// Cuts `list` to a page of an export; true when it was longer (a next page has rows).
fn cut<T>(list: &mut Vec<T>) -> bool {
    let longer = list.len() > EXPORT_ROWS;
    list.truncate(EXPORT_ROWS);
    longer
}

/// An export answer with its `Link` to the next page, when there is one.
fn with_next(mut response: Response<Body>, next: Option<&str>) -> Response<Body> {
    if let Some(next) = next {
        if let Ok(link) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert(LINK, link);
        }
    }
    response
}

/// Answers a page or file of the public dashboard, `query` its query string.
pub(crate) async fn page(
    store: &Store,
    page: &Page,
    query: Option<&str>,
    base_url: &str,
) -> Result<Response<Body>, RequestError> {
    match page {
        Page::Landing => landing(store, query, base_url).await,
        Page::AddSlash(path) => Ok(redirect(&with_query(path, query))),
        Page::Overview => {
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
        Page::Workshop(workshop) => {
            let view = ViewQuery::parse(query);
            if workshop.is_empty() || workshop == ALL_WORKSHOPS {
                // As the original did for its selector's "All workshops".
                let href = query::view_href(None, view.all_attempts.all(), view.export);
                Ok(redirect(&href))
            } else {
                overview(store, Some(workshop), &view).await
            }
        }
        Page::Detail => detail(store, DetailQuery::parse(query)).await,
        Page::Fixes => what_gets_fixed(store, FixesQuery::parse(query)).await,
        Page::Asset(name) => asset(name),
    }
}

/// Answers `/host/<workshop>/<secret>/`: the page, or its CSV with `?export=csv`, for the
/// workshop's current secret; any other path (`None`), workshop or secret gets one and the
/// same 404.
pub(crate) async fn host(
    store: &Store,
    page: Option<&HostPage>,
    query: Option<&str>,
    base_url: &str,
    checks: &Checks,
) -> Result<Response<Body>, RequestError> {
    let hidden = || RequestError::NotFound(host::HIDDEN_PATH.to_owned());
    let HostPage { workshop, secret } = page.ok_or_else(hidden)?;
    let query = host::HostQuery::parse(query);
    let report = host::HostReport::load(store, workshop.clone(), secret.clone(), checks, &query)
        .await?
        .ok_or_else(hidden)?;
    let mut response = if query.csv {
        let next = report.next_csv(&query);
        let sheet = csv(
            host::learners_csv(&report),
            &export::file_name("learners", Some(&report.workshop)),
        );
        with_next(sheet, next.as_deref())
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
    let (summaries, (learners, _)) = store
        .workshops_newest_first(Rows::first(pages::MAX_TABLE_ROWS + 1))
        .await?;
    let workshop = query::landing_workshop(query);
    let page = pages::LandingPage::new(base_url, workshop.as_ref(), &summaries, learners);
    let mut response = html(page.render());
    if workshop.is_err() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
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
    let mut overview = store
        .overview(scope, extent(view.export, view.page))
        .await?;
    if view.export == Export::Html {
        return Ok(html(
            pages::OverviewPage::new(&overview, workshop, view).render(),
        ));
    }
    let next = cut_overview(&mut overview).then(|| {
        query::with_page(
            &query::view_href(workshop, view.all_attempts.all(), view.export),
            view.page + 1,
        )
    });
    let response = match view.export {
        Export::Csv => csv(
            export::overview_csv(&overview),
            &export::file_name("failures", workshop),
        ),
        _ => json(&OverviewJson::new(
            &overview,
            workshop,
            view.all_attempts,
            next.as_deref(),
        )),
    };
    Ok(with_next(response, next.as_deref()))
}

/// Cuts each list of an overview to a page of an export; true when any was longer.
fn cut_overview(overview: &mut Overview) -> bool {
    // Every list is cut, so no `||` may stop short.
    [
        cut(&mut overview.failed_versions),
        cut(&mut overview.failed_names),
        cut(&mut overview.learners_by_system),
        cut(&mut overview.workshops),
        cut(&mut overview.summaries),
    ]
    .contains(&true)
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
    let mut comparison = store
        .comparison(
            query.packages(),
            query.scope(),
            extent(query.export, query.page),
        )
        .await?;
    let workshop = query.workshop.as_deref();
    if query.export == Export::Html {
        return Ok(html(detail::DetailPage::new(&comparison, &query).render()));
    }
    let mut more = false;
    for d in &mut comparison.details {
        for list in [
            &mut d.distribution_name,
            &mut d.distribution_version,
            &mut d.distribution_name_version,
            &mut d.system,
            &mut d.system_version,
            &mut d.system_platform,
            &mut d.machine,
            &mut d.python_version,
            &mut d.days,
            &mut d.error_descriptions,
        ] {
            more |= cut(list);
        }
        more |= cut(&mut d.fixes.fixed_with);
        more |= cut(&mut d.fixes.by_system);
    }
    let next = more.then(|| {
        let packages = query.packages();
        let packages: Vec<_> = packages.iter().collect();
        let href = query::detail_href(&packages, workshop, query.all_attempts.all(), query.export);
        query::with_page(&href, query.page + 1)
    });
    let response = match query.export {
        Export::Csv => csv(
            export::detail_csv(&comparison.details),
            &export::file_name("package-details", workshop),
        ),
        _ => json(&DetailJson::new(
            &comparison.details,
            workshop,
            query.all_attempts,
            next.as_deref(),
        )),
    };
    Ok(with_next(response, next.as_deref()))
}

async fn what_gets_fixed(store: &Store, query: FixesQuery) -> Result<Response<Body>, RequestError> {
    let mut overview = store
        .fix_overview(
            query.workshop.clone(),
            query.min_learners,
            extent(query.export, query.page),
        )
        .await?;
    let workshop = query.workshop.as_deref();
    if query.export == Export::Html {
        return Ok(html(fixes::FixesPage::new(&overview, &query).render()));
    }
    let more = [cut(&mut overview.checks), cut(&mut overview.workshops)].contains(&true);
    let next = more.then(|| {
        let href = query::fixes_href(workshop, query.min_learners, query.export);
        query::with_page(&href, query.page + 1)
    });
    let response = match query.export {
        Export::Csv => csv(
            export::fixes_csv(&overview),
            &export::file_name("fixes", workshop),
        ),
        _ => json(&FixesJson::new(
            &overview,
            workshop,
            query.min_learners,
            next.as_deref(),
        )),
    };
    Ok(with_next(response, next.as_deref()))
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
