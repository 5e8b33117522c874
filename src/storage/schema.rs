//! The schema (`schema.sql`, embedded) and the migrations that bring older files forward.
//! `PRAGMA user_version` holds the version: 0 is an empty file or the original 2016 server's.

use super::StorageError;
use rusqlite::{Connection, OptionalExtension};

/// The version `schema.sql` describes.
pub const SCHEMA_VERSION: i64 = 2;
const SCHEMA: &str = include_str!("../../schema.sql");
/// Where version 2's part of the schema (the tallies and their triggers) begins.
const TALLIES_MARKER: &str = "-- Tallies (schema version 2)";

/// Brings the database to [`SCHEMA_VERSION`], in one transaction per step.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    match version {
        SCHEMA_VERSION => Ok(()),
        1 => add_tallies(conn),
        0 if has_table(conn, "user_system_info")? => migrate_original(conn),
        0 => {
            let tx = conn.transaction()?;
            tx.execute_batch(SCHEMA)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
            Ok(())
        }
        newer => Err(StorageError::Other(format!(
            "the database has schema version {newer}, newer than this program's \
             {SCHEMA_VERSION}: run a newer result-aggregation-server"
        ))),
    }
}

/// Version 1 to 2: the tallies, filled from the rows already there.
fn add_tallies(conn: &mut Connection) -> Result<(), StorageError> {
    let start = SCHEMA
        .find(TALLIES_MARKER)
        .expect("schema.sql has its tallies");
    let tx = conn.transaction()?;
    tx.execute_batch(&SCHEMA[start..])?;
    tx.execute_batch(
        "INSERT INTO learner_tally (k, workshop_id, system, learners, passing)
         SELECT json_array(workshop_id, system), workshop_id, system, count(*),
                sum(latest_attempt_id IS NOT NULL AND NOT EXISTS
                    (SELECT 1 FROM failed_installs f WHERE f.attempt_id = u.latest_attempt_id))
           FROM user_system_info u GROUP BY 1;
         INSERT INTO failure_tally (k, workshop_id, system, name, version, latest, every)
         SELECT json_array(u.workshop_id, u.system, f.name, f.version), u.workshop_id, u.system,
                f.name, f.version, sum(f.attempt_id IS u.latest_attempt_id), count(*)
           FROM failed_installs f JOIN user_system_info u ON u.id = f.user_id GROUP BY 1;
         INSERT INTO detail_tally (k, workshop_id, name, version, dim, value, latest, every)
         SELECT json_array(workshop_id, name, version, dim, value), workshop_id, name, version,
                dim, value, sum(latest), count(*)
           FROM failure_features WHERE value <> '' GROUP BY 1;
         INSERT INTO day_tally (k, name, version, day, latest, every)
         SELECT json_array(name, version, value), name, version, value, sum(latest), count(*)
           FROM failure_features WHERE value <> '' AND dim = 'day' GROUP BY 1;",
    )?;
    tx.pragma_update(None, "user_version", 2)?;
    tx.commit()?;
    Ok(())
}

fn has_table(conn: &Connection, name: &str) -> Result<bool, StorageError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The original server's database: same tables, no cascade in SQL, no attempt times, no
/// latest-attempt pointer, and packages recorded before attempts existed have no attempt.
/// Tables are rebuilt (SQLite cannot add a foreign key in place) and every row is kept:
/// packages without an attempt get one attempt per learner to hold them. Rows pointing at a
/// learner that no longer exists (the ORM's cascade was not always run) cannot satisfy the
/// foreign keys and are dropped, with a count in the log.
fn migrate_original(conn: &mut Connection) -> Result<(), StorageError> {
    log::info!("migrating a database of the original server to schema version {SCHEMA_VERSION}");
    // Foreign keys cannot be switched inside a transaction; the rebuild needs them off.
    conn.pragma_update(None, "foreign_keys", false)?;
    let tx = conn.transaction()?;
    for table in [
        "user_system_info",
        "attempts",
        "successful_installs",
        "failed_installs",
    ] {
        if has_table(&tx, table)? {
            tx.execute_batch(&format!("ALTER TABLE {table} RENAME TO original_{table}"))?;
        } else {
            // A very old file may lack a table; an empty one stands in for it.
            tx.execute_batch(&format!(
                "CREATE TABLE original_{table} AS SELECT * FROM ({}) WHERE 0",
                empty_original(table)
            ))?;
        }
    }
    // The originals' indexes kept their names through the rename: drop them first.
    let indexes: Vec<String> = tx
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL
               AND tbl_name LIKE 'original_%'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for index in indexes {
        tx.execute_batch(&format!("DROP INDEX \"{}\"", index.replace('"', "\"\"")))?;
    }
    tx.execute_batch(SCHEMA)?;
    tx.execute_batch(
        "INSERT INTO user_system_info (id, unique_user_id, distribution_name,
             distribution_version, system_version, system, machine, system_platform,
             python_version, workshop_id, email_id, create_time)
         SELECT id, unique_user_id, distribution_name, distribution_version, system_version,
             system, machine, system_platform, python_version, workshop_id, email_id, create_time
           FROM original_user_system_info WHERE unique_user_id IS NOT NULL;
         INSERT INTO attempts (id, unique_user_id, create_time)
         SELECT id, unique_user_id, NULL FROM original_attempts
          WHERE unique_user_id IN (SELECT unique_user_id FROM user_system_info);
         CREATE TEMP TABLE orphan_attempt (user_id INTEGER PRIMARY KEY, attempt_id INTEGER);
         INSERT INTO orphan_attempt (user_id)
         SELECT user_id FROM original_successful_installs WHERE attempt_id IS NULL
         UNION SELECT user_id FROM original_failed_installs WHERE attempt_id IS NULL;
         DELETE FROM orphan_attempt WHERE user_id NOT IN (SELECT id FROM user_system_info);
         INSERT INTO attempts (unique_user_id, create_time)
         SELECT u.unique_user_id, NULL FROM orphan_attempt o
           JOIN user_system_info u ON u.id = o.user_id ORDER BY o.user_id;
         UPDATE orphan_attempt SET attempt_id = (
             SELECT max(a.id) FROM attempts a JOIN user_system_info u
                 ON a.unique_user_id = u.unique_user_id WHERE u.id = orphan_attempt.user_id);
         INSERT INTO successful_installs (id, name, version, user_id, attempt_id, create_time)
         SELECT s.id, s.name, s.version, s.user_id,
                coalesce(s.attempt_id, (SELECT attempt_id FROM orphan_attempt WHERE user_id = s.user_id)),
                s.create_time
           FROM original_successful_installs s
          WHERE s.user_id IN (SELECT id FROM user_system_info) AND s.name IS NOT NULL
            AND (s.attempt_id IS NULL OR s.attempt_id IN (SELECT id FROM attempts));
         INSERT INTO failed_installs (id, name, version, error_description, user_id, attempt_id,
                                      create_time)
         SELECT f.id, f.name, f.version, f.error_description, f.user_id,
                coalesce(f.attempt_id, (SELECT attempt_id FROM orphan_attempt WHERE user_id = f.user_id)),
                f.create_time
           FROM original_failed_installs f
          WHERE f.user_id IN (SELECT id FROM user_system_info) AND f.name IS NOT NULL
            AND (f.attempt_id IS NULL OR f.attempt_id IN (SELECT id FROM attempts));
         DROP TABLE orphan_attempt;
         UPDATE user_system_info SET latest_attempt_id = (
             SELECT max(id) FROM attempts WHERE attempts.unique_user_id = user_system_info.unique_user_id);",
    )?;
    let count = |sql: &str| tx.query_row(sql, [], |r| r.get::<_, i64>(0));
    let dropped = count(
        "SELECT (SELECT count(*) FROM original_user_system_info)
              + (SELECT count(*) FROM original_attempts)
              + (SELECT count(*) FROM original_successful_installs)
              + (SELECT count(*) FROM original_failed_installs)
              - (SELECT count(*) FROM user_system_info)
              - (SELECT count(*) FROM attempts WHERE id IN (SELECT id FROM original_attempts))
              - (SELECT count(*) FROM successful_installs)
              - (SELECT count(*) FROM failed_installs)",
    )?;
    if dropped > 0 {
        log::warn!("migration dropped {dropped} rows that pointed at no learner or attempt");
    }
    tx.execute_batch(
        "DROP TABLE original_successful_installs; DROP TABLE original_failed_installs;
         DROP TABLE original_attempts; DROP TABLE original_user_system_info;",
    )?;
    let broken: Option<String> = tx
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .optional()?;
    if let Some(table) = broken {
        return Err(StorageError::Corrupt(format!(
            "migration left a broken reference in {table}"
        )));
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// The columns of an original table, for a file that lacks it.
fn empty_original(table: &str) -> &'static str {
    match table {
        "attempts" => "SELECT NULL AS id, NULL AS unique_user_id",
        "successful_installs" => {
            "SELECT NULL AS id, NULL AS name, NULL AS version, NULL AS user_id,
                    NULL AS attempt_id, NULL AS create_time"
        }
        _ => {
            "SELECT NULL AS id, NULL AS name, NULL AS version, NULL AS error_description,
                    NULL AS user_id, NULL AS attempt_id, NULL AS create_time"
        }
    }
}
