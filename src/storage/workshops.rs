//! Workshops a host registered: their own check list and the private link's secret, of which
//! only a SHA-256 is stored. What their readiness page reads is in `readiness/`.

use super::record::{self, Deleted};
use super::timestamp;
use super::writer::Work;
use super::{Cause, StorageError};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a link's secret: 160 bits, past any guessing.
const SECRET_BYTES: usize = 20;

/// The secret in a host's private link: shown once, when made, and never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    fn generate() -> Result<Secret, StorageError> {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes)
            .map_err(|e| StorageError::Other(Cause::new("no randomness for a secret", e)))?;
        Ok(Secret(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The secret as the link carries it (40 hexadecimal digits).
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn hash(text: &str) -> [u8; 32] {
        Sha256::digest(text.as_bytes()).into()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// A workshop to register.
#[derive(Debug, Clone)]
pub struct NewWorkshop {
    /// The id learners send (`2026-11-27-place`).
    pub name: String,
    /// What the host calls it, shown on its page.
    pub title: Option<String>,
    /// The checks its script runs (`git>=2.30,numpy`); `None` for the server's.
    pub checks: Option<String>,
    /// The IANA zone its host reads the page in (`Australia/Melbourne`), already checked;
    /// `None` for UTC.
    pub time_zone: Option<String>,
}

/// A registered workshop, as `workshop list` and `show` print it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the columns of hosted_workshops
pub struct HostedWorkshop {
    pub name: String,
    pub title: Option<String>,
    pub checks: Option<String>,
    pub created_time: String,
    pub link_time: String,
    /// Whose days the host page's chart counts, and whose clocks its times show.
    pub time_zone: Option<String>,
    /// Learners whose current workshop it is.
    pub learners: i64,
}

/// What the host's page is made of.
#[derive(Debug, Clone)]
pub(crate) struct HostView {
    pub workshop: HostedWorkshop,
    /// The checks it requires.
    pub required: Vec<super::RequiredCheck>,
    pub standings: super::Standings,
}

/// The pseudonym of a key: the first 32 bits of its SHA-256, which tell a few hundred
/// learners apart and say nothing about the key.
pub(crate) fn pseudonym(key: &str) -> String {
    let digest = Sha256::digest(format!("learner pseudonym\n{key}").as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("learner-{hex}")
}

/// Registers a workshop; [`StorageError::Exists`] if it is registered already.
pub(crate) fn create(work: Work<'_>, new: &NewWorkshop) -> Result<Secret, StorageError> {
    let id = work.dictionary.workshop(work.conn, Some(&new.name))?;
    let secret = Secret::generate()?;
    let now = timestamp::now();
    let inserted = work
        .conn
        .prepare_cached(
            "INSERT INTO hosted_workshops (workshop_id, title, checks, secret_hash,
                                           created_time, link_time, time_zone)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6) ON CONFLICT (workshop_id) DO NOTHING",
        )?
        .execute(params![
            id,
            new.title,
            new.checks,
            Secret::hash(secret.expose()).as_slice(),
            now,
            new.time_zone,
        ])?;
    match inserted {
        0 => Err(StorageError::Exists),
        _ => Ok(secret),
    }
}

/// A new secret for a registered workshop; the old link stops working with the commit.
pub(crate) fn renew_link(work: Work<'_>, name: &str) -> Result<Secret, StorageError> {
    let secret = Secret::generate()?;
    let changed = work
        .conn
        .prepare_cached(
            "UPDATE hosted_workshops SET secret_hash = ?2, link_time = ?3
              WHERE workshop_id = (SELECT id FROM workshops WHERE name = ?1)",
        )?
        .execute(params![
            name,
            Secret::hash(secret.expose()).as_slice(),
            timestamp::now()
        ])?;
    match changed {
        0 => Err(StorageError::NotFound),
        _ => Ok(secret),
    }
}

/// Unregisters a workshop and deletes every learner whose current workshop it is (their
/// attempts and packages go by the cascade; the tallies are kept exact on the way).
pub(crate) fn delete(mut work: Work<'_>, name: &str) -> Result<Deleted, StorageError> {
    let removed = work
        .conn
        .prepare_cached(
            "DELETE FROM hosted_workshops
              WHERE workshop_id = (SELECT id FROM workshops WHERE name = ?1)",
        )?
        .execute([name])?;
    if removed == 0 {
        return Err(StorageError::NotFound);
    }
    let learners: Vec<i64> = work
        .conn
        .prepare_cached("SELECT id FROM user_system_info WHERE workshop_id = ?1")?
        .query_map([name], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut deleted = Deleted::default();
    for id in learners {
        deleted += record::delete_learner(work.reborrow(), id)?;
    }
    Ok(deleted)
}

const HOSTED: &str = "SELECT w.name, h.title, h.checks, h.created_time, h.link_time,
        (SELECT count(*) FROM user_system_info u WHERE u.workshop_id = w.name), h.time_zone
   FROM hosted_workshops h JOIN workshops w ON w.id = h.workshop_id";

fn hosted_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HostedWorkshop> {
    Ok(HostedWorkshop {
        name: r.get(0)?,
        title: r.get(1)?,
        checks: r.get(2)?,
        created_time: r.get(3)?,
        link_time: r.get(4)?,
        learners: r.get(5)?,
        time_zone: r.get(6)?,
    })
}

/// Every registered workshop, by name.
pub(crate) fn list(conn: &Connection) -> Result<Vec<HostedWorkshop>, StorageError> {
    Ok(conn
        .prepare_cached(&format!("{HOSTED} ORDER BY w.name"))?
        .query_map([], hosted_row)?
        .collect::<Result<_, _>>()?)
}

/// One registered workshop, or `None`.
pub(crate) fn find(conn: &Connection, name: &str) -> Result<Option<HostedWorkshop>, StorageError> {
    Ok(conn
        .prepare_cached(&format!("{HOSTED} WHERE w.name = ?1"))?
        .query_row([name], hosted_row)
        .optional()?)
}

/// Whether `secret` opens `name`'s page. Compared in constant time; an unknown workshop is
/// compared against a hash nobody has, so it takes as long as a wrong secret.
pub(crate) fn admits(conn: &Connection, name: &str, secret: &str) -> Result<bool, StorageError> {
    let stored: Option<Vec<u8>> = conn
        .prepare_cached(
            "SELECT h.secret_hash FROM hosted_workshops h JOIN workshops w
                ON w.id = h.workshop_id WHERE w.name = ?1",
        )?
        .query_row([name], |r| r.get(0))
        .optional()?;
    let given = Secret::hash(secret);
    let known = stored.is_some();
    let stored = stored.unwrap_or_else(|| vec![0; 32]);
    Ok(known && bool::from(given.as_slice().ct_eq(stored.as_slice())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_never_printed() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), SECRET_BYTES * 2);
        assert!(a.expose().chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(format!("{a:?}"), "Secret(…)");
    }

    #[test]
    fn pseudonyms_are_short_stable_and_not_the_key() {
        let key = "5d0c7bd3-0000-4000-8000-000000000000";
        assert_eq!(pseudonym(key), pseudonym(key));
        assert_ne!(
            pseudonym(key),
            pseudonym("5d0c7bd3-0000-4000-8000-000000000001")
        );
        assert_eq!(pseudonym(key).len(), "learner-".len() + 8);
        assert!(!pseudonym(key).contains("5d0c7bd3"));
    }
}
