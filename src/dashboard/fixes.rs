//! "What fixed it", shown: the `/fixes/` page (every check many learners failed, most stuck
//! first) and the fixes section of the package detail, as view models for `templates/`.

use super::charts::{BarChart, Category};
use super::pages::{share, shown, system_label, workshop_choices, Choice, Layout, MAX_TABLE_ROWS};
use super::query::{detail_href, fixes_href, Export, FixesQuery};
use crate::storage::{CheckFixes, FixOverview, Fixes, PackageFilter};
use askama::Template;

/// The definitions, written where the numbers are shown (and in docs/api.md).
pub const DEFINITIONS: [(&str, &str); 5] = [
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

/// A number of seconds as people say it: `45 s`, `12 min`, `3 h 20 min`, `2 d 4 h`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => match s / 60 % 60 {
            0 => format!("{} h", s / 3600),
            m => format!("{} h {m} min", s / 3600),
        },
        _ => match s / 3600 % 24 {
            0 => format!("{} d", s / 86_400),
            h => format!("{} d {h} h", s / 86_400),
        },
    }
}

fn maybe_duration(seconds: Option<i64>) -> String {
    seconds.map_or_else(|| "–".to_owned(), duration)
}

/// One operating system's line in a check's fixes.
pub struct SystemRow {
    pub system: String,
    pub failed: i64,
    pub fixed: i64,
    pub stuck: i64,
    pub fixed_share: String,
}

/// The fixes section of one package on the detail page.
pub struct FixSummary {
    pub label: String,
    pub failed: i64,
    pub fixed: i64,
    pub stuck: i64,
    pub fixed_share: String,
    pub stuck_share: String,
    pub median: String,
    pub p90: String,
    /// `(version, learners)`; an unknown version reads "version not reported".
    pub fixed_with: Vec<(String, i64)>,
    pub chart: BarChart,
    pub systems: Vec<SystemRow>,
}

impl FixSummary {
    pub fn new(label: &str, fixes: &Fixes) -> FixSummary {
        let systems: Vec<SystemRow> = fixes
            .by_system
            .iter()
            .map(|s| SystemRow {
                system: system_label(s.system.as_deref()),
                failed: s.failed,
                fixed: s.fixed,
                stuck: s.stuck,
                fixed_share: share(s.fixed, s.failed),
            })
            .collect();
        let chart = BarChart::new(
            &format!("{label}: learners who failed and who fixed it, per operating system"),
            &systems
                .iter()
                .map(|s| Category {
                    label: s.system.clone(),
                    counts: vec![s.failed, s.fixed],
                })
                .collect::<Vec<_>>(),
            &["failed".to_owned(), "fixed".to_owned()],
            "learners",
        );
        FixSummary {
            label: label.to_owned(),
            failed: fixes.failed_learners,
            fixed: fixes.fixed_learners,
            stuck: fixes.stuck_learners,
            fixed_share: share(fixes.fixed_learners, fixes.failed_learners),
            stuck_share: share(fixes.stuck_learners, fixes.failed_learners),
            median: maybe_duration(fixes.median_seconds_to_fix),
            p90: maybe_duration(fixes.p90_seconds_to_fix),
            fixed_with: fixes
                .fixed_with
                .iter()
                .map(|(version, n)| {
                    let label = match version {
                        Some(v) if !v.is_empty() => v.clone(),
                        _ => "version not reported".to_owned(),
                    };
                    (label, *n)
                })
                .collect(),
            chart,
            systems,
        }
    }
}

/// A row of "What gets fixed".
pub struct FixRow {
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
pub struct FixesPage {
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
    pub fn new(overview: &FixOverview, query: &FixesQuery) -> FixesPage {
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
    use super::*;

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
