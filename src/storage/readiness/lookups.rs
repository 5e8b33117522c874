//! Reading the replay's input: every attempt of the selected learners, in order, as ids, and
//! the ids' names and texts through small caches.

use super::replay::{AttemptIds, Replay, Requirements};
use crate::storage::StorageError;
use rusqlite::{Connection, OptionalExtension};
use std::collections::BTreeMap;

/// Ids and texts each lookup cache holds before it starts again empty.
const CACHE_ENTRIES: usize = 2_000;

/// A bounded map that forgets everything when full.
pub(super) struct Cache<K, V>(BTreeMap<K, V>);

impl<K: Ord, V: Clone> Cache<K, V> {
    pub(super) fn new() -> Self {
        Cache(BTreeMap::new())
    }

    pub(super) fn get_or(
        &mut self,
        key: K,
        find: impl FnOnce() -> Result<V, StorageError>,
    ) -> Result<V, StorageError> {
        if let Some(value) = self.0.get(&key) {
            return Ok(value.clone());
        }
        let value = find()?;
        if self.0.len() >= CACHE_ENTRIES {
            self.0.clear();
        }
        self.0.insert(key, value.clone());
        Ok(value)
    }
}

/// Reads what the replay needs from the database, remembering recent answers.
pub(super) struct Lookups<'c> {
    pub(super) conn: &'c Connection,
    pub(super) keys: Cache<i64, i64>,
    pub(super) labels: Cache<i64, String>,
    pub(super) packages: Cache<i64, (String, Option<String>)>,
    pub(super) errors: Cache<i64, Option<String>>,
}

impl<'c> Lookups<'c> {
    pub(super) fn new(conn: &'c Connection) -> Self {
        Lookups {
            conn,
            keys: Cache::new(),
            labels: Cache::new(),
            packages: Cache::new(),
            errors: Cache::new(),
        }
    }

    /// The key of a package: the smallest id of a package with its name. The name is kept as
    /// the key's label.
    pub(super) fn key(&mut self, package: i64) -> Result<i64, StorageError> {
        let conn = self.conn;
        let labels = &mut self.labels;
        self.keys.get_or(package, || {
            let found: Option<(Option<i64>, String)> = conn
                .prepare_cached(
                    "SELECT (SELECT min(id) FROM packages WHERE name = p.name), p.name
                       FROM packages p WHERE p.id = ?1",
                )?
                .query_row([package], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let (key, name) = found.unwrap_or_default();
            let key = key.unwrap_or(package);
            labels.get_or(key, || Ok(name))?;
            Ok(key)
        })
    }

    /// The name a check's key stands for.
    pub(super) fn label(&mut self, key: i64) -> Result<String, StorageError> {
        let conn = self.conn;
        self.labels.get_or(key, || {
            Ok(conn
                .prepare_cached("SELECT name FROM packages WHERE id = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?
                .unwrap_or_default())
        })
    }

    pub(super) fn package(
        &mut self,
        package: i64,
    ) -> Result<(String, Option<String>), StorageError> {
        let conn = self.conn;
        self.packages.get_or(package, || {
            Ok(conn
                .prepare_cached("SELECT name, version FROM packages WHERE id = ?1")?
                .query_row([package], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .unwrap_or_default())
        })
    }

    pub(super) fn error(&mut self, error: Option<i64>) -> Result<Option<String>, StorageError> {
        let Some(error) = error else { return Ok(None) };
        let conn = self.conn;
        self.errors.get_or(error, || {
            Ok(conn
                .prepare_cached("SELECT text FROM error_texts WHERE id = ?1")?
                .query_row([error], |r| r.get(0))
                .optional()?)
        })
    }

    /// An attempt row (`successes` and `failures` as JSON arrays of ids) as the replay sees it.
    pub(super) fn attempt(
        &mut self,
        time: Option<String>,
        successes: &str,
        failures: &str,
    ) -> Result<AttemptIds, StorageError> {
        let successes: Vec<i64> = serde_json::from_str(successes).unwrap_or_default();
        let failures: Vec<(i64, Option<i64>)> = serde_json::from_str(failures).unwrap_or_default();
        Ok(AttemptIds {
            time,
            passed: successes
                .into_iter()
                .map(|p| Ok((self.key(p)?, p)))
                .collect::<Result<_, StorageError>>()?,
            failed: failures
                .into_iter()
                .map(|(p, e)| Ok((self.key(p)?, p, e)))
                .collect::<Result<_, StorageError>>()?,
        })
    }
}

/// Every attempt of the learners a condition selects, in each learner's order, with its
/// successes and failures as JSON arrays of ids.
pub(super) fn attempts_sql(learners: &str) -> String {
    format!(
        "SELECT s.user_id, s.create_time, s.successes,
                (SELECT json_group_array(json_array(f.package_id, f.error_id))
                   FROM submission_failures f WHERE f.submission_id = s.id)
           FROM submissions s
          WHERE s.user_id IN ({learners})
          ORDER BY s.user_id, s.create_time, s.id"
    )
}

/// Replays the attempts `sql` reads (ordered by learner) for the learners `learners` yields
/// in the same order, with what the caller knows of each (those without attempts too), and
/// calls `visit` with each learner's replay.
pub(super) fn replay_each<T>(
    lookups: &mut Lookups<'_>,
    required: &Requirements,
    sql: &str,
    param: &dyn rusqlite::ToSql,
    learners: impl IntoIterator<Item = Result<(i64, T), StorageError>>,
    zone: Option<&jiff::tz::TimeZone>,
    mut visit: impl FnMut(&mut Lookups<'_>, T, Replay) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let conn = lookups.conn;
    let mut statement = conn.prepare(sql)?;
    let mut rows = statement.query([param])?;
    let mut next = rows.next()?;
    for learner in learners {
        let (id, known) = learner?;
        let mut replay = Replay {
            zone: zone.cloned(),
            ..Replay::default()
        };
        while let Some(row) = next {
            let user: i64 = row.get(0)?;
            if user > id {
                break;
            }
            if user == id {
                let failures: Option<String> = row.get(3)?;
                let attempt = lookups.attempt(
                    row.get(1)?,
                    &row.get::<_, String>(2)?,
                    failures.as_deref().unwrap_or("[]"),
                )?;
                replay.apply(attempt, required);
            }
            next = rows.next()?;
        }
        visit(lookups, known, replay)?;
    }
    Ok(())
}
