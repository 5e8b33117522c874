//! `/view/detail/`: where and when one package fails, or two side by side, and what fixed it.

use super::charts::{BarChart, Category, ColumnChart};
use super::pages::{
    share, shown, system_label, workshop_choices, Choice, Counting, Layout, MAX_TABLE_ROWS,
};
use super::query::{detail_href, view_href, DetailQuery, Export};
use super::timeline::{Bin, Fold, Timeline};
use crate::storage::timestamp;
use crate::storage::{Comparison, Fixes, PackageFilter, ValueCount};
use askama::Template;
use std::collections::HashMap;

/// One package being detailed, as its legend shows it.
pub(super) struct PackageKey {
    pub label: String,
    pub failures: i64,
    pub series: usize,
}

/// One breakdown of the detail page: a chart and its table, a column per package.
pub(super) struct Section {
    pub title: String,
    pub chart: BarChart,
    pub rows: Vec<CompareRow>,
    pub more: usize,
}

/// A value of one breakdown, with its count for each package compared.
pub(super) struct CompareRow {
    pub value: String,
    pub counts: Vec<i64>,
}

/// The most frequent error messages of one package.
pub(super) struct ErrorList {
    pub label: String,
    pub rows: Vec<ValueCount>,
}

/// The values of the comparison form, as the visitor sent them.
pub(super) struct CompareForm {
    pub first_name: String,
    pub first_version: String,
    pub second_name: String,
    pub second_version: String,
    pub workshops: Vec<Choice>,
    pub all_attempts: bool,
    /// Suggestions: every name that failed, and the versions of the packages shown.
    pub names: Vec<String>,
    pub versions: Vec<String>,
}

/// `/view/detail/`: where and when one package fails, or two side by side.
#[derive(Template)]
#[template(path = "detail.html")]
pub(super) struct DetailPage {
    pub layout: Layout,
    pub scope_label: String,
    pub notice: Option<String>,
    pub counting: Counting,
    pub form: CompareForm,
    pub packages: Vec<PackageKey>,
    pub failures: i64,
    pub sections: Vec<Section>,
    pub timeline: ColumnChart,
    /// The chart's bins (a day, a week...), which the table lists too.
    pub bin: Bin,
    pub timeline_rows: Vec<CompareRow>,
    pub errors: Vec<ErrorList>,
    /// What fixed each package's check (its name, all versions).
    pub fixes: Vec<FixSummary>,
    /// Some learner failed one of them: the section has something to say.
    pub fixes_shown: bool,
    pub overview_href: String,
    pub json_href: String,
    pub csv_href: String,
}

/// Values and their count in each list, ordered by total count (then value).
fn merge(lists: &[&[ValueCount]]) -> Vec<CompareRow> {
    let mut rows: Vec<CompareRow> = Vec::new();
    let mut row_of: HashMap<&str, usize> = HashMap::new();
    for (i, list) in lists.iter().enumerate() {
        for vc in *list {
            let row = *row_of.entry(vc.value.as_str()).or_insert_with(|| {
                rows.push(CompareRow {
                    value: vc.value.clone(),
                    counts: vec![0; lists.len()],
                });
                rows.len() - 1
            });
            rows[row].counts[i] = vc.count;
        }
    }
    rows.sort_by(|a, b| {
        let total = |r: &CompareRow| r.counts.iter().sum::<i64>();
        total(b).cmp(&total(a)).then_with(|| a.value.cmp(&b.value))
    });
    rows
}

fn categories(rows: &[CompareRow]) -> Vec<Category> {
    rows.iter()
        .map(|r| Category {
            label: r.value.clone(),
            counts: r.counts.clone(),
        })
        .collect()
}

impl DetailPage {
    pub(super) fn new(comparison: &Comparison, query: &DetailQuery) -> Self {
        let all = query.all_attempts.all();
        let workshop = query.workshop.as_deref();
        let details = &comparison.details;
        let labels: Vec<String> = details
            .iter()
            .map(|d| match &d.package.version {
                Some(v) => format!("{} {v}", shown(&d.package.name)),
                None => format!("{} (all versions)", shown(&d.package.name)),
            })
            .collect();
        let section = |title: &str, pick: fn(&crate::storage::PackageDetail) -> &[ValueCount]| {
            let lists: Vec<&[ValueCount]> = details.iter().map(pick).collect();
            let rows = merge(&lists);
            Section {
                title: title.to_owned(),
                chart: BarChart::new(title, &categories(&rows), &labels, "failures"),
                more: rows.len().saturating_sub(MAX_TABLE_ROWS),
                rows: rows.into_iter().take(MAX_TABLE_ROWS).collect(),
            }
        };
        let sections = vec![
            section("By operating system", |d| &d.system),
            section("By distribution and version", |d| {
                &d.distribution_name_version
            }),
            section("By Python version", |d| &d.python_version),
            section("By machine", |d| &d.machine),
            section("By platform", |d| &d.system_platform),
        ];
        // Each package's failures per day, on one time axis.
        let days: Vec<(i64, Vec<i64>)> = details
            .iter()
            .enumerate()
            .flat_map(|(series, d)| {
                d.days.iter().map(move |vc| {
                    let mut counts = vec![0; details.len()];
                    counts[series] = vc.count;
                    (timestamp::day_number(Some(&vc.value)), counts)
                })
            })
            .filter(|(day, _)| *day != timestamp::UNKNOWN_DAY)
            .collect();
        let over_time = Timeline::new(&days, details.len(), Fold::Sum);
        let timeline = ColumnChart::new(
            &format!("Failures {}", over_time.bin.per()),
            &over_time,
            &labels,
            "failures",
        );
        let timeline_rows = over_time
            .bins
            .iter()
            .map(|b| CompareRow {
                value: b.label.clone(),
                counts: b.counts.clone(),
            })
            .collect();
        let scope_label = match workshop {
            Some(w) => format!("workshop {}", shown(w)),
            None => "all workshops".into(),
        };
        let value = |p: Option<&PackageFilter>, f: fn(&PackageFilter) -> Option<&str>| {
            p.and_then(f).unwrap_or("").to_owned()
        };
        let packages = query.packages();
        let package_refs: Vec<&PackageFilter> = packages.iter().collect();
        DetailPage {
            layout: Layout::new(labels.join(" vs "), "statistics"),
            notice: query.same_twice.then(|| {
                format!(
                    "You asked to compare {} with itself, so it is shown once. \
                     Choose a different package or version to compare.",
                    labels[0]
                )
            }),
            counting: Counting {
                all_attempts: all,
                switch_href: detail_href(&package_refs, workshop, !all, Export::Html),
            },
            form: CompareForm {
                first_name: value(query.first.as_ref(), |p| Some(p.name.as_str())),
                first_version: value(query.first.as_ref(), |p| p.version.as_deref()),
                second_name: value(query.second.as_ref(), |p| Some(p.name.as_str())),
                second_version: value(query.second.as_ref(), |p| p.version.as_deref()),
                workshops: workshop_choices(&comparison.workshops, workshop),
                all_attempts: all,
                names: comparison.names.clone(),
                versions: comparison.versions.clone(),
            },
            packages: details
                .iter()
                .zip(&labels)
                .enumerate()
                .map(|(series, (d, label))| PackageKey {
                    label: label.clone(),
                    failures: d.failures,
                    series,
                })
                .collect(),
            failures: details.iter().map(|d| d.failures).sum(),
            sections,
            timeline,
            bin: over_time.bin,
            timeline_rows,
            errors: details
                .iter()
                .zip(&labels)
                .map(|(d, label)| ErrorList {
                    label: label.clone(),
                    rows: d.error_descriptions.iter().take(10).cloned().collect(),
                })
                .collect(),
            fixes: details
                .iter()
                .map(|d| FixSummary::new(&shown(&d.package.name), &d.fixes))
                .collect(),
            fixes_shown: details.iter().any(|d| d.fixes.failed_learners > 0),
            overview_href: view_href(workshop, all, Export::Html),
            json_href: detail_href(&package_refs, workshop, all, Export::Json),
            csv_href: detail_href(&package_refs, workshop, all, Export::Csv),
            scope_label,
        }
    }
}

/// A number of seconds as people say it: `45 s`, `12 min`, `3 h 20 min`, `2 d 4 h`.
pub(super) fn duration(seconds: i64) -> String {
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

pub(super) fn maybe_duration(seconds: Option<i64>) -> String {
    seconds.map_or_else(|| "–".to_owned(), duration)
}

/// One operating system's line in a check's fixes.
pub(super) struct FixSystemRow {
    pub system: String,
    pub failed: i64,
    pub fixed: i64,
    pub stuck: i64,
    pub fixed_share: String,
}

/// The fixes section of one package on the detail page (its numbers defined with "What gets
/// fixed", in `fixes.rs`, which imports this file).
pub(super) struct FixSummary {
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
    pub systems: Vec<FixSystemRow>,
}

impl FixSummary {
    pub(super) fn new(label: &str, fixes: &Fixes) -> FixSummary {
        let systems: Vec<FixSystemRow> = fixes
            .by_system
            .iter()
            .map(|s| FixSystemRow {
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
