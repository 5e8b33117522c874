//! The tallies, write side. Every change to the raw rows made through the store says what it
//! changes in the counts ([`Deltas`]); the writer adds up a whole batch's changes per key and
//! applies them with one upsert per key, deleting rows that reach zero. `rebuild` recomputes
//! them from the raw rows, for hand edits and for migrations (see `rebuild.rs`).

use super::dictionary::{Dictionary, ALL_WORKSHOPS, ERROR_TEXT, NO_WORKSHOP, PACKAGE, PROFILE};
use super::profile::{columns, Field, Profile};
use super::timestamp::UNKNOWN_DAY;
use super::StorageError;
use rusqlite::{params, params_from_iter, Connection};
use std::collections::{BTreeMap, BTreeSet};

/// A tally table: how to add to one of its rows and how to delete a row that reached zero.
/// Keys and counts are integers; `keys` and `counts` say how many each statement binds.
struct Table {
    upsert: &'static str,
    delete: &'static str,
    keys: usize,
    counts: usize,
}

const FAILURES: Table = Table {
    upsert: "INSERT INTO failure_tally (workshop, package_id, profile_id, latest, every)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO UPDATE SET latest = latest + excluded.latest,
                                       every = every + excluded.every
             RETURNING latest, every",
    delete: "DELETE FROM failure_tally WHERE workshop = ?1 AND package_id = ?2 AND profile_id = ?3",
    keys: 3,
    counts: 2,
};
const DAYS: Table = Table {
    upsert: "INSERT INTO failure_day_tally (workshop, package_id, day, latest, every)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO UPDATE SET latest = latest + excluded.latest,
                                       every = every + excluded.every
             RETURNING latest, every",
    delete: "DELETE FROM failure_day_tally WHERE workshop = ?1 AND package_id = ?2 AND day = ?3",
    keys: 3,
    counts: 2,
};
const ERRORS: Table = Table {
    upsert: "INSERT INTO failure_error_tally (workshop, package_id, error_id, latest, every)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO UPDATE SET latest = latest + excluded.latest,
                                       every = every + excluded.every
             RETURNING latest, every",
    delete: "DELETE FROM failure_error_tally
              WHERE workshop = ?1 AND package_id = ?2 AND error_id = ?3",
    keys: 3,
    counts: 2,
};
const LEARNERS: Table = Table {
    upsert: "INSERT INTO learner_tally (workshop, profile_id, learners, passing)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO UPDATE SET learners = learners + excluded.learners,
                                       passing = passing + excluded.passing
             RETURNING learners, passing",
    delete: "DELETE FROM learner_tally WHERE workshop = ?1 AND profile_id = ?2",
    keys: 2,
    counts: 2,
};
const WORKSHOPS: Table = Table {
    upsert: "INSERT INTO workshop_tally (workshop, learners, passing) VALUES (?1, ?2, ?3)
             ON CONFLICT DO UPDATE SET learners = learners + excluded.learners,
                                       passing = passing + excluded.passing
             RETURNING learners, passing",
    delete: "DELETE FROM workshop_tally WHERE workshop = ?1",
    keys: 1,
    counts: 2,
};
const FIXES: Table = Table {
    upsert: "INSERT INTO fix_tally (workshop, name_id, profile_id, failed, fixed, stuck)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT DO UPDATE SET failed = failed + excluded.failed,
                                       fixed = fixed + excluded.fixed,
                                       stuck = stuck + excluded.stuck
             RETURNING failed, fixed, stuck",
    delete: "DELETE FROM fix_tally WHERE workshop = ?1 AND name_id = ?2 AND profile_id = ?3",
    keys: 3,
    counts: 3,
};
const FIX_TIMES: Table = Table {
    upsert: "INSERT INTO fix_time_tally (workshop, name_id, bucket, fixes)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO UPDATE SET fixes = fixes + excluded.fixes
             RETURNING fixes",
    delete: "DELETE FROM fix_time_tally WHERE workshop = ?1 AND name_id = ?2 AND bucket = ?3",
    keys: 3,
    counts: 1,
};
const FIX_VERSIONS: Table = Table {
    upsert: "INSERT INTO fix_version_tally (workshop, name_id, package_id, fixes)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO UPDATE SET fixes = fixes + excluded.fixes
             RETURNING fixes",
    delete: "DELETE FROM fix_version_tally
              WHERE workshop = ?1 AND name_id = ?2 AND package_id = ?3",
    keys: 3,
    counts: 1,
};

const USES: Table = Table {
    upsert: "INSERT INTO dictionary_uses (kind, id, uses) VALUES (?1, ?2, ?3)
             ON CONFLICT DO UPDATE SET uses = uses + excluded.uses
             RETURNING uses",
    delete: "DELETE FROM dictionary_uses WHERE kind = ?1 AND id = ?2",
    keys: 2,
    counts: 1,
};

/// The tallies, in the order a batch writes them (each one's rows in key order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tally {
    Failures,
    Days,
    Errors,
    Learners,
    Workshops,
    Fixes,
    FixTimes,
    FixVersions,
    Uses,
}

impl Tally {
    fn table(self) -> &'static Table {
        match self {
            Tally::Failures => &FAILURES,
            Tally::Days => &DAYS,
            Tally::Errors => &ERRORS,
            Tally::Learners => &LEARNERS,
            Tally::Workshops => &WORKSHOPS,
            Tally::Fixes => &FIXES,
            Tally::FixTimes => &FIX_TIMES,
            Tally::FixVersions => &FIX_VERSIONS,
            Tally::Uses => &USES,
        }
    }
}

/// One row of one tally: the key's values (unused trailing values are zero).
type Key = (Tally, [i64; 3]);

/// What an attempt's failures are counted under: its own workshop, machine and day.
#[derive(Debug, Clone)]
pub(crate) struct AttemptFacts {
    pub workshop: i64,
    pub profile: i64,
    /// Days since 1970-01-01 (see [`super::timestamp::day_number`]).
    pub day: i64,
}

/// Changes to the tallies, summed per row: `(latest, every)` for failures, `(learners,
/// passing)` for learners, `(failed, fixed, stuck)` learners for fixes, uses for dictionary
/// values.
#[derive(Debug, Default)]
pub(crate) struct Deltas {
    sums: BTreeMap<Key, [i64; 3]>,
    /// Dictionary values (kind, id) that lost a use: each may be unused once the batch is
    /// written, even where the batch's sum is zero (a value added and taken away again).
    lost_uses: BTreeSet<[i64; 2]>,
}

impl Deltas {
    fn add(&mut self, tally: Tally, key: [i64; 3], counts: [i64; 3]) {
        let sums = self.sums.entry((tally, key)).or_default();
        for (sum, count) in sums.iter_mut().zip(counts) {
            *sum += count;
        }
    }

    /// A dictionary value is referred to `count` times more (or, negative, less).
    fn uses(&mut self, kind: i64, id: i64, count: i64) {
        if count != 0 {
            self.add(Tally::Uses, [kind, id, 0], [count, 0, 0]);
        }
        if count < 0 {
            self.lost_uses.insert([kind, id]);
        }
    }

    /// An attempt with this machine profile and these successes (package ids) is added
    /// (`sign` 1) or deleted (-1): its uses of dictionary values. Its failures' uses are
    /// counted by [`Deltas::failure`].
    pub(crate) fn attempt(&mut self, profile: i64, successes: &[i64], sign: i64) {
        self.uses(PROFILE, profile, sign);
        for &package in successes {
            self.uses(PACKAGE, package, sign);
        }
    }

    /// A learner's attempts are about to be deleted: their uses of dictionary values go with
    /// them (the failures' with [`Deltas::failure`]).
    pub(crate) fn leave(&mut self, conn: &Connection, user_id: i64) -> Result<(), StorageError> {
        let mut attempts = conn
            .prepare_cached("SELECT profile_id, successes FROM submissions WHERE user_id = ?1")?;
        let mut rows = attempts.query([user_id])?;
        while let Some(row) = rows.next()? {
            let successes: Vec<i64> =
                serde_json::from_str(&row.get::<_, String>(1)?).unwrap_or_default();
            self.attempt(row.get(0)?, &successes, -1);
        }
        Ok(())
    }

    /// One failure of an attempt counts `latest` and `every` more (or, negative, less).
    pub(crate) fn failure(
        &mut self,
        attempt: &AttemptFacts,
        package: i64,
        error: Option<i64>,
        latest: i64,
        every: i64,
    ) {
        // A failure row is added or deleted exactly when `every` changes.
        self.uses(PACKAGE, package, every);
        if let Some(error) = error {
            self.uses(ERROR_TEXT, error, every);
        }
        for workshop in [attempt.workshop, ALL_WORKSHOPS] {
            let counts = [latest, every, 0];
            self.add(
                Tally::Failures,
                [workshop, package, attempt.profile],
                counts,
            );
            self.add(Tally::Days, [workshop, package, attempt.day], counts);
            self.add(
                Tally::Errors,
                [workshop, package, error.unwrap_or(0)],
                counts,
            );
        }
    }

    /// A learner counts `learners` more under their workshop and machine, `passing` of them
    /// passing.
    pub(crate) fn learner(&mut self, workshop: i64, profile: i64, learners: i64, passing: i64) {
        let counts = [learners, passing, 0];
        self.add(Tally::Learners, [workshop, profile, 0], counts);
        self.add(Tally::Learners, [ALL_WORKSHOPS, profile, 0], counts);
        self.add(Tally::Workshops, [workshop, 0, 0], counts);
    }

    /// One learner's record of a check counts `failed`, `fixed` and `stuck` more, under the
    /// workshop and machine where they first failed it.
    pub(crate) fn check(
        &mut self,
        workshop: i64,
        name: i64,
        profile: i64,
        [failed, fixed, stuck]: [i64; 3],
    ) {
        for workshop in [workshop, ALL_WORKSHOPS] {
            self.add(
                Tally::Fixes,
                [workshop, name, profile],
                [failed, fixed, stuck],
            );
        }
    }

    /// One fix of a check counts `fixes` more: with what version, and (when its time is known)
    /// in which bucket of time to fix, for all workshops together.
    pub(crate) fn fix(
        &mut self,
        workshop: i64,
        name: i64,
        fixed_with: i64,
        bucket: Option<i64>,
        fixes: i64,
    ) {
        for workshop in [workshop, ALL_WORKSHOPS] {
            self.add(
                Tally::FixVersions,
                [workshop, name, fixed_with],
                [fixes, 0, 0],
            );
        }
        if let Some(bucket) = bucket {
            self.add(
                Tally::FixTimes,
                [ALL_WORKSHOPS, name, bucket],
                [fixes, 0, 0],
            );
        }
    }

    /// Rows these changes touch.
    pub(crate) fn len(&self) -> usize {
        self.sums.len()
    }

    /// Adds another set of changes to these.
    pub(crate) fn merge(&mut self, other: Deltas) {
        for ((tally, key), counts) in other.sums {
            self.add(tally, key, counts);
        }
        self.lost_uses.extend(other.lost_uses);
    }

    /// Writes the changes: one upsert per row; a row whose counts reach zero is deleted.
    /// Dictionary values left without a use are queued in `dictionary_unused`, for
    /// [`super::dictionary::prune`] once the transaction is committed.
    pub(crate) fn apply(self, conn: &Connection) -> Result<(), StorageError> {
        let mut out_of_step = 0;
        for ((tally, key), counts) in self.sums {
            if counts == [0; 3] {
                continue;
            }
            let table = tally.table();
            let values = key[..table.keys]
                .iter()
                .chain(&counts[..table.counts])
                .copied();
            let now: Vec<i64> = conn
                .prepare_cached(table.upsert)?
                .query_row(params_from_iter(values), |row| {
                    (0..table.counts).map(|i| row.get(i)).collect()
                })?;
            if now.iter().all(|&n| n == 0) {
                conn.prepare_cached(table.delete)?
                    .execute(params_from_iter(&key[..table.keys]))?;
            } else if now.iter().any(|&n| n < 0) {
                out_of_step += 1;
            }
        }
        for [kind, id] in self.lost_uses {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO dictionary_unused (kind, id) SELECT ?1, ?2
                  WHERE NOT EXISTS (SELECT 1 FROM dictionary_uses WHERE kind = ?1 AND id = ?2)",
            )?
            .execute([kind, id])?;
        }
        if out_of_step > 0 {
            log::warn!(
                "{out_of_step} tally rows went below zero: rows were changed by hand; \
                 run `result-aggregation-server rebuild-tallies`"
            );
        }
        Ok(())
    }
}

/// Recomputes the five tallies from the raw rows, after first repairing what the rows point at:
/// each learner's latest attempt and machine profile. Runs inside the caller's transaction;
/// [`super::rebuild::everything`] runs it with the fix tallies and the dictionary's uses.
///
/// Its scratch tables hold a row per failure, so they are ordinary tables of the file (dropped
/// before the commit), not temporary ones: the writer keeps its temporary storage in memory,
/// where a million reports' worth would not fit.
pub(crate) fn rebuild(conn: &Connection, dictionary: &mut Dictionary) -> Result<(), StorageError> {
    conn.execute_batch(
        "UPDATE user_system_info SET latest_attempt_id =
             (SELECT max(id) FROM submissions s WHERE s.user_id = user_system_info.id)
          WHERE latest_attempt_id IS NOT
             (SELECT max(id) FROM submissions s WHERE s.user_id = user_system_info.id);",
    )?;
    repair_learner_profiles(conn, dictionary)?;
    conn.execute_batch(&format!(
        "DELETE FROM failure_tally; DELETE FROM failure_day_tally; DELETE FROM failure_error_tally;
         DELETE FROM learner_tally; DELETE FROM workshop_tally;
         CREATE TABLE scratch_failure_facts AS
             SELECT coalesce(s.workshop, {NO_WORKSHOP}) AS workshop, f.package_id, s.profile_id,
                    coalesce(CAST(julianday(substr(s.create_time, 1, 10)) - 2440587.5
                                  AS INTEGER), {UNKNOWN_DAY}) AS day,
                    coalesce(f.error_id, 0) AS error_id,
                    s.id = u.latest_attempt_id AS latest
               FROM submission_failures f
               JOIN submissions s ON s.id = f.submission_id
               JOIN user_system_info u ON u.id = s.user_id;
         INSERT INTO failure_tally (workshop, package_id, profile_id, latest, every)
             SELECT workshop, package_id, profile_id, sum(latest), count(*) FROM scratch_failure_facts
              GROUP BY 1, 2, 3
             UNION ALL
             SELECT {ALL_WORKSHOPS}, package_id, profile_id, sum(latest), count(*)
               FROM scratch_failure_facts GROUP BY 2, 3;
         INSERT INTO failure_day_tally (workshop, package_id, day, latest, every)
             SELECT workshop, package_id, day, sum(latest), count(*) FROM scratch_failure_facts
              GROUP BY 1, 2, 3
             UNION ALL
             SELECT {ALL_WORKSHOPS}, package_id, day, sum(latest), count(*) FROM scratch_failure_facts
              GROUP BY 2, 3;
         INSERT INTO failure_error_tally (workshop, package_id, error_id, latest, every)
             SELECT workshop, package_id, error_id, sum(latest), count(*) FROM scratch_failure_facts
              GROUP BY 1, 2, 3
             UNION ALL
             SELECT {ALL_WORKSHOPS}, package_id, error_id, sum(latest), count(*)
               FROM scratch_failure_facts GROUP BY 2, 3;
         DROP TABLE scratch_failure_facts;
         CREATE TABLE scratch_learner_facts AS
             SELECT coalesce(w.id, {NO_WORKSHOP}) AS workshop, u.profile_id,
                    (u.latest_attempt_id IS NOT NULL AND NOT EXISTS
                        (SELECT 1 FROM submission_failures f
                          WHERE f.submission_id = u.latest_attempt_id)) AS passing
               FROM user_system_info u LEFT JOIN workshops w ON w.name = u.workshop_id;
         INSERT INTO learner_tally (workshop, profile_id, learners, passing)
             SELECT workshop, profile_id, count(*), sum(passing) FROM scratch_learner_facts GROUP BY 1, 2
             UNION ALL
             SELECT {ALL_WORKSHOPS}, profile_id, count(*), sum(passing) FROM scratch_learner_facts
              GROUP BY 2;
         INSERT INTO workshop_tally (workshop, learners, passing)
             SELECT workshop, count(*), sum(passing) FROM scratch_learner_facts GROUP BY 1;
         DROP TABLE scratch_learner_facts;"
    ))?;
    Ok(())
}

/// Recounts every dictionary value's uses from the raw rows, and queues every value without
/// one for [`super::dictionary::prune`] (those of learners deleted by hand, or by a version
/// of this program that kept them).
pub(crate) fn recount_uses(conn: &Connection) -> Result<(), StorageError> {
    conn.execute_batch(&format!(
        "DELETE FROM dictionary_uses;
         INSERT INTO dictionary_uses (kind, id, uses)
             SELECT {PACKAGE}, package_id, count(*) FROM
                 (SELECT j.value AS package_id FROM submissions s, json_each(s.successes) j
                  UNION ALL SELECT package_id FROM submission_failures)
              GROUP BY package_id
             UNION ALL
             SELECT {ERROR_TEXT}, error_id, count(*) FROM submission_failures
              WHERE error_id IS NOT NULL GROUP BY error_id
             UNION ALL
             SELECT {PROFILE}, profile_id, count(*) FROM submissions GROUP BY profile_id;
         DELETE FROM dictionary_unused;
         INSERT INTO dictionary_unused (kind, id)
             SELECT {PACKAGE}, id FROM packages WHERE id NOT IN
                 (SELECT id FROM dictionary_uses WHERE kind = {PACKAGE})
             UNION ALL
             SELECT {ERROR_TEXT}, id FROM error_texts WHERE id NOT IN
                 (SELECT id FROM dictionary_uses WHERE kind = {ERROR_TEXT})
             UNION ALL
             SELECT {PROFILE}, id FROM system_profiles WHERE id NOT IN
                 (SELECT id FROM dictionary_uses WHERE kind = {PROFILE});"
    ))?;
    Ok(())
}

/// Points every learner at the profile of their own fields (which a hand edit may have
/// changed), and makes sure every workshop a learner names is in the dictionary.
pub(crate) fn repair_learner_profiles(
    conn: &Connection,
    dictionary: &mut Dictionary,
) -> Result<(), StorageError> {
    let mut learners = conn.prepare(&format!(
        "SELECT id, {}, workshop_id, profile_id FROM user_system_info",
        columns("")
    ))?;
    let mut rows = learners.query([])?;
    let mut update = conn.prepare("UPDATE user_system_info SET profile_id = ?2 WHERE id = ?1")?;
    while let Some(row) = rows.next()? {
        let profile = Profile::read(row, 1)?;
        let workshop: Option<String> = row.get(1 + Field::ALL.len())?;
        dictionary.workshop(conn, workshop.as_deref())?;
        let id = dictionary.profile(conn, &profile)?;
        if row.get::<_, Option<i64>>(2 + Field::ALL.len())? != Some(id) {
            update.execute(params![row.get::<_, i64>(0)?, id])?;
        }
    }
    Ok(())
}
