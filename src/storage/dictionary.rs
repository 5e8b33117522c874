//! The dictionaries: each distinct package, error text, machine profile and workshop stored
//! once and referred to by id. The writer keeps recent ids in memory, so a report made of
//! known values costs no lookup at all.
//!
//! A value no attempt uses any more (its learners were deleted) is deleted too, by
//! [`prune`], so that nothing a forgotten learner sent stays in the file. Writers of other
//! processes may hold its id in memory: each batch first checks the generation that every
//! prune counts up, and forgets its ids when it changed.

use super::profile::{columns, Profile};
use super::StorageError;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::Hash;

/// The workshop key of failures and learners who named no workshop.
pub(crate) const NO_WORKSHOP: i64 = 0;
/// The workshop key under which every tally row is counted a second time, for all workshops
/// together.
pub(crate) const ALL_WORKSHOPS: i64 = -1;

/// `dictionary_uses.kind` of a package (name and version).
pub(crate) const PACKAGE: i64 = 1;
/// `dictionary_uses.kind` of an error text.
pub(crate) const ERROR_TEXT: i64 = 2;
/// `dictionary_uses.kind` of a machine profile.
pub(crate) const PROFILE: i64 = 3;
/// Values [`prune`] deletes per transaction, so the write lock is never held for long.
const PRUNE_SLICE: i64 = 5_000;

/// The hash an error text is looked up by: the first 8 bytes of its SHA-256. A hash that
/// cannot be steered, so that no client can pile texts onto one hash and make lookups slow.
/// Stored, so it must never change.
pub(crate) fn text_hash(text: &str) -> i64 {
    let digest = Sha256::digest(text.as_bytes());
    i64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// Entries each cache holds before it starts again empty: enough for every value a real
/// server sees, small enough (a few MiB at the longest values) that a flood of new values
/// cannot grow the writer's memory.
const CACHE_ENTRIES: usize = 20_000;

/// A bounded map that forgets everything when full (cheaper than an LRU, and a cache miss
/// only costs one indexed lookup).
struct Cache<K, V>(HashMap<K, V>);

impl<K: Hash + Eq, V: Copy> Cache<K, V> {
    fn get(&self, key: &K) -> Option<V> {
        self.0.get(key).copied()
    }

    fn put(&mut self, key: K, value: V) {
        if self.0.len() >= CACHE_ENTRIES {
            self.0.clear();
        }
        self.0.insert(key, value);
    }
}

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Cache(HashMap::new())
    }
}

/// The writer's view of the dictionaries: ids found or created, remembered.
#[derive(Default)]
pub(crate) struct Dictionary {
    packages: Cache<(String, Option<String>), i64>,
    names: Cache<String, i64>,
    errors: Cache<String, i64>,
    profiles: Cache<Profile, i64>,
    workshops: Cache<String, i64>,
    /// `dictionary_generation` when these ids were found: a prune since may have deleted
    /// some of them.
    generation: Option<i64>,
}

impl Dictionary {
    /// Forgets every id: after a rollback some of them may no longer exist.
    pub(crate) fn forget(&mut self) {
        *self = Dictionary::default();
    }

    /// Forgets every id if values were deleted since they were found (by this process or
    /// another). For the start of each transaction; a generation that cannot be read is
    /// taken as a change.
    pub(crate) fn refresh(&mut self, conn: &Connection) {
        let now = conn
            .prepare_cached("SELECT generation FROM dictionary_generation")
            .and_then(|mut s| s.query_row([], |r| r.get(0)).optional());
        match now {
            Ok(now) if now.is_some() && now == self.generation => {}
            Ok(now) => {
                self.forget();
                self.generation = now;
            }
            Err(_) => self.forget(),
        }
    }

    /// The id of a package, created if new.
    pub(crate) fn package(
        &mut self,
        conn: &Connection,
        name: &str,
        version: Option<&str>,
    ) -> Result<i64, StorageError> {
        let key = (name.to_owned(), version.map(str::to_owned));
        if let Some(id) = self.packages.get(&key) {
            return Ok(id);
        }
        let found = conn
            .prepare_cached("SELECT id FROM packages WHERE name = ?1 AND version IS ?2")?
            .query_row(params![name, version], |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => {
                conn.prepare_cached("INSERT INTO packages (name, version) VALUES (?1, ?2)")?
                    .execute(params![name, version])?;
                conn.last_insert_rowid()
            }
        };
        self.packages.put(key, id);
        Ok(id)
    }

    /// The id of a check's name (all versions of a package), created if new.
    pub(crate) fn check_name(
        &mut self,
        conn: &Connection,
        name: &str,
    ) -> Result<i64, StorageError> {
        if let Some(id) = self.names.get(&name.to_owned()) {
            return Ok(id);
        }
        let found = conn
            .prepare_cached("SELECT id FROM check_names WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => {
                conn.prepare_cached("INSERT INTO check_names (name) VALUES (?1)")?
                    .execute([name])?;
                conn.last_insert_rowid()
            }
        };
        self.names.put(name.to_owned(), id);
        Ok(id)
    }

    /// The id of an error text, created if new; `None` for no text.
    pub(crate) fn error(
        &mut self,
        conn: &Connection,
        text: Option<&str>,
    ) -> Result<Option<i64>, StorageError> {
        let Some(text) = text else { return Ok(None) };
        if let Some(id) = self.errors.get(&text.to_owned()) {
            return Ok(Some(id));
        }
        let hash = text_hash(text);
        let mut same_hash =
            conn.prepare_cached("SELECT id, text FROM error_texts WHERE hash = ?1")?;
        let mut found = None;
        for candidate in same_hash.query_map([hash], |r| Ok((r.get(0)?, r.get::<_, String>(1)?)))? {
            let (id, stored) = candidate?;
            if stored == text {
                found = Some(id);
                break;
            }
        }
        let id = match found {
            Some(id) => id,
            None => {
                conn.prepare_cached("INSERT INTO error_texts (hash, text) VALUES (?1, ?2)")?
                    .execute(params![hash, text])?;
                conn.last_insert_rowid()
            }
        };
        self.errors.put(text.to_owned(), id);
        Ok(Some(id))
    }

    /// The id of a machine profile, created if new.
    pub(crate) fn profile(
        &mut self,
        conn: &Connection,
        profile: &Profile,
    ) -> Result<i64, StorageError> {
        if let Some(id) = self.profiles.get(profile) {
            return Ok(id);
        }
        let fingerprint = profile.fingerprint();
        let mut same_fingerprint = conn.prepare_cached(&format!(
            "SELECT id, {} FROM system_profiles WHERE fingerprint = ?1",
            columns("")
        ))?;
        let candidates = same_fingerprint.query_map([fingerprint], |r| {
            Ok((r.get::<_, i64>(0)?, Profile::read(r, 1)?))
        })?;
        let mut found = None;
        for candidate in candidates {
            let (id, stored) = candidate?;
            if stored == *profile {
                found = Some(id);
                break;
            }
        }
        let id = match found {
            Some(id) => id,
            None => {
                let mut values: Vec<&dyn rusqlite::ToSql> = vec![&fingerprint];
                values.extend(profile.values().map(|v| v as &dyn rusqlite::ToSql));
                let places: Vec<String> = (2..=values.len()).map(|i| format!("?{i}")).collect();
                conn.prepare_cached(&format!(
                    "INSERT INTO system_profiles (fingerprint, {}) VALUES (?1, {})",
                    columns(""),
                    places.join(", ")
                ))?
                .execute(values.as_slice())?;
                conn.last_insert_rowid()
            }
        };
        self.profiles.put(profile.clone(), id);
        Ok(id)
    }

    /// The id of a workshop, created if new; [`NO_WORKSHOP`] for
    /// none.
    pub(crate) fn workshop(
        &mut self,
        conn: &Connection,
        name: Option<&str>,
    ) -> Result<i64, StorageError> {
        let Some(name) = name else {
            return Ok(NO_WORKSHOP);
        };
        if let Some(id) = self.workshops.get(&name.to_owned()) {
            return Ok(id);
        }
        let found = conn
            .prepare_cached("SELECT id FROM workshops WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => {
                conn.prepare_cached("INSERT INTO workshops (name) VALUES (?1)")?
                    .execute([name])?;
                conn.last_insert_rowid()
            }
        };
        self.workshops.put(name.to_owned(), id);
        Ok(id)
    }
}

/// Deletes the values queued in `dictionary_unused` that are still unused: not referred to by
/// any attempt (`dictionary_uses`) nor, for a profile, by a learner as their current machine;
/// and the check names no package bears any more. Answers how many values went.
///
/// On a connection of its own with foreign keys off (the caller's part: the switch is a no-op
/// inside a transaction), in transactions of its own: with them on, deleting a value makes
/// SQLite search each table that may refer to it, row by row, since no index serves those
/// searches; `dictionary_uses` has already said that none does.
pub(crate) fn prune(conn: &Connection) -> Result<usize, StorageError> {
    let mut deleted = 0;
    loop {
        let tx =
            rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
        let queued: Vec<(i64, i64)> = tx
            .prepare_cached("SELECT kind, id FROM dictionary_unused LIMIT ?1")?
            .query_map([PRUNE_SLICE], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        if queued.is_empty() {
            tx.commit()?;
            return Ok(deleted);
        }
        let mut names = Vec::new();
        let before = deleted;
        for &(kind, id) in &queued {
            let used: bool = tx
                .prepare_cached(&format!(
                    "SELECT EXISTS (SELECT 1 FROM dictionary_uses WHERE kind = ?1 AND id = ?2)
                         OR (?1 = {PROFILE} AND EXISTS (SELECT 1 FROM learner_tally
                              WHERE workshop = {ALL_WORKSHOPS} AND profile_id = ?2))"
                ))?
                .query_row([kind, id], |r| r.get(0))?;
            if !used {
                match kind {
                    PACKAGE => {
                        let name: Option<String> = tx
                            .prepare_cached("DELETE FROM packages WHERE id = ?1 RETURNING name")?
                            .query_row([id], |r| r.get(0))
                            .optional()?;
                        deleted += usize::from(name.is_some());
                        names.extend(name);
                    }
                    ERROR_TEXT => {
                        deleted += tx
                            .prepare_cached("DELETE FROM error_texts WHERE id = ?1")?
                            .execute([id])?;
                    }
                    PROFILE => {
                        deleted += tx
                            .prepare_cached("DELETE FROM system_profiles WHERE id = ?1")?
                            .execute([id])?;
                    }
                    _ => {}
                }
            }
            tx.prepare_cached("DELETE FROM dictionary_unused WHERE kind = ?1 AND id = ?2")?
                .execute([kind, id])?;
        }
        // A check's name stays while a package bears it or a learner's record of what
        // fixed it counts under it.
        for name in names {
            deleted += tx
                .prepare_cached(&format!(
                    "DELETE FROM check_names WHERE name = ?1
                        AND NOT EXISTS (SELECT 1 FROM packages WHERE name = ?1)
                        AND NOT EXISTS (SELECT 1 FROM fix_tally
                                         WHERE workshop = {ALL_WORKSHOPS}
                                           AND name_id = check_names.id)"
                ))?
                .execute([name])?;
        }
        if deleted > before {
            tx.execute_batch("UPDATE dictionary_generation SET generation = generation + 1")?;
        }
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_absent_from_empty_and_fields_apart() {
        let none = Profile::default();
        let empty = Profile {
            system: Some(String::new()),
            ..Profile::default()
        };
        let moved = Profile {
            machine: Some(String::new()),
            ..Profile::default()
        };
        assert_ne!(none.fingerprint(), empty.fingerprint());
        assert_ne!(empty.fingerprint(), moved.fingerprint());
        // Stored in databases: the value for a known profile must never change.
        let linux = Profile {
            system: Some("Linux".into()),
            ..Profile::default()
        };
        assert_eq!(linux.fingerprint(), linux.clone().fingerprint());
    }
}
