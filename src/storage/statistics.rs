//! The statistics, read side: every dashboard number, read from the tallies (a few thousand
//! rows whatever the number of reports) and the small dictionaries they point into. Each
//! function answers exactly what its namesake in `reference.rs` computes from the raw rows;
//! the tests there hold them to that on random histories. The [`Store`] methods at the end
//! read a whole view in one transaction, so its numbers agree with each other.

use super::dictionary::Profile;
use super::dictionary::ALL_WORKSHOPS;
use super::fixes::bucket_range;
use super::stats::{
    most_stuck_first, percentile_rank, worst_system, Breakdown, CheckFixes, Comparison, Extent,
    FixOverview, Fixes, NameFailures, Overview, PackageDetail, PackageFilter, Rows, Scope,
    SystemFixes, SystemLearners, SystemNameFailures, ValueCount, VersionFailures, WorkshopSummary,
};
use super::timestamp::{self, UNKNOWN_DAY};
use super::{StorageError, Store};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use std::collections::HashMap;

/// The tally column that counts in `scope`.
fn counted(scope: &Scope) -> &'static str {
    if scope.all_attempts {
        "every"
    } else {
        "latest"
    }
}

/// The tallies' `workshop` for a workshop name (all workshops for `None`); `None` when no
/// learner ever named that workshop, so nothing counts in it.
fn workshop_key(conn: &Connection, workshop: Option<&str>) -> Result<Option<i64>, StorageError> {
    match workshop {
        None => Ok(Some(ALL_WORKSHOPS)),
        Some(name) => Ok(conn
            .prepare_cached("SELECT id FROM workshops WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?),
    }
}

/// Runs `sql` with `values` and maps each row.
fn rows<T>(
    conn: &Connection,
    sql: &str,
    values: Vec<Value>,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StorageError> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params_from_iter(values), map)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Runs `sql` with `values`, reading only the `window` of its rows (a `LIMIT` and `OFFSET`
/// added after the query's own parameters), and maps each row.
fn rows_in<T>(
    conn: &Connection,
    sql: &str,
    mut values: Vec<Value>,
    window: Rows,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StorageError> {
    let (limit, offset) = window.sql();
    let first = values.len() + 1;
    values.extend([Value::Integer(limit), Value::Integer(offset)]);
    let sql = format!("{sql} LIMIT ?{first} OFFSET ?{}", first + 1);
    rows(conn, &sql, values, map)
}

/// Runs `sql` (whose `?1` is the tallies' workshop) for a workshop by name, or all of them,
/// reading the `window` of its rows; no rows for a workshop nobody named.
fn in_workshop<T>(
    conn: &Connection,
    workshop: Option<&str>,
    sql: &str,
    window: Rows,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StorageError> {
    match workshop_key(conn, workshop)? {
        Some(key) => rows_in(conn, sql, vec![key.into()], window, map),
        None => Ok(Vec::new()),
    }
}

/// Failures per name and version in scope, most first.
pub(crate) fn failed_versions(
    conn: &Connection,
    scope: &Scope,
) -> Result<Vec<VersionFailures>, StorageError> {
    failed_versions_in(conn, scope, Rows::ALL)
}

/// [`failed_versions`], the `window` of it only.
pub(crate) fn failed_versions_in(
    conn: &Connection,
    scope: &Scope,
    window: Rows,
) -> Result<Vec<VersionFailures>, StorageError> {
    let count = counted(scope);
    let sql = format!(
        "SELECT p.name, p.version, sum(t.{count}) FROM failure_tally t
           JOIN packages p ON p.id = t.package_id
          WHERE t.workshop = ?1
          GROUP BY t.package_id HAVING sum(t.{count}) > 0 ORDER BY 3 DESC, 1, 2"
    );
    in_workshop(conn, scope.workshop.as_deref(), &sql, window, |row| {
        Ok(VersionFailures {
            name: row.get(0)?,
            version: row.get(1)?,
            count: row.get(2)?,
        })
    })
}

/// Failures per name, all versions together, most first.
pub(crate) fn failed_names(
    conn: &Connection,
    scope: &Scope,
) -> Result<Vec<NameFailures>, StorageError> {
    failed_names_in(conn, scope, Rows::ALL)
}

/// [`failed_names`], the `window` of it only.
pub(crate) fn failed_names_in(
    conn: &Connection,
    scope: &Scope,
    window: Rows,
) -> Result<Vec<NameFailures>, StorageError> {
    let count = counted(scope);
    let sql = format!(
        "SELECT p.name, sum(t.{count}) FROM failure_tally t
           JOIN packages p ON p.id = t.package_id
          WHERE t.workshop = ?1
          GROUP BY p.name HAVING sum(t.{count}) > 0 ORDER BY 2 DESC, 1"
    );
    in_workshop(conn, scope.workshop.as_deref(), &sql, window, |row| {
        Ok(NameFailures {
            name: row.get(0)?,
            count: row.get(1)?,
        })
    })
}

/// Failures per operating system (of the failing attempt) and package name, most first.
pub(crate) fn failures_by_system(
    conn: &Connection,
    scope: &Scope,
) -> Result<Vec<SystemNameFailures>, StorageError> {
    let count = counted(scope);
    let sql = format!(
        "SELECT pr.system, p.name, sum(t.{count}) FROM failure_tally t
           JOIN packages p ON p.id = t.package_id
           JOIN system_profiles pr ON pr.id = t.profile_id
          WHERE t.workshop = ?1
          GROUP BY 1, 2 HAVING sum(t.{count}) > 0 ORDER BY 3 DESC, 1, 2"
    );
    in_workshop(conn, scope.workshop.as_deref(), &sql, Rows::ALL, |row| {
        Ok(SystemNameFailures {
            system: row.get(0)?,
            name: row.get(1)?,
            count: row.get(2)?,
        })
    })
}

/// [`failures_by_system`] of the packages named `names` only, the `window` of it: the heat
/// map's cells, for the names it shows.
pub(crate) fn failures_by_system_of(
    conn: &Connection,
    scope: &Scope,
    names: &[String],
    window: Rows,
) -> Result<Vec<SystemNameFailures>, StorageError> {
    let Some(workshop) = workshop_key(conn, scope.workshop.as_deref())? else {
        return Ok(Vec::new());
    };
    let count = counted(scope);
    let sql = format!(
        "SELECT pr.system, p.name, sum(t.{count}) FROM failure_tally t
           JOIN packages p ON p.id = t.package_id
           JOIN system_profiles pr ON pr.id = t.profile_id
          WHERE t.workshop = ?1 AND p.name IN (SELECT value FROM json_each(?2))
          GROUP BY 1, 2 HAVING sum(t.{count}) > 0 ORDER BY 3 DESC, 1, 2"
    );
    let names = serde_json::to_string(names).expect("strings serialize");
    rows_in(
        conn,
        &sql,
        vec![workshop.into(), names.into()],
        window,
        |row| {
            Ok(SystemNameFailures {
                system: row.get(0)?,
                name: row.get(1)?,
                count: row.get(2)?,
            })
        },
    )
}

/// Learners per operating system (their current one), most first.
pub(crate) fn learners_by_system(
    conn: &Connection,
    workshop: Option<&str>,
) -> Result<Vec<SystemLearners>, StorageError> {
    learners_by_system_in(conn, workshop, Rows::ALL)
}

/// [`learners_by_system`], the `window` of it only.
pub(crate) fn learners_by_system_in(
    conn: &Connection,
    workshop: Option<&str>,
    window: Rows,
) -> Result<Vec<SystemLearners>, StorageError> {
    let sql = "SELECT pr.system, sum(t.learners) FROM learner_tally t
                 JOIN system_profiles pr ON pr.id = t.profile_id
                WHERE t.workshop = ?1
                GROUP BY 1 HAVING sum(t.learners) > 0 ORDER BY 2 DESC, 1";
    in_workshop(conn, workshop, sql, window, |row| {
        Ok(SystemLearners {
            system: row.get(0)?,
            learners: row.get(1)?,
        })
    })
}

/// Every workshop some learner names, in order.
pub(crate) fn workshops(conn: &Connection) -> Result<Vec<String>, StorageError> {
    workshops_in(conn, Rows::ALL)
}

/// [`workshops`], the `window` of it only.
pub(crate) fn workshops_in(conn: &Connection, window: Rows) -> Result<Vec<String>, StorageError> {
    let sql = "SELECT w.name FROM workshop_tally t JOIN workshops w ON w.id = t.workshop
                WHERE t.learners > 0 ORDER BY 1";
    rows_in(conn, sql, Vec::new(), window, |row| row.get(0))
}

/// Learners and passing learners per workshop (one, or all), largest workshop first.
pub(crate) fn workshop_summaries(
    conn: &Connection,
    workshop: Option<&str>,
) -> Result<Vec<WorkshopSummary>, StorageError> {
    workshop_summaries_in(conn, workshop, Rows::ALL)
}

/// Learners in a workshop (or all), and those whose latest attempt passed everything: the
/// sums of [`workshop_summaries`], without reading them.
pub(crate) fn learner_totals(
    conn: &Connection,
    workshop: Option<&str>,
) -> Result<(i64, i64), StorageError> {
    let totals = |row: &Row<'_>| Ok((row.get(0)?, row.get(1)?));
    Ok(match workshop {
        None => conn
            .prepare_cached(
                "SELECT coalesce(sum(learners), 0), coalesce(sum(passing), 0)
                   FROM workshop_tally WHERE learners > 0",
            )?
            .query_row([], totals)?,
        Some(name) => conn
            .prepare_cached(
                "SELECT coalesce(sum(t.learners), 0), coalesce(sum(t.passing), 0)
                   FROM workshop_tally t JOIN workshops w ON w.id = t.workshop
                  WHERE w.name = ?1 AND t.learners > 0",
            )?
            .query_row([name], totals)?,
    })
}

/// [`workshop_summaries`], the `window` of it only.
pub(crate) fn workshop_summaries_in(
    conn: &Connection,
    workshop: Option<&str>,
    window: Rows,
) -> Result<Vec<WorkshopSummary>, StorageError> {
    let map = |row: &Row<'_>| {
        Ok(WorkshopSummary {
            workshop: row.get(0)?,
            learners: row.get(1)?,
            passing: row.get(2)?,
        })
    };
    match workshop {
        None => rows_in(
            conn,
            "SELECT w.name, t.learners, t.passing FROM workshop_tally t
               LEFT JOIN workshops w ON w.id = t.workshop
              WHERE t.learners > 0 ORDER BY 2 DESC, 1",
            Vec::new(),
            window,
            map,
        ),
        Some(name) => rows_in(
            conn,
            "SELECT w.name, t.learners, t.passing FROM workshop_tally t
               JOIN workshops w ON w.id = t.workshop
              WHERE w.name = ?1 AND t.learners > 0",
            vec![name.to_owned().into()],
            window,
            map,
        ),
    }
}

/// Every package name that ever failed, in order.
pub(crate) fn package_names(conn: &Connection) -> Result<Vec<String>, StorageError> {
    package_names_in(conn, Rows::ALL)
}

/// [`package_names`], the `window` of it only.
pub(crate) fn package_names_in(
    conn: &Connection,
    window: Rows,
) -> Result<Vec<String>, StorageError> {
    let sql = format!(
        "SELECT DISTINCT p.name FROM failure_tally t JOIN packages p ON p.id = t.package_id
          WHERE t.workshop = {ALL_WORKSHOPS} AND t.every > 0 ORDER BY 1"
    );
    rows_in(conn, &sql, Vec::new(), window, |row| row.get(0))
}

/// Every version of `name` that ever failed, in order.
pub(crate) fn package_versions(conn: &Connection, name: &str) -> Result<Vec<String>, StorageError> {
    package_versions_in(conn, name, Rows::ALL)
}

/// [`package_versions`], the `window` of it only.
pub(crate) fn package_versions_in(
    conn: &Connection,
    name: &str,
    window: Rows,
) -> Result<Vec<String>, StorageError> {
    let sql = format!(
        "SELECT DISTINCT p.version FROM packages p
          WHERE p.name = ?1 AND p.version IS NOT NULL AND p.version <> ''
            AND EXISTS (SELECT 1 FROM failure_tally t
                         WHERE t.workshop = {ALL_WORKSHOPS} AND t.package_id = p.id
                           AND t.every > 0)
          ORDER BY 1"
    );
    rows_in(conn, &sql, vec![name.to_owned().into()], window, |row| {
        row.get(0)
    })
}

/// `t.workshop = ?1 AND t.package_id IN (the package's ids)`, with its values.
fn of_package(workshop: i64, package: &PackageFilter) -> (&'static str, Vec<Value>) {
    let mut values = vec![Value::Integer(workshop), Value::Text(package.name.clone())];
    let sql = match &package.version {
        None => "t.workshop = ?1 AND t.package_id IN (SELECT id FROM packages WHERE name = ?2)",
        Some(version) => {
            values.push(Value::Text(version.clone()));
            "t.workshop = ?1 AND t.package_id IN
                 (SELECT id FROM packages WHERE name = ?2 AND version = ?3)"
        }
    };
    (sql, values)
}

/// A package's failures in scope per machine profile.
fn per_profile(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
) -> Result<Vec<(Profile, i64)>, StorageError> {
    let Some(workshop) = workshop_key(conn, scope.workshop.as_deref())? else {
        return Ok(Vec::new());
    };
    let count = counted(scope);
    let (filter, values) = of_package(workshop, package);
    let sql = format!(
        "SELECT pr.distribution_name, pr.distribution_version, pr.system, pr.system_version,
                pr.machine, pr.system_platform, pr.python_version, sum(t.{count})
           FROM failure_tally t JOIN system_profiles pr ON pr.id = t.profile_id
          WHERE {filter}
          GROUP BY t.profile_id HAVING sum(t.{count}) > 0"
    );
    rows(conn, &sql, values, |row| {
        Ok((
            Profile {
                distribution_name: row.get(0)?,
                distribution_version: row.get(1)?,
                system: row.get(2)?,
                system_version: row.get(3)?,
                machine: row.get(4)?,
                system_platform: row.get(5)?,
                python_version: row.get(6)?,
            },
            row.get(7)?,
        ))
    })
}

/// The value one machine field takes in a profile; `None` for unknown or empty.
fn profile_value(by: Breakdown, profile: &Profile) -> Option<String> {
    let p = profile;
    let value = match by {
        Breakdown::DistributionName => p.distribution_name.clone(),
        Breakdown::DistributionVersion => p.distribution_version.clone(),
        Breakdown::DistributionNameVersion => {
            match (&p.distribution_name, &p.distribution_version) {
                (Some(d), Some(v)) if !d.is_empty() && !v.is_empty() => Some(format!("{d} {v}")),
                _ => None,
            }
        }
        Breakdown::System => p.system.clone(),
        Breakdown::SystemVersion => p.system_version.clone(),
        Breakdown::SystemPlatform => p.system_platform.clone(),
        Breakdown::Machine => p.machine.clone(),
        Breakdown::PythonVersion => p.python_version.clone(),
        Breakdown::Day | Breakdown::ErrorDescription => None,
    };
    value.filter(|v| !v.is_empty())
}

/// Counts per value, largest first, then by value.
fn sorted(counts: HashMap<String, i64>) -> Vec<ValueCount> {
    let mut list: Vec<ValueCount> = counts
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|(value, count)| ValueCount { value, count })
        .collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    list
}

fn fold_profiles(profiles: &[(Profile, i64)], by: Breakdown) -> Vec<ValueCount> {
    let mut counts = HashMap::new();
    for (profile, count) in profiles {
        if let Some(value) = profile_value(by, profile) {
            *counts.entry(value).or_default() += count;
        }
    }
    sorted(counts)
}

/// A package's failures in scope per day (the attempts' days), the `window` of them.
fn per_day(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
    window: Rows,
) -> Result<Vec<ValueCount>, StorageError> {
    let Some(workshop) = workshop_key(conn, scope.workshop.as_deref())? else {
        return Ok(Vec::new());
    };
    let count = counted(scope);
    let (filter, values) = of_package(workshop, package);
    let sql = format!(
        "SELECT t.day, sum(t.{count}) FROM failure_day_tally t
          WHERE {filter} AND t.day <> {UNKNOWN_DAY}
          GROUP BY 1 HAVING sum(t.{count}) > 0 ORDER BY 2 DESC, 1"
    );
    rows_in(conn, &sql, values, window, |row| {
        Ok(ValueCount {
            value: timestamp::day_text(row.get(0)?),
            count: row.get(1)?,
        })
    })
}

/// A package's failures in scope per error text, the `window` of them.
fn per_error(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
    window: Rows,
) -> Result<Vec<ValueCount>, StorageError> {
    let Some(workshop) = workshop_key(conn, scope.workshop.as_deref())? else {
        return Ok(Vec::new());
    };
    let count = counted(scope);
    let (filter, values) = of_package(workshop, package);
    let sql = format!(
        "SELECT e.text, sum(t.{count}) FROM failure_error_tally t
           JOIN error_texts e ON e.id = t.error_id
          WHERE {filter} AND e.text <> ''
          GROUP BY 1 HAVING sum(t.{count}) > 0 ORDER BY 2 DESC, 1"
    );
    rows_in(conn, &sql, values, window, |row| {
        Ok(ValueCount {
            value: row.get(0)?,
            count: row.get(1)?,
        })
    })
}

/// Failures of `package` in scope, counted by one field; empty and unknown values left out.
/// (The pages read every field at once with [`package_detail`]; the tests one at a time.)
#[cfg(test)]
pub(crate) fn failure_breakdown(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
    by: Breakdown,
) -> Result<Vec<ValueCount>, StorageError> {
    let profiles = match by {
        Breakdown::Day | Breakdown::ErrorDescription => Vec::new(),
        _ => per_profile(conn, package, scope)?,
    };
    breakdown(conn, package, scope, by, &profiles)
}

/// One field's counts: days and error texts from their tallies, machine fields folded from
/// the package's per-profile counts.
fn breakdown(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
    by: Breakdown,
    profiles: &[(Profile, i64)],
) -> Result<Vec<ValueCount>, StorageError> {
    match by {
        Breakdown::Day => per_day(conn, package, scope, Rows::ALL),
        Breakdown::ErrorDescription => per_error(conn, package, scope, Rows::ALL),
        _ => Ok(fold_profiles(profiles, by)),
    }
}

/// How many failures of `package` count in scope.
pub(crate) fn failure_count(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
) -> Result<i64, StorageError> {
    let Some(workshop) = workshop_key(conn, scope.workshop.as_deref())? else {
        return Ok(0);
    };
    let (filter, values) = of_package(workshop, package);
    let sql = format!(
        "SELECT coalesce(sum(t.{}), 0) FROM failure_tally t WHERE {filter}",
        counted(scope)
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(values), |row| row.get(0))?)
}

/// The id of a check's name; `None` when nobody ever failed or passed it.
fn name_key(conn: &Connection, name: &str) -> Result<Option<i64>, StorageError> {
    Ok(conn
        .prepare_cached("SELECT id FROM check_names WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

/// Per operating system: learners who failed a check, fixed it, are stuck with it.
fn fixes_by_system(
    conn: &Connection,
    workshop: i64,
    name: i64,
    window: Rows,
) -> Result<Vec<SystemFixes>, StorageError> {
    let sql = "SELECT pr.system, sum(t.failed), sum(t.fixed), sum(t.stuck) FROM fix_tally t
                 JOIN system_profiles pr ON pr.id = t.profile_id
                WHERE t.workshop = ?1 AND t.name_id = ?2
                GROUP BY 1 HAVING sum(t.failed) > 0 ORDER BY 2 DESC, 1";
    rows_in(
        conn,
        sql,
        vec![workshop.into(), name.into()],
        window,
        |row| {
            Ok(SystemFixes {
                system: row.get(0)?,
                failed: row.get(1)?,
                fixed: row.get(2)?,
                stuck: row.get(3)?,
            })
        },
    )
}

/// Nearest-rank percentiles of a check's times to fix, each `(numerator, denominator)`, read
/// exactly from the times in order (a partial index of `learner_checks`). One workshop's few
/// fixes are walked directly; for all workshops together the histogram of `fix_time_tally`
/// first finds the bucket that holds the rank, so only that bucket's times are walked.
fn percentiles(
    conn: &Connection,
    workshop: i64,
    name: i64,
    fractions: &[(i64, i64)],
) -> Result<Vec<Option<i64>>, StorageError> {
    // `(bucket, fixes)` in order: the whole range in one piece for one workshop.
    let histogram: Vec<(Option<i64>, i64)> = if workshop == ALL_WORKSHOPS {
        rows(
            conn,
            "SELECT bucket, fixes FROM fix_time_tally WHERE workshop = ?1 AND name_id = ?2
              ORDER BY bucket",
            vec![workshop.into(), name.into()],
            |row| Ok((Some(row.get(0)?), row.get(1)?)),
        )?
    } else {
        let fixes: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM learner_checks INDEXED BY learner_checks_by_workshop_time
                  WHERE workshop = ?1 AND name_id = ?2 AND seconds_to_fix IS NOT NULL",
            )?
            .query_row(params![workshop, name], |r| r.get(0))?;
        vec![(None, fixes)]
    };
    let n: i64 = histogram.iter().map(|(_, fixes)| fixes).sum();
    let within = if workshop == ALL_WORKSHOPS {
        "SELECT seconds_to_fix FROM learner_checks INDEXED BY learner_checks_by_time
          WHERE name_id = ?2 AND seconds_to_fix IS NOT NULL
            AND seconds_to_fix >= ?3 AND seconds_to_fix < ?4
          ORDER BY seconds_to_fix LIMIT 1 OFFSET ?5"
    } else {
        "SELECT seconds_to_fix FROM learner_checks INDEXED BY learner_checks_by_workshop_time
          WHERE workshop = ?1 AND name_id = ?2 AND seconds_to_fix IS NOT NULL
            AND seconds_to_fix >= ?3 AND seconds_to_fix < ?4
          ORDER BY seconds_to_fix LIMIT 1 OFFSET ?5"
    };
    let mut values = Vec::with_capacity(fractions.len());
    for &(numerator, denominator) in fractions {
        if n == 0 {
            values.push(None);
            continue;
        }
        let rank = percentile_rank(n, numerator, denominator);
        let mut below = 0;
        let mut found = None;
        for &(bucket, fixes) in &histogram {
            if below + fixes >= rank {
                let (low, high) = bucket.map_or((i64::MIN, i64::MAX), bucket_range);
                found = conn
                    .prepare_cached(within)?
                    .query_row(params![workshop, name, low, high, rank - below - 1], |r| {
                        r.get(0)
                    })
                    .optional()?;
                break;
            }
            below += fixes;
        }
        values.push(found);
    }
    Ok(values)
}

/// What fixed a check, in one workshop or all.
pub(crate) fn check_fixes(
    conn: &Connection,
    name: &str,
    workshop: Option<&str>,
) -> Result<Fixes, StorageError> {
    check_fixes_in(conn, name, workshop, Rows::ALL)
}

/// [`check_fixes`] with the `window` of its lists (systems, versions); the totals are all
/// the learners'.
pub(crate) fn check_fixes_in(
    conn: &Connection,
    name: &str,
    workshop: Option<&str>,
    window: Rows,
) -> Result<Fixes, StorageError> {
    let (Some(workshop), Some(name)) = (workshop_key(conn, workshop)?, name_key(conn, name)?)
    else {
        return Ok(Fixes::default());
    };
    let by_system = fixes_by_system(conn, workshop, name, window)?;
    let (failed_learners, fixed_learners, stuck_learners) = conn
        .prepare_cached(
            "SELECT coalesce(sum(failed), 0), coalesce(sum(fixed), 0), coalesce(sum(stuck), 0)
               FROM fix_tally WHERE workshop = ?1 AND name_id = ?2",
        )?
        .query_row(params![workshop, name], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    let times = percentiles(conn, workshop, name, &[(1, 2), (9, 10)])?;
    let fixed_with = rows_in(
        conn,
        "SELECT p.version, sum(t.fixes) FROM fix_version_tally t
           JOIN packages p ON p.id = t.package_id
          WHERE t.workshop = ?1 AND t.name_id = ?2
          GROUP BY 1 HAVING sum(t.fixes) > 0 ORDER BY 2 DESC, 1",
        vec![workshop.into(), name.into()],
        window,
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(Fixes {
        failed_learners,
        fixed_learners,
        stuck_learners,
        median_seconds_to_fix: times[0],
        p90_seconds_to_fix: times[1],
        fixed_with,
        by_system,
    })
}

/// "What gets fixed": every check at least `min_failed` learners failed, most stuck first.
pub(crate) fn fix_overview(
    conn: &Connection,
    workshop: Option<&str>,
    min_failed: i64,
) -> Result<Vec<CheckFixes>, StorageError> {
    let Some(workshop) = workshop_key(conn, workshop)? else {
        return Ok(Vec::new());
    };
    let per_system: Vec<(i64, String, SystemFixes)> = rows(
        conn,
        "SELECT t.name_id, n.name, pr.system, sum(t.failed), sum(t.fixed), sum(t.stuck)
           FROM fix_tally t
           JOIN check_names n ON n.id = t.name_id
           JOIN system_profiles pr ON pr.id = t.profile_id
          WHERE t.workshop = ?1
          GROUP BY 1, 3 HAVING sum(t.failed) > 0",
        vec![workshop.into()],
        |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                SystemFixes {
                    system: row.get(2)?,
                    failed: row.get(3)?,
                    fixed: row.get(4)?,
                    stuck: row.get(5)?,
                },
            ))
        },
    )?;
    let mut by_name: HashMap<i64, (String, Vec<SystemFixes>)> = HashMap::new();
    for (id, name, system) in per_system {
        by_name
            .entry(id)
            .or_insert_with(|| (name, Vec::new()))
            .1
            .push(system);
    }
    let mut checks = Vec::new();
    for (id, (name, systems)) in by_name {
        let failed: i64 = systems.iter().map(|s| s.failed).sum();
        if failed < min_failed {
            continue;
        }
        checks.push(CheckFixes {
            name,
            failed_learners: failed,
            fixed_learners: systems.iter().map(|s| s.fixed).sum(),
            stuck_learners: systems.iter().map(|s| s.stuck).sum(),
            median_seconds_to_fix: percentiles(conn, workshop, id, &[(1, 2)])?[0],
            worst_system: worst_system(&systems, min_failed),
        });
    }
    checks.sort_by(most_stuck_first);
    Ok(checks)
}

/// [`fix_overview`], the `window` of it only: the order, totals, worst system and median
/// come from SQL for the checks in the window, so no list of every check is ever read.
pub(crate) fn fix_overview_in(
    conn: &Connection,
    workshop: Option<&str>,
    min_failed: i64,
    window: Rows,
) -> Result<Vec<CheckFixes>, StorageError> {
    let Some(workshop) = workshop_key(conn, workshop)? else {
        return Ok(Vec::new());
    };
    // Most stuck first: the ratio as a double, which is the same for equal fractions.
    let totals: Vec<(i64, CheckFixes)> = rows_in(
        conn,
        "SELECT t.name_id, n.name, sum(t.failed), sum(t.fixed), sum(t.stuck) FROM fix_tally t
           JOIN check_names n ON n.id = t.name_id
          WHERE t.workshop = ?1
          GROUP BY 1 HAVING sum(t.failed) > 0 AND sum(t.failed) >= ?2
          ORDER BY CAST(sum(t.stuck) AS REAL) / sum(t.failed) DESC, 3 DESC, 2",
        vec![workshop.into(), min_failed.into()],
        window,
        |row| {
            Ok((
                row.get(0)?,
                CheckFixes {
                    name: row.get(1)?,
                    failed_learners: row.get(2)?,
                    fixed_learners: row.get(3)?,
                    stuck_learners: row.get(4)?,
                    median_seconds_to_fix: None,
                    worst_system: None,
                },
            ))
        },
    )?;
    let mut checks = Vec::with_capacity(totals.len());
    for (id, mut check) in totals {
        check.median_seconds_to_fix = percentiles(conn, workshop, id, &[(1, 2)])?[0];
        check.worst_system = conn
            .prepare_cached(
                "SELECT pr.system, sum(t.failed), sum(t.fixed), sum(t.stuck) FROM fix_tally t
                   JOIN system_profiles pr ON pr.id = t.profile_id
                  WHERE t.workshop = ?1 AND t.name_id = ?2
                  GROUP BY 1 HAVING sum(t.failed) >= ?3 AND sum(t.stuck) > 0
                  ORDER BY CAST(sum(t.stuck) AS REAL) / sum(t.failed) DESC, 2 DESC, 1
                  LIMIT 1",
            )?
            .query_row(params![workshop, id, min_failed], |row| {
                Ok(SystemFixes {
                    system: row.get(0)?,
                    failed: row.get(1)?,
                    fixed: row.get(2)?,
                    stuck: row.get(3)?,
                })
            })
            .optional()?;
        checks.push(check);
    }
    Ok(checks)
}

/// The SQL of one machine field's value in `system_profiles pr`; `None` for the breakdowns
/// that are not machine fields.
fn profile_column(by: Breakdown) -> Option<&'static str> {
    Some(match by {
        Breakdown::DistributionName => "pr.distribution_name",
        Breakdown::DistributionVersion => "pr.distribution_version",
        Breakdown::DistributionNameVersion => {
            "CASE WHEN pr.distribution_name <> '' AND pr.distribution_version <> ''
                  THEN pr.distribution_name || ' ' || pr.distribution_version END"
        }
        Breakdown::System => "pr.system",
        Breakdown::SystemVersion => "pr.system_version",
        Breakdown::SystemPlatform => "pr.system_platform",
        Breakdown::Machine => "pr.machine",
        Breakdown::PythonVersion => "pr.python_version",
        Breakdown::Day | Breakdown::ErrorDescription => return None,
    })
}

/// [`failure_breakdown`], the `window` of it only, counted in SQL: one field at a time,
/// where the full list folds every machine profile in memory.
pub(crate) fn failure_breakdown_in(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
    by: Breakdown,
    window: Rows,
) -> Result<Vec<ValueCount>, StorageError> {
    let Some(column) = profile_column(by) else {
        return match by {
            Breakdown::Day => per_day(conn, package, scope, window),
            _ => per_error(conn, package, scope, window),
        };
    };
    let Some(workshop) = workshop_key(conn, scope.workshop.as_deref())? else {
        return Ok(Vec::new());
    };
    let count = counted(scope);
    let (filter, values) = of_package(workshop, package);
    let sql = format!(
        "SELECT {column}, sum(t.{count}) FROM failure_tally t
           JOIN system_profiles pr ON pr.id = t.profile_id
          WHERE {filter}
          GROUP BY 1 HAVING {column} <> '' AND sum(t.{count}) > 0 ORDER BY 2 DESC, 1"
    );
    rows_in(conn, &sql, values, window, |row| {
        Ok(ValueCount {
            value: row.get(0)?,
            count: row.get(1)?,
        })
    })
}

/// [`package_detail`] with the `window` of each list.
pub(crate) fn package_detail_in(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
    window: Rows,
) -> Result<PackageDetail, StorageError> {
    let fixes = check_fixes_in(conn, &package.name, scope.workshop.as_deref(), window)?;
    let failures = failure_count(conn, package, scope)?;
    PackageDetail::assemble(package, failures, fixes, |field| {
        failure_breakdown_in(conn, package, scope, field, window)
    })
}

/// Every breakdown of one package's failures.
pub(crate) fn package_detail(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
) -> Result<PackageDetail, StorageError> {
    let profiles = per_profile(conn, package, scope)?;
    let fixes = check_fixes(conn, &package.name, scope.workshop.as_deref())?;
    let failures = failure_count(conn, package, scope)?;
    PackageDetail::assemble(package, failures, fixes, |field| {
        breakdown(conn, package, scope, field, &profiles)
    })
}

/// The overview of one scope, as much of it as `extent` says, read in one transaction so
/// its numbers agree.
pub(crate) fn overview(
    conn: &Connection,
    scope: &Scope,
    extent: &Extent,
) -> Result<Overview, StorageError> {
    let snapshot = conn.unchecked_transaction()?;
    let workshop = scope.workshop.as_deref();
    let failed_names = failed_names_in(&snapshot, scope, extent.lists)?;
    let heat_names: Vec<String> = failed_names
        .iter()
        .take(extent.heat_names)
        .map(|f| f.name.clone())
        .collect();
    let (learners, passing) = learner_totals(&snapshot, workshop)?;
    Ok(Overview {
        failed_versions: failed_versions_in(&snapshot, scope, extent.lists)?,
        learners_by_system: learners_by_system_in(&snapshot, workshop, extent.lists)?,
        failures_by_system: failures_by_system_of(
            &snapshot,
            scope,
            &heat_names,
            Rows::first(extent.heat_cells),
        )?,
        failed_names,
        workshops: workshops_in(&snapshot, extent.choices)?,
        summaries: workshop_summaries_in(&snapshot, workshop, extent.lists)?,
        learners,
        passing,
    })
}

/// The details of some packages, and the choices for comparing others, as much of them as
/// `extent` says, in one transaction.
pub(crate) fn comparison(
    conn: &Connection,
    packages: &[PackageFilter],
    scope: &Scope,
    extent: &Extent,
) -> Result<Comparison, StorageError> {
    let snapshot = conn.unchecked_transaction()?;
    Ok(Comparison {
        details: packages
            .iter()
            .map(|package| package_detail_in(&snapshot, package, scope, extent.lists))
            .collect::<Result<_, _>>()?,
        names: package_names_in(&snapshot, extent.choices)?,
        versions: {
            let mut versions = Vec::new();
            for package in packages {
                versions.extend(package_versions_in(
                    &snapshot,
                    &package.name,
                    extent.choices,
                )?);
            }
            versions.sort();
            versions.dedup();
            versions
        },
        workshops: workshops_in(&snapshot, extent.choices)?,
    })
}

/// "What gets fixed" and the workshops to choose from, as much of them as `extent` says, in
/// one transaction.
pub(crate) fn fixes_page(
    conn: &Connection,
    workshop: Option<&str>,
    min_failed: i64,
    extent: &Extent,
) -> Result<FixOverview, StorageError> {
    let snapshot = conn.unchecked_transaction()?;
    Ok(FixOverview {
        checks: fix_overview_in(&snapshot, workshop, min_failed, extent.lists)?,
        workshops: workshops_in(&snapshot, extent.choices)?,
    })
}

impl Store {
    /// "What gets fixed" in one workshop or all, for checks at least `min_failed` learners
    /// failed.
    pub(crate) async fn fix_overview(
        &self,
        workshop: Option<String>,
        min_failed: i64,
        extent: Extent,
    ) -> Result<FixOverview, StorageError> {
        self.read(move |conn| fixes_page(conn, workshop.as_deref(), min_failed, &extent))
            .await
    }

    /// Most failed packages, learners per system and workshop summaries for one scope.
    pub(crate) async fn overview(
        &self,
        scope: Scope,
        extent: Extent,
    ) -> Result<Overview, StorageError> {
        self.read(move |conn| overview(conn, &scope, &extent)).await
    }

    /// Where and when each of `packages` fails, with the packages one may compare instead.
    pub(crate) async fn comparison(
        &self,
        packages: Vec<PackageFilter>,
        scope: Scope,
        extent: Extent,
    ) -> Result<Comparison, StorageError> {
        self.read(move |conn| comparison(conn, &packages, &scope, &extent))
            .await
    }
}
