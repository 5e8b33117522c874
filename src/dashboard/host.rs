//! The host's private readiness page, `/host/<workshop>/<secret>/`: who is ready, who still
//! fails what and since when, the fix to send for each problem (with what learners on that
//! system who failed it did, in the words the check script prints), and the learner table as
//! CSV.
//! It names learners (emails included), so it answers only to the workshop's current secret;
//! anything else under `/host/` is the same 404, and the secret never reaches the log.

use super::charts::ColumnChart;
use super::commands::LearnerCommands;
use super::detail::duration;
use super::export::Sheet;
use super::pages::system_label;
use super::pages::{share, Layout, MAX_TABLE_ROWS};
use super::query::{pairs, value};
use super::readiness::HostRules;
use super::timeline::{Fold, Moment, Timeline};
use super::EXPORT_ROWS;
use crate::catalog::catalog;
use crate::config::Checks;
use crate::http::route::HOST_PREFIX as PREFIX;
use crate::storage::{timestamp, LearnerWindow, RequiredCheck, Rows, Standings, Store};
use askama::Template;

/// What every failure under [`PREFIX`] answers as its path, so no error repeats a secret.
pub(super) const HIDDEN_PATH: &str = "/host/…";

/// The private link of a workshop.
pub(crate) fn host_url(base_url: &str, workshop: &str, secret: &str) -> String {
    format!(
        "{base_url}{PREFIX}{}/{secret}/",
        super::query::segment(workshop)
    )
}

/// The columns the learner table sorts by (storage's orders; "failing" is the default).
pub(crate) use crate::storage::LearnerOrder as SortKey;

const SORT_KEYS: [(SortKey, &str, &str); 6] = [
    (SortKey::Learner, "learner", "Learner"),
    (SortKey::System, "system", "System"),
    (SortKey::Standing, "failing", "Still failing"),
    (SortKey::Since, "since", "Failing since"),
    (SortKey::Attempts, "attempts", "Attempts"),
    (SortKey::Last, "last", "Last report"),
];

/// The page's query: sort, direction, filter, page, export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HostQuery {
    pub sort: SortKey,
    pub descending: bool,
    pub not_ready_only: bool,
    pub csv: bool,
    /// Which page of the table (of the CSV with `csv`), from 1.
    pub page: usize,
}

impl HostQuery {
    pub(super) fn parse(query: Option<&str>) -> HostQuery {
        let pairs = pairs(query);
        let sort = value(&pairs, "sort")
            .and_then(|s| SORT_KEYS.iter().find(|(_, name, _)| *name == s))
            .map_or(SortKey::Standing, |(key, _, _)| *key);
        HostQuery {
            sort,
            descending: value(&pairs, "order") == Some("desc"),
            not_ready_only: value(&pairs, "show") == Some("not-ready"),
            csv: value(&pairs, "export") == Some("csv"),
            page: value(&pairs, "page")
                .and_then(|p| p.parse().ok())
                .filter(|p| *p >= 1)
                .unwrap_or(1),
        }
    }

    /// Rows of a page: [`MAX_TABLE_ROWS`] on the page, [`EXPORT_ROWS`] in the CSV.
    fn page_rows(&self) -> usize {
        if self.csv {
            EXPORT_ROWS
        } else {
            MAX_TABLE_ROWS
        }
    }

    /// What of the learner table to read.
    fn window(&self) -> LearnerWindow {
        let rows = self.page_rows();
        LearnerWindow {
            order: self.sort,
            descending: self.descending,
            not_ready_only: self.not_ready_only,
            rows: Rows {
                offset: (self.page - 1).saturating_mul(rows),
                limit: rows,
            },
        }
    }

    /// A link to this page with some of the query changed; only a query, so the page's own
    /// path (and its secret) is never written into the HTML. Page 1 is left out.
    fn href(&self, change: impl FnOnce(&mut HostQuery)) -> String {
        let mut to = self.clone();
        change(&mut to);
        let mut query = form_urlencoded::Serializer::new(String::new());
        if to.sort != SortKey::Standing {
            let name = SORT_KEYS
                .iter()
                .find(|(k, _, _)| *k == to.sort)
                .map(|k| k.1);
            query.append_pair("sort", name.unwrap_or("failing"));
        }
        if to.descending {
            query.append_pair("order", "desc");
        }
        if to.not_ready_only {
            query.append_pair("show", "not-ready");
        }
        if to.csv {
            query.append_pair("export", "csv");
        }
        if to.page > 1 {
            query.append_pair("page", &to.page.to_string());
        }
        format!("?{}", query.finish())
    }
}

/// A stored time as the page shows it: to the minute, UTC, in a `<time>` the reader's
/// browser shows in their zone.
fn minute(time: Option<&str>, zone: Option<&str>) -> Moment {
    Moment::of(time).in_zone(zone)
}

/// A column heading that sorts the table.
pub(super) struct SortLink {
    pub label: &'static str,
    pub href: String,
    /// `ascending` or `descending` on the column the table is sorted by.
    pub current: Option<&'static str>,
    /// The same as a sign after the label.
    pub arrow: &'static str,
    pub numeric: bool,
}

/// One check a learner still fails, as a table cell shows it.
pub(super) struct FailingCell {
    pub label: String,
    pub since: Moment,
    pub error: String,
    pub required: bool,
}

pub(super) struct LearnerRow {
    pub who: String,
    pub has_email: bool,
    pub system: String,
    pub python: String,
    pub ready: bool,
    pub failing: Vec<FailingCell>,
    /// Failing checks beyond those shown.
    pub more_failing: usize,
    pub unchecked: Vec<String>,
    /// What they already fixed: the check, when, and how long after it first failed.
    pub fixed: Vec<(String, Moment, String)>,
    pub more_fixed: usize,
    pub attempts: i64,
    pub last_report: Moment,
}

/// One problem on one operating system: what to tell the learners it concerns.
pub(super) struct FixGroup {
    pub label: String,
    pub system: String,
    pub text: String,
    pub url: Option<String>,
    /// What learners on this system who failed the check did, as the script tells a learner
    /// ("38 of 45 learners on Windows fixed this, ..."), where at least 5 failed it there.
    pub others: Option<String>,
    pub required: bool,
    /// The first learners it concerns, and how many it concerns in all.
    pub names: Vec<String>,
    pub learners: i64,
    pub more_learners: i64,
}

/// A row of the day table.
pub(super) struct DayRow {
    pub day: String,
    pub reported: i64,
    pub ready: i64,
    pub share: String,
}

/// Links between the table's pages.
pub(super) struct PageLinks {
    pub page: usize,
    pub pages: usize,
    pub previous: Option<String>,
    pub next: Option<String>,
}

/// `/host/<workshop>/<secret>/`.
#[derive(Template)]
#[template(path = "host.html")]
pub(super) struct HostPage {
    pub layout: Layout,
    pub heading: String,
    pub workshop: String,
    pub requirements: Vec<String>,
    pub learners: i64,
    pub ready: i64,
    pub share: String,
    pub chart: ColumnChart,
    pub days: Vec<DayRow>,
    /// Whose days the chart and its table count: the workshop's zone, else UTC.
    pub day_zone: String,
    /// The workshop has a zone of its own, which its times show in.
    pub own_zone: bool,
    pub sort_links: Vec<SortLink>,
    pub rows: Vec<LearnerRow>,
    pub not_ready_only: bool,
    pub all_href: String,
    pub not_ready_href: String,
    pub not_ready: i64,
    /// Learners the filter shows, on all pages.
    pub shown: i64,
    pub pages: PageLinks,
    pub fixes: Vec<FixGroup>,
    /// Problems beyond those shown.
    pub more_fixes: i64,
    pub csv_href: String,
    pub commands: LearnerCommands,
}

/// What the host's page and its CSV are made of.
pub(super) struct HostReport {
    pub workshop: String,
    pub title: Option<String>,
    pub required: Vec<RequiredCheck>,
    pub standings: Standings,
    /// Per problem of `standings.groups`, what learners on its system did about it.
    pub others: Vec<Option<String>>,
    /// The workshop's IANA time zone (`workshop create --time-zone`); `None`: the reader's.
    pub time_zone: Option<String>,
}

impl HostReport {
    /// Reads the page's data (the query's page of learners) when `secret` opens `workshop`;
    /// `None` for every other case.
    pub(super) async fn load(
        store: &Store,
        workshop: String,
        secret: String,
        server_checks: &Checks,
        query: &HostQuery,
    ) -> Result<Option<HostReport>, crate::storage::StorageError> {
        let rules = HostRules {
            server_checks: server_checks.clone(),
        };
        let view = store
            .host_view(workshop, secret, query.window(), Box::new(rules))
            .await?;
        let Some(view) = view else {
            return Ok(None);
        };
        let others = others(store, &view.standings).await;
        Ok(Some(HostReport {
            workshop: view.workshop.name,
            title: view.workshop.title,
            time_zone: view.workshop.time_zone,
            required: view.required,
            standings: view.standings,
            others,
        }))
    }

    /// How many pages the query's rows fill (at least one).
    fn pages(&self, query: &HostQuery) -> usize {
        let shown = usize::try_from(self.standings.shown).unwrap_or(0);
        shown.div_ceil(query.page_rows()).max(1)
    }

    /// The next page of the CSV, while there is one.
    pub(super) fn next_csv(&self, query: &HostQuery) -> Option<String> {
        (query.page < self.pages(query)).then(|| query.href(|q| q.page += 1))
    }
}

/// What learners on each problem's system who failed its check did, in the script's words
/// (`Advice::line`, with the check's name for people); nothing for a problem of a learner
/// whose system is unknown. The page is shown without it when it cannot be read.
async fn others(store: &Store, standings: &Standings) -> Vec<Option<String>> {
    let unknown = system_label(None);
    let problems: Vec<(String, String)> = standings
        .groups
        .iter()
        .map(|g| (g.label.clone(), g.system.clone()))
        .collect();
    let advice = match store.advice_on(problems).await {
        Ok(advice) => advice,
        Err(e) => {
            log::warn!("advice for the host's page could not be read: {e}");
            return vec![None; standings.groups.len()];
        }
    };
    standings
        .groups
        .iter()
        .zip(advice)
        .map(|(group, advice)| {
            let advice = advice.filter(|_| group.system != unknown)?;
            let human = catalog()
                .check_of_label(&group.label)
                .map_or(group.label.as_str(), |c| c.human.as_str());
            advice.line(human)
        })
        .collect()
}

impl HostPage {
    pub(super) fn new(report: &HostReport, query: &HostQuery, base_url: &str) -> HostPage {
        let standings = &report.standings;
        let heading = report
            .title
            .clone()
            .unwrap_or_else(|| report.workshop.clone());
        // Learners by the end of each day: a state, so a week would show its last day's.
        let by_day: Vec<(i64, Vec<i64>)> = standings
            .days
            .iter()
            .map(|(day, reported, ready)| {
                (timestamp::day_number(Some(day)), vec![*reported, *ready])
            })
            .collect();
        let over_time = Timeline::new(&by_day, 2, Fold::Last);
        let chart = ColumnChart::new(
            "Learners who had reported, and of them ready, at the end of each day",
            &over_time,
            &["reported".into(), "ready".into()],
            "learners",
        );
        let sort_links = SORT_KEYS
            .iter()
            .map(|(key, _, label)| {
                let current = query.sort == *key;
                SortLink {
                    label,
                    href: query.href(|q| {
                        q.sort = *key;
                        q.descending = current && !query.descending;
                        q.page = 1;
                    }),
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
        let pages = report.pages(query);
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
            learners: standings.learners,
            ready: standings.ready,
            share: share(standings.ready, standings.learners),
            chart,
            days: over_time
                .bins
                .iter()
                .rev()
                .map(|bin| DayRow {
                    day: bin.label.clone(),
                    reported: bin.counts[0],
                    ready: bin.counts[1],
                    share: share(bin.counts[1], bin.counts[0]),
                })
                .collect(),
            sort_links,
            rows: standings
                .rows
                .iter()
                .map(|l| row(l, report.time_zone.as_deref()))
                .collect(),
            day_zone: report.time_zone.clone().unwrap_or_else(|| "UTC".into()),
            own_zone: report.time_zone.is_some(),
            not_ready_only: query.not_ready_only,
            all_href: query.href(|q| {
                q.not_ready_only = false;
                q.page = 1;
            }),
            not_ready_href: query.href(|q| {
                q.not_ready_only = true;
                q.page = 1;
            }),
            not_ready: standings.learners - standings.ready,
            shown: standings.shown,
            pages: PageLinks {
                page: query.page,
                pages,
                // From a page past the last, "previous" is the last.
                previous: (query.page > 1)
                    .then(|| query.href(|q| q.page = (q.page - 1).min(pages))),
                next: (query.page < pages).then(|| query.href(|q| q.page += 1)),
            },
            fixes: standings
                .groups
                .iter()
                .zip(&report.others)
                .map(|(g, others)| FixGroup {
                    label: g.label.clone(),
                    system: g.system.clone(),
                    text: g.advice.text.clone(),
                    url: g.advice.url.clone(),
                    others: others.clone(),
                    required: g.required,
                    names: g.names.clone(),
                    learners: g.learners,
                    more_learners: g.learners - g.names.len() as i64,
                })
                .collect(),
            more_fixes: standings.all_groups - standings.groups.len() as i64,
            csv_href: query.href(|q| {
                q.csv = true;
                q.page = 1;
            }),
            commands: LearnerCommands::new(base_url, Some(&report.workshop)),
        }
    }
}

/// Characters of an error text a failing check's tooltip shows.
const TOOLTIP_CHARS: usize = 200;

/// An error text cut to [`TOOLTIP_CHARS`] for a tooltip (texts may be 2,000 characters, and a
/// page shows up to 500 of them).
fn clipped(text: &str) -> String {
    match text.char_indices().nth(TOOLTIP_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// A learner as the table shows them.
fn row(l: &crate::storage::LearnerRow, zone: Option<&str>) -> LearnerRow {
    LearnerRow {
        who: l.who.clone(),
        has_email: l.has_email,
        system: l.system.clone(),
        python: l.python_version.clone().unwrap_or_default(),
        ready: l.ready,
        failing: l
            .failing
            .iter()
            .map(|f| FailingCell {
                label: f.label.clone(),
                since: minute(f.since.as_deref(), zone),
                error: match (f.error.as_deref().map(clipped), &f.version) {
                    (Some(e), Some(v)) => format!("{e} (found {v})"),
                    (Some(e), None) => e,
                    (None, Some(v)) => format!("found {v}"),
                    (None, None) => String::new(),
                },
                required: f.required,
            })
            .collect(),
        more_failing: l.more_failing,
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
                (f.label.clone(), minute(f.fixed_at.as_deref(), zone), after)
            })
            .collect(),
        more_fixed: l.more_fixed,
        attempts: l.attempts,
        last_report: minute(l.last_report.as_deref(), zone),
    }
}

/// A list in one CSV cell: its items joined, and how many more there are when it was cut.
fn cell(items: Vec<String>, more: usize) -> String {
    let mut text = items.join("; ");
    if more > 0 {
        text.push_str(&format!("; … {more} more"));
    }
    text
}

/// A page of the learner table as CSV (cells neutralised as in every export), in the query's
/// order and filter; lists in a cell are cut as on the page, saying how many more there are.
pub(super) fn learners_csv(report: &HostReport) -> Vec<u8> {
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
    for l in &report.standings.rows {
        let failing = l
            .failing
            .iter()
            .map(|f| match f.required {
                true => f.label.clone(),
                false => format!("{} (optional)", f.label),
            })
            .collect();
        let since = l
            .failing
            .iter()
            .map(|f| f.since.clone().unwrap_or_default())
            .collect();
        let fixed = l
            .fixed
            .iter()
            .map(|f| format!("{} ({})", f.label, f.fixed_at.as_deref().unwrap_or("")))
            .collect();
        sheet.row(&[
            &l.who,
            &l.system,
            l.python_version.as_deref().unwrap_or(""),
            if l.ready { "yes" } else { "no" },
            &cell(failing, l.more_failing),
            &cell(since, l.more_failing),
            &l.unchecked.join("; "),
            &cell(fixed, l.more_fixed),
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
    fn the_private_link_carries_the_workshop_as_one_segment() {
        assert_eq!(
            host_url("http://h", "a/b c", "s1"),
            "http://h/host/a%2Fb%20c/s1/"
        );
    }

    #[test]
    fn links_carry_only_a_query() {
        let query = HostQuery::parse(Some("sort=attempts&order=desc&show=not-ready&page=3"));
        assert_eq!(query.sort, SortKey::Attempts);
        assert!(query.descending && query.not_ready_only && !query.csv);
        assert_eq!(query.page, 3);
        assert_eq!(
            query.href(|q| *q = HostQuery::parse(Some("export=csv"))),
            "?export=csv"
        );
        assert_eq!(
            query.href(|q| q.page += 1),
            "?sort=attempts&order=desc&show=not-ready&page=4"
        );
        assert_eq!(HostQuery::parse(Some("page=0")).page, 1);
        assert_eq!(
            HostQuery::parse(Some("sort=nonsense")).sort,
            SortKey::Standing
        );
    }
}
