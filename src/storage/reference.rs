//! The straightforward SQL over the raw rows, written against the original's table names
//! (`user_system_info`, `attempts`, `failed_installs`): what every statistic means. The server
//! reads the same numbers from the tallies (`statistics.rs`); the tests below hold the two
//! equal on random histories.

use super::stats::{
    most_stuck_first, percentile_rank, worst_system, Breakdown, CheckFixes, Fixes, NameFailures,
    PackageFilter, Scope, SystemFixes, SystemLearners, SystemNameFailures, ValueCount,
    VersionFailures, WorkshopSummary,
};
use super::StorageError;
use crate::report::{Advice, MAX_FIXED_WITH};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

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

/// Failures per name and version, most first.
pub fn failed_versions(
    conn: &Connection,
    scope: &Scope,
) -> Result<Vec<VersionFailures>, StorageError> {
    let (from, values) = counted_failures(scope, None);
    let sql = format!(
        "SELECT f.name, f.version, count(*) {from}
         GROUP BY f.name, f.version ORDER BY count(*) DESC, f.name, f.version"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(VersionFailures {
            name: row.get(0)?,
            version: row.get(1)?,
            count: row.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Failures per name, all versions together, most first.
pub fn failed_names(conn: &Connection, scope: &Scope) -> Result<Vec<NameFailures>, StorageError> {
    let (from, values) = counted_failures(scope, None);
    let sql =
        format!("SELECT f.name, count(*) {from} GROUP BY f.name ORDER BY count(*) DESC, f.name");
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(NameFailures {
            name: row.get(0)?,
            count: row.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Learners per operating system (learners, not attempts), most first.
pub fn learners_by_system(
    conn: &Connection,
    workshop: Option<&str>,
) -> Result<Vec<SystemLearners>, StorageError> {
    let map = |row: &rusqlite::Row<'_>| {
        Ok(SystemLearners {
            system: row.get(0)?,
            learners: row.get(1)?,
        })
    };
    let rows = match workshop {
        Some(workshop) => conn
            .prepare_cached(
                "SELECT system, count(*) FROM user_system_info WHERE workshop_id = ?1
                 GROUP BY system ORDER BY count(*) DESC, system",
            )?
            .query_map([workshop], map)?
            .collect::<Result<_, _>>()?,
        None => conn
            .prepare_cached(
                "SELECT system, count(*) FROM user_system_info
                 GROUP BY system ORDER BY count(*) DESC, system",
            )?
            .query_map([], map)?
            .collect::<Result<_, _>>()?,
    };
    Ok(rows)
}

/// Failures per operating system (of the failing attempt) and package name, most first.
pub fn failures_by_system(
    conn: &Connection,
    scope: &Scope,
) -> Result<Vec<SystemNameFailures>, StorageError> {
    let (from, values) = counted_failures(scope, None);
    let sql = format!(
        "SELECT a.system, f.name, count(*) {from}
         GROUP BY a.system, f.name ORDER BY count(*) DESC, a.system, f.name"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(SystemNameFailures {
            system: row.get(0)?,
            name: row.get(1)?,
            count: row.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every package name that ever failed, in order.
pub fn package_names(conn: &Connection) -> Result<Vec<String>, StorageError> {
    let mut statement =
        conn.prepare_cached("SELECT DISTINCT name FROM failed_installs ORDER BY name")?;
    let rows = statement.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every version of `name` that ever failed, in order.
pub fn package_versions(conn: &Connection, name: &str) -> Result<Vec<String>, StorageError> {
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT version FROM failed_installs
         WHERE name = ?1 AND version IS NOT NULL AND version <> '' ORDER BY version",
    )?;
    let rows = statement.query_map([name], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every workshop some learner named, in order.
pub fn workshops(conn: &Connection) -> Result<Vec<String>, StorageError> {
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT workshop_id FROM user_system_info
         WHERE workshop_id IS NOT NULL ORDER BY workshop_id",
    )?;
    let rows = statement.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Learners and passing learners per workshop (one, or all), largest workshop first.
pub fn workshop_summaries(
    conn: &Connection,
    workshop: Option<&str>,
) -> Result<Vec<WorkshopSummary>, StorageError> {
    // A learner passes when their latest attempt exists and reported no failure.
    const COLUMNS: &str = "SELECT workshop_id, count(*),
        coalesce(sum(latest_attempt_id IS NOT NULL AND NOT EXISTS
            (SELECT 1 FROM failed_installs f WHERE f.attempt_id = u.latest_attempt_id)), 0)
        FROM user_system_info u";
    let map = |row: &rusqlite::Row<'_>| {
        Ok(WorkshopSummary {
            workshop: row.get(0)?,
            learners: row.get(1)?,
            passing: row.get(2)?,
        })
    };
    let rows = match workshop {
        Some(workshop) => conn
            .prepare_cached(&format!(
                "{COLUMNS} WHERE workshop_id = ?1 GROUP BY workshop_id"
            ))?
            .query_map([workshop], map)?
            .collect::<Result<_, _>>()?,
        None => conn
            .prepare_cached(&format!(
                "{COLUMNS} GROUP BY workshop_id ORDER BY count(*) DESC, workshop_id"
            ))?
            .query_map([], map)?
            .collect::<Result<_, _>>()?,
    };
    Ok(rows)
}

/// Failures of `package` in scope, counted by one field; empty and unknown values left out.
pub fn failure_breakdown(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
    by: Breakdown,
) -> Result<Vec<ValueCount>, StorageError> {
    let (from, values) = counted_failures(scope, Some(package));
    let field = expression(by);
    let sql = format!(
        "SELECT {field}, count(*) {from} AND ({field}) IS NOT NULL AND ({field}) <> ''
         GROUP BY 1 ORDER BY 2 DESC, 1"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(ValueCount {
            value: row.get(0)?,
            count: row.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How many failures of `package` count in scope.
pub fn failure_count(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
) -> Result<i64, StorageError> {
    let (from, values) = counted_failures(scope, Some(package));
    let sql = format!("SELECT count(*) {from}");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(values), |row| row.get(0))?)
}

/// One learner's record of one check, computed straight from the original's tables: the
/// first attempt that failed it (its workshop and system), the first later attempt that
/// passed it, and whether the learner's latest attempt fails it.
pub struct CheckRecord {
    name: String,
    workshop: Option<String>,
    system: Option<String>,
    fixed: bool,
    seconds_to_fix: Option<i64>,
    fixed_with: Option<String>,
    stuck: bool,
}

pub fn check_records(conn: &Connection) -> Result<Vec<CheckRecord>, StorageError> {
    let sql = "
        WITH firsts AS (
            SELECT a.user_id, f.name, min(a.id) AS first_id
              FROM failed_installs f JOIN attempts a ON a.id = f.attempt_id
             GROUP BY 1, 2),
        fixes AS (
            SELECT fi.user_id, fi.name, min(s.attempt_id) AS fix_id
              FROM firsts fi JOIN successful_installs s
                ON s.user_id = fi.user_id AND s.name = fi.name AND s.attempt_id > fi.first_id
             GROUP BY 1, 2)
        SELECT fi.name, fa.workshop_id, fa.system, fx.fix_id IS NOT NULL,
               CAST(strftime('%s', xa.create_time) AS INTEGER)
                   - CAST(strftime('%s', fa.create_time) AS INTEGER),
               (SELECT s.version FROM successful_installs s
                 WHERE s.attempt_id = fx.fix_id AND s.name = fi.name ORDER BY s.id LIMIT 1),
               EXISTS (SELECT 1 FROM failed_installs f
                         JOIN user_system_info u ON u.latest_attempt_id = f.attempt_id
                        WHERE u.id = fi.user_id AND f.name = fi.name)
          FROM firsts fi
          JOIN attempts fa ON fa.id = fi.first_id
          LEFT JOIN fixes fx ON fx.user_id = fi.user_id AND fx.name = fi.name
          LEFT JOIN attempts xa ON xa.id = fx.fix_id";
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map([], |row| {
        Ok(CheckRecord {
            name: row.get(0)?,
            workshop: row.get(1)?,
            system: row.get(2)?,
            fixed: row.get(3)?,
            seconds_to_fix: row.get(4)?,
            fixed_with: row.get(5)?,
            stuck: row.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The value of nearest rank `numerator / denominator` among `values`.
fn percentile(values: &[i64], numerator: i64, denominator: i64) -> Option<i64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = percentile_rank(sorted.len() as i64, numerator, denominator);
    (!sorted.is_empty()).then(|| sorted[rank as usize - 1])
}

fn summarise(records: &[&CheckRecord]) -> Fixes {
    let times: Vec<i64> = records.iter().filter_map(|r| r.seconds_to_fix).collect();
    let mut fixed_with: Vec<(Option<String>, i64)> = Vec::new();
    let mut by_system: Vec<SystemFixes> = Vec::new();
    for r in records {
        if r.fixed {
            match fixed_with.iter_mut().find(|(v, _)| *v == r.fixed_with) {
                Some((_, n)) => *n += 1,
                None => fixed_with.push((r.fixed_with.clone(), 1)),
            }
        }
        let at = match by_system.iter().position(|s| s.system == r.system) {
            Some(at) => at,
            None => {
                by_system.push(SystemFixes {
                    system: r.system.clone(),
                    failed: 0,
                    fixed: 0,
                    stuck: 0,
                });
                by_system.len() - 1
            }
        };
        by_system[at].failed += 1;
        by_system[at].fixed += i64::from(r.fixed);
        by_system[at].stuck += i64::from(r.stuck);
    }
    fixed_with.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    by_system.sort_by(|a, b| {
        b.failed
            .cmp(&a.failed)
            .then_with(|| a.system.cmp(&b.system))
    });
    Fixes {
        failed_learners: records.len() as i64,
        fixed_learners: records.iter().filter(|r| r.fixed).count() as i64,
        stuck_learners: records.iter().filter(|r| r.stuck).count() as i64,
        median_seconds_to_fix: percentile(&times, 1, 2),
        p90_seconds_to_fix: percentile(&times, 9, 10),
        fixed_with,
        by_system,
    }
}

fn in_scope(record: &CheckRecord, workshop: Option<&str>) -> bool {
    workshop.is_none_or(|w| record.workshop.as_deref() == Some(w))
}

/// What fixed a check, in one workshop or all, among `records` (from [`check_records`]).
pub fn check_fixes(records: &[CheckRecord], name: &str, workshop: Option<&str>) -> Fixes {
    let chosen: Vec<&CheckRecord> = records
        .iter()
        .filter(|r| r.name == name && in_scope(r, workshop))
        .collect();
    summarise(&chosen)
}

/// Every check at least `min_failed` learners failed, most stuck first, among `records`.
pub fn fix_overview(
    records: &[CheckRecord],
    workshop: Option<&str>,
    min_failed: i64,
) -> Vec<CheckFixes> {
    let mut names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut checks = Vec::new();
    for name in names {
        let chosen: Vec<&CheckRecord> = records
            .iter()
            .filter(|r| r.name == name && in_scope(r, workshop))
            .collect();
        let fixes = summarise(&chosen);
        if chosen.is_empty() || fixes.failed_learners < min_failed {
            continue;
        }
        checks.push(CheckFixes {
            name: name.to_owned(),
            failed_learners: fixes.failed_learners,
            fixed_learners: fixes.fixed_learners,
            stuck_learners: fixes.stuck_learners,
            median_seconds_to_fix: fixes.median_seconds_to_fix,
            worst_system: worst_system(&fixes.by_system, min_failed),
        });
    }
    checks.sort_by(most_stuck_first);
    checks
}

/// The answer's advice for check `name` on `system`, among `records`: the learners who
/// failed it on that system (each under the system of the attempt where they first failed
/// it), those who fixed it, their median time to fix and the versions they fixed it with (the
/// most learners first, at most three, those the script could not tell left out); `None`
/// when fewer than `min_learners` failed it there.
pub fn advice(
    records: &[CheckRecord],
    name: &str,
    system: &str,
    min_learners: i64,
) -> Option<Advice> {
    let chosen: Vec<&CheckRecord> = records
        .iter()
        .filter(|r| r.name == name && r.system.as_deref() == Some(system))
        .collect();
    let fixes = summarise(&chosen);
    if chosen.is_empty() || fixes.failed_learners < min_learners {
        return None;
    }
    Some(Advice {
        name: name.to_owned(),
        system: system.to_owned(),
        failed_learners: fixes.failed_learners,
        fixed_learners: fixes.fixed_learners,
        median_seconds_to_fix: fixes.median_seconds_to_fix,
        fixed_with: fixes
            .fixed_with
            .into_iter()
            .filter_map(|(version, learners)| Some((version.filter(|v| !v.is_empty())?, learners)))
            .take(MAX_FIXED_WITH)
            .collect(),
    })
}

/// [`advice`] for every check and system among `records`, by name and then system.
pub fn all_advice(records: &[CheckRecord], min_learners: i64) -> Vec<Advice> {
    let mut pairs: Vec<(&str, &str)> = records
        .iter()
        .filter_map(|r| Some((r.name.as_str(), r.system.as_deref()?)))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
        .into_iter()
        .filter_map(|(name, system)| advice(records, name, system, min_learners))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::record::{self, Keys};
    use super::super::{statistics, Location, Rows, StorageError, Store};
    use super::*;
    use crate::report::{Failure, Package, Report, SystemInfo, MIN_ADVICE_LEARNERS};

    /// Every statistic from the tallies equals its reference, in every scope.
    fn assert_tallies_match(conn: &Connection, at: &str) -> Result<(), StorageError> {
        for workshop in [None, Some("w1"), Some("w2"), Some("none")] {
            for all_attempts in [false, true] {
                let scope = Scope {
                    workshop: workshop.map(str::to_owned),
                    all_attempts,
                };
                let at = format!("{at}, {scope:?}");
                for version in [None, Some("1.0")] {
                    let package = PackageFilter {
                        name: "git".into(),
                        version: version.map(str::to_owned),
                    };
                    assert_eq!(
                        statistics::failure_count(conn, &package, &scope)?,
                        failure_count(conn, &package, &scope)?,
                        "{at}, {package:?}"
                    );
                    for by in [
                        Breakdown::System,
                        Breakdown::DistributionName,
                        Breakdown::DistributionNameVersion,
                        Breakdown::PythonVersion,
                        Breakdown::Day,
                        Breakdown::ErrorDescription,
                        Breakdown::Machine,
                    ] {
                        assert_eq!(
                            statistics::failure_breakdown(conn, &package, &scope, by, Rows::ALL)?,
                            failure_breakdown(conn, &package, &scope, by)?,
                            "{at}, {package:?}, {by:?}"
                        );
                    }
                }
                assert_eq!(
                    statistics::failed_versions(conn, &scope, Rows::ALL)?,
                    failed_versions(conn, &scope)?,
                    "{at}"
                );
                assert_eq!(
                    statistics::failed_names(conn, &scope, Rows::ALL)?,
                    failed_names(conn, &scope)?,
                    "{at}"
                );
                assert_eq!(
                    statistics::failures_by_system(conn, &scope, None, Rows::ALL)?,
                    failures_by_system(conn, &scope)?,
                    "{at}"
                );
            }
            assert_eq!(
                statistics::learners_by_system(conn, workshop, Rows::ALL)?,
                learners_by_system(conn, workshop)?,
                "{at}, {workshop:?}"
            );
            assert_eq!(
                statistics::workshop_summaries(conn, workshop, Rows::ALL)?,
                workshop_summaries(conn, workshop)?,
                "{at}, {workshop:?}"
            );
        }
        let records = check_records(conn)?;
        for min_learners in [1, 2, 5] {
            let snapshot = super::super::advice::snapshot(conn, min_learners)?;
            assert_eq!(
                snapshot.entries().into_iter().cloned().collect::<Vec<_>>(),
                all_advice(&records, min_learners),
                "{at}, advice for at least {min_learners}"
            );
        }
        for workshop in [None, Some("w1"), Some("w2"), Some("none")] {
            for name in ["git", "make", "numpy", "bash", "nothing"] {
                assert_eq!(
                    statistics::check_fixes(conn, name, workshop, Rows::ALL)?,
                    check_fixes(&records, name, workshop),
                    "{at}, fixes of {name} in {workshop:?}"
                );
            }
            for min_failed in [1, 3] {
                assert_eq!(
                    statistics::fix_overview(conn, workshop, min_failed, Rows::ALL)?,
                    fix_overview(&records, workshop, min_failed),
                    "{at}, what gets fixed in {workshop:?}, at least {min_failed}"
                );
            }
        }
        assert_eq!(
            statistics::workshops(conn, Rows::ALL)?,
            workshops(conn)?,
            "{at}"
        );
        assert_eq!(
            statistics::package_names(conn, Rows::ALL)?,
            package_names(conn)?,
            "{at}"
        );
        assert_eq!(
            statistics::package_versions(conn, "git", Rows::ALL)?,
            package_versions(conn, "git")?,
            "{at}"
        );
        Ok(())
    }

    /// The rows of `list` that `window` names: what a bounded variant must return.
    fn window_of<T: Clone>(list: &[T], window: Rows) -> Vec<T> {
        list.iter()
            .skip(window.offset)
            .take(window.limit)
            .cloned()
            .collect()
    }

    /// Every bounded variant the pages and exports read equals its window of the full list
    /// (which `assert_tallies_match` holds to the reference), and the totals read beside
    /// them equal the sums of the full lists.
    fn assert_windows_match(conn: &Connection, at: &str) -> Result<(), StorageError> {
        let windows = [
            Rows::first(0),
            Rows::first(1),
            Rows::first(3),
            Rows {
                offset: 1,
                limit: 2,
            },
            Rows {
                offset: 4,
                limit: 100,
            },
            Rows::ALL,
        ];
        let breakdowns = [
            Breakdown::DistributionName,
            Breakdown::DistributionVersion,
            Breakdown::DistributionNameVersion,
            Breakdown::System,
            Breakdown::SystemVersion,
            Breakdown::SystemPlatform,
            Breakdown::Machine,
            Breakdown::PythonVersion,
            Breakdown::Day,
            Breakdown::ErrorDescription,
        ];
        for window in windows {
            let at = format!("{at}, {window:?}");
            for workshop in [None, Some("w1"), Some("none")] {
                for all_attempts in [false, true] {
                    let scope = Scope {
                        workshop: workshop.map(str::to_owned),
                        all_attempts,
                    };
                    let at = format!("{at}, {scope:?}");
                    assert_eq!(
                        statistics::failed_versions(conn, &scope, window)?,
                        window_of(
                            &statistics::failed_versions(conn, &scope, Rows::ALL)?,
                            window
                        ),
                        "{at}"
                    );
                    assert_eq!(
                        statistics::failed_names(conn, &scope, window)?,
                        window_of(&statistics::failed_names(conn, &scope, Rows::ALL)?, window),
                        "{at}"
                    );
                    let names = ["git".to_owned(), "numpy".to_owned()];
                    let cells: Vec<_> =
                        statistics::failures_by_system(conn, &scope, None, Rows::ALL)?
                            .into_iter()
                            .filter(|c| names.contains(&c.name))
                            .collect();
                    assert_eq!(
                        statistics::failures_by_system(conn, &scope, Some(&names), window)?,
                        window_of(&cells, window),
                        "{at}"
                    );
                    for version in [None, Some("1.0")] {
                        let package = PackageFilter {
                            name: "git".into(),
                            version: version.map(str::to_owned),
                        };
                        for by in breakdowns {
                            assert_eq!(
                                statistics::failure_breakdown(conn, &package, &scope, by, window)?,
                                window_of(
                                    &statistics::failure_breakdown(
                                        conn,
                                        &package,
                                        &scope,
                                        by,
                                        Rows::ALL
                                    )?,
                                    window
                                ),
                                "{at}, {package:?}, {by:?}"
                            );
                        }
                    }
                }
                assert_eq!(
                    statistics::learners_by_system(conn, workshop, window)?,
                    window_of(
                        &statistics::learners_by_system(conn, workshop, Rows::ALL)?,
                        window
                    ),
                    "{at}, {workshop:?}"
                );
                let summaries = statistics::workshop_summaries(conn, workshop, Rows::ALL)?;
                assert_eq!(
                    statistics::workshop_summaries(conn, workshop, window)?,
                    window_of(&summaries, window),
                    "{at}, {workshop:?}"
                );
                assert_eq!(
                    statistics::learner_totals(conn, workshop)?,
                    (
                        summaries.iter().map(|s| s.learners).sum(),
                        summaries.iter().map(|s| s.passing).sum()
                    ),
                    "{at}, {workshop:?}"
                );
                for name in ["git", "make", "nothing"] {
                    let full = statistics::check_fixes(conn, name, workshop, Rows::ALL)?;
                    let bounded = statistics::check_fixes(conn, name, workshop, window)?;
                    assert_eq!(
                        bounded,
                        Fixes {
                            fixed_with: window_of(&full.fixed_with, window),
                            by_system: window_of(&full.by_system, window),
                            ..full.clone()
                        },
                        "{at}, fixes of {name} in {workshop:?}"
                    );
                }
                for min_failed in [1, 2, 3] {
                    assert_eq!(
                        statistics::fix_overview(conn, workshop, min_failed, window)?,
                        window_of(
                            &statistics::fix_overview(conn, workshop, min_failed, Rows::ALL)?,
                            window
                        ),
                        "{at}, what gets fixed in {workshop:?}, at least {min_failed}"
                    );
                }
            }
            assert_eq!(
                statistics::workshops(conn, window)?,
                window_of(&statistics::workshops(conn, Rows::ALL)?, window),
                "{at}"
            );
            assert_eq!(
                statistics::package_names(conn, window)?,
                window_of(&statistics::package_names(conn, Rows::ALL)?, window),
                "{at}"
            );
            assert_eq!(
                statistics::package_versions(conn, "git", window)?,
                window_of(
                    &statistics::package_versions(conn, "git", Rows::ALL)?,
                    window
                ),
                "{at}"
            );
        }
        Ok(())
    }

    fn pick(rng: &mut fastrand::Rng, choices: &[Option<&str>]) -> Option<String> {
        choices[rng.usize(..choices.len())].map(str::to_owned)
    }

    /// A report from few workshops, systems and packages (NULLs included), on one of a few
    /// days, for a new learner or a returning one who may have moved workshop or machine.
    fn random_report(rng: &mut fastrand::Rng, key: Option<uuid::Uuid>) -> (Report, String) {
        // Each check failed, passed or left out (a partial re-run), so learners fix things,
        // break them again and fix them again.
        let mut failures = Vec::new();
        let mut successes = Vec::new();
        for name in ["git", "make", "numpy", "bash"] {
            match rng.u8(..3) {
                0 => failures.push(Failure {
                    name: name.into(),
                    version: pick(rng, &[None, Some("1.0"), Some("2.0")]),
                    error_description: pick(rng, &[None, Some("not found"), Some("too old")]),
                }),
                1 => successes.push(Package {
                    name: name.into(),
                    version: pick(rng, &[None, Some("2.0"), Some("3.0")]),
                }),
                _ => {}
            }
        }
        let report = Report {
            key,
            system: SystemInfo {
                system: pick(rng, &[None, Some("Linux"), Some("Windows")]),
                distribution_name: pick(rng, &[None, Some("Ubuntu"), Some("Windows")]),
                distribution_version: pick(rng, &[None, Some("22.04"), Some("11")]),
                python_version: pick(rng, &[None, Some("3.11.7"), Some("3.8.10")]),
                machine: pick(rng, &[None, Some("x86_64"), Some("arm64")]),
                workshop_id: pick(rng, &[None, Some("w1"), Some("w2"), Some("w3")]),
                email_id: pick(rng, &[None, Some("a@example.org")]),
                ..SystemInfo::default()
            },
            successes,
            failures,
            checked_at: None,
        };
        let day = 1 + rng.u8(..4);
        (
            report,
            format!("2026-01-0{day} 1{}:00:00.000", rng.u8(..10)),
        )
    }

    /// One random step of a history, through the same paths the server and the
    /// subcommands use; returns what it did.
    async fn step(store: &Store, rng: &mut fastrand::Rng, keys: &mut Vec<uuid::Uuid>) -> String {
        let known = |rng: &mut fastrand::Rng, keys: &[uuid::Uuid]| {
            (!keys.is_empty() && rng.bool()).then(|| keys[rng.usize(..keys.len())])
        };
        match rng.u8(..20) {
            0 if !keys.is_empty() => {
                let gone = keys.swap_remove(rng.usize(..keys.len()));
                store.delete_user(gone.to_string()).await.unwrap();
                "delete-user".into()
            }
            1 => {
                // Rows deleted by hand (an attempt, a failure, a learner), then a rebuild.
                let sql = [
                    "DELETE FROM submissions WHERE id = (SELECT max(id) FROM submissions)",
                    "DELETE FROM submission_failures WHERE submission_id =
                         (SELECT max(submission_id) FROM submission_failures)",
                    "DELETE FROM user_system_info WHERE id = (SELECT min(id) FROM user_system_info)",
                ][rng.usize(..3)];
                store
                    .writer
                    .write(move |work| Ok(work.conn.execute(sql, [])?))
                    .await
                    .unwrap();
                store.rebuild_tallies().await.unwrap();
                keys.clear();
                store
                    .read(|conn| {
                        Ok(conn
                            .prepare("SELECT unique_user_id FROM user_system_info")?
                            .query_map([], |r| r.get::<_, String>(0))?
                            .collect::<Result<Vec<_>, _>>()?)
                    })
                    .await
                    .unwrap()
                    .iter()
                    .for_each(|k| keys.push(k.parse().unwrap()));
                format!("hand edit ({sql}) and rebuild")
            }
            2 => {
                // A batch in which one job fails after writing: it is rolled back alone.
                let (good_key, bad_key) = (known(rng, keys), known(rng, keys));
                let (good, good_at) = random_report(rng, good_key);
                let (bad, bad_at) = random_report(rng, bad_key);
                let failing = store.writer.write(move |work| {
                    record::record_attempt(work, &bad, Some(&bad_at), Keys::Issue)?;
                    Err::<(), _>(StorageError::Other("fails on purpose".into()))
                });
                let (failed, kept) = tokio::join!(failing, store.import(vec![(good, good_at)]));
                assert!(failed.is_err());
                let receipt = &kept.unwrap()[0];
                if !receipt.known {
                    keys.push(receipt.key);
                }
                "a batch with a failing job".into()
            }
            3..=5 => {
                // As the server stores a report: at its `checked_at` when that is believable
                // (within 30 days, a minute ahead at most), else when it arrives.
                let key = known(rng, keys);
                let (mut report, _) = random_report(rng, key);
                let day = std::time::Duration::from_secs(86_400);
                let now = std::time::SystemTime::now();
                report.checked_at = [
                    None,
                    Some(now - day * rng.u32(..30)),
                    Some(now - day * rng.u32(31..60)),
                    Some(now + std::time::Duration::from_secs(rng.u64(..600))),
                ][rng.usize(..4)];
                let receipt = store.record(report).await.unwrap();
                if !receipt.known {
                    keys.push(receipt.key);
                }
                "a report sent with its checked time".into()
            }
            _ => {
                let key = known(rng, keys);
                let (report, at) = random_report(rng, key);
                let receipt = store.import(vec![(report, at)]).await.unwrap().remove(0);
                if !receipt.known {
                    keys.push(receipt.key);
                }
                "a report".into()
            }
        }
    }

    #[tokio::test]
    async fn tallies_equal_the_straightforward_queries_after_every_step_of_random_histories() {
        for seed in 1..=5 {
            let store = Store::open(&Location::Memory).unwrap();
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut keys = Vec::new();
            for n in 0..120 {
                let what = step(&store, &mut rng, &mut keys).await;
                let at = format!("seed {seed}, step {n}: {what}");
                // The windows every tenth step: they are many, and each step changes little.
                let windows = n % 10 == 9;
                store
                    .read(move |conn| {
                        assert_tallies_match(conn, &at)?;
                        if windows {
                            assert_windows_match(conn, &at)?;
                        }
                        Ok(())
                    })
                    .await
                    .unwrap();
            }
            // The advice compared was not all empty: at the end some check on some system
            // has the minimum of learners, fixes with a median and versions.
            let full = store
                .read(|conn| Ok(all_advice(&check_records(conn)?, MIN_ADVICE_LEARNERS)))
                .await
                .unwrap();
            assert!(
                full.iter()
                    .any(|a| a.median_seconds_to_fix.is_some() && !a.fixed_with.is_empty()),
                "seed {seed}: {full:?}"
            );
        }
    }

    #[tokio::test]
    async fn no_tally_row_is_left_at_zero() {
        let store = Store::open(&Location::Memory).unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        let mut keys = Vec::new();
        for _ in 0..200 {
            step(&store, &mut rng, &mut keys).await;
        }
        for key in keys.clone() {
            store.delete_user(key.to_string()).await.unwrap();
        }
        let left: i64 = store
            .read(|conn| {
                Ok(conn.query_row(
                    "SELECT (SELECT count(*) FROM failure_tally) + (SELECT count(*) FROM
                     failure_day_tally) + (SELECT count(*) FROM failure_error_tally) +
                     (SELECT count(*) FROM learner_tally) + (SELECT count(*) FROM workshop_tally)",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(left, 0, "every learner deleted leaves no tally row behind");
    }
}
