//! The HTML pages: askama templates under `templates/` (which escape every value they print)
//! and the view models built for them from what storage returns.

use super::assets;
use super::charts::{BarChart, Category, ColumnChart};
use super::commands::LearnerCommands;
use super::query::{
    detail_href, landing_href, script_url, view_href, DetailQuery, Export, ViewQuery,
};
use super::timeline::{Bin, Fold, Timeline};
use crate::report::{WorkshopId, WorkshopIdError};
use crate::storage::timestamp;
use crate::storage::{
    Comparison, DatedWorkshop, Fixes, Overview, PackageFilter, ValueCount, WorkshopDay,
    WorkshopSummary,
};
use askama::Template;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use std::collections::HashMap;

/// Rows a table shows at most (and one more is read, to say there are more); the exports
/// have them all, a page of 1,000 at a time.
pub(super) const MAX_TABLE_ROWS: usize = 50;
/// Package names (columns) and systems (rows) the heat map shows at most.
pub(super) const HEAT_COLUMNS: usize = 8;
const HEAT_ROWS: usize = 8;
/// Shades of the heat map, zero excluded.
const HEAT_LEVELS: i64 = 5;

/// What the frame around every page needs.
pub(super) struct Layout {
    pub title: String,
    /// The navigation link to mark as current: "home" or "statistics".
    pub section: &'static str,
    pub stylesheet: String,
    pub script: String,
    /// Shows the page's times in the reader's time zone.
    pub local_time: String,
    pub icon: String,
}

impl Layout {
    pub(super) fn new(title: String, section: &'static str) -> Layout {
        Layout {
            title,
            section,
            stylesheet: assets::href("dashboard.css"),
            script: assets::href("live.js"),
            local_time: assets::href("local-time.js"),
            icon: assets::href("icon.svg"),
        }
    }
}

/// One workshop's line: learners, and how many of them pass.
pub(super) struct SummaryRow {
    pub label: String,
    /// `None` for learners who named no workshop: no page shows them alone.
    pub href: Option<String>,
    pub learners: i64,
    pub passing: i64,
    pub share: String,
    /// "upcoming" or "today" for a workshop whose id names a day not yet past (the home
    /// page's list only).
    pub when: Option<&'static str>,
}

impl SummaryRow {
    fn new(summary: &WorkshopSummary, all_attempts: bool) -> SummaryRow {
        SummaryRow {
            label: summary
                .workshop
                .as_deref()
                .map_or_else(|| "(no workshop named)".into(), shown),
            href: summary
                .workshop
                .as_deref()
                .map(|w| view_href(Some(w), all_attempts, Export::Html)),
            learners: summary.learners,
            passing: summary.passing,
            share: share(summary.passing, summary.learners),
            when: None,
        }
    }

    /// A row of the home page's list, marked when its day is `today` or still to come.
    fn dated(workshop: &DatedWorkshop, today: Date) -> SummaryRow {
        let when = match workshop.day {
            Some(WorkshopDay::Dated(day)) if day > today => Some("upcoming"),
            Some(WorkshopDay::Dated(day)) if day == today => Some("today"),
            _ => None,
        };
        SummaryRow {
            when,
            ..SummaryRow::new(&workshop.summary, false)
        }
    }
}

/// A whole percentage, rounded half up; a dash when there is nothing to divide.
pub(super) fn share(part: i64, whole: i64) -> String {
    match whole {
        0 => "–".into(),
        _ => format!("{}%", (part * 100 + whole / 2) / whole),
    }
}

/// An option of a `<select>`.
pub(super) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A stored name as a page shows it: a blank one (from a database older than the check that
/// refuses them) as a visible label, so its row and link can be seen and followed.
pub(super) fn shown(value: &str) -> String {
    if value.trim().is_empty() {
        "(blank)".into()
    } else {
        value.to_owned()
    }
}

/// The selector's options: every workshop (the empty value, which no workshop can take: an
/// empty-named one from an old database is reached from the table of workshops instead),
/// then each workshop by name.
pub(super) fn workshop_choices(workshops: &[String], current: Option<&str>) -> Vec<Choice> {
    std::iter::once(Choice {
        value: String::new(),
        label: "All workshops".into(),
        selected: current.is_none(),
    })
    .chain(workshops.iter().filter(|w| !w.is_empty()).map(|w| Choice {
        value: w.clone(),
        label: shown(w),
        selected: current == Some(w.as_str()),
    }))
    .collect()
}

/// What is counted, and the link that counts the other way.
pub(super) struct Counting {
    pub all_attempts: bool,
    pub switch_href: String,
}

/// `/`: what this server is, and the one line a learner runs to report to it.
#[derive(Template)]
#[template(path = "landing.html")]
pub(super) struct LandingPage {
    pub layout: Layout,
    pub workshop: Option<String>,
    /// Why the workshop id asked for is none (then no command is shown: its reports would be
    /// counted under another name).
    pub invalid: Option<String>,
    pub script_url: String,
    /// The same script as a link on this page: a path, so the page links nowhere else.
    pub script_path: String,
    pub unix_command: String,
    pub windows_command: String,
    pub learners: i64,
    pub summaries: Vec<SummaryRow>,
}

impl LandingPage {
    pub(super) fn new(
        base: &str,
        workshop: Result<&Option<WorkshopId>, &WorkshopIdError>,
        workshops: &[DatedWorkshop],
        learners: i64,
    ) -> Self {
        // Days as the server's clock reads them in UTC: a day ahead or behind a host's own
        // morning at most.
        let today = TimeZone::UTC.to_datetime(jiff::Timestamp::now()).date();
        let (workshop, invalid) = match workshop {
            Ok(id) => (id.as_ref().map(WorkshopId::to_string), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let commands = LearnerCommands::new(base, workshop.as_deref());
        LandingPage {
            layout: Layout::new("Installation results".into(), "home"),
            unix_command: commands.unix,
            windows_command: commands.windows,
            script_url: commands.script_url,
            script_path: script_url("", workshop.as_deref()),
            workshop,
            invalid,
            learners,
            summaries: workshops
                .iter()
                .take(MAX_TABLE_ROWS)
                .map(|w| SummaryRow::dated(w, today))
                .collect(),
        }
    }
}

/// A row of the most-failed-packages table, linking to the package's detail.
pub(super) struct NameRow {
    pub name: String,
    pub count: i64,
    pub href: String,
}

/// A row of the most-failed-versions table.
pub(super) struct VersionRow {
    pub name: String,
    /// `None` (shown as "none") when the script could not tell the version.
    pub version: Option<String>,
    pub count: i64,
    pub href: String,
}

/// A row of the learners-per-system table; a system nobody could tell reads "Unknown".
pub(super) struct SystemRow {
    pub system: String,
    pub learners: i64,
}

/// A package across the top of the heat map.
pub(super) struct HeatColumn {
    pub name: String,
    pub href: String,
}

/// An operating system down the side of the heat map, with its cell for each package.
pub(super) struct HeatRow {
    pub system: String,
    pub cells: Vec<HeatCell>,
}

pub(super) struct HeatCell {
    pub count: i64,
    /// 0 (none) to [`HEAT_LEVELS`]: the shade.
    pub level: i64,
    pub tooltip: String,
}

/// `/view/` and `/view/<workshop>/`: what fails most, on which systems, for whom.
#[derive(Template)]
#[template(path = "overview.html")]
pub(super) struct OverviewPage {
    pub layout: Layout,
    pub heading: String,
    pub workshop: Option<String>,
    pub counting: Counting,
    pub workshops: Vec<Choice>,
    pub summaries: Vec<SummaryRow>,
    pub learners: i64,
    /// Learners, and the share whose latest attempt passed everything.
    pub summary_line: String,
    /// The landing page, with the commands for this workshop.
    pub report_href: String,
    pub names_chart: BarChart,
    pub names: Vec<NameRow>,
    pub names_more: usize,
    pub versions_chart: BarChart,
    pub versions: Vec<VersionRow>,
    pub versions_more: usize,
    pub systems_chart: BarChart,
    pub systems: Vec<SystemRow>,
    pub heat_columns: Vec<HeatColumn>,
    pub heat_rows: Vec<HeatRow>,
    pub json_href: String,
    pub csv_href: String,
    pub all_workshops_href: String,
}

/// A system the script could not tell reads "Unknown" rather than a blank.
pub(super) fn system_label(system: Option<&str>) -> String {
    match system {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => "Unknown".into(),
    }
}

fn version_label(name: &str, version: Option<&str>) -> String {
    let name = shown(name);
    match version {
        Some(v) if !v.is_empty() => format!("{name} {v}"),
        _ => format!("{name} (no version)"),
    }
}

impl OverviewPage {
    pub(super) fn new(overview: &Overview, workshop: Option<&str>, query: &ViewQuery) -> Self {
        let all = query.all_attempts.all();
        let unit = "failures";
        let detail = |name: &str, version: Option<&str>| {
            let package = PackageFilter {
                name: name.to_owned(),
                version: version.map(str::to_owned),
            };
            detail_href(&[&package], workshop, all, Export::Html)
        };
        let names_chart = BarChart::new(
            "Most failed packages, all versions together",
            &overview
                .failed_names
                .iter()
                .map(|f| Category {
                    label: shown(&f.name),
                    counts: vec![f.count],
                })
                .collect::<Vec<_>>(),
            &[],
            unit,
        );
        let versions_chart = BarChart::new(
            "Most failed package versions",
            &overview
                .failed_versions
                .iter()
                .map(|f| Category {
                    label: version_label(&f.name, f.version.as_deref()),
                    counts: vec![f.count],
                })
                .collect::<Vec<_>>(),
            &[],
            unit,
        );
        let systems_chart = BarChart::new(
            "Learners per operating system",
            &overview
                .learners_by_system
                .iter()
                .map(|s| Category {
                    label: system_label(s.system.as_deref()),
                    counts: vec![s.learners],
                })
                .collect::<Vec<_>>(),
            &[],
            "learners",
        );
        let (heat_columns, heat_rows) = heat_map(overview, &detail);
        let (learners, passing) = (overview.learners, overview.passing);
        OverviewPage {
            layout: Layout::new(
                workshop.map_or("All workshops".into(), |w| format!("Workshop {}", shown(w))),
                "statistics",
            ),
            heading: workshop.map_or("All workshops".into(), shown),
            workshop: workshop.map(str::to_owned),
            counting: Counting {
                all_attempts: all,
                switch_href: view_href(workshop, !all, Export::Html),
            },
            workshops: workshop_choices(&overview.workshops, workshop),
            summaries: overview
                .summaries
                .iter()
                .take(MAX_TABLE_ROWS)
                .map(|s| SummaryRow::new(s, all))
                .collect(),
            learners,
            summary_line: format!(
                "{learners} learner{}; {passing} ({}) passed everything in their latest attempt.",
                if learners == 1 { "" } else { "s" },
                share(passing, learners)
            ),
            report_href: landing_href(workshop),
            names_chart,
            names: overview
                .failed_names
                .iter()
                .take(MAX_TABLE_ROWS)
                .map(|f| NameRow {
                    name: shown(&f.name),
                    count: f.count,
                    href: detail(&f.name, None),
                })
                .collect(),
            names_more: overview.failed_names.len().saturating_sub(MAX_TABLE_ROWS),
            versions_chart,
            versions: overview
                .failed_versions
                .iter()
                .take(MAX_TABLE_ROWS)
                .map(|f| VersionRow {
                    name: shown(&f.name),
                    version: f.version.clone().filter(|v| !v.is_empty()),
                    count: f.count,
                    href: detail(&f.name, f.version.as_deref().filter(|v| !v.is_empty())),
                })
                .collect(),
            versions_more: overview
                .failed_versions
                .len()
                .saturating_sub(MAX_TABLE_ROWS),
            systems_chart,
            systems: overview
                .learners_by_system
                .iter()
                .take(MAX_TABLE_ROWS)
                .map(|s| SystemRow {
                    system: system_label(s.system.as_deref()),
                    learners: s.learners,
                })
                .collect(),
            heat_columns,
            heat_rows,
            json_href: view_href(workshop, all, Export::Json),
            csv_href: view_href(workshop, all, Export::Csv),
            all_workshops_href: view_href(None, all, Export::Html),
        }
    }
}

/// The operating system × package table: the most failed names across, the systems with
/// most failures down, each cell shaded by its share of the largest.
fn heat_map(
    overview: &Overview,
    detail: &dyn Fn(&str, Option<&str>) -> String,
) -> (Vec<HeatColumn>, Vec<HeatRow>) {
    let names: Vec<&str> = overview
        .failed_names
        .iter()
        .take(HEAT_COLUMNS)
        .map(|f| f.name.as_str())
        .collect();
    let mut cells: HashMap<(Option<&str>, &str), i64> = HashMap::new();
    let mut totals: HashMap<Option<&str>, i64> = HashMap::new();
    for cell in &overview.failures_by_system {
        let system = cell.system.as_deref();
        cells.insert((system, cell.name.as_str()), cell.count);
        *totals.entry(system).or_default() += cell.count;
    }
    // The systems with most failures first.
    let mut systems: Vec<(Option<&str>, i64)> = totals.into_iter().collect();
    systems.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    systems.truncate(HEAT_ROWS);
    let count = |system: Option<&str>, name: &str| cells.get(&(system, name)).copied().unwrap_or(0);
    let max = systems
        .iter()
        .flat_map(|(s, _)| names.iter().map(move |n| (s, n)))
        .map(|(s, n)| count(*s, n))
        .max()
        .unwrap_or(0)
        .max(1);
    let columns = names
        .iter()
        .map(|n| HeatColumn {
            name: shown(n),
            href: detail(n, None),
        })
        .collect();
    let rows = systems
        .iter()
        .map(|(system, _)| {
            let label = system_label(*system);
            HeatRow {
                cells: names
                    .iter()
                    .map(|name| {
                        let n = count(*system, name);
                        HeatCell {
                            count: n,
                            level: if n == 0 {
                                0
                            } else {
                                (n * HEAT_LEVELS + max - 1) / max
                            },
                            tooltip: format!("{name} on {label}: {n} failures"),
                        }
                    })
                    .collect(),
                system: label,
            }
        })
        .collect();
    (columns, rows)
}

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
