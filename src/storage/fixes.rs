//! What fixed it, write side: per learner and check they ever failed, where the problem began,
//! whether and when a later attempt passed it, with what, and whether they are stuck with it
//! now. Kept with each attempt (one learner's few records are read, changed and written back)
//! and counted into the fix tallies like everything else, through [`Deltas`].
//!
//! The definitions (also on the "What gets fixed" page and in docs/api.md): a learner *failed*
//! a check if any attempt lists it in `failed_installs`; they *fixed* it if a later attempt
//! lists it in `successful_installs`; *time to fix* runs from the first failing attempt to the
//! first later passing one, which the fix is *fixed with*; they are *stuck* while their latest
//! attempt still fails it. Each record counts under the workshop and machine of the first
//! failing attempt.

use super::dictionary::Dictionary;
use super::tally::Deltas;
use super::timestamp;
use super::{Cause, StorageError};
use rusqlite::{params, Connection};
use std::collections::{BTreeMap, HashMap};

/// Times to fix below this many seconds have a bucket each; above, each power of two is cut
/// into this many buckets (each about 3% wide).
const BUCKETS_PER_DOUBLING: i64 = 32;
/// Tally rows a rebuild gathers in memory before it writes them.
const REBUILD_SLICE: usize = 50_000;

/// The bucket of `fix_time_tally` a time to fix falls in: monotonic, about 3% wide.
pub(crate) fn bucket(seconds: i64) -> i64 {
    if seconds <= 0 {
        return 0;
    }
    if seconds < BUCKETS_PER_DOUBLING {
        return seconds;
    }
    let log2 = 63 - i64::from(seconds.leading_zeros());
    let shift = log2 - 5;
    let mantissa = (seconds >> shift) & (BUCKETS_PER_DOUBLING - 1);
    (shift + 1) * BUCKETS_PER_DOUBLING + mantissa
}

/// The times a bucket holds: from the first (inclusive) to the second (exclusive).
pub(crate) fn bucket_range(bucket: i64) -> (i64, i64) {
    match bucket {
        b if b <= 0 => (i64::MIN, 1),
        b if b < BUCKETS_PER_DOUBLING => (b, b + 1),
        b => {
            let shift = b / BUCKETS_PER_DOUBLING - 1;
            let mantissa = b % BUCKETS_PER_DOUBLING;
            (
                (BUCKETS_PER_DOUBLING + mantissa) << shift,
                (BUCKETS_PER_DOUBLING + mantissa + 1) << shift,
            )
        }
    }
}

/// One learner's record of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    /// Seconds since 1970 of the first failing attempt, when known.
    failed_time: Option<i64>,
    workshop: i64,
    profile: i64,
    /// The package (version) that passed first after the failure: `None` while not fixed.
    fixed_package: Option<i64>,
    seconds_to_fix: Option<i64>,
    stuck: bool,
}

impl Record {
    /// What this record counts in the tallies, `sign` times (1 to add it, -1 to take it out).
    fn count(&self, name: i64, sign: i64, deltas: &mut Deltas) {
        let fixed = i64::from(self.fixed_package.is_some());
        let stuck = i64::from(self.stuck);
        deltas.check(
            self.workshop,
            name,
            self.profile,
            [sign, sign * fixed, sign * stuck],
        );
        if let Some(package) = self.fixed_package {
            deltas.fix(
                self.workshop,
                name,
                package,
                self.seconds_to_fix.map(bucket),
                sign,
            );
        }
    }
}

/// An attempt as the fix records see it: check names by id. It is the learner's newest, so
/// any record it did not create began in an earlier attempt.
pub(crate) struct Attempt<'a> {
    /// Seconds since 1970, when known.
    pub time: Option<i64>,
    pub workshop: i64,
    pub profile: i64,
    /// The names it lists as failed.
    pub failed: &'a [i64],
    /// The names it lists as passed, each with the package (version) that passed.
    pub passed: &'a [(i64, i64)],
}

/// One learner's records, by check name id; those changed since they were read are
/// written back by [`LearnerChecks::save`].
pub(crate) struct LearnerChecks {
    user: i64,
    records: BTreeMap<i64, Record>,
    changed: Vec<i64>,
}

impl LearnerChecks {
    /// A learner with no records (a new learner).
    pub(crate) fn none(user: i64) -> LearnerChecks {
        LearnerChecks {
            user,
            records: BTreeMap::new(),
            changed: Vec::new(),
        }
    }

    /// A learner's records as stored.
    pub(crate) fn load(conn: &Connection, user: i64) -> Result<LearnerChecks, StorageError> {
        let mut statement = conn.prepare_cached(
            "SELECT name_id, failed_time, workshop, profile_id, fixed_package_id, seconds_to_fix,
                    stuck
               FROM learner_checks WHERE user_id = ?1",
        )?;
        let records = statement
            .query_map([user], |r| {
                Ok((
                    r.get(0)?,
                    Record {
                        failed_time: r.get(1)?,
                        workshop: r.get(2)?,
                        profile: r.get(3)?,
                        fixed_package: r.get(4)?,
                        seconds_to_fix: r.get(5)?,
                        stuck: r.get(6)?,
                    },
                ))
            })?
            .collect::<Result<_, _>>()?;
        Ok(LearnerChecks {
            user,
            records,
            changed: Vec::new(),
        })
    }

    /// A new attempt, the learner's latest: what it fails is failed (new records begin here)
    /// and stuck, what it passes is fixed if an earlier attempt failed it.
    pub(crate) fn apply(&mut self, attempt: &Attempt<'_>, deltas: &mut Deltas) {
        for (&name, record) in &mut self.records {
            let stuck = attempt.failed.contains(&name);
            if stuck != record.stuck {
                record.stuck = stuck;
                let change = if stuck { 1 } else { -1 };
                deltas.check(record.workshop, name, record.profile, [0, 0, change]);
                self.changed.push(name);
            }
        }
        let mut begun = Vec::new();
        for &name in attempt.failed {
            if self.records.contains_key(&name) {
                continue;
            }
            let record = Record {
                failed_time: attempt.time,
                workshop: attempt.workshop,
                profile: attempt.profile,
                fixed_package: None,
                seconds_to_fix: None,
                stuck: true,
            };
            record.count(name, 1, deltas);
            self.records.insert(name, record);
            self.changed.push(name);
            begun.push(name);
        }
        for &(name, package) in attempt.passed {
            // Passing in the attempt that first fails it is no fix: a fix comes later.
            if begun.contains(&name) {
                continue;
            }
            let Some(record) = self.records.get_mut(&name) else {
                continue;
            };
            if record.fixed_package.is_some() {
                continue;
            }
            record.count(name, -1, deltas);
            record.fixed_package = Some(package);
            record.seconds_to_fix = attempt
                .time
                .zip(record.failed_time)
                .map(|(fixed, failed)| fixed - failed);
            record.count(name, 1, deltas);
            self.changed.push(name);
        }
    }

    /// Writes back the records `apply` changed.
    pub(crate) fn save(&mut self, conn: &Connection) -> Result<(), StorageError> {
        self.changed.sort_unstable();
        self.changed.dedup();
        let mut upsert = conn.prepare_cached(
            "INSERT INTO learner_checks (user_id, name_id, failed_time, workshop, profile_id,
                 fixed_package_id, seconds_to_fix, stuck)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (user_id, name_id) DO UPDATE SET
                 fixed_package_id = excluded.fixed_package_id,
                 seconds_to_fix = excluded.seconds_to_fix, stuck = excluded.stuck",
        )?;
        for name in self.changed.drain(..) {
            let r = &self.records[&name];
            upsert.execute(params![
                self.user,
                name,
                r.failed_time,
                r.workshop,
                r.profile,
                r.fixed_package,
                r.seconds_to_fix,
                r.stuck
            ])?;
        }
        Ok(())
    }

    /// Takes everything these records count out of the tallies (the learner is leaving; the
    /// rows go with them by the database's cascade).
    pub(crate) fn forget(self, deltas: &mut Deltas) {
        for (name, record) in &self.records {
            record.count(*name, -1, deltas);
        }
    }
}

/// Recomputes every learner's records, and the fix tallies, by replaying each learner's
/// attempts in order through [`LearnerChecks::apply`]: the same code the writer runs.
pub(crate) fn rebuild(conn: &Connection, dictionary: &mut Dictionary) -> Result<(), StorageError> {
    conn.execute_batch(
        "DELETE FROM learner_checks; DELETE FROM fix_tally; DELETE FROM fix_time_tally;
         DELETE FROM fix_version_tally;",
    )?;
    let mut name_of_package = HashMap::new();
    {
        let mut packages = conn.prepare("SELECT id, name FROM packages")?;
        let mut rows = packages.query([])?;
        while let Some(row) = rows.next()? {
            let name: String = row.get(1)?;
            name_of_package.insert(row.get::<_, i64>(0)?, dictionary.check_name(conn, &name)?);
        }
    }
    let mut attempts = conn.prepare(
        "SELECT s.user_id, s.id, s.create_time, coalesce(s.workshop, 0), s.profile_id,
                s.successes,
                (SELECT json_group_array(package_id) FROM
                    (SELECT package_id FROM submission_failures f
                      WHERE f.submission_id = s.id ORDER BY position))
           FROM submissions s ORDER BY s.user_id, s.id",
    )?;
    let mut rows = attempts.query([])?;
    let mut deltas = Deltas::default();
    let mut learner: Option<LearnerChecks> = None;
    while let Some(row) = rows.next()? {
        let user: i64 = row.get(0)?;
        if learner.as_ref().is_none_or(|l| l.user != user) {
            if let Some(mut done) = learner.take() {
                done.save(conn)?;
            }
            // Written as it goes, so memory holds a slice of the tallies, not all of them.
            if deltas.len() >= REBUILD_SLICE {
                std::mem::take(&mut deltas).apply(conn)?;
            }
            learner = Some(LearnerChecks::none(user));
        }
        let names = |json: String| -> Result<Vec<(i64, i64)>, StorageError> {
            let packages: Vec<i64> = serde_json::from_str(&json)
                .map_err(|e| StorageError::Corrupt(Cause::new("a list of package ids", e)))?;
            Ok(packages
                .into_iter()
                .filter_map(|p| name_of_package.get(&p).map(|&name| (name, p)))
                .collect())
        };
        let passed = names(row.get(5)?)?;
        let failed: Vec<i64> = names(row.get(6)?)?.into_iter().map(|(n, _)| n).collect();
        let time: Option<String> = row.get(2)?;
        let attempt = Attempt {
            time: timestamp::seconds(time.as_deref()),
            workshop: row.get(3)?,
            profile: row.get(4)?,
            failed: &failed,
            passed: &passed,
        };
        learner
            .as_mut()
            .expect("a learner")
            .apply(&attempt, &mut deltas);
    }
    if let Some(mut done) = learner {
        done.save(conn)?;
    }
    deltas.apply(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_contiguous_and_narrow() {
        let mut previous = bucket(0);
        for seconds in 1..200_000i64 {
            let b = bucket(seconds);
            assert!(
                b == previous || b == previous + 1,
                "{seconds}: {previous} then {b}"
            );
            let (low, high) = bucket_range(b);
            assert!(
                low <= seconds && seconds < high,
                "{seconds} not in {low}..{high}"
            );
            previous = b;
        }
        let (low, high) = bucket_range(bucket(86_400 * 30));
        assert!((high - low) as f64 / low as f64 <= 1.0 / 32.0 + 1e-9);
        assert_eq!(bucket(-5), 0);
    }

    fn attempt<'a>(time: i64, failed: &'a [i64], passed: &'a [(i64, i64)]) -> Attempt<'a> {
        Attempt {
            time: Some(time),
            workshop: 7,
            profile: 3,
            failed,
            passed,
        }
    }

    #[test]
    fn fixed_then_broken_again_keeps_the_first_fix_and_is_stuck() {
        let mut learner = LearnerChecks::none(1);
        let mut deltas = Deltas::default();
        learner.apply(&attempt(1000, &[5], &[]), &mut deltas);
        learner.apply(&attempt(4600, &[], &[(5, 50)]), &mut deltas);
        learner.apply(&attempt(9000, &[5], &[]), &mut deltas);
        learner.apply(&attempt(9900, &[], &[(5, 51)]), &mut deltas);
        learner.apply(&attempt(9999, &[5], &[]), &mut deltas);
        let record = &learner.records[&5];
        assert_eq!(record.seconds_to_fix, Some(3600));
        assert_eq!(
            record.fixed_package,
            Some(50),
            "fixed with what passed first"
        );
        assert!(record.stuck);
    }

    #[test]
    fn passing_in_the_attempt_that_first_fails_is_no_fix() {
        let mut learner = LearnerChecks::none(1);
        let mut deltas = Deltas::default();
        learner.apply(&attempt(1000, &[5], &[(5, 50)]), &mut deltas);
        assert_eq!(learner.records[&5].fixed_package, None);
        learner.apply(&attempt(1001, &[], &[(6, 60)]), &mut deltas);
        assert!(
            !learner.records.contains_key(&6),
            "a pass alone is no record"
        );
        assert!(
            !learner.records[&5].stuck,
            "the latest attempt does not fail it"
        );
    }
}
