//! Writing: one learner's attempt, and deleting a learner. Each says what it changes in the
//! tallies; the writer applies those changes with the rest of its batch.

use super::fixes::{self, LearnerChecks};
use super::profile::{assignments, columns, Field, Profile};
use super::tally::AttemptFacts;
use super::timestamp;
use super::writer::Work;
use super::StorageError;
use crate::report::{parse_key, Report};
use rusqlite::{params, Connection, OptionalExtension, ToSql};
use std::time::SystemTime;
use uuid::Uuid;

/// What the script is told after its report is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The learner's key: the one they sent, or a fresh one.
    pub key: Uuid,
    /// True when the key named a learner we already had.
    pub known: bool,
}

/// What a deletion removed, for the operator's confirmation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)] // rows of the tables so named
pub struct Deleted {
    pub learners: i64,
    pub attempts: i64,
    pub successful_installs: i64,
    pub failed_installs: i64,
}

impl std::ops::AddAssign for Deleted {
    fn add_assign(&mut self, other: Deleted) {
        self.learners += other.learners;
        self.attempts += other.attempts;
        self.successful_installs += other.successful_installs;
        self.failed_installs += other.failed_installs;
    }
}

/// Whose key a report's key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keys {
    /// A key the server did not issue gets a fresh one (what learners get).
    Issue,
    /// A key not yet known creates the learner under that key (importing, generating).
    Adopt,
}

/// A learner as stored before this attempt.
struct Known {
    id: i64,
    latest: Option<i64>,
    profile: Option<i64>,
    system: Profile,
    workshop: Option<String>,
    email: Option<String>,
}

/// Stores one report as a new attempt of its learner (creating the learner if the key is
/// absent or unknown), made `at` (stored form; `None`: the report's own [`Report::attempt_time`]
/// for one arriving now). System fields a report leaves out keep their stored values, so a
/// later attempt without an email or workshop does not erase them; the attempt keeps the
/// machine and workshop as they are after it.
///
/// The learner's latest attempt is the one that arrived last, whatever its time: a script
/// sends the reports it kept before its new one, so arrival follows the checks' order.
pub(crate) fn record_attempt(
    work: Work<'_>,
    report: &Report,
    at: Option<&str>,
    keys: Keys,
) -> Result<Receipt, StorageError> {
    let Work {
        conn,
        dictionary,
        deltas,
    } = work;
    let known = match report.key {
        Some(key) => find_learner(conn, &key.to_string())?.map(|k| (k, key)),
        None => None,
    };
    let s = &report.system;
    let reported = Profile::reported(s);
    let system = match &known {
        Some((learner, _)) => reported.or(&learner.system),
        None => reported,
    };
    let workshop_name = s
        .workshop_id
        .clone()
        .or_else(|| known.as_ref().and_then(|(l, _)| l.workshop.clone()));
    let email = s
        .email_id
        .clone()
        .or_else(|| known.as_ref().and_then(|(l, _)| l.email.clone()));
    let profile = dictionary.profile(conn, &system)?;
    let workshop = dictionary.workshop(conn, workshop_name.as_deref())?;
    let now;
    let at = match at {
        Some(at) => at,
        None => {
            now = timestamp::of(report.attempt_time(SystemTime::now()));
            &now
        }
    };
    let (user_id, key) = match &known {
        Some((learner, key)) => (learner.id, *key),
        None => {
            let key = match (keys, report.key) {
                (Keys::Adopt, Some(key)) => key,
                _ => Uuid::new_v4(),
            };
            conn.prepare_cached(
                "INSERT INTO user_system_info (unique_user_id, create_time) VALUES (?1, ?2)",
            )?
            .execute(params![key.to_string(), at])?;
            (conn.last_insert_rowid(), key)
        }
    };
    let successes = report
        .successes
        .iter()
        .map(|p| dictionary.package(conn, &p.name, p.version.as_deref()))
        .collect::<Result<Vec<i64>, _>>()?;
    conn.prepare_cached(
        "INSERT INTO submissions (user_id, create_time, profile_id, workshop, successes)
         VALUES (?1, ?2, ?3, nullif(?4, 0), ?5)",
    )?
    .execute(params![
        user_id,
        at,
        profile,
        workshop,
        serde_json::to_string(&successes).expect("numbers serialize")
    ])?;
    let attempt_id = conn.last_insert_rowid();
    deltas.attempt(profile, &successes, 1);
    let mut values: Vec<&dyn ToSql> = vec![&user_id];
    values.extend(system.values().map(|v| v as &dyn ToSql));
    let after = values.len() + 1;
    values.extend([&workshop_name as &dyn ToSql, &email, &attempt_id, &profile]);
    conn.prepare_cached(&format!(
        "UPDATE user_system_info SET {}, workshop_id = ?{after}, email_id = ?{},
            latest_attempt_id = ?{}, profile_id = ?{}
         WHERE id = ?1",
        assignments(2),
        after + 1,
        after + 2,
        after + 3,
    ))?
    .execute(values.as_slice())?;
    let facts = AttemptFacts {
        workshop,
        profile,
        day: timestamp::day_number(Some(at)),
    };
    let mut insert = conn.prepare_cached(
        "INSERT INTO submission_failures (submission_id, position, package_id, error_id)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut failed = Vec::with_capacity(report.failures.len());
    for (position, f) in report.failures.iter().enumerate() {
        let package = dictionary.package(conn, &f.name, f.version.as_deref())?;
        let error = dictionary.error(conn, f.error_description.as_deref())?;
        insert.execute(params![attempt_id, position as i64, package, error])?;
        deltas.failure(&facts, package, error, 1, 1);
        failed.push(dictionary.check_name(conn, &f.name)?);
    }
    // What fixed it: a new learner has no records yet, so nothing they pass can be a fix.
    let mut checks = match &known {
        Some((learner, _)) => LearnerChecks::load(conn, learner.id)?,
        None => LearnerChecks::none(user_id),
    };
    let passed = match &known {
        Some(_) => report
            .successes
            .iter()
            .zip(&successes)
            .map(|(p, &package)| Ok((dictionary.check_name(conn, &p.name)?, package)))
            .collect::<Result<Vec<_>, StorageError>>()?,
        None => Vec::new(),
    };
    checks.apply(
        &fixes::Attempt {
            time: timestamp::seconds(Some(at)),
            workshop,
            profile,
            failed: &failed,
            passed: &passed,
        },
        deltas,
    );
    checks.save(conn)?;
    if let Some((learner, _)) = &known {
        // The previous latest attempt stops counting as latest, under its own workshop and
        // machine; the learner leaves the counts they were in.
        let was_passing = match learner.latest {
            Some(previous) => {
                let failures = attempt_failures(conn, previous)?;
                let passing = failures.failures.is_empty();
                for (package, error) in failures.failures {
                    deltas.failure(&failures.facts, package, error, -1, 0);
                }
                passing
            }
            None => false,
        };
        let old_workshop = dictionary.workshop(conn, learner.workshop.as_deref())?;
        let old_profile = match learner.profile {
            Some(id) => id,
            None => dictionary.profile(conn, &learner.system)?,
        };
        deltas.learner(old_workshop, old_profile, -1, -i64::from(was_passing));
    }
    deltas.learner(workshop, profile, 1, i64::from(report.failures.is_empty()));
    Ok(Receipt {
        key,
        known: known.is_some(),
    })
}

fn find_learner(conn: &Connection, key: &str) -> Result<Option<Known>, StorageError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT id, latest_attempt_id, profile_id, {}, workshop_id, email_id
                   FROM user_system_info WHERE unique_user_id = ?1",
            columns("")
        ))?
        .query_row([key], |r| {
            Ok(Known {
                id: r.get(0)?,
                latest: r.get(1)?,
                profile: r.get(2)?,
                system: Profile::read(r, 3)?,
                workshop: r.get(3 + Field::ALL.len())?,
                email: r.get(4 + Field::ALL.len())?,
            })
        })
        .optional()?)
}

/// An attempt's failures and what they are counted under.
struct AttemptFailures {
    facts: AttemptFacts,
    failures: Vec<(i64, Option<i64>)>,
}

fn attempt_failures(conn: &Connection, attempt: i64) -> Result<AttemptFailures, StorageError> {
    let (workshop, profile, time): (Option<i64>, i64, Option<String>) = conn
        .prepare_cached("SELECT workshop, profile_id, create_time FROM submissions WHERE id = ?1")?
        .query_row([attempt], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let failures = conn
        .prepare_cached(
            "SELECT package_id, error_id FROM submission_failures WHERE submission_id = ?1",
        )?
        .query_map([attempt], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(AttemptFailures {
        facts: AttemptFacts {
            workshop: workshop.unwrap_or(super::dictionary::NO_WORKSHOP),
            profile,
            day: timestamp::day_number(time.as_deref()),
        },
        failures,
    })
}

/// Deletes a learner by key (in any spelling [`parse_key`] reads); the database's cascade
/// removes their attempts and packages.
pub(crate) fn delete_user(work: Work<'_>, key: &str) -> Result<Deleted, StorageError> {
    let key = parse_key(key).map_or_else(|| key.trim().to_owned(), |k| k.to_string());
    let user_id: i64 = work
        .conn
        .query_row(
            "SELECT id FROM user_system_info WHERE unique_user_id = ?1",
            [&key],
            |row| row.get(0),
        )
        .optional()?
        .ok_or(StorageError::NotFound)?;
    delete_learner(work, user_id)
}

/// Deletes one learner by id, taking everything they counted out of the tallies first.
pub(crate) fn delete_learner(work: Work<'_>, user_id: i64) -> Result<Deleted, StorageError> {
    let Work {
        conn,
        dictionary,
        deltas,
    } = work;
    let (latest, workshop, profile): (Option<i64>, Option<String>, Option<i64>) = conn
        .prepare_cached(
            "SELECT latest_attempt_id, workshop_id, profile_id FROM user_system_info
              WHERE id = ?1",
        )?
        .query_row([user_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let attempts: Vec<(i64, i64)> = conn
        .prepare_cached(
            "SELECT id, json_array_length(successes) FROM submissions WHERE user_id = ?1",
        )?
        .query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut deleted = Deleted {
        learners: 1,
        ..Deleted::default()
    };
    let mut was_passing = false;
    for (attempt, successes) in attempts {
        let failures = attempt_failures(conn, attempt)?;
        let is_latest = Some(attempt) == latest;
        if is_latest {
            was_passing = failures.failures.is_empty();
        }
        deleted.attempts += 1;
        deleted.successful_installs += successes;
        deleted.failed_installs += failures.failures.len() as i64;
        for (package, error) in failures.failures {
            deltas.failure(&failures.facts, package, error, -i64::from(is_latest), -1);
        }
    }
    let workshop = dictionary.workshop(conn, workshop.as_deref())?;
    let profile = match profile {
        Some(id) => id,
        None => dictionary.profile(conn, &Profile::default())?,
    };
    deltas.learner(workshop, profile, -1, -i64::from(was_passing));
    LearnerChecks::load(conn, user_id)?.forget(deltas);
    deltas.leave(conn, user_id)?;
    conn.prepare_cached("DELETE FROM user_system_info WHERE id = ?1")?
        .execute([user_id])?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::super::{Location, Store};
    use super::*;
    use crate::report::{Failure, Package};
    use std::time::Duration;

    fn report(key: Option<Uuid>, failed: bool, checked_at: Option<SystemTime>) -> Report {
        let name = String::from("Git (git)");
        let (failures, successes) = if failed {
            let version = Some("1.8".into());
            let failure = Failure {
                name,
                version,
                error_description: None,
            };
            (vec![failure], Vec::new())
        } else {
            let version = Some("2.43".into());
            (Vec::new(), vec![Package { name, version }])
        };
        Report {
            key,
            failures,
            successes,
            checked_at,
            ..Report::default()
        }
    }

    /// Issue 22: the attempt's time is when its checks ran, when the report says so and it is
    /// believable; every count that reads a time (days, time to fix) follows.
    #[tokio::test]
    async fn an_attempt_counts_at_its_checked_time_when_believable() {
        let store = Store::open(&Location::Memory).unwrap();
        let day = Duration::from_secs(86_400);
        let before = SystemTime::now();
        let checked = before - day * 3;
        let first = store
            .record(report(None, true, Some(checked)))
            .await
            .unwrap();
        store
            .record(report(Some(first.key), false, Some(before - day * 40)))
            .await
            .unwrap();
        let after = SystemTime::now();
        let (times, tally_day, to_fix): (Vec<String>, i64, i64) = store
            .read(|conn| {
                let times = conn
                    .prepare("SELECT create_time FROM submissions ORDER BY id")?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                let tally_day = conn.query_row(
                    "SELECT day FROM failure_day_tally WHERE workshop = -1",
                    [],
                    |r| r.get(0),
                )?;
                let to_fix =
                    conn.query_row("SELECT seconds_to_fix FROM learner_checks", [], |r| {
                        r.get(0)
                    })?;
                Ok((times, tally_day, to_fix))
            })
            .await
            .unwrap();
        assert_eq!(times[0], timestamp::of(checked), "the checked time is kept");
        // Forty days old is not believed: the second attempt counts when it arrived.
        assert!(
            timestamp::of(before) <= times[1] && times[1] <= timestamp::of(after),
            "{times:?}"
        );
        assert_eq!(
            tally_day,
            timestamp::day_number(Some(&timestamp::of(checked)))
        );
        let seconds = |t: SystemTime| timestamp::seconds(Some(&timestamp::of(t))).unwrap();
        assert!(
            (seconds(before) - seconds(checked)..=seconds(after) - seconds(checked))
                .contains(&to_fix),
            "{to_fix}"
        );
    }
}
