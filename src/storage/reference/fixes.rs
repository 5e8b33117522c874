//! What fixed a check: each learner's record of each check straight from the raw rows, what
//! those records say per check and workshop, and the advice an answer gives from them.

use crate::report::{Advice, MAX_FIXED_WITH};
use crate::storage::stats::{
    most_stuck_first, percentile_rank, worst_system, CheckFixes, Fixes, SystemFixes,
};
use crate::storage::StorageError;
use rusqlite::Connection;

/// One learner's record of one check, computed straight from the original's tables: the
/// first attempt that failed it (its workshop and system), the first later attempt that
/// passed it, and whether the learner's latest attempt fails it.
pub(crate) struct CheckRecord {
    name: String,
    workshop: Option<String>,
    system: Option<String>,
    fixed: bool,
    seconds_to_fix: Option<i64>,
    fixed_with: Option<String>,
    stuck: bool,
}

pub(crate) fn check_records(conn: &Connection) -> Result<Vec<CheckRecord>, StorageError> {
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
pub(crate) fn check_fixes(records: &[CheckRecord], name: &str, workshop: Option<&str>) -> Fixes {
    let chosen: Vec<&CheckRecord> = records
        .iter()
        .filter(|r| r.name == name && in_scope(r, workshop))
        .collect();
    summarise(&chosen)
}

/// Every check at least `min_failed` learners failed, most stuck first, among `records`.
pub(crate) fn fix_overview(
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
pub(crate) fn advice(
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
pub(crate) fn all_advice(records: &[CheckRecord], min_learners: i64) -> Vec<Advice> {
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
