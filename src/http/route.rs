//! The route table: every path the server answers, read once per request from its method and
//! path into a [`Route`]. The route says who answers (the router matches on its
//! [`Endpoint`], never on the path again), how the latency metric labels the request, and
//! how the log shows the path: a learner's key and a host's secret never reach the log.
//! A new endpoint is one variant here and one arm in the router.

use super::RequestError;
use crate::metrics;
use hyper::{Method, StatusCode};
use percent_encoding::percent_decode_str;

/// Where reports arrive, and under it a learner's own data: `/installation_data/<key>/`.
const LEARNER_PREFIX: &str = "/installation_data/";
/// A host's private pages: `/host/<workshop>/<secret>/`.
pub(crate) const HOST_PREFIX: &str = "/host/";
/// The dashboard's built-in files.
const ASSET_PREFIX: &str = "/static/";
/// The statistics views; `/view/<workshop>/` is one workshop's.
const VIEW_PREFIX: &str = "/view/";

/// One request's method and path, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// What the path names, whatever the method.
    endpoint: Endpoint,
    /// The methods the endpoint answers, when the request's is not one of them.
    wrong_method: Option<&'static str>,
    /// The path as the log shows it.
    logged: String,
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `POST /installation_data/` (also without the slash, as the original's clients sent it).
    Submit,
    /// `DELETE /installation_data/<key>/`: a learner taking their data back; the key decoded.
    Forget { key: String },
    /// `/healthz`.
    Health,
    /// `/metrics` (with `--metrics off`, [`Endpoint::NotFound`]).
    Metrics,
    /// `/check.py`, the learner's script.
    CheckScript,
    /// A page or file of the public dashboard.
    Dashboard(Page),
    /// `/host/<workshop>/<secret>/`, the workshop decoded; `None` for any other path under
    /// `/host/`, which answers the same 404 as a wrong secret.
    Host(Option<HostPage>),
    /// Nothing is served here.
    NotFound,
}

/// A page or file of the public dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Page {
    /// `/`.
    Landing,
    /// `/view/`: every workshop, or the one a `?workshop_id=` names.
    Overview,
    /// `/view/<workshop>/`, the workshop decoded (empty for `/view//`).
    Workshop(String),
    /// `/view/detail/` (also without the slash).
    Detail,
    /// `/fixes/`: what gets fixed.
    Fixes,
    /// `/view` or `/fixes`: redirected to this path, with its slash, the query kept.
    AddSlash(&'static str),
    /// `/static/<name>`.
    Asset(String),
}

/// The two parts of a host's private link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPage {
    pub(crate) workshop: String,
    pub(crate) secret: String,
}

/// What `GET` and `HEAD` endpoints tell a client with another method.
const READ_ONLY: &str = "GET, HEAD";

impl Route {
    /// The route of `method` on `path` (the path only, without its query), on a server that
    /// serves `/metrics` when `metrics` says so (without, it is a path like any unknown one,
    /// whatever the method).
    pub(crate) fn parse(method: &Method, path: &str, metrics: bool) -> Route {
        let endpoint = match Endpoint::parse(path) {
            Endpoint::Metrics if !metrics => Endpoint::NotFound,
            endpoint => endpoint,
        };
        let read = matches!(*method, Method::GET | Method::HEAD);
        // The methods the endpoint answers, and whether the request's is one.
        let (allow, answers) = match endpoint {
            Endpoint::Submit => ("POST", *method == Method::POST),
            Endpoint::Forget { .. } => ("DELETE", *method == Method::DELETE),
            // Whatever the method, nothing is here.
            Endpoint::NotFound => ("", true),
            _ => (READ_ONLY, read),
        };
        Route {
            wrong_method: (!answers).then_some(allow),
            logged: logged(&endpoint, path),
            endpoint,
        }
    }

    /// What the path names, or the 405 (with the methods it answers) for a wrong method.
    pub(crate) fn endpoint(&self) -> Result<&Endpoint, RequestError> {
        match self.wrong_method {
            Some(allow) => Err(RequestError::MethodNotAllowed(allow)),
            None => Ok(&self.endpoint),
        }
    }

    /// The path as the log shows it: a learner's key and a host's secret cut out.
    pub(crate) fn logged(&self) -> &str {
        &self.logged
    }

    /// The latency metric's label for this route answered with `status`: a fixed few values,
    /// whatever paths clients make up. A 404 is `other`, whichever endpoint it reached.
    pub(crate) fn label(&self, status: StatusCode) -> metrics::Route {
        if status == StatusCode::NOT_FOUND {
            return metrics::Route::Other;
        }
        match self.endpoint {
            Endpoint::Submit => metrics::Route::Submit,
            Endpoint::Forget { .. } => metrics::Route::Forget,
            Endpoint::Health => metrics::Route::Health,
            Endpoint::Metrics => metrics::Route::Metrics,
            Endpoint::CheckScript => metrics::Route::CheckScript,
            Endpoint::Dashboard(Page::Asset(_)) => metrics::Route::Static,
            Endpoint::Dashboard(_) => metrics::Route::Dashboard,
            Endpoint::Host(_) => metrics::Route::Host,
            Endpoint::NotFound => metrics::Route::Other,
        }
    }
}

impl Endpoint {
    /// What `path` names, the table itself.
    fn parse(path: &str) -> Endpoint {
        match path {
            "/installation_data/" | "/installation_data" => Endpoint::Submit,
            "/healthz" => Endpoint::Health,
            "/metrics" => Endpoint::Metrics,
            "/check.py" => Endpoint::CheckScript,
            "/" => Endpoint::Dashboard(Page::Landing),
            "/view" => Endpoint::Dashboard(Page::AddSlash(VIEW_PREFIX)),
            "/view/" => Endpoint::Dashboard(Page::Overview),
            "/view/detail/" | "/view/detail" => Endpoint::Dashboard(Page::Detail),
            "/fixes" => Endpoint::Dashboard(Page::AddSlash("/fixes/")),
            "/fixes/" => Endpoint::Dashboard(Page::Fixes),
            _ => {
                if let Some(rest) = path.strip_prefix(LEARNER_PREFIX) {
                    let key = decoded(rest.trim_end_matches('/'));
                    Endpoint::Forget { key }
                } else if let Some(rest) = path.strip_prefix(VIEW_PREFIX) {
                    let segment = rest.strip_suffix('/').unwrap_or(rest);
                    Endpoint::Dashboard(Page::Workshop(decoded(segment)))
                } else if let Some(name) = path.strip_prefix(ASSET_PREFIX) {
                    Endpoint::Dashboard(Page::Asset(name.to_owned()))
                } else if let Some(rest) = path.strip_prefix(HOST_PREFIX) {
                    Endpoint::Host(HostPage::parse(rest))
                } else {
                    Endpoint::NotFound
                }
            }
        }
    }
}

impl HostPage {
    /// `<workshop>/<secret>/`: both present, the secret letters and digits only.
    fn parse(rest: &str) -> Option<HostPage> {
        let (workshop, secret) = rest.strip_suffix('/')?.split_once('/')?;
        let plain = !secret.is_empty() && secret.chars().all(|c| c.is_ascii_alphanumeric());
        (plain && !workshop.is_empty()).then(|| HostPage {
            workshop: decoded(workshop),
            secret: secret.to_owned(),
        })
    }
}

/// A path segment percent-decoded (what is not UTF-8 replaced).
fn decoded(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// `path` as the log shows it for `endpoint`: a learner's key is their only credential and a
/// host's secret opens a page that names learners, so neither is ours to log.
fn logged(endpoint: &Endpoint, path: &str) -> String {
    match endpoint {
        Endpoint::Forget { .. } => format!("{LEARNER_PREFIX}<key>/"),
        Endpoint::Host(_) => {
            // Any path under /host/, a malformed one too: `<workshop>/<anything>` may hold a
            // secret mistyped or cut short.
            let rest = &path[HOST_PREFIX.len()..];
            match rest.split_once('/') {
                Some((workshop, secret)) if !secret.is_empty() => {
                    let tail = secret.split_once('/').map_or("", |(_, tail)| tail);
                    let slash = if secret.contains('/') { "/" } else { "" };
                    format!("{HOST_PREFIX}{workshop}/[secret]{slash}{tail}")
                }
                _ => path.to_owned(),
            }
        }
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The route on a server that serves `/metrics`.
    fn route(method: &Method, path: &str) -> Route {
        Route::parse(method, path, true)
    }

    fn get(path: &str) -> Endpoint {
        route(&Method::GET, path).endpoint().unwrap().clone()
    }

    fn dashboard(page: Page) -> Endpoint {
        Endpoint::Dashboard(page)
    }

    /// The path of a URL as a request carries it, without the query.
    fn path_of(url: &str) -> &str {
        url.split('?').next().unwrap()
    }

    #[test]
    fn the_urls_of_the_wire_contract_parse() {
        // DESIGN.md's URLs, as the original's clients and links send them.
        let submit = route(&Method::POST, "/installation_data/");
        assert_eq!(submit.endpoint().unwrap(), &Endpoint::Submit);
        assert_eq!(get("/view/"), dashboard(Page::Overview));
        assert_eq!(
            get(path_of("/view/2016-08-13-place/?export=json")),
            dashboard(Page::Workshop("2016-08-13-place".into()))
        );
        let detail = "/view/detail/?package_one_name=&package_one_version=\
                      &package_two_name=&package_two_version=&workshop_id=&all_attempts=1";
        assert_eq!(get(path_of(detail)), dashboard(Page::Detail));
    }

    #[test]
    fn every_path_the_server_answers_parses_to_its_endpoint() {
        let key = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
        let cases = [
            (Method::POST, "/installation_data", Endpoint::Submit),
            (
                Method::DELETE,
                "/installation_data/1b4e28ba-2fa1-11d2-883f-0016d3cca427/",
                Endpoint::Forget { key: key.into() },
            ),
            (
                Method::DELETE,
                "/installation_data/1b4e28ba-2fa1-11d2-883f-0016d3cca427",
                Endpoint::Forget { key: key.into() },
            ),
            (
                Method::DELETE,
                "/installation_data/a%20b//",
                Endpoint::Forget { key: "a b".into() },
            ),
            (Method::GET, "/healthz", Endpoint::Health),
            (Method::HEAD, "/healthz", Endpoint::Health),
            (Method::GET, "/metrics", Endpoint::Metrics),
            (Method::GET, "/check.py", Endpoint::CheckScript),
            (Method::GET, "/", dashboard(Page::Landing)),
            (Method::GET, "/view", dashboard(Page::AddSlash("/view/"))),
            (Method::GET, "/view/detail", dashboard(Page::Detail)),
            (
                Method::GET,
                "/view/a%2Fb%20c/",
                dashboard(Page::Workshop("a/b c".into())),
            ),
            (
                Method::GET,
                "/view/ws-1",
                dashboard(Page::Workshop("ws-1".into())),
            ),
            (
                Method::GET,
                "/view//",
                dashboard(Page::Workshop(String::new())),
            ),
            (Method::GET, "/fixes", dashboard(Page::AddSlash("/fixes/"))),
            (Method::GET, "/fixes/", dashboard(Page::Fixes)),
            (
                Method::GET,
                "/static/dashboard-0123abcd.css",
                dashboard(Page::Asset("dashboard-0123abcd.css".into())),
            ),
            (
                Method::GET,
                "/static/",
                dashboard(Page::Asset(String::new())),
            ),
            (
                Method::HEAD,
                "/host/a%20b/abc123/",
                Endpoint::Host(Some(HostPage {
                    workshop: "a b".into(),
                    secret: "abc123".into(),
                })),
            ),
        ];
        for (method, path, endpoint) in cases {
            let route = route(&method, path);
            assert_eq!(route.endpoint().unwrap(), &endpoint, "{method} {path}");
        }
    }

    #[test]
    fn only_the_exact_host_page_path_names_a_host_page() {
        for bad in [
            "/host/",
            "/host/a",
            "/host/a/abc123",
            "/host/a/abc/x/",
            "/host//abc/",
            "/host/a//",
            "/host/a/ab-c/",
        ] {
            assert_eq!(get(bad), Endpoint::Host(None), "{bad}");
        }
    }

    #[test]
    fn unknown_paths_are_not_found_whatever_the_method() {
        for path in [
            "/nope",
            "/host",
            "/static",
            "/healthz/",
            "/check.py/",
            "/metrics/",
            "",
        ] {
            for method in [Method::GET, Method::POST, Method::DELETE] {
                let route = route(&method, path);
                assert_eq!(route.endpoint().unwrap(), &Endpoint::NotFound, "{path}");
                assert_eq!(route.label(StatusCode::NOT_FOUND), metrics::Route::Other);
            }
        }
    }

    #[test]
    fn a_wrong_method_is_told_the_methods_the_path_answers() {
        let cases = [
            (Method::GET, "/installation_data/", "POST"),
            (Method::DELETE, "/installation_data", "POST"),
            (Method::GET, "/installation_data/key/", "DELETE"),
            (Method::POST, "/installation_data/key/", "DELETE"),
            (Method::POST, "/healthz", READ_ONLY),
            (Method::DELETE, "/metrics", READ_ONLY),
            (Method::PUT, "/check.py", READ_ONLY),
            (Method::POST, "/", READ_ONLY),
            (Method::POST, "/view", READ_ONLY),
            (Method::POST, "/view/ws/", READ_ONLY),
            (Method::POST, "/fixes/", READ_ONLY),
            // Before the page is looked for: a missing file or a malformed host path too.
            (Method::POST, "/static/missing.css", READ_ONLY),
            (Method::POST, "/host/a/b/c/", READ_ONLY),
        ];
        for (method, path, allow) in cases {
            match route(&method, path).endpoint() {
                Err(RequestError::MethodNotAllowed(told)) => assert_eq!(told, allow, "{path}"),
                other => panic!("{method} {path}: {other:?}"),
            }
        }
    }

    #[test]
    fn each_endpoint_has_its_label_and_a_404_is_other() {
        let ok = StatusCode::OK;
        let label = |method: &Method, path: &str| route(method, path).label(ok);
        assert_eq!(
            label(&Method::POST, "/installation_data"),
            metrics::Route::Submit
        );
        assert_eq!(
            label(&Method::GET, "/installation_data/k/"),
            metrics::Route::Forget
        );
        assert_eq!(label(&Method::GET, "/healthz"), metrics::Route::Health);
        assert_eq!(label(&Method::GET, "/metrics"), metrics::Route::Metrics);
        assert_eq!(
            label(&Method::GET, "/check.py"),
            metrics::Route::CheckScript
        );
        assert_eq!(label(&Method::GET, "/static/a.js"), metrics::Route::Static);
        for path in [
            "/",
            "/view",
            "/view/",
            "/view/ws/",
            "/view/detail",
            "/fixes",
        ] {
            assert_eq!(
                label(&Method::GET, path),
                metrics::Route::Dashboard,
                "{path}"
            );
        }
        assert_eq!(label(&Method::GET, "/host/a/b/"), metrics::Route::Host);
        assert_eq!(label(&Method::GET, "/nope"), metrics::Route::Other);
        let missing = route(&Method::GET, "/static/missing.css");
        assert_eq!(missing.label(StatusCode::NOT_FOUND), metrics::Route::Other);
    }

    #[test]
    fn the_secret_and_the_key_are_cut_from_logged_paths() {
        let secret = "0123456789abcdef0123456789abcdef01234567";
        let logged = |method: &Method, path: String| route(method, &path).logged;
        assert_eq!(
            logged(&Method::GET, format!("/host/ws-1/{secret}/")),
            "/host/ws-1/[secret]/"
        );
        assert_eq!(
            logged(&Method::GET, format!("/host/ws-1/{secret}")),
            "/host/ws-1/[secret]"
        );
        assert_eq!(
            logged(&Method::POST, format!("/host/ws-1/{secret}/x/y")),
            "/host/ws-1/[secret]/x/y"
        );
        assert_eq!(logged(&Method::GET, "/host/ws-1".into()), "/host/ws-1");
        assert_eq!(logged(&Method::GET, "/host/".into()), "/host/");
        let key = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
        for method in [Method::DELETE, Method::GET] {
            assert_eq!(
                logged(&method, format!("/installation_data/{key}/")),
                "/installation_data/<key>/"
            );
        }
        for path in ["/installation_data/", "/view/", "/view/ws/", "/nope?x"] {
            assert_eq!(logged(&Method::GET, path.into()), path);
        }
    }

    #[test]
    fn metrics_off_is_not_found_whatever_the_method() {
        for method in [Method::GET, Method::POST] {
            let route = Route::parse(&method, "/metrics", false);
            assert_eq!(route.endpoint().unwrap(), &Endpoint::NotFound, "{method}");
        }
    }
}
