//! The host's private readiness page, `/host/<workshop>/<secret>/`: who is ready, who still
//! fails what and since when, the fix to send for each problem, and the learner table as CSV.
//! It names learners (emails included), so it answers only to the workshop's current secret;
//! anything else under `/host/` is the same 404, and the secret never reaches the log.

use super::charts::{Category, ColumnChart};
use super::commands::LearnerCommands;
use super::export::Sheet;
use super::fixes::duration;
use super::pages::{share, system_label, Layout};
use super::query::{pairs, value, workshop_from_segment};
use super::readiness::{requirements, Learner, Readiness, Requirement};
use crate::config::Checks;
use crate::storage::timestamp::day_number;
use crate::storage::{timestamp, Store};
use askama::Template;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Where the pages live; the segment after the workshop is the secret.
pub const PREFIX: &str = "/host/";

/// What every failure under [`PREFIX`] answers as its path, so no error repeats a secret.
pub const HIDDEN_PATH: &str = "/host/…";

/// The request path with the secret replaced, for the log.
pub fn redacted(path: &str) -> Option<String> {
    let rest = path.strip_prefix(PREFIX)?;
    Some(match rest.split_once('/') {
        Some((workshop, secret)) if !secret.is_empty() => {
            let tail = secret.split_once('/').map_or("", |(_, tail)| tail);
            let slash = if secret.contains('/') { "/" } else { "" };
            format!("{PREFIX}{workshop}/[secret]{slash}{tail}")
        }
        _ => path.to_owned(),
    })
}

/// `<workshop>` and `<secret>` of `/host/<workshop>/<secret>/`, the workshop decoded.
pub fn parse_path(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix(PREFIX)?.strip_suffix('/')?;
    let (workshop, secret) = rest.split_once('/')?;
    let plain = !secret.is_empty() && secret.chars().all(|c| c.is_ascii_alphanumeric());
    (plain && !workshop.is_empty()).then(|| (workshop_from_segment(workshop), secret.to_owned()))
}

/// The private link of a workshop.
pub fn host_url(base_url: &str, workshop: &str, secret: &str) -> String {
    format!(
        "{base_url}{PREFIX}{}/{secret}/",
        super::query::segment(workshop)
    )
}

/// The columns the learner table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Not ready first, then most failures: the default.
    Standing,
    Learner,
    System,
    Since,
    Attempts,
    Last,
}

const SORT_KEYS: [(SortKey, &str, &str); 6] = [
    (SortKey::Learner, "learner", "Learner"),
    (SortKey::System, "system", "System"),
    (SortKey::Standing, "failing", "Still failing"),
    (SortKey::Since, "since", "Failing since"),
    (SortKey::Attempts, "attempts", "Attempts"),
    (SortKey::Last, "last", "Last report"),
];

/// The page's query: sort, direction, filter, export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostQuery {
    pub sort: SortKey,
    pub descending: bool,
    pub not_ready_only: bool,
    pub csv: bool,
}

impl HostQuery {
    pub fn parse(query: Option<&str>) -> HostQuery {
        let pairs = pairs(query);
        let sort = value(&pairs, "sort")
            .and_then(|s| SORT_KEYS.iter().find(|(_, name, _)| *name == s))
            .map_or(SortKey::Standing, |(key, _, _)| *key);
        HostQuery {
            sort,
            descending: value(&pairs, "order") == Some("desc"),
            not_ready_only: value(&pairs, "show") == Some("not-ready"),
            csv: value(&pairs, "export") == Some("csv"),
        }
    }

    /// A link to this page with some of the query changed; only a query, so the page's own
    /// path (and its secret) is never written into the HTML.
    fn href(&self, sort: SortKey, descending: bool, not_ready_only: bool, csv: bool) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if sort != SortKey::Standing {
            let name = SORT_KEYS.iter().find(|(k, _, _)| *k == sort).map(|k| k.1);
            query.append_pair("sort", name.unwrap_or("failing"));
        }
        if descending {
            query.append_pair("order", "desc");
        }
        if not_ready_only {
            query.append_pair("show", "not-ready");
        }
        if csv {
            query.append_pair("export", "csv");
        }
        format!("?{}", query.finish())
    }
}

/// Compares two learners by `key`, ascending; ties fall back to the learner's name.
fn compare(key: SortKey, a: &Learner, b: &Learner) -> Ordering {
    let required =
        |l: &Learner| l.failing.iter().filter(|f| f.required).count() + l.unchecked.len();
    let since = |l: &Learner| {
        l.failing
            .iter()
            .filter_map(|f| f.outcome.since.clone())
            .min()
    };
    let by = match key {
        SortKey::Standing => a
            .ready
            .cmp(&b.ready)
            .then(required(b).cmp(&required(a)))
            .then(b.failing.len().cmp(&a.failing.len())),
        SortKey::Learner => Ordering::Equal,
        SortKey::System => system_text(a).cmp(&system_text(b)),
        SortKey::Since => match (since(a), since(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (x, y) => y.is_some().cmp(&x.is_some()),
        },
        SortKey::Attempts => a.attempts.cmp(&b.attempts),
        SortKey::Last => a.last_report.cmp(&b.last_report),
    };
    by.then_with(|| a.who.to_lowercase().cmp(&b.who.to_lowercase()))
}

fn system_text(learner: &Learner) -> String {
    let mut text = system_label(learner.system.as_deref());
    if let Some(d) = learner.distribution.as_deref().filter(|d| !d.is_empty()) {
        if d != text {
            text = format!("{text} · {d}");
        }
    }
    text
}

/// A stored time as the page shows it: to the minute, UTC.
fn minute(time: Option<&str>) -> String {
    time.and_then(|t| t.get(..16)).unwrap_or("–").to_owned()
}

/// A column heading that sorts the table.
pub struct SortLink {
    pub label: &'static str,
    pub href: String,
    /// `ascending` or `descending` on the column the table is sorted by.
    pub current: Option<&'static str>,
    /// The same as a sign after the label.
    pub arrow: &'static str,
    pub numeric: bool,
}

/// One check a learner still fails, as a table cell shows it.
pub struct FailingCell {
    pub label: String,
    pub since: String,
    pub error: String,
    pub required: bool,
}

pub struct LearnerRow {
    pub who: String,
    pub has_email: bool,
    pub system: String,
    pub python: String,
    pub ready: bool,
    pub failing: Vec<FailingCell>,
    pub unchecked: Vec<String>,
    /// What they already fixed: the check, when, and how long after it first failed.
    pub fixed: Vec<(String, String, String)>,
    pub attempts: usize,
    pub last_report: String,
}

/// One problem on one operating system: what to tell the learners it concerns.
pub struct FixGroup {
    pub label: String,
    pub system: String,
    pub text: String,
    pub url: Option<String>,
    pub required: bool,
    pub learners: Vec<String>,
}

/// A row of the day table.
pub struct DayRow {
    pub day: String,
    pub reported: i64,
    pub ready: i64,
    pub share: String,
}

/// `/host/<workshop>/<secret>/`.
#[derive(Template)]
#[template(path = "host.html")]
pub struct HostPage {
    pub layout: Layout,
    pub heading: String,
    pub workshop: String,
    pub requirements: Vec<String>,
    pub learners: usize,
    pub ready: usize,
    pub share: String,
    pub chart: ColumnChart,
    pub days: Vec<DayRow>,
    pub sort_links: Vec<SortLink>,
    pub rows: Vec<LearnerRow>,
    pub not_ready_only: bool,
    pub all_href: String,
    pub not_ready_href: String,
    pub not_ready: usize,
    pub fixes: Vec<FixGroup>,
    pub csv_href: String,
    pub commands: LearnerCommands,
}

/// What the host's page and its CSV are made of.
pub struct HostReport {
    pub workshop: String,
    pub title: Option<String>,
    pub required: Vec<Requirement>,
    pub readiness: Readiness,
}

impl HostReport {
    /// Reads the page's data when `secret` opens `workshop`; `None` for every other case.
    pub async fn load(
        store: &Store,
        workshop: String,
        secret: String,
        server_checks: &Checks,
    ) -> Result<Option<HostReport>, crate::storage::StorageError> {
        let Some(view) = store.host_view(workshop, secret).await? else {
            return Ok(None);
        };
        let required = requirements(view.workshop.checks.as_deref(), server_checks);
        let today = day_number(Some(&timestamp::now()));
        Ok(Some(HostReport {
            readiness: Readiness::new(&view.learners, &required, today),
            workshop: view.workshop.name,
            title: view.workshop.title,
            required,
        }))
    }

    /// The learners the query shows, in its order.
    fn learners(&self, query: &HostQuery) -> Vec<&Learner> {
        let mut shown: Vec<&Learner> = self
            .readiness
            .learners
            .iter()
            .filter(|l| !query.not_ready_only || !l.ready)
            .collect();
        shown.sort_by(|a, b| {
            let order = compare(query.sort, a, b);
            if query.descending {
                order.reverse()
            } else {
                order
            }
        });
        shown
    }
}

impl HostPage {
    pub fn new(report: &HostReport, query: &HostQuery, base_url: &str) -> HostPage {
        let readiness = &report.readiness;
        let heading = report
            .title
            .clone()
            .unwrap_or_else(|| report.workshop.clone());
        let learners = readiness.learners.len();
        let ready = readiness.ready();
        let day_categories: Vec<Category> = readiness
            .days
            .iter()
            .map(|(day, reported, ready)| Category {
                label: day.clone(),
                counts: vec![*reported, *ready],
            })
            .collect();
        let chart = ColumnChart::new(
            "Learners who had reported, and of them ready, at the end of each day",
            &day_categories,
            &["reported".into(), "ready".into()],
            "learners",
        );
        let sort_links = SORT_KEYS
            .iter()
            .map(|(key, _, label)| {
                let current = query.sort == *key;
                SortLink {
                    label,
                    href: query.href(
                        *key,
                        current && !query.descending,
                        query.not_ready_only,
                        false,
                    ),
                    current: current.then_some(if query.descending {
                        "descending"
                    } else {
                        "ascending"
                    }),
                    arrow: match (current, query.descending) {
                        (false, _) => "",
                        (true, false) => " ▲",
                        (true, true) => " ▼",
                    },
                    numeric: matches!(key, SortKey::Attempts),
                }
            })
            .collect();
        let rows = report
            .learners(query)
            .into_iter()
            .map(|l| LearnerRow {
                who: l.who.clone(),
                has_email: l.has_email,
                system: system_text(l),
                python: l.python_version.clone().unwrap_or_default(),
                ready: l.ready,
                failing: l
                    .failing
                    .iter()
                    .map(|f| FailingCell {
                        label: f.outcome.label.clone(),
                        since: minute(f.outcome.since.as_deref()),
                        error: match (&f.outcome.error, &f.outcome.version) {
                            (Some(e), Some(v)) => format!("{e} (found {v})"),
                            (Some(e), None) => e.clone(),
                            (None, Some(v)) => format!("found {v}"),
                            (None, None) => String::new(),
                        },
                        required: f.required,
                    })
                    .collect(),
                unchecked: l.unchecked.clone(),
                fixed: l
                    .fixed
                    .iter()
                    .map(|f| {
                        let seconds = |t: &Option<String>| timestamp::seconds(t.as_deref());
                        let after = match (seconds(&f.failed_at), seconds(&f.fixed_at)) {
                            (Some(failed), Some(fixed)) => {
                                format!("{} after it failed", duration(fixed - failed))
                            }
                            _ => String::new(),
                        };
                        (f.label.clone(), minute(f.fixed_at.as_deref()), after)
                    })
                    .collect(),
                attempts: l.attempts,
                last_report: minute(l.last_report.as_deref()),
            })
            .collect();
        HostPage {
            layout: Layout::new(format!("Readiness of {heading}"), "host"),
            workshop: report.workshop.clone(),
            requirements: report
                .required
                .iter()
                .map(|r| {
                    let minimum = r.minimum.as_deref().map(|m| format!(" ≥ {m}"));
                    let optional = if r.optional { " (optional)" } else { "" };
                    format!("{}{}{optional}", r.name, minimum.unwrap_or_default())
                })
                .collect(),
            heading,
            learners,
            ready,
            share: share(ready as i64, learners as i64),
            chart,
            days: readiness
                .days
                .iter()
                .rev()
                .map(|(day, reported, ready)| DayRow {
                    day: day.clone(),
                    reported: *reported,
                    ready: *ready,
                    share: share(*ready, *reported),
                })
                .collect(),
            sort_links,
            rows,
            not_ready_only: query.not_ready_only,
            all_href: query.href(query.sort, query.descending, false, false),
            not_ready_href: query.href(query.sort, query.descending, true, false),
            not_ready: learners - ready,
            fixes: fix_groups(&readiness.learners),
            csv_href: query.href(query.sort, query.descending, query.not_ready_only, true),
            commands: LearnerCommands::new(base_url, Some(&report.workshop)),
        }
    }
}

/// The failures of every learner grouped by check, system and fix: one message each.
/// Required problems first, then those concerning most learners.
fn fix_groups(learners: &[Learner]) -> Vec<FixGroup> {
    let mut groups: BTreeMap<(String, String, String), FixGroup> = BTreeMap::new();
    for learner in learners {
        for failing in &learner.failing {
            let system = system_label(learner.system.as_deref());
            let (text, url) = match &failing.fix {
                Some(fix) => (fix.text.clone(), Some(fix.url.clone())),
                None => (
                    "The check script does not know this package, so it has no fix for it.".into(),
                    None,
                ),
            };
            let key = (failing.outcome.label.clone(), system.clone(), text.clone());
            let group = groups.entry(key).or_insert_with(|| FixGroup {
                label: failing.outcome.label.clone(),
                system,
                text,
                url,
                required: false,
                learners: Vec::new(),
            });
            group.required |= failing.required;
            group.learners.push(learner.who.clone());
        }
    }
    let mut groups: Vec<FixGroup> = groups.into_values().collect();
    groups.sort_by(|a, b| {
        b.required
            .cmp(&a.required)
            .then(b.learners.len().cmp(&a.learners.len()))
            .then_with(|| a.label.cmp(&b.label))
            .then_with(|| a.system.cmp(&b.system))
    });
    groups
}

/// The learner table as CSV (cells neutralised as in every export), as the query shows it.
pub fn learners_csv(report: &HostReport, query: &HostQuery) -> Vec<u8> {
    let mut sheet = Sheet::new(&[
        "learner",
        "system",
        "python_version",
        "ready",
        "still_failing",
        "failing_since",
        "not_checked",
        "fixed",
        "attempts",
        "first_report",
        "last_report",
    ]);
    for l in report.learners(query) {
        let failing: Vec<String> = l
            .failing
            .iter()
            .map(|f| match f.required {
                true => f.outcome.label.clone(),
                false => format!("{} (optional)", f.outcome.label),
            })
            .collect();
        let since: Vec<String> = l
            .failing
            .iter()
            .map(|f| f.outcome.since.clone().unwrap_or_default())
            .collect();
        sheet.row(&[
            &l.who,
            &system_text(l),
            l.python_version.as_deref().unwrap_or(""),
            if l.ready { "yes" } else { "no" },
            &failing.join("; "),
            &since.join("; "),
            &l.unchecked.join("; "),
            &l.fixed
                .iter()
                .map(|f| format!("{} ({})", f.label, f.fixed_at.as_deref().unwrap_or("")))
                .collect::<Vec<_>>()
                .join("; "),
            &l.attempts.to_string(),
            l.first_report.as_deref().unwrap_or(""),
            l.last_report.as_deref().unwrap_or(""),
        ]);
    }
    sheet.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_cut_from_logged_paths() {
        let secret = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            redacted(&format!("/host/ws-1/{secret}/")).unwrap(),
            "/host/ws-1/[secret]/"
        );
        assert_eq!(
            redacted(&format!("/host/ws-1/{secret}")).unwrap(),
            "/host/ws-1/[secret]"
        );
        assert_eq!(
            redacted(&format!("/host/ws-1/{secret}/x/y")).unwrap(),
            "/host/ws-1/[secret]/x/y"
        );
        assert_eq!(redacted("/host/ws-1").unwrap(), "/host/ws-1");
        assert_eq!(redacted("/view/"), None);
    }

    #[test]
    fn only_the_exact_page_path_parses() {
        assert_eq!(
            parse_path("/host/a%20b/abc123/"),
            Some(("a b".into(), "abc123".into()))
        );
        for bad in [
            "/host/a/abc123",
            "/host/a/abc/x/",
            "/host//abc/",
            "/host/a//",
            "/host/a/ab-c/",
        ] {
            assert_eq!(parse_path(bad), None, "{bad}");
        }
        assert_eq!(
            host_url("http://h", "a/b c", "s1"),
            "http://h/host/a%2Fb%20c/s1/"
        );
    }

    #[test]
    fn links_carry_only_a_query() {
        let query = HostQuery::parse(Some("sort=attempts&order=desc&show=not-ready"));
        assert_eq!(query.sort, SortKey::Attempts);
        assert!(query.descending && query.not_ready_only && !query.csv);
        assert_eq!(
            query.href(SortKey::Standing, false, false, true),
            "?export=csv"
        );
        assert_eq!(
            HostQuery::parse(Some("sort=nonsense")).sort,
            SortKey::Standing
        );
    }
}
