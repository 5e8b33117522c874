//! The dictionaries: each distinct package, error text, machine profile and workshop stored
//! once and referred to by id. The writer keeps recent ids in memory, so a report made of
//! known values costs no lookup at all.

use super::StorageError;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::hash::Hash;

/// Entries each cache holds before it starts again empty: enough for every value a real
/// server sees, small enough (a few MiB at the longest values) that a flood of new values
/// cannot grow the writer's memory.
const CACHE_ENTRIES: usize = 20_000;

/// The machine fields of a report, in `system_profiles`' column order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct Profile {
    pub distribution_name: Option<String>,
    pub distribution_version: Option<String>,
    pub system: Option<String>,
    pub system_version: Option<String>,
    pub machine: Option<String>,
    pub system_platform: Option<String>,
    pub python_version: Option<String>,
}

impl Profile {
    fn fields(&self) -> [&Option<String>; 7] {
        [
            &self.distribution_name,
            &self.distribution_version,
            &self.system,
            &self.system_version,
            &self.machine,
            &self.system_platform,
            &self.python_version,
        ]
    }

    /// A 64-bit FNV-1a hash of the fields, each marked as absent or as its length and bytes,
    /// so that no two different profiles are one string. Stored, so it must never change.
    pub(crate) fn fingerprint(&self) -> i64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for field in self.fields() {
            match field {
                None => feed(&[0]),
                Some(text) => {
                    feed(&[1]);
                    feed(&(text.len() as u32).to_le_bytes());
                    feed(text.as_bytes());
                }
            }
        }
        hash as i64
    }
}

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
}

impl Dictionary {
    /// Forgets every id: after a rollback some of them may no longer exist.
    pub(crate) fn forget(&mut self) {
        *self = Dictionary::default();
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
        let found = conn
            .prepare_cached("SELECT id FROM error_texts WHERE text = ?1")?
            .query_row([text], |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => {
                conn.prepare_cached("INSERT INTO error_texts (text) VALUES (?1)")?
                    .execute([text])?;
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
        let mut same_fingerprint = conn.prepare_cached(
            "SELECT id, distribution_name, distribution_version, system, system_version,
                    machine, system_platform, python_version
               FROM system_profiles WHERE fingerprint = ?1",
        )?;
        let candidates = same_fingerprint.query_map([fingerprint], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Profile {
                    distribution_name: r.get(1)?,
                    distribution_version: r.get(2)?,
                    system: r.get(3)?,
                    system_version: r.get(4)?,
                    machine: r.get(5)?,
                    system_platform: r.get(6)?,
                    python_version: r.get(7)?,
                },
            ))
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
                let f = profile.fields();
                conn.prepare_cached(
                    "INSERT INTO system_profiles (fingerprint, distribution_name,
                         distribution_version, system, system_version, machine,
                         system_platform, python_version)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    fingerprint,
                    f[0],
                    f[1],
                    f[2],
                    f[3],
                    f[4],
                    f[5],
                    f[6]
                ])?;
                conn.last_insert_rowid()
            }
        };
        self.profiles.put(profile.clone(), id);
        Ok(id)
    }

    /// The id of a workshop, created if new; [`NO_WORKSHOP`](super::tally::NO_WORKSHOP) for
    /// none.
    pub(crate) fn workshop(
        &mut self,
        conn: &Connection,
        name: Option<&str>,
    ) -> Result<i64, StorageError> {
        let Some(name) = name else {
            return Ok(super::tally::NO_WORKSHOP);
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
