//! Writing: one learner's attempt, and deleting a learner.

use super::StorageError;
use crate::report::Report;
use rusqlite::{params, Connection, OptionalExtension};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // rows of the tables so named
pub struct Deleted {
    pub attempts: i64,
    pub successful_installs: i64,
    pub failed_installs: i64,
}

/// Stores one report as a new attempt of its learner (creating the learner if the key is
/// absent or unknown), received `at` (`YYYY-MM-DD HH:MM:SS.SSS`, UTC; `None` for now).
/// System fields a report leaves out keep their stored values, so a later attempt without
/// an email or workshop does not erase them.
pub(super) fn record_attempt(
    conn: &Connection,
    report: &Report,
    at: Option<&str>,
) -> Result<Receipt, StorageError> {
    let known = match report.key {
        Some(key) => conn
            .prepare_cached("SELECT id FROM user_system_info WHERE unique_user_id = ?1")?
            .query_row([key.to_string()], |row| row.get::<_, i64>(0))
            .optional()?
            .map(|id| (id, key)),
        None => None,
    };
    let s = &report.system;
    let (user_id, key) = match known {
        Some(found) => found,
        None => {
            let key = Uuid::new_v4();
            conn.prepare_cached(
                "INSERT INTO user_system_info (unique_user_id, distribution_name,
                    distribution_version, system_version, system, machine, system_platform,
                    python_version, workshop_id, email_id, create_time)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, coalesce(?11, strftime('%Y-%m-%d %H:%M:%f', 'now')))",
            )?
            .execute(params![
                key.to_string(),
                s.distribution_name,
                s.distribution_version,
                s.system_version,
                s.system,
                s.machine,
                s.system_platform,
                s.python_version,
                s.workshop_id,
                s.email_id,
                at
            ])?;
            (conn.last_insert_rowid(), key)
        }
    };
    conn.prepare_cached(
        "INSERT INTO attempts (unique_user_id, create_time) VALUES (?1, coalesce(?2, strftime('%Y-%m-%d %H:%M:%f', 'now')))"
    )?
    .execute(params![key.to_string(), at])?;
    let attempt_id = conn.last_insert_rowid();
    conn.prepare_cached(
        "UPDATE user_system_info SET
            distribution_name = coalesce(?2, distribution_name),
            distribution_version = coalesce(?3, distribution_version),
            system_version = coalesce(?4, system_version),
            system = coalesce(?5, system),
            machine = coalesce(?6, machine),
            system_platform = coalesce(?7, system_platform),
            python_version = coalesce(?8, python_version),
            workshop_id = coalesce(?9, workshop_id),
            email_id = coalesce(?10, email_id),
            latest_attempt_id = ?11
         WHERE id = ?1",
    )?
    .execute(params![
        user_id,
        s.distribution_name,
        s.distribution_version,
        s.system_version,
        s.system,
        s.machine,
        s.system_platform,
        s.python_version,
        s.workshop_id,
        s.email_id,
        attempt_id
    ])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO successful_installs (name, version, user_id, attempt_id, create_time)
         VALUES (?1, ?2, ?3, ?4, coalesce(?5, strftime('%Y-%m-%d %H:%M:%f', 'now')))",
    )?;
    for p in &report.successes {
        insert.execute(params![p.name, p.version, user_id, attempt_id, at])?;
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO failed_installs (name, version, error_description, user_id, attempt_id)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for f in &report.failures {
        insert.execute(params![
            f.name,
            f.version,
            f.error_description,
            user_id,
            attempt_id
        ])?;
    }
    Ok(Receipt {
        key,
        known: known.is_some(),
    })
}

/// Deletes a learner by key; the database's cascade removes their attempts and packages.
pub(super) fn delete_user(conn: &Connection, key: &str) -> Result<Deleted, StorageError> {
    let user_id: i64 = conn
        .query_row(
            "SELECT id FROM user_system_info WHERE unique_user_id = ?1",
            [key],
            |row| row.get(0),
        )
        .optional()?
        .ok_or(StorageError::NotFound)?;
    let count = |sql: &str| conn.query_row(sql, [user_id], |row| row.get::<_, i64>(0));
    let deleted = Deleted {
        attempts: count(
            "SELECT count(*) FROM attempts a JOIN user_system_info u
               ON a.unique_user_id = u.unique_user_id WHERE u.id = ?1",
        )?,
        successful_installs: count("SELECT count(*) FROM successful_installs WHERE user_id = ?1")?,
        failed_installs: count("SELECT count(*) FROM failed_installs WHERE user_id = ?1")?,
    };
    conn.execute("DELETE FROM user_system_info WHERE id = ?1", [user_id])?;
    Ok(deleted)
}
