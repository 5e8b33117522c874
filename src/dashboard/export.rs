//! Exports: the original server's JSON shapes, and the same tables as CSV that is safe to
//! open in a spreadsheet.

use super::query::{AttemptsParam, ALL_WORKSHOPS};
use crate::storage::{Overview, PackageDetail, ValueCount};
use serde::Serialize;

/// `/view/?export=json`: the original's shape, key for key.
#[derive(Serialize)]
pub struct OverviewJson<'a> {
    most_failed_packages: Vec<VersionJson<'a>>,
    most_failed_package_names: Vec<NameJson<'a>>,
    /// `[system, learners]` pairs; a system the script could not tell is null.
    os_users: Vec<(Option<&'a str>, i64)>,
    workshops: &'a [String],
    workshop_id: &'a str,
    all_workshops: bool,
    all_attempts: Option<u8>,
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
    pub fn new(
        overview: &'a Overview,
        workshop: Option<&'a str>,
        all_attempts: AttemptsParam,
    ) -> Self {
        OverviewJson {
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
pub struct DetailJson<'a> {
    package_details: Vec<PackageJson<'a>>,
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
    pub fn new(
        details: &'a [PackageDetail],
        workshop: Option<&'a str>,
        all_attempts: AttemptsParam,
    ) -> Self {
        DetailJson {
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
pub struct Sheet {
    writer: csv::Writer<Vec<u8>>,
}

impl Sheet {
    pub fn new(header: &[&str]) -> Sheet {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer
            .write_record(header)
            .expect("writing to memory cannot fail");
        Sheet { writer }
    }

    pub fn row(&mut self, cells: &[&str]) {
        self.writer
            .write_record(cells.iter().map(|c| neutralise(c).into_owned()))
            .expect("writing to memory cannot fail");
    }

    pub fn finish(self) -> Vec<u8> {
        self.writer
            .into_inner()
            .expect("writing to memory cannot fail")
    }
}

/// The overview's three tables in one sheet: `table` says which table a row belongs to.
pub fn overview_csv(overview: &Overview) -> Vec<u8> {
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
pub fn detail_csv(details: &[PackageDetail]) -> Vec<u8> {
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
    }
    sheet.finish()
}

/// A download's file name: the workshop's id when it is plain, so no header can be bent.
pub fn file_name(stem: &str, workshop: Option<&str>) -> String {
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
