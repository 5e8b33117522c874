//! "What fixed it", shown: the `/fixes/` page (every check many learners failed, most stuck
//! first), as view models for `templates/`. The fixes section of the package detail is the
//! detail page's (`detail.rs`), so that imports go one way: this file takes from it.

use super::charts::{BarChart, Category};
use super::detail::maybe_duration;
use super::pages::{share, shown, system_label, workshop_choices, Choice, Layout, MAX_TABLE_ROWS};
use super::query::{detail_href, fixes_href, Export, FixesQuery};
use crate::storage::{CheckFixes, FixOverview, PackageFilter};
use askama::Template;

/// The definitions, written where the numbers are shown (and in docs/api.md).
pub(super) const DEFINITIONS: [(&str, &str); 5] = [
    (
        "failed",
        "a learner failed a check if any of their attempts lists it as failed",
    ),
    (
        "fixed",
        "they fixed it if a later attempt of theirs lists it as passed",
    ),
    (
        "time to fix",
        "from the first failing attempt to the first later passing one",
    ),
    ("fixed with", "the version in that passing attempt"),
    ("stuck", "a learner whose latest attempt still fails it"),
];

/// A row of "What gets fixed".
pub(super) struct FixRow {
    pub name: String,
    pub href: String,
    pub failed: i64,
    pub fixed: i64,
    pub stuck: i64,
    pub fixed_share: String,
    pub stuck_share: String,
    pub median: String,
    /// "Windows (8 of 12 stuck)", or a dash when no system has enough learners to tell.
    pub worst: String,
}

impl FixRow {
    fn new(check: &CheckFixes, workshop: Option<&str>) -> FixRow {
        let package = PackageFilter {
            name: check.name.clone(),
            version: None,
        };
        FixRow {
            name: shown(&check.name),
            href: detail_href(&[&package], workshop, false, Export::Html),
            failed: check.failed_learners,
            fixed: check.fixed_learners,
            stuck: check.stuck_learners,
            fixed_share: share(check.fixed_learners, check.failed_learners),
            stuck_share: share(check.stuck_learners, check.failed_learners),
            median: maybe_duration(check.median_seconds_to_fix),
            worst: match &check.worst_system {
                Some(s) => format!(
                    "{} ({} of {} stuck)",
                    system_label(s.system.as_deref()),
                    s.stuck,
                    s.failed
                ),
                None => "–".to_owned(),
            },
        }
    }
}

/// `/fixes/`: the checks learners cannot fix alone, and where.
#[derive(Template)]
#[template(path = "fixes.html")]
pub(super) struct FixesPage {
    pub layout: Layout,
    pub heading: String,
    pub workshop: Option<String>,
    pub workshops: Vec<Choice>,
    pub min_learners: i64,
    pub definitions: [(&'static str, &'static str); 5],
    pub chart: BarChart,
    pub rows: Vec<FixRow>,
    /// More checks than the table shows: the exports have them.
    pub more: bool,
    pub json_href: String,
    pub csv_href: String,
}

impl FixesPage {
    pub(super) fn new(overview: &FixOverview, query: &FixesQuery) -> FixesPage {
        let workshop = query.workshop.as_deref();
        let rows: Vec<FixRow> = overview
            .checks
            .iter()
            .take(MAX_TABLE_ROWS)
            .map(|c| FixRow::new(c, workshop))
            .collect();
        let more = overview.checks.len() > MAX_TABLE_ROWS;
        let chart = BarChart::new(
            "Share of the learners who failed each check still stuck with it",
            &overview
                .checks
                .iter()
                .map(|c| Category {
                    label: shown(&c.name),
                    counts: vec![percent(c.stuck_learners, c.failed_learners)],
                })
                .collect::<Vec<_>>(),
            &[],
            "% still stuck",
        );
        FixesPage {
            layout: Layout::new("What gets fixed".into(), "fixes"),
            heading: match workshop {
                Some(w) => format!("What gets fixed in workshop {}", shown(w)),
                None => "What gets fixed".into(),
            },
            workshop: workshop.map(str::to_owned),
            workshops: workshop_choices(&overview.workshops, workshop),
            min_learners: query.min_learners,
            definitions: DEFINITIONS,
            chart,
            rows,
            more,
            json_href: fixes_href(workshop, query.min_learners, Export::Json),
            csv_href: fixes_href(workshop, query.min_learners, Export::Csv),
        }
    }
}

/// A whole percentage, rounded half up.
fn percent(part: i64, whole: i64) -> i64 {
    if whole == 0 {
        0
    } else {
        (part * 100 + whole / 2) / whole
    }
}

#[cfg(test)]
mod tests {
    // The durations this page shows (written in pages.rs, which the detail page shares).
    use super::super::detail::duration;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(720), "12 min");
        assert_eq!(duration(3 * 3600), "3 h");
        assert_eq!(duration(3 * 3600 + 20 * 60), "3 h 20 min");
        assert_eq!(duration(2 * 86_400 + 4 * 3600 + 59), "2 d 4 h");
        assert_eq!(duration(-5), "0 s");
    }
}
