//! The tallies, write side. Every change to the raw rows made through the store says what it
//! changes in the counts ([`Deltas`]); the writer adds up a whole batch's changes per key and
//! applies them with one upsert per key, deleting rows that reach zero. `rebuild` recomputes
//! everything from the raw rows, for hand edits and for migrations.

use super::dictionary::{Dictionary, Profile};
use super::timestamp::UNKNOWN_DAY;
use super::StorageError;
use rusqlite::{params, Connection};
use std::collections::BTreeMap;

/// The `workshop` of failures and learners who named no workshop.
pub(crate) const NO_WORKSHOP: i64 = 0;
/// The `workshop` under which every row is counted a second time, for all workshops together.
pub(crate) const ALL_WORKSHOPS: i64 = -1;

/// One row of one tally. Ordered as the tables' keys are, so a batch's upserts walk each
/// table in key order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Failure {
        workshop: i64,
        package: i64,
        profile: i64,
    },
    Day {
        workshop: i64,
        package: i64,
        day: i64,
    },
    Error {
        workshop: i64,
        package: i64,
        error: i64,
    },
    Learner {
        workshop: i64,
        profile: i64,
    },
    Workshop {
        workshop: i64,
    },
}

/// What an attempt's failures are counted under: its own workshop, machine and day.
#[derive(Debug, Clone)]
pub(crate) struct AttemptFacts {
    pub workshop: i64,
    pub profile: i64,
    /// Days since 1970-01-01 (see [`super::timestamp::day_number`]).
    pub day: i64,
}

/// Changes to the tallies, summed per key: `(latest, every)` for failures, `(learners,
/// passing)` for learners.
#[derive(Debug, Default)]
pub(crate) struct Deltas(BTreeMap<Key, (i64, i64)>);

impl Deltas {
    fn add(&mut self, key: Key, first: i64, second: i64) {
        let counts = self.0.entry(key).or_default();
        counts.0 += first;
        counts.1 += second;
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
        for workshop in [attempt.workshop, ALL_WORKSHOPS] {
            let keys = [
                Key::Failure {
                    workshop,
                    package,
                    profile: attempt.profile,
                },
                Key::Day {
                    workshop,
                    package,
                    day: attempt.day,
                },
                Key::Error {
                    workshop,
                    package,
                    error: error.unwrap_or(0),
                },
            ];
            for key in keys {
                self.add(key, latest, every);
            }
        }
    }

    /// A learner counts `learners` more under their workshop and machine, `passing` of them
    /// passing.
    pub(crate) fn learner(&mut self, workshop: i64, profile: i64, learners: i64, passing: i64) {
        self.add(Key::Learner { workshop, profile }, learners, passing);
        self.add(
            Key::Learner {
                workshop: ALL_WORKSHOPS,
                profile,
            },
            learners,
            passing,
        );
        self.add(Key::Workshop { workshop }, learners, passing);
    }

    /// Adds another set of changes to these.
    pub(crate) fn merge(&mut self, other: Deltas) {
        for (key, (first, second)) in other.0 {
            self.add(key, first, second);
        }
    }

    /// Writes the changes: one upsert per key; a row whose counts reach zero is deleted.
    pub(crate) fn apply(self, conn: &Connection) -> Result<(), StorageError> {
        let mut out_of_step = 0;
        for (key, (first, second)) in self.0 {
            if first == 0 && second == 0 {
                continue;
            }
            let (upsert, delete) = statements(&key);
            let mut upsert = conn.prepare_cached(upsert)?;
            let (a, b) = match &key {
                Key::Failure {
                    workshop,
                    package,
                    profile,
                } => {
                    upsert.query_row(params![workshop, package, profile, first, second], counts)?
                }
                Key::Day {
                    workshop,
                    package,
                    day,
                } => upsert.query_row(params![workshop, package, day, first, second], counts)?,
                Key::Error {
                    workshop,
                    package,
                    error,
                } => upsert.query_row(params![workshop, package, error, first, second], counts)?,
                Key::Learner { workshop, profile } => {
                    upsert.query_row(params![workshop, profile, first, second], counts)?
                }
                Key::Workshop { workshop } => {
                    upsert.query_row(params![workshop, first, second], counts)?
                }
            };
            if a == 0 && b == 0 {
                let mut delete = conn.prepare_cached(delete)?;
                match &key {
                    Key::Failure {
                        workshop,
                        package,
                        profile,
                    } => delete.execute(params![workshop, package, profile])?,
                    Key::Day {
                        workshop,
                        package,
                        day,
                    } => delete.execute(params![workshop, package, day])?,
                    Key::Error {
                        workshop,
                        package,
                        error,
                    } => delete.execute(params![workshop, package, error])?,
                    Key::Learner { workshop, profile } => {
                        delete.execute(params![workshop, profile])?
                    }
                    Key::Workshop { workshop } => delete.execute(params![workshop])?,
                };
            } else if a < 0 || b < 0 {
                out_of_step += 1;
            }
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

fn counts(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, i64)> {
    Ok((row.get(0)?, row.get(1)?))
}

/// The upsert (returning the new counts) and the delete of one key's table.
fn statements(key: &Key) -> (&'static str, &'static str) {
    match key {
        Key::Failure { .. } => (
            "INSERT INTO failure_tally (workshop, package_id, profile_id, latest, every)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO UPDATE SET latest = latest + excluded.latest,
                                       every = every + excluded.every
             RETURNING latest, every",
            "DELETE FROM failure_tally WHERE workshop = ?1 AND package_id = ?2 AND profile_id = ?3",
        ),
        Key::Day { .. } => (
            "INSERT INTO failure_day_tally (workshop, package_id, day, latest, every)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO UPDATE SET latest = latest + excluded.latest,
                                       every = every + excluded.every
             RETURNING latest, every",
            "DELETE FROM failure_day_tally WHERE workshop = ?1 AND package_id = ?2 AND day = ?3",
        ),
        Key::Error { .. } => (
            "INSERT INTO failure_error_tally (workshop, package_id, error_id, latest, every)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO UPDATE SET latest = latest + excluded.latest,
                                       every = every + excluded.every
             RETURNING latest, every",
            "DELETE FROM failure_error_tally
              WHERE workshop = ?1 AND package_id = ?2 AND error_id = ?3",
        ),
        Key::Learner { .. } => (
            "INSERT INTO learner_tally (workshop, profile_id, learners, passing)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO UPDATE SET learners = learners + excluded.learners,
                                       passing = passing + excluded.passing
             RETURNING learners, passing",
            "DELETE FROM learner_tally WHERE workshop = ?1 AND profile_id = ?2",
        ),
        Key::Workshop { .. } => (
            "INSERT INTO workshop_tally (workshop, learners, passing) VALUES (?1, ?2, ?3)
             ON CONFLICT DO UPDATE SET learners = learners + excluded.learners,
                                       passing = passing + excluded.passing
             RETURNING learners, passing",
            "DELETE FROM workshop_tally WHERE workshop = ?1",
        ),
    }
}

/// Recomputes every tally from the raw rows, after first repairing what the rows point at:
/// each learner's latest attempt and machine profile. Runs inside the caller's transaction.
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
         CREATE TEMP TABLE failure_facts AS
             SELECT coalesce(s.workshop, {NO_WORKSHOP}) AS workshop, f.package_id, s.profile_id,
                    coalesce(CAST(julianday(substr(s.create_time, 1, 10)) - 2440587.5
                                  AS INTEGER), {UNKNOWN_DAY}) AS day,
                    coalesce(f.error_id, 0) AS error_id,
                    s.id = u.latest_attempt_id AS latest
               FROM submission_failures f
               JOIN submissions s ON s.id = f.submission_id
               JOIN user_system_info u ON u.id = s.user_id;
         INSERT INTO failure_tally (workshop, package_id, profile_id, latest, every)
             SELECT workshop, package_id, profile_id, sum(latest), count(*) FROM failure_facts
              GROUP BY 1, 2, 3
             UNION ALL
             SELECT {ALL_WORKSHOPS}, package_id, profile_id, sum(latest), count(*)
               FROM failure_facts GROUP BY 2, 3;
         INSERT INTO failure_day_tally (workshop, package_id, day, latest, every)
             SELECT workshop, package_id, day, sum(latest), count(*) FROM failure_facts
              GROUP BY 1, 2, 3
             UNION ALL
             SELECT {ALL_WORKSHOPS}, package_id, day, sum(latest), count(*) FROM failure_facts
              GROUP BY 2, 3;
         INSERT INTO failure_error_tally (workshop, package_id, error_id, latest, every)
             SELECT workshop, package_id, error_id, sum(latest), count(*) FROM failure_facts
              GROUP BY 1, 2, 3
             UNION ALL
             SELECT {ALL_WORKSHOPS}, package_id, error_id, sum(latest), count(*)
               FROM failure_facts GROUP BY 2, 3;
         DROP TABLE failure_facts;
         CREATE TEMP TABLE learner_facts AS
             SELECT coalesce(w.id, {NO_WORKSHOP}) AS workshop, u.profile_id,
                    (u.latest_attempt_id IS NOT NULL AND NOT EXISTS
                        (SELECT 1 FROM submission_failures f
                          WHERE f.submission_id = u.latest_attempt_id)) AS passing
               FROM user_system_info u LEFT JOIN workshops w ON w.name = u.workshop_id;
         INSERT INTO learner_tally (workshop, profile_id, learners, passing)
             SELECT workshop, profile_id, count(*), sum(passing) FROM learner_facts GROUP BY 1, 2
             UNION ALL
             SELECT {ALL_WORKSHOPS}, profile_id, count(*), sum(passing) FROM learner_facts
              GROUP BY 2;
         INSERT INTO workshop_tally (workshop, learners, passing)
             SELECT workshop, count(*), sum(passing) FROM learner_facts GROUP BY 1;
         DROP TABLE learner_facts;"
    ))?;
    Ok(())
}

/// Points every learner at the profile of their own fields (which a hand edit may have
/// changed), and makes sure every workshop a learner names is in the dictionary.
pub(crate) fn repair_learner_profiles(
    conn: &Connection,
    dictionary: &mut Dictionary,
) -> Result<(), StorageError> {
    let mut learners = conn.prepare(
        "SELECT id, distribution_name, distribution_version, system, system_version, machine,
                system_platform, python_version, workshop_id, profile_id
           FROM user_system_info",
    )?;
    let mut rows = learners.query([])?;
    let mut update = conn.prepare("UPDATE user_system_info SET profile_id = ?2 WHERE id = ?1")?;
    while let Some(row) = rows.next()? {
        let profile = Profile {
            distribution_name: row.get(1)?,
            distribution_version: row.get(2)?,
            system: row.get(3)?,
            system_version: row.get(4)?,
            machine: row.get(5)?,
            system_platform: row.get(6)?,
            python_version: row.get(7)?,
        };
        let workshop: Option<String> = row.get(8)?;
        dictionary.workshop(conn, workshop.as_deref())?;
        let id = dictionary.profile(conn, &profile)?;
        if row.get::<_, Option<i64>>(9)? != Some(id) {
            update.execute(params![row.get::<_, i64>(0)?, id])?;
        }
    }
    Ok(())
}
