//! Whether every statistic the server reads from the tallies equals what `reference/` says it
//! means, computed from the raw rows: in every scope, for every workshop, package and version
//! the database holds. `verify` runs it on a database file, after hand edits and around
//! `rebuild-tallies`; the tests that crash, fill and restart the real binary call the same
//! [`verify`].

use super::stats::{PackageDetail, PackageFilter, Rows, Scope};
use super::{advice, reference, statistics, StorageError, SCHEMA_VERSION};
use crate::report::{Advice, MIN_ADVICE_LEARNERS};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use std::fmt::{self, Debug};
use std::path::{Path, PathBuf};

/// Rows of each side a [`Difference`] shows; the rest are counted.
const SHOWN_ROWS: usize = 3;
/// Characters of one row a [`Difference`] shows (a package's detail is one long row).
const SHOWN_ROW_CHARS: usize = 240;

/// Compares every statistic of the database file at `path` with its reference, inside one
/// read transaction so both sides see the same rows: the number of statistics compared when
/// all agree. The file is never created, and neither it nor its WAL is changed: it is opened
/// read-write without the right to create only so SQLite can read a WAL a killed process
/// left behind, with `query_only`, and without the checkpoint a last connection makes as it
/// closes.
pub fn verify(path: &Path) -> Result<usize, VerifyError> {
    if !path.is_file() {
        return Err(VerifyError::Missing(path.to_owned()));
    }
    let not_database =
        |e: rusqlite::Error| VerifyError::NotDatabase(path.to_owned(), e.to_string());
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(not_database)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(not_database)?;
    // The last connection to close would fold the WAL into the file: leave both as they are.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .map_err(not_database)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(not_database)?;
    let ours = ["user_system_info", "submissions", "failure_tally"]
        .iter()
        .map(|table| has_table(&conn, table))
        .collect::<Result<Vec<_>, _>>()
        .map_err(not_database)?;
    if version == SCHEMA_VERSION && ours.iter().all(|&has| has) {
        check(&conn)
    } else if version == 0 && !ours[0] {
        Err(VerifyError::Foreign(path.to_owned()))
    } else {
        Err(VerifyError::Schema(path.to_owned(), version))
    }
}

fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get(0),
    )
}

/// The advice the reference gives for check `name` on `system` in the file at `path` (at
/// least [`MIN_ADVICE_LEARNERS`] learners), for the end-to-end tests to hold an answer to.
pub(crate) fn advice_in_file(
    path: &Path,
    name: &str,
    system: &str,
) -> Result<Option<Advice>, String> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    let records = reference::check_records(&conn).map_err(|e| e.to_string())?;
    Ok(reference::advice(
        &records,
        name,
        system,
        MIN_ADVICE_LEARNERS,
    ))
}

/// Compares every statistic with its reference inside one read transaction, so both sides
/// see the same rows: the number compared when all agree.
pub(crate) fn check(conn: &Connection) -> Result<usize, VerifyError> {
    let tx = conn.unchecked_transaction()?;
    let mut found = Findings::default();
    let outcome = compare(&tx, &mut found);
    tx.rollback()?;
    outcome?;
    if found.differences.is_empty() {
        Ok(found.compared)
    } else {
        Err(VerifyError::Differ {
            differences: found.differences,
            compared: found.compared,
        })
    }
}

/// Why a database could not be verified, or that it failed.
pub enum VerifyError {
    /// Statistics whose tallies differ from their reference, of `compared` in all.
    Differ {
        /// Each statistic that differs, in one scope.
        differences: Vec<Difference>,
        /// How many statistics were compared.
        compared: usize,
    },
    /// There is no file at the path (and none was made).
    Missing(PathBuf),
    /// The file is not an SQLite database: SQLite's reason.
    NotDatabase(PathBuf, String),
    /// An SQLite database that this server did not make.
    Foreign(PathBuf),
    /// This server's database at another schema version than [`SCHEMA_VERSION`].
    Schema(PathBuf, i64),
    /// A statistic could not be read (the database is busy, damaged...).
    Failed(StorageError),
}

impl From<StorageError> for VerifyError {
    fn from(e: StorageError) -> Self {
        VerifyError::Failed(e)
    }
}

impl From<rusqlite::Error> for VerifyError {
    fn from(e: rusqlite::Error) -> Self {
        VerifyError::Failed(e.into())
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Differ {
                differences,
                compared,
            } => {
                for difference in differences {
                    writeln!(f, "{difference}")?;
                }
                write!(f, "{} of {compared} statistics differ", differences.len())
            }
            VerifyError::Missing(path) => write!(
                f,
                "there is no database at {} (check --db); nothing was created",
                path.display()
            ),
            VerifyError::NotDatabase(path, why) => {
                write!(f, "{} is not an SQLite database: {why}", path.display())
            }
            VerifyError::Foreign(path) => write!(
                f,
                "{} is an SQLite database, but not result-aggregation-server's (it lacks its tables)",
                path.display()
            ),
            VerifyError::Schema(path, version) if *version > SCHEMA_VERSION => write!(
                f,
                "{} has schema version {version}, newer than this program's {SCHEMA_VERSION}: \
                 verify it with a newer result-aggregation-server",
                path.display()
            ),
            VerifyError::Schema(path, version) => write!(
                f,
                "{} has schema version {version}, older than this program's {SCHEMA_VERSION}: \
                 the server migrates it when it starts (so does `rebuild-tallies`); verify it \
                 then",
                path.display()
            ),
            VerifyError::Failed(e) => write!(f, "a statistic could not be read: {e}"),
        }
    }
}

/// As [`fmt::Display`]: a test that unwraps a failed [`verify`] shows the readable report.
impl Debug for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for VerifyError {}

/// One statistic in one scope whose tallies differ from its reference, as both print
/// (`Debug`): shown as the rows that differ.
pub struct Difference {
    /// The scope and the statistic, e.g. `workshop "oslo", latest attempts: failed names`.
    pub statistic: String,
    /// What the reference SQL over the raw rows gives.
    pub reference: String,
    /// What the server reads from the tallies.
    pub found: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} differs:", self.statistic)?;
        let mut lines = DifferingRows::default();
        differing_rows("", &self.reference, &self.found, &mut lines);
        for (side, rows) in [("reference", &lines.reference), ("found", &lines.found)] {
            for row in rows.iter().take(SHOWN_ROWS) {
                writeln!(f, "  {side:<9}  {}", shortened(row))?;
            }
            if rows.len() > SHOWN_ROWS {
                writeln!(f, "  {side:<9}  ... and {} more", rows.len() - SHOWN_ROWS)?;
            }
        }
        if lines.reference.is_empty() && lines.found.is_empty() {
            writeln!(f, "  the same rows in another order")?;
        }
        Ok(())
    }
}

/// The rows only one side has.
#[derive(Default)]
struct DifferingRows {
    reference: Vec<String>,
    found: Vec<String>,
}

/// Adds the rows of `reference` and `found` (two `Debug` texts) that the other lacks to
/// `lines`, each after `prefix`. A struct is compared field by field, a list row by row,
/// going into the fields and lists that differ.
fn differing_rows(prefix: &str, reference: &str, found: &str, lines: &mut DifferingRows) {
    if reference == found {
        return;
    }
    let (ours, theirs) = (parts(reference), parts(found));
    match (ours, theirs) {
        (Some(ours), Some(theirs))
            if field_names(&ours).is_some() && field_names(&ours) == field_names(&theirs) =>
        {
            for (a, b) in ours.iter().zip(&theirs) {
                let name = field_name(a).unwrap_or_default();
                let (a, b) = (&a[name.len() + 2..], &b[name.len() + 2..]);
                differing_rows(&format!("{prefix}{name}: "), a, b, lines);
            }
        }
        (Some(ours), Some(theirs)) => {
            let mut unmatched: Vec<&str> = theirs.clone();
            for row in &ours {
                match unmatched.iter().position(|other| other == row) {
                    Some(at) => {
                        unmatched.remove(at);
                    }
                    None => lines.reference.push(format!("{prefix}{row}")),
                }
            }
            let mut unmatched: Vec<&str> = ours;
            for row in &theirs {
                match unmatched.iter().position(|other| other == row) {
                    Some(at) => {
                        unmatched.remove(at);
                    }
                    None => lines.found.push(format!("{prefix}{row}")),
                }
            }
        }
        _ => {
            lines.reference.push(format!("{prefix}{reference}"));
            lines.found.push(format!("{prefix}{found}"));
        }
    }
}

/// The parts of a list (`[a, b]`) or a struct (`Name { a: 1, b: 2 }`), looking through
/// `Some(...)`; `None` for a value that is neither.
fn parts(text: &str) -> Option<Vec<&str>> {
    let text = text
        .strip_prefix("Some(")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(text);
    let inner = if let Some(list) = text.strip_prefix('[') {
        list.strip_suffix(']')?
    } else {
        let (name, fields) = text.split_once(" { ")?;
        if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
        fields.strip_suffix(" }")?
    };
    Some(split_outside_brackets(inner))
}

/// `text` split at each `, ` outside brackets and string literals.
fn split_outside_brackets(text: &str) -> Vec<&str> {
    let (mut parts, mut start, mut depth) = (Vec::new(), 0, 0_i32);
    let (mut in_string, mut escaped) = (false, false);
    for (at, c) in text.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' | '(' => depth += 1,
            ']' | '}' | ')' => depth -= 1,
            ',' if depth == 0 && text[at..].starts_with(", ") => {
                parts.push(&text[start..at]);
                start = at + 2;
            }
            _ => {}
        }
    }
    if start < text.len() {
        parts.push(&text[start..]);
    }
    parts
}

/// The names of a struct's fields, `None` if `parts` are not all fields.
fn field_names<'a>(parts: &[&'a str]) -> Option<Vec<&'a str>> {
    parts.iter().map(|part| field_name(part)).collect()
}

/// `name` of a struct's field `name: value`.
fn field_name(part: &str) -> Option<&str> {
    let (name, _) = part.split_once(": ")?;
    let plain = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    plain.then_some(name)
}

fn shortened(row: &str) -> String {
    match row.char_indices().nth(SHOWN_ROW_CHARS) {
        Some((at, _)) => format!("{}...", &row[..at]),
        None => row.to_owned(),
    }
}

/// What the comparison found so far: how many statistics it compared, and which differ.
#[derive(Default)]
struct Findings {
    compared: usize,
    differences: Vec<Difference>,
}

impl Findings {
    /// Compares one statistic: what the server reads (`served`) with its reference (`meant`).
    fn same<T: PartialEq + Debug>(
        &mut self,
        what: &str,
        served: T,
        meant: T,
    ) -> Result<(), StorageError> {
        self.compared += 1;
        if served != meant {
            self.differences.push(Difference {
                statistic: what.to_owned(),
                reference: format!("{meant:?}"),
                found: format!("{served:?}"),
            });
        }
        Ok(())
    }
}

/// A package, or one version of it, as an admin names it: `"numpy" 1.26.4`.
fn package_name(package: &PackageFilter) -> String {
    match &package.version {
        None => format!("{:?}", package.name),
        Some(version) => format!("{:?} {version}", package.name),
    }
}

/// A workshop scope as an admin names it.
fn workshop_name(workshop: Option<&str>) -> String {
    match workshop {
        None => "all workshops".into(),
        Some(name) => format!("workshop {name:?}"),
    }
}

/// A scope as an admin names it: `workshop "oslo", every attempt`.
fn scope_name(scope: &Scope) -> String {
    let attempts = if scope.all_attempts {
        "every attempt"
    } else {
        "latest attempts"
    };
    format!("{}, {attempts}", workshop_name(scope.workshop.as_deref()))
}

fn compare(conn: &Connection, found: &mut Findings) -> Result<(), StorageError> {
    let workshops = reference::workshops(conn)?;
    found.same(
        "workshops",
        statistics::workshops(conn, Rows::ALL)?,
        workshops.clone(),
    )?;
    let names = reference::package_names(conn)?;
    found.same(
        "package names",
        statistics::package_names(conn, Rows::ALL)?,
        names.clone(),
    )?;
    let mut packages = Vec::new();
    for name in &names {
        let versions = reference::package_versions(conn, name)?;
        found.same(
            &format!("versions of {name}"),
            statistics::package_versions(conn, name, Rows::ALL)?,
            versions.clone(),
        )?;
        packages.push(PackageFilter {
            name: name.clone(),
            version: None,
        });
        packages.extend(versions.into_iter().map(|version| PackageFilter {
            name: name.clone(),
            version: Some(version),
        }));
    }
    // What fixed it: every learner's record of every check, straight from the raw rows.
    let records = reference::check_records(conn)?;
    // The answer's advice, every check on every system (from one learner up).
    found.same(
        "advice",
        advice::snapshot(conn, 1)?
            .entries()
            .into_iter()
            .cloned()
            .collect(),
        reference::all_advice(&records, 1),
    )?;
    // All workshops together, each one, and one nobody named.
    let mut scopes: Vec<Option<String>> = vec![None, Some("no such workshop".into())];
    scopes.extend(workshops.into_iter().map(Some));
    for workshop in &scopes {
        let at = workshop_name(workshop.as_deref());
        let workshop = workshop.as_deref();
        found.same(
            &format!("{at}: learners by system"),
            statistics::learners_by_system(conn, workshop, Rows::ALL)?,
            reference::learners_by_system(conn, workshop)?,
        )?;
        let summaries = reference::workshop_summaries(conn, workshop)?;
        found.same(
            &format!("{at}: learner totals"),
            statistics::learner_totals(conn, workshop)?,
            (
                summaries.iter().map(|s| s.learners).sum(),
                summaries.iter().map(|s| s.passing).sum(),
            ),
        )?;
        found.same(
            &format!("{at}: summaries"),
            statistics::workshop_summaries(conn, workshop, Rows::ALL)?,
            summaries,
        )?;
        for min_failed in [1, 5] {
            found.same(
                &format!("{at}: what gets fixed, at least {min_failed}"),
                statistics::fix_overview(conn, workshop, min_failed, Rows::ALL)?,
                reference::fix_overview(&records, workshop, min_failed),
            )?;
        }
        for all_attempts in [false, true] {
            let scope = Scope {
                workshop: workshop.map(str::to_owned),
                all_attempts,
            };
            let at = scope_name(&scope);
            found.same(
                &format!("{at}: failed versions"),
                statistics::failed_versions(conn, &scope, Rows::ALL)?,
                reference::failed_versions(conn, &scope)?,
            )?;
            let failed_names = statistics::failed_names(conn, &scope, Rows::ALL)?;
            let heat_names: Vec<String> = failed_names.iter().map(|f| f.name.clone()).collect();
            found.same(
                &format!("{at}: failed names"),
                failed_names,
                reference::failed_names(conn, &scope)?,
            )?;
            // The heat map's cells, as the overview reads them: for the names it shows.
            found.same(
                &format!("{at}: failures by system"),
                statistics::failures_by_system(conn, &scope, Some(&heat_names), Rows::ALL)?,
                reference::failures_by_system(conn, &scope)?,
            )?;
            for package in &packages {
                let meant = PackageDetail::assemble(
                    package,
                    reference::failure_count(conn, package, &scope)?,
                    reference::check_fixes(&records, &package.name, workshop),
                    |field| reference::failure_breakdown(conn, package, &scope, field),
                )?;
                found.same(
                    &format!("{at}: detail of {}", package_name(package)),
                    statistics::package_detail(conn, package, &scope, Rows::ALL)?,
                    meant,
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::stats::{NameFailures, ValueCount};

    fn shown<T: Debug>(reference: T, found: T) -> String {
        Difference {
            statistic: "all workshops, latest attempts: failed names".into(),
            reference: format!("{reference:?}"),
            found: format!("{found:?}"),
        }
        .to_string()
    }

    fn failures(counts: &[(&str, i64)]) -> Vec<NameFailures> {
        counts
            .iter()
            .map(|&(name, count)| NameFailures {
                name: name.into(),
                count,
            })
            .collect()
    }

    #[test]
    fn a_difference_shows_only_the_rows_that_differ_a_few_of_each() {
        let text = shown(
            failures(&[("git", 3), ("make, GNU", 2), ("numpy", 1)]),
            failures(&[("git", 3), ("make, GNU", 7), ("numpy", 1)]),
        );
        assert_eq!(
            text,
            "all workshops, latest attempts: failed names differs:\n  \
             reference  NameFailures { name: \"make, GNU\", count: 2 }\n  \
             found      NameFailures { name: \"make, GNU\", count: 7 }\n"
        );
        let many: Vec<_> = (0..10).map(|n| (format!("p{n}"), n)).collect();
        let many: Vec<_> = many.iter().map(|(name, n)| (name.as_str(), *n)).collect();
        let text = shown(failures(&many), Vec::new());
        assert!(text.contains("reference  ... and 7 more"), "{text}");
        assert!(!text.contains("found"), "{text}");
        let text = shown(
            failures(&[("a", 1), ("b", 1)]),
            failures(&[("b", 1), ("a", 1)]),
        );
        assert!(text.contains("the same rows in another order"), "{text}");
    }

    #[test]
    fn a_struct_is_compared_field_by_field_and_into_its_lists() {
        let detail = |count| {
            Some((
                count,
                vec![ValueCount {
                    value: "Windows".into(),
                    count,
                }],
            ))
        };
        // A tuple is not a struct: shown whole.
        let text = shown(detail(1), detail(2));
        assert!(text.contains("reference  Some((1, [ValueCount"), "{text}");
        let mut lines = DifferingRows::default();
        differing_rows(
            "",
            "Detail { failures: 1, system: [ValueCount { value: \"Linux\", count: 4 }, \
             ValueCount { value: \"Windows\", count: 1 }] }",
            "Detail { failures: 2, system: [ValueCount { value: \"Linux\", count: 4 }, \
             ValueCount { value: \"Windows\", count: 2 }] }",
            &mut lines,
        );
        assert_eq!(
            lines.reference,
            [
                "failures: 1",
                "system: ValueCount { value: \"Windows\", count: 1 }"
            ]
        );
        assert_eq!(
            lines.found,
            [
                "failures: 2",
                "system: ValueCount { value: \"Windows\", count: 2 }"
            ]
        );
    }
}
