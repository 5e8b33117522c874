//! The dashboard's URLs: query strings read leniently (a value we cannot use means the
//! default, never an error page), and links written back with every value percent-encoded.

use crate::report::{WorkshopId, WorkshopIdError};
use crate::storage::{PackageFilter, Scope};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::collections::HashSet;

/// What a path segment keeps as it is: RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The original's label for "no workshop chosen", which its selector sent as a value.
pub(super) const ALL_WORKSHOPS: &str = "All workshops";
/// The original's form value for "no package chosen".
const NO_PACKAGE: &str = "None";
/// The original's form value for "every version".
const EVERY_VERSION: &str = "All";

// The original's forms sent these placeholders for "nothing chosen", and its URLs must keep
// meaning what they meant. A stored value that is literally one of them (a workshop named
// "All workshops", a check named "" from an old database) is linked to with `exact=1`, which
// reads every value as written, so that every stored value has a page. Our own forms name
// their workshop `workshop`, where only the empty choice means every workshop.

fn is_placeholder_workshop(workshop: &str) -> bool {
    workshop.is_empty() || workshop == ALL_WORKSHOPS
}

fn is_placeholder_name(name: &str) -> bool {
    name.trim().is_empty() || name == NO_PACKAGE
}

fn is_placeholder_version(version: &str) -> bool {
    version.is_empty() || version == EVERY_VERSION
}

/// `exact=1`: the query's values are read as written, placeholders included.
fn exact(pairs: &[(String, String)]) -> bool {
    value(pairs, "exact") == Some("1")
}

/// The workshop a query chooses: our forms' `workshop` (empty: every workshop), else the
/// original's `workshop_id` (empty or "All workshops": every workshop, unless `exact=1`).
fn chosen_workshop(pairs: &[(String, String)]) -> Option<String> {
    if let Some(chosen) = value(pairs, "workshop") {
        return (!chosen.is_empty()).then(|| chosen.to_owned());
    }
    let id = value(pairs, "workshop_id")?;
    if exact(pairs) {
        Some(id.to_owned())
    } else {
        workshop(Some(id))
    }
}

/// The form a view is answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Export {
    Html,
    Json,
    Csv,
}

/// `all_attempts` as the client gave it: the JSON echoes it (0, 1 or null) as the
/// original did, and anything but a non-zero number means "latest attempts".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct AttemptsParam(pub Option<u8>);

impl AttemptsParam {
    fn parse(value: &str) -> AttemptsParam {
        match value.trim() {
            "true" | "on" | "yes" => AttemptsParam(Some(1)),
            other => AttemptsParam(other.parse::<i64>().ok().map(|n| u8::from(n != 0))),
        }
    }

    pub(super) fn all(self) -> bool {
        self.0 == Some(1)
    }
}

/// The last page an export may be asked for: beyond it every list is empty anyway.
const MAX_PAGE: usize = 1_000_000;

/// `?page=N` of an export, from 1 (also for anything that is not a page number).
fn page(pairs: &[(String, String)]) -> usize {
    value(pairs, "page")
        .and_then(|p| p.trim().parse::<usize>().ok())
        .map_or(1, |p| p.clamp(1, MAX_PAGE))
}

/// `href` (one of our links) asking for page `page` of its export.
pub(super) fn with_page(href: &str, page: usize) -> String {
    let separator = if href.contains('?') { '&' } else { '?' };
    format!("{href}{separator}page={page}")
}

/// The query of `/view/` and `/view/<workshop>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ViewQuery {
    pub all_attempts: AttemptsParam,
    pub export: Export,
    /// Which page of an export, from 1.
    pub page: usize,
    /// `?workshop_id=` from the selector form, or for ids no path can carry.
    pub workshop: Option<String>,
}

/// The query of `/view/detail/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DetailQuery {
    /// `None`: no package was named, so there is nothing to detail.
    pub first: Option<PackageFilter>,
    pub second: Option<PackageFilter>,
    /// The second package was the first one again, and was dropped.
    pub same_twice: bool,
    pub workshop: Option<String>,
    pub all_attempts: AttemptsParam,
    pub export: Export,
    /// Which page of an export, from 1.
    pub page: usize,
}

/// The query of `/fixes/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FixesQuery {
    pub workshop: Option<String>,
    /// Checks fewer learners failed are left out (their shares say little).
    pub min_learners: i64,
    pub export: Export,
    /// Which page of an export, from 1.
    pub page: usize,
}

/// `/fixes/` lists checks at least this many learners failed unless asked otherwise.
pub(super) const MIN_LEARNERS: i64 = 5;

impl FixesQuery {
    pub(super) fn parse(query: Option<&str>) -> FixesQuery {
        let pairs = pairs(query);
        FixesQuery {
            workshop: chosen_workshop(&pairs),
            min_learners: value(&pairs, "min_learners")
                .and_then(|n| n.trim().parse::<i64>().ok())
                .map_or(MIN_LEARNERS, |n| n.clamp(1, 1_000_000)),
            export: export(&pairs),
            page: page(&pairs),
        }
    }
}

/// The link to "What gets fixed".
pub(super) fn fixes_href(workshop: Option<&str>, min_learners: i64, export: Export) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(workshop) = workshop {
        query.append_pair("workshop_id", workshop);
        if is_placeholder_workshop(workshop) {
            query.append_pair("exact", "1");
        }
    }
    if min_learners != MIN_LEARNERS {
        query.append_pair("min_learners", &min_learners.to_string());
    }
    append_export(&mut query, export);
    with_query("/fixes/".to_owned(), query.finish())
}

impl DetailQuery {
    pub(super) fn scope(&self) -> Scope {
        Scope {
            workshop: self.workshop.clone(),
            all_attempts: self.all_attempts.all(),
        }
    }

    pub(super) fn packages(&self) -> Vec<PackageFilter> {
        self.first.iter().chain(&self.second).cloned().collect()
    }
}

/// Pairs of a query read at most: no page of ours takes more than a dozen parameters, and
/// what follows is ignored unread (lenient, like every other odd value: no error page), so
/// a query of thousands of keys costs no more than one of this many.
pub(super) const MAX_QUERY_PAIRS: usize = 64;

/// The query's first [`MAX_QUERY_PAIRS`] pairs; a key given twice keeps its first value.
pub(super) fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    let mut seen = HashSet::new();
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .take(MAX_QUERY_PAIRS)
        .filter(|(key, _)| seen.insert(key.clone()))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

pub(super) fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn export(pairs: &[(String, String)]) -> Export {
    match value(pairs, "export") {
        Some("json") => Export::Json,
        Some("csv") => Export::Csv,
        _ => Export::Html,
    }
}

/// A workshop id from a form or link: empty and the original's "All workshops" mean none.
fn workshop(value: Option<&str>) -> Option<String> {
    value
        .filter(|w| !w.is_empty() && *w != ALL_WORKSHOPS)
        .map(str::to_owned)
}

impl ViewQuery {
    pub(super) fn parse(query: Option<&str>) -> ViewQuery {
        let pairs = pairs(query);
        ViewQuery {
            all_attempts: value(&pairs, "all_attempts")
                .map(AttemptsParam::parse)
                .unwrap_or_default(),
            export: export(&pairs),
            page: page(&pairs),
            workshop: chosen_workshop(&pairs),
        }
    }
}

impl DetailQuery {
    pub(super) fn parse(query: Option<&str>) -> DetailQuery {
        let pairs = pairs(query);
        // The original's selectors sent "All" for every version and "None" for no package.
        let exact = exact(&pairs);
        let version = |key| {
            value(&pairs, key)
                .filter(|v| exact || !is_placeholder_version(v))
                .map(str::to_owned)
        };
        let name = |key| {
            value(&pairs, key)
                .filter(|n| exact || !is_placeholder_name(n))
                .map(str::to_owned)
        };
        let first = name("package_one_name").map(|name| PackageFilter {
            name,
            version: version("package_one_version"),
        });
        let mut second = name("package_two_name").map(|name| PackageFilter {
            name,
            version: version("package_two_version"),
        });
        let same_twice = first.is_some() && second == first;
        if same_twice {
            second = None;
        }
        DetailQuery {
            first,
            second,
            same_twice,
            workshop: chosen_workshop(&pairs),
            all_attempts: value(&pairs, "all_attempts")
                .map(AttemptsParam::parse)
                .unwrap_or_default(),
            export: export(&pairs),
            page: page(&pairs),
        }
    }
}

/// The workshop the landing page tailors its commands to (`/?workshop=`), if any: our own
/// parameter, so "All workshops" is a workshop's name here like any other. Unlike the other
/// values read here, an id that is no workshop id is an error, never a default: the page must
/// not print commands whose reports would be counted under another name.
pub(super) fn landing_workshop(query: Option<&str>) -> Result<Option<WorkshopId>, WorkshopIdError> {
    value(&pairs(query), "workshop")
        .filter(|w| !w.trim().is_empty())
        .map(WorkshopId::parse)
        .transpose()
}

/// Ids a path cannot carry: `/view/detail/` is the detail page, browsers resolve dot
/// segments (even encoded ones) before sending, and `/view/All%20workshops/` is the
/// original's URL of every workshop.
fn needs_query(workshop: &str) -> bool {
    matches!(workshop, "" | "detail" | "." | "..") || workshop == ALL_WORKSHOPS
}

/// The link to an overview: all workshops or one, latest or all attempts, HTML or an export.
pub(super) fn view_href(workshop: Option<&str>, all_attempts: bool, export: Export) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let path = match workshop {
        None => "/view/".to_owned(),
        Some(w) if needs_query(w) => {
            query.append_pair("workshop_id", w);
            if is_placeholder_workshop(w) {
                query.append_pair("exact", "1");
            }
            "/view/".to_owned()
        }
        Some(w) => format!("/view/{}/", utf8_percent_encode(w, SEGMENT)),
    };
    if all_attempts {
        query.append_pair("all_attempts", "1");
    }
    append_export(&mut query, export);
    with_query(path, query.finish())
}

/// The link to the detail page of one or two packages.
pub(super) fn detail_href(
    packages: &[&PackageFilter],
    workshop: Option<&str>,
    all_attempts: bool,
    export: Export,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let exact = workshop.is_some_and(is_placeholder_workshop)
        || packages.iter().any(|p| {
            is_placeholder_name(&p.name) || p.version.as_deref().is_some_and(is_placeholder_version)
        });
    for (package, (name_key, version_key)) in packages.iter().zip([
        ("package_one_name", "package_one_version"),
        ("package_two_name", "package_two_version"),
    ]) {
        query.append_pair(name_key, &package.name);
        // Read exactly, a version left out is every version; else the original's "" is.
        match (&package.version, exact) {
            (Some(version), _) => {
                query.append_pair(version_key, version);
            }
            (None, false) => {
                query.append_pair(version_key, "");
            }
            (None, true) => {}
        }
    }
    if let Some(workshop) = workshop {
        query.append_pair("workshop_id", workshop);
    }
    if exact {
        query.append_pair("exact", "1");
    }
    if all_attempts {
        query.append_pair("all_attempts", "1");
    }
    append_export(&mut query, export);
    with_query("/view/detail/".to_owned(), query.finish())
}

fn append_export(query: &mut form_urlencoded::Serializer<'_, String>, export: Export) {
    match export {
        Export::Html => {}
        Export::Json => {
            query.append_pair("export", "json");
        }
        Export::Csv => {
            query.append_pair("export", "csv");
        }
    }
}

fn with_query(path: String, query: String) -> String {
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

/// The landing page, its commands tailored to a workshop.
pub(super) fn landing_href(workshop: Option<&str>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(w) = workshop {
        query.append_pair("workshop", w);
    }
    with_query("/".to_owned(), query.finish())
}

/// A workshop id as one path segment, percent-encoded.
pub(super) fn segment(workshop: &str) -> String {
    utf8_percent_encode(workshop, SEGMENT).to_string()
}

/// The check script's URL on this server, for one workshop or none.
pub(super) fn script_url(base: &str, workshop: Option<&str>) -> String {
    match workshop {
        Some(w) => format!(
            "{base}/check.py?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("workshop", w)
                .finish()
        ),
        None => format!("{base}/check.py"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::route::{Endpoint, Page, Route};
    use hyper::Method;

    #[test]
    fn bad_values_mean_the_defaults() {
        let q = ViewQuery::parse(Some("all_attempts=abc&export=xml"));
        assert_eq!(q.all_attempts, AttemptsParam(None));
        assert!(!q.all_attempts.all());
        assert_eq!(q.export, Export::Html);
        assert_eq!(
            ViewQuery::parse(Some("all_attempts=0")).all_attempts,
            AttemptsParam(Some(0))
        );
        assert!(ViewQuery::parse(Some("all_attempts=2")).all_attempts.all());
        assert_eq!(ViewQuery::parse(Some("%ZZ=%%")).export, Export::Html);
    }

    /// Issue 11, item 3: 11,395 distinct keys cost quadratic time in `pairs()`. Only the first
    /// [`MAX_QUERY_PAIRS`] are read (in one pass, with a set of the keys seen): a parameter
    /// after them is not seen, and the list stays that short.
    #[test]
    fn only_the_first_pairs_of_a_long_query_are_read() {
        let junk: Vec<String> = (0..11_395).map(|i| format!("{i}=")).collect();
        let query = format!("{}&export=json", junk.join("&"));
        assert_eq!(pairs(Some(&query)).len(), MAX_QUERY_PAIRS);
        assert_eq!(ViewQuery::parse(Some(&query)).export, Export::Html);
        let early = format!("export=json&{}", junk.join("&"));
        assert_eq!(ViewQuery::parse(Some(&early)).export, Export::Json);
        let repeated = vec!["a=1"; 10_000].join("&");
        assert_eq!(pairs(Some(&repeated)), vec![("a".into(), "1".into())]);
    }

    #[test]
    fn the_originals_placeholders_mean_nothing_chosen() {
        let q = DetailQuery::parse(Some(
            "package_one_name=git&package_one_version=All&package_two_name=None&workshop_id=All+workshops",
        ));
        assert_eq!(
            q.first,
            Some(PackageFilter {
                name: "git".into(),
                version: None
            })
        );
        assert_eq!(q.second, None);
        assert_eq!(q.workshop, None);
        let same = DetailQuery::parse(Some(
            "package_one_name=git&package_one_version=&package_two_name=git&package_two_version=All",
        ));
        assert!(same.same_twice);
        assert_eq!(same.packages().len(), 1);
    }

    /// Issue 11, item 11: a workshop named "All workshops" and checks named "" or "   " (from
    /// an old database) had no page: their links read as the original's placeholders.
    #[test]
    fn values_that_look_like_placeholders_have_links_of_their_own() {
        let href = view_href(Some(ALL_WORKSHOPS), false, Export::Html);
        let query = href.strip_prefix("/view/?").unwrap();
        assert_eq!(
            ViewQuery::parse(Some(query)).workshop.as_deref(),
            Some(ALL_WORKSHOPS)
        );
        assert_eq!(
            ViewQuery::parse(Some("workshop_id=All+workshops")).workshop,
            None
        );
        assert_eq!(
            ViewQuery::parse(Some("workshop=All+workshops"))
                .workshop
                .as_deref(),
            Some(ALL_WORKSHOPS)
        );
        assert_eq!(ViewQuery::parse(Some("workshop=")).workshop, None);
        for (name, version) in [
            ("", None),
            ("   ", Some("1.0")),
            ("None", Some("All")),
            ("git", Some("")),
        ] {
            let package = PackageFilter {
                name: name.into(),
                version: version.map(str::to_owned),
            };
            let href = detail_href(&[&package], Some(""), true, Export::Json);
            let query = href.strip_prefix("/view/detail/?").unwrap();
            let parsed = DetailQuery::parse(Some(query));
            assert_eq!(parsed.first, Some(package), "{href}");
            assert_eq!(parsed.workshop.as_deref(), Some(""), "{href}");
            assert_eq!(parsed.export, Export::Json);
        }
        let plain = PackageFilter {
            name: "git".into(),
            version: None,
        };
        assert_eq!(
            detail_href(&[&plain], Some("w"), false, Export::Html),
            "/view/detail/?package_one_name=git&package_one_version=&workshop_id=w",
            "ordinary links keep the original's form"
        );
        assert_eq!(
            landing_workshop(Some(&landing_href(Some(ALL_WORKSHOPS))[2..]))
                .unwrap()
                .unwrap()
                .as_str(),
            ALL_WORKSHOPS
        );
        let fixes = fixes_href(Some(ALL_WORKSHOPS), MIN_LEARNERS, Export::Html);
        let query = fixes.strip_prefix("/fixes/?").unwrap();
        assert_eq!(
            FixesQuery::parse(Some(query)).workshop.as_deref(),
            Some(ALL_WORKSHOPS)
        );
    }

    #[test]
    fn links_round_trip_odd_workshop_ids() {
        for id in ["a b/c", "ünï", "<script>", "100%", "a+b", "x?y#z"] {
            let href = view_href(Some(id), true, Export::Json);
            let path = href.split('?').next().unwrap();
            let segment = &path["/view/".len()..path.len() - 1];
            assert!(!segment.contains('/'), "{href}");
            // The route table reads the link back as the same workshop.
            let route = Route::parse(&Method::GET, path, true);
            let workshop = Endpoint::Dashboard(Page::Workshop(id.to_owned()));
            assert_eq!(route.endpoint().unwrap(), &workshop, "{href}");
            assert!(href.ends_with("?all_attempts=1&export=json"), "{href}");
        }
        assert_eq!(
            view_href(Some("detail"), false, Export::Html),
            "/view/?workshop_id=detail"
        );
    }
}
