//! The straightforward SQL over the raw rows, written against the original's table names
//! (`user_system_info`, `attempts`, `failed_installs`): what every statistic means. The server
//! reads the same numbers from the tallies (`statistics.rs`); `verify` (`consistency.rs`) holds
//! the two equal on a whole database, and the tests on random histories.
//!
//! One file per concept: the failure lists (`failures.rs`), learners and workshops
//! (`learners.rs`), one package's breakdown (`packages.rs`), and what fixed a check with the
//! advice an answer gives (`fixes.rs`). What selects the failures that count is here, shared.

mod failures;
mod fixes;
mod learners;
mod packages;
#[cfg(test)]
mod tests;

pub(crate) use failures::{failed_names, failed_versions, failures_by_system};
pub(crate) use fixes::{advice, all_advice, check_fixes, check_records, fix_overview};
pub(crate) use learners::{learners_by_system, workshop_summaries, workshops};
pub(crate) use packages::{failure_breakdown, failure_count, package_names, package_versions};

use super::stats::{Breakdown, PackageFilter, Scope};
use rusqlite::types::Value;

/// The field's SQL: a fixed expression over `f` (failed_installs) and `a` (the attempt, with
/// its own workshop and machine fields), never built from input.
fn expression(by: Breakdown) -> String {
    match by {
        // The date part of "YYYY-MM-DD HH:MM:SS.fff", whatever precision follows.
        Breakdown::Day => "substr(f.create_time, 1, 10)".into(),
        Breakdown::ErrorDescription => "f.error_description".into(),
        _ => by
            .machine_sql("a")
            .expect("every other breakdown is a machine field"),
    }
}

/// The FROM and WHERE clauses that select the failures that count, with their parameters:
/// each failure under its own attempt's workshop and machine; for latest attempts only,
/// those of an attempt that is its learner's latest.
fn counted_failures(scope: &Scope, package: Option<&PackageFilter>) -> (String, Vec<Value>) {
    let mut values = Vec::new();
    let mut sql = String::from("FROM failed_installs f JOIN attempts a ON a.id = f.attempt_id");
    if !scope.all_attempts {
        sql.push_str(" JOIN user_system_info u ON u.id = a.user_id AND u.latest_attempt_id = a.id");
    }
    sql.push_str(" WHERE 1");
    if let Some(package) = package {
        sql.push_str(" AND f.name = ?");
        values.push(Value::Text(package.name.clone()));
        if let Some(version) = &package.version {
            sql.push_str(" AND f.version = ?");
            values.push(Value::Text(version.clone()));
        }
    }
    if let Some(workshop) = &scope.workshop {
        sql.push_str(" AND a.workshop_id = ?");
        values.push(Value::Text(workshop.clone()));
    }
    (sql, values)
}
