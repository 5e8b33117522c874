//! Exports: the original server's JSON shapes, and the same tables as CSV that is safe to
//! open in a spreadsheet.

use super::query::{AttemptsParam, ALL_WORKSHOPS};
use crate::storage::{FixOverview, Fixes, Overview, PackageDetail, ValueCount};
use serde::Serialize;

/// `/view/?export=json`: the original's shape, key for key.
#[derive(Serialize)]
pub(super) struct OverviewJson<'a> {
    most_failed_packages: Vec<VersionJson<'a>>,
    most_failed_package_names: Vec<NameJson<'a>>,
    /// `[system, learners]` pairs; a system the script could not tell is null.
    os_users: Vec<(Option<&'a str>, i64)>,
    workshops: &'a [String],
    workshop_id: &'a str,
    all_workshops: bool,
    all_attempts: Option<u8>,
    /// Added to the original's shape, only when some list goes on: its next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page: Option<&'a str>,
}

#[derive(Serialize)]
struct VersionJson<'a> {
    name: &'a str,
    version: Option<&'a str>,
    count: i64,
}

#[derive(Serialize)]
struct NameJson<'a> {
    name: &'a str,
    count: i64,
}

impl<'a> OverviewJson<'a> {
    pub(super) fn new(
        overview: &'a Overview,
        workshop: Option<&'a str>,
        all_attempts: AttemptsParam,
        next_page: Option<&'a str>,
    ) -> Self {
        OverviewJson {
            next_page,
            most_failed_packages: overview
                .failed_versions
                .iter()
                .map(|f| VersionJson {
                    name: &f.name,
                    version: f.version.as_deref(),
                    count: f.count,
                })
                .collect(),
            most_failed_package_names: overview
                .failed_names
                .iter()
                .map(|f| NameJson {
                    name: &f.name,
                    count: f.count,
                })
                .collect(),
            os_users: overview
                .learners_by_system
                .iter()
                .map(|s| (s.system.as_deref(), s.learners))
                .collect(),
            workshops: &overview.workshops,
            workshop_id: workshop.unwrap_or(ALL_WORKSHOPS),
            all_workshops: workshop.is_none(),
            all_attempts: all_attempts.0,
        }
    }
}

/// `/view/detail/?export=json`: one entry per package detailed.
#[derive(Serialize)]
pub(super) struct DetailJson<'a> {
    package_details: Vec<PackageJson<'a>>,
    /// Added to the original's shape, only when some list goes on: its next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page: Option<&'a str>,
}

#[derive(Serialize)]
struct PackageJson<'a> {
    package_name: &'a str,
    /// "" for every version, as the original said.
    package_version: &'a str,
    user_system_info: SystemJson<'a>,
    create_time: Pairs<'a>,
    /// As asked: null for all workshops.
    workshop_id: Option<&'a str>,
    all_attempts: Option<u8>,
    /// Added to the original's shape: what fixed the package's check.
    fixes: FixesJsonPart<'a>,
}

/// What fixed a check, as the exports write it.
#[derive(Serialize)]
struct FixesJsonPart<'a> {
    failed_learners: i64,
    fixed_learners: i64,
    stuck_learners: i64,
    median_seconds_to_fix: Option<i64>,
    p90_seconds_to_fix: Option<i64>,
    /// `[[version, learners], ...]`, most first; a version the script could not tell is null.
    fixed_with: Vec<(Option<&'a str>, i64)>,
    /// `[[system, failed, fixed], ...]`, most failed first.
    by_system: Vec<(Option<&'a str>, i64, i64)>,
}

impl<'a> FixesJsonPart<'a> {
    fn new(fixes: &'a Fixes) -> Self {
        FixesJsonPart {
            failed_learners: fixes.failed_learners,
            fixed_learners: fixes.fixed_learners,
            stuck_learners: fixes.stuck_learners,
            median_seconds_to_fix: fixes.median_seconds_to_fix,
            p90_seconds_to_fix: fixes.p90_seconds_to_fix,
            fixed_with: fixes
                .fixed_with
                .iter()
                .map(|(v, n)| (v.as_deref(), *n))
                .collect(),
            by_system: fixes
                .by_system
                .iter()
                .map(|s| (s.system.as_deref(), s.failed, s.fixed))
                .collect(),
        }
    }
}

/// `/fixes/?export=json`: every check at least `min_learners` learners failed.
#[derive(Serialize)]
pub(super) struct FixesJson<'a> {
    /// As asked: null for all workshops.
    workshop_id: Option<&'a str>,
    min_learners: i64,
    checks: Vec<CheckJson<'a>>,
    /// Only when the list goes on: its next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page: Option<&'a str>,
}

#[derive(Serialize)]
struct CheckJson<'a> {
    name: &'a str,
    failed_learners: i64,
    fixed_learners: i64,
    stuck_learners: i64,
    median_seconds_to_fix: Option<i64>,
    /// `{"system", "failed", "stuck"}` where the share stuck is largest, or null.
    worst_system: Option<WorstJson<'a>>,
}

#[derive(Serialize)]
struct WorstJson<'a> {
    system: Option<&'a str>,
    failed: i64,
    stuck: i64,
}

impl<'a> FixesJson<'a> {
    pub(super) fn new(
        overview: &'a FixOverview,
        workshop: Option<&'a str>,
        min_learners: i64,
        next_page: Option<&'a str>,
    ) -> Self {
        FixesJson {
            next_page,
            workshop_id: workshop,
            min_learners,
            checks: overview
                .checks
                .iter()
                .map(|c| CheckJson {
                    name: &c.name,
                    failed_learners: c.failed_learners,
                    fixed_learners: c.fixed_learners,
                    stuck_learners: c.stuck_learners,
                    median_seconds_to_fix: c.median_seconds_to_fix,
                    worst_system: c.worst_system.as_ref().map(|s| WorstJson {
                        system: s.system.as_deref(),
                        failed: s.failed,
                        stuck: s.stuck,
                    }),
                })
                .collect(),
        }
    }
}

/// `[[value, count], ...]`, largest count first.
type Pairs<'a> = Vec<(&'a str, i64)>;

#[derive(Serialize)]
struct SystemJson<'a> {
    distribution_name: Pairs<'a>,
    distribution_version: Pairs<'a>,
    distribution_name_version: Pairs<'a>,
    system: Pairs<'a>,
    system_version: Pairs<'a>,
    system_platform: Pairs<'a>,
    machine: Pairs<'a>,
    python_version: Pairs<'a>,
}

fn pairs(counts: &[ValueCount]) -> Pairs<'_> {
    counts.iter().map(|c| (c.value.as_str(), c.count)).collect()
}

impl<'a> DetailJson<'a> {
    pub(super) fn new(
        details: &'a [PackageDetail],
        workshop: Option<&'a str>,
        all_attempts: AttemptsParam,
        next_page: Option<&'a str>,
    ) -> Self {
        DetailJson {
            next_page,
            package_details: details
                .iter()
                .map(|d| PackageJson {
                    package_name: &d.package.name,
                    package_version: d.package.version.as_deref().unwrap_or(""),
                    user_system_info: SystemJson {
                        distribution_name: pairs(&d.distribution_name),
                        distribution_version: pairs(&d.distribution_version),
                        distribution_name_version: pairs(&d.distribution_name_version),
                        system: pairs(&d.system),
                        system_version: pairs(&d.system_version),
                        system_platform: pairs(&d.system_platform),
                        machine: pairs(&d.machine),
                        python_version: pairs(&d.python_version),
                    },
                    create_time: pairs(&d.days),
                    workshop_id: workshop,
                    all_attempts: all_attempts.0,
                    fixes: FixesJsonPart::new(&d.fixes),
                })
                .collect(),
        }
    }
}

/// Spreadsheets run a cell that starts with one of these as a formula (or, for tab and
/// carriage return, shift it into one); a leading quote makes it plain text.
fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Writes rows of text cells as CSV, each cell neutralised.
pub(super) struct Sheet {
    writer: csv::Writer<Vec<u8>>,
}

impl Sheet {
    pub(super) fn new(header: &[&str]) -> Sheet {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer
            .write_record(header)
            .expect("writing to memory cannot fail");
        Sheet { writer }
    }

    pub(super) fn row(&mut self, cells: &[&str]) {
        self.writer
            .write_record(cells.iter().map(|c| neutralise(c).into_owned()))
            .expect("writing to memory cannot fail");
    }

    pub(super) fn finish(self) -> Vec<u8> {
        self.writer
            .into_inner()
            .expect("writing to memory cannot fail")
    }
}

/// The overview's three tables in one sheet: `table` says which table a row belongs to.
pub(super) fn overview_csv(overview: &Overview) -> Vec<u8> {
    let mut sheet = Sheet::new(&["table", "name", "version", "count"]);
    for f in &overview.failed_versions {
        let count = f.count.to_string();
        let version = f.version.as_deref().unwrap_or("");
        sheet.row(&["most_failed_packages", &f.name, version, &count]);
    }
    for f in &overview.failed_names {
        sheet.row(&[
            "most_failed_package_names",
            &f.name,
            "",
            &f.count.to_string(),
        ]);
    }
    for s in &overview.learners_by_system {
        let system = s.system.as_deref().unwrap_or("");
        sheet.row(&["os_users", system, "", &s.learners.to_string()]);
    }
    sheet.finish()
}

/// Every breakdown of every package in one sheet, one row per value.
pub(super) fn detail_csv(details: &[PackageDetail]) -> Vec<u8> {
    let mut sheet = Sheet::new(&["package_name", "package_version", "field", "value", "count"]);
    for d in details {
        let fields: [(&str, &[ValueCount]); 10] = [
            ("distribution_name", &d.distribution_name),
            ("distribution_version", &d.distribution_version),
            ("distribution_name_version", &d.distribution_name_version),
            ("system", &d.system),
            ("system_version", &d.system_version),
            ("system_platform", &d.system_platform),
            ("machine", &d.machine),
            ("python_version", &d.python_version),
            ("create_time", &d.days),
            ("error_description", &d.error_descriptions),
        ];
        let version = d.package.version.as_deref().unwrap_or("");
        for (field, counts) in fields {
            for c in counts {
                sheet.row(&[
                    &d.package.name,
                    version,
                    field,
                    &c.value,
                    &c.count.to_string(),
                ]);
            }
        }
        let f = &d.fixes;
        let optional = |n: Option<i64>| n.map_or(String::new(), |n| n.to_string());
        for (value, count) in [
            ("failed_learners", f.failed_learners.to_string()),
            ("fixed_learners", f.fixed_learners.to_string()),
            ("stuck_learners", f.stuck_learners.to_string()),
            ("median_seconds_to_fix", optional(f.median_seconds_to_fix)),
            ("p90_seconds_to_fix", optional(f.p90_seconds_to_fix)),
        ] {
            sheet.row(&[&d.package.name, version, "fixes", value, &count]);
        }
        for (fixed_with, learners) in &f.fixed_with {
            let fixed_with = fixed_with.as_deref().unwrap_or("");
            sheet.row(&[
                &d.package.name,
                version,
                "fixed_with",
                fixed_with,
                &learners.to_string(),
            ]);
        }
        for s in &f.by_system {
            let system = s.system.as_deref().unwrap_or("");
            for (field, count) in [
                ("failed_learners_by_system", s.failed),
                ("fixed_learners_by_system", s.fixed),
            ] {
                sheet.row(&[&d.package.name, version, field, system, &count.to_string()]);
            }
        }
    }
    sheet.finish()
}

/// "What gets fixed" as one row per check.
pub(super) fn fixes_csv(overview: &FixOverview) -> Vec<u8> {
    let mut sheet = Sheet::new(&[
        "check",
        "failed_learners",
        "fixed_learners",
        "stuck_learners",
        "median_seconds_to_fix",
        "worst_system",
        "worst_system_failed",
        "worst_system_stuck",
    ]);
    for c in &overview.checks {
        let worst = c.worst_system.as_ref();
        sheet.row(&[
            &c.name,
            &c.failed_learners.to_string(),
            &c.fixed_learners.to_string(),
            &c.stuck_learners.to_string(),
            &c.median_seconds_to_fix
                .map_or(String::new(), |n| n.to_string()),
            worst.and_then(|s| s.system.as_deref()).unwrap_or(""),
            &worst.map_or(String::new(), |s| s.failed.to_string()),
            &worst.map_or(String::new(), |s| s.stuck.to_string()),
        ]);
    }
    sheet.finish()
}

/// A download's file name: the workshop's id when it is plain, so no header can be bent.
pub(super) fn file_name(stem: &str, workshop: Option<&str>) -> String {
    let plain = workshop.filter(|w| {
        w.len() <= 64
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    });
    match (workshop, plain) {
        (None, _) => format!("{stem}-all-workshops.csv"),
        (Some(_), Some(w)) => format!("{stem}-{w}.csv"),
        (Some(_), None) => format!("{stem}-workshop.csv"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text() {
        assert_eq!(neutralise("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        for start in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralise(start).starts_with('\''), "{start:?}");
        }
        assert_eq!(neutralise("git"), "git");
        assert_eq!(neutralise(""), "");
    }

    #[test]
    fn odd_workshops_get_a_plain_file_name() {
        assert_eq!(
            file_name("failures", Some("2016-08-13-x")),
            "failures-2016-08-13-x.csv"
        );
        assert_eq!(
            file_name("failures", Some("a\"b\r\n")),
            "failures-workshop.csv"
        );
        assert_eq!(file_name("failures", None), "failures-all-workshops.csv");
    }
}
