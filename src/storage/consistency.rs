//! Whether every statistic the server reads from the tallies equals what `reference.rs` says
//! it means, computed from the raw rows: in every scope, for every workshop, package and
//! version the database holds. For the tests that crash, fill and restart the real binary;
//! they reach it through the hidden `testing` module.

use super::stats::{PackageDetail, PackageFilter, Rows, Scope};
use super::{advice, reference, statistics, StorageError};
use crate::report::{Advice, MIN_ADVICE_LEARNERS};
use rusqlite::{Connection, OpenFlags};
use std::fmt::Debug;
use std::path::Path;

/// Opens the file without creating it or changing its rows (SQLite may still replay a WAL a
/// killed process left behind, which a read-only open cannot), and compares.
pub(crate) fn check_file(path: &Path) -> Result<(), String> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    conn.pragma_update(None, "query_only", true)
        .map_err(|e| e.to_string())?;
    check(&conn)
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
/// see the same rows; the first difference is the error.
pub(crate) fn check(conn: &Connection) -> Result<(), String> {
    let tx = conn.unchecked_transaction().map_err(|e| e.to_string())?;
    let outcome = compare(&tx).map_err(|e| match e {
        Mismatch::Differs(what) => what,
        Mismatch::Failed(e) => format!("a statistic could not be read: {e}"),
    });
    tx.rollback().map_err(|e| e.to_string())?;
    outcome
}

enum Mismatch {
    Differs(String),
    Failed(StorageError),
}

impl From<StorageError> for Mismatch {
    fn from(e: StorageError) -> Self {
        Mismatch::Failed(e)
    }
}

fn same<T: PartialEq + Debug>(what: &str, served: T, meant: T) -> Result<(), Mismatch> {
    if served == meant {
        Ok(())
    } else {
        Err(Mismatch::Differs(format!(
            "{what}: the tallies say {served:?}, the raw rows {meant:?}"
        )))
    }
}

fn compare(conn: &Connection) -> Result<(), Mismatch> {
    let workshops = reference::workshops(conn)?;
    same(
        "workshops",
        statistics::workshops(conn, Rows::ALL)?,
        workshops.clone(),
    )?;
    let names = reference::package_names(conn)?;
    same(
        "package names",
        statistics::package_names(conn, Rows::ALL)?,
        names.clone(),
    )?;
    let mut packages = Vec::new();
    for name in &names {
        let versions = reference::package_versions(conn, name)?;
        same(
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
    same(
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
        let at = format!("workshop {workshop:?}");
        let workshop = workshop.as_deref();
        same(
            &format!("{at}: learners by system"),
            statistics::learners_by_system(conn, workshop, Rows::ALL)?,
            reference::learners_by_system(conn, workshop)?,
        )?;
        let summaries = reference::workshop_summaries(conn, workshop)?;
        same(
            &format!("{at}: learner totals"),
            statistics::learner_totals(conn, workshop)?,
            (
                summaries.iter().map(|s| s.learners).sum(),
                summaries.iter().map(|s| s.passing).sum(),
            ),
        )?;
        same(
            &format!("{at}: summaries"),
            statistics::workshop_summaries(conn, workshop, Rows::ALL)?,
            summaries,
        )?;
        for min_failed in [1, 5] {
            same(
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
            let at = format!("{scope:?}");
            same(
                &format!("{at}: failed versions"),
                statistics::failed_versions(conn, &scope, Rows::ALL)?,
                reference::failed_versions(conn, &scope)?,
            )?;
            let failed_names = statistics::failed_names(conn, &scope, Rows::ALL)?;
            let heat_names: Vec<String> = failed_names.iter().map(|f| f.name.clone()).collect();
            same(
                &format!("{at}: failed names"),
                failed_names,
                reference::failed_names(conn, &scope)?,
            )?;
            // The heat map's cells, as the overview reads them: for the names it shows.
            same(
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
                same(
                    &format!("{at}: detail of {package:?}"),
                    statistics::package_detail(conn, package, &scope, Rows::ALL)?,
                    meant,
                )?;
            }
        }
    }
    Ok(())
}
