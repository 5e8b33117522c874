//! The HTML pages: askama templates under `templates/` (which escape every value they print)
//! and the view models built for them from what storage returns.

use super::assets;
use super::charts::{BarChart, Category};
use super::commands::LearnerCommands;
use super::query::{detail_href, landing_href, script_url, view_href, Export, ViewQuery};
use crate::report::{WorkshopId, WorkshopIdError};
use crate::storage::{DatedWorkshop, Overview, PackageFilter, WorkshopDay, WorkshopSummary};
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
