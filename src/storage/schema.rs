//! The schema (`schema.sql`, embedded) and the migration that brings older files forward.
//! `PRAGMA user_version` holds the version: 0 is an empty file or the original 2016 server's,
//! 1 and 2 are this server's earlier layouts (one row per package, tallies kept by triggers),
//! 3 the dictionaries' layout before error texts were indexed by a hash and unused values
//! deleted, 4 registered workshops without a time zone. Before a migration changes a file, a complete copy is written beside it.

use super::dictionary::{self, text_hash, Dictionary};
use super::{rebuild, tally, Cause, StorageError};
use crate::config::Location;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// The version `schema.sql` describes.
pub const SCHEMA_VERSION: i64 = 5;
const SCHEMA: &str = include_str!("../../schema.sql");
/// The original's four tables, which every older layout has (perhaps not all of them).
const LEGACY_TABLES: [&str; 4] = [
    "user_system_info",
    "attempts",
    "successful_installs",
    "failed_installs",
];

/// One migration step: the versions it starts from, the version it leaves, and what it does,
/// in one transaction of its own (run with foreign keys off, see [`with_foreign_keys_off`]).
struct Step {
    from: std::ops::RangeInclusive<i64>,
    to: i64,
    /// Commits with the file at version `to`, which it is given.
    run: fn(&mut Connection, i64) -> Result<(), StorageError>,
    /// Run once the step has committed; its failure does not undo the step.
    after: Option<fn(&Connection)>,
}

/// The migrations, in order. A file at a version runs the step that starts from it, then the
/// one that starts from where that left it, until [`SCHEMA_VERSION`]; each step is tested from
/// the version before it (`tests/migration.rs`: the original's file, `v2.db`, `v3.db`).
///
/// - 0 to 2 (the original's four tables, this server's first layouts): the rows become the
///   current schema's raw rows and dictionaries, every count rebuilt ([`rebuild_from_legacy`]);
/// - 3 (error texts indexed by their whole text, no value ever deleted): texts indexed by a
///   hash, unused values deleted ([`rebuild_error_texts`]), then the file rewritten without
///   the free space that held deleted learners' rows ([`scrub`]);
/// - 4 (registered workshops in UTC only): a time zone column, empty ([`add_time_zone`]).
const STEPS: &[Step] = &[
    Step {
        from: 0..=2,
        to: 5,
        run: rebuild_from_legacy,
        after: None,
    },
    Step {
        from: 3..=3,
        to: 4,
        run: rebuild_error_texts,
        after: Some(scrub),
    },
    Step {
        from: 4..=4,
        to: 5,
        run: add_time_zone,
        after: None,
    },
];

/// Version 4 to 5: registered workshops get a time zone, none (UTC) for those there. The
/// table is made anew with the very statement a new file gets (an added column would leave
/// a different schema text behind), and its rows copied.
fn add_time_zone(conn: &mut Connection, to: i64) -> Result<(), StorageError> {
    let tx = conn.transaction()?;
    let has_column: bool = tx.query_row(
        "SELECT count(*) FROM pragma_table_info('hosted_workshops') WHERE name = 'time_zone'",
        [],
        |r| r.get(0),
    )?;
    if !has_column {
        tx.execute_batch("ALTER TABLE hosted_workshops RENAME TO v4_hosted_workshops;")?;
        create_missing(&tx)?;
        tx.execute_batch(
            "INSERT INTO hosted_workshops (workshop_id, title, checks, secret_hash,
                 created_time, link_time)
             SELECT workshop_id, title, checks, secret_hash, created_time, link_time
               FROM v4_hosted_workshops;
             DROP TABLE v4_hosted_workshops;",
        )?;
    }
    finish(tx, to)
}

/// Brings the database to [`SCHEMA_VERSION`].
pub(super) fn migrate(conn: &mut Connection, location: &Location) -> Result<(), StorageError> {
    let mut version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version == 0 && !has_table(conn, "user_system_info")? {
        // A new file. Another process may be creating it at this moment (a second instance,
        // a server starting while `workshop create` runs): the write lock picks one, the
        // other finds it made.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if !has_table(&tx, "user_system_info")? {
            tx.execute_batch(SCHEMA)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        tx.commit()?;
        return Ok(());
    }
    if version > SCHEMA_VERSION {
        return Err(StorageError::Other(
            format!(
                "the database has schema version {version}, newer than this program's \
                 {SCHEMA_VERSION}: run a newer result-aggregation-server"
            )
            .into(),
        ));
    }
    while version < SCHEMA_VERSION {
        let step = STEPS
            .iter()
            .find(|step| step.from.contains(&version))
            .ok_or_else(|| {
                StorageError::Other(format!("no migration from schema version {version}").into())
            })?;
        if let Location::File(path) = location {
            let copy = back_up(conn, path, version)?;
            log::info!(
                "migrating {} from schema version {version} to {}; \
                 a copy of the file as it was is at {}",
                path.display(),
                step.to,
                copy.display()
            );
        }
        with_foreign_keys_off(conn, |conn| (step.run)(conn, step.to)).map_err(|e| {
            log::error!("migration failed, the database is unchanged: {e}");
            e
        })?;
        if let Some(after) = step.after {
            after(conn);
        }
        version = step.to;
    }
    Ok(())
}

/// `NAME.before-migration-vN.db` beside `path`, N the schema version the file has: one copy
/// per version it is migrated from, however often a migration is tried.
fn copy_path(path: &Path, version: i64) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "database".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}.before-migration-v{version}.db"))
}

/// Makes sure a complete copy of the file at `path`, as it is now, lies beside it before a
/// migration from `version` changes anything; answers where.
///
/// A failed migration leaves the file as it was, and a service restarted after each failure
/// (`Restart=on-failure`) tries again: a copy already there that holds the same bytes is
/// kept rather than written again, so failures cannot fill the disk with copies. A copy is
/// written under a `.partial` name and renamed only once complete, so a copy under the final
/// name is never one that a crash cut short; a leftover partial or an outdated copy of the
/// same version (the file changed since, under an older program) is replaced.
fn back_up(conn: &Connection, path: &Path, version: i64) -> Result<PathBuf, StorageError> {
    let copy = copy_path(path, version);
    let failed = |what: &str, e: std::io::Error| {
        StorageError::Other(Cause::new(format!("{what} the copy {}", copy.display()), e))
    };
    if same_bytes(path, &copy).map_err(|e| failed("comparing", e))? {
        return Ok(copy);
    }
    let mut partial = copy.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    match std::fs::remove_file(&partial) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed("removing", e)),
        _ => {}
    }
    let written = super::backup::copy(conn, &partial)
        .and_then(|()| restore_header(path, &partial).map_err(|e| failed("writing", e)));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, &copy).map_err(|e| failed("renaming", e))?;
    if let Some(dir) = copy.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename itself is durable once the folder is synced.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(copy)
}

/// Makes the backup at `copy` byte for byte the file at `path`: the backup API rewrites four
/// header fields (the change counter, the schema cookie, the change counter the header is
/// valid for, and the SQLite version that wrote it last), which are copied back from the
/// source. Synced to disk.
fn restore_header(path: &Path, copy: &Path) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut header = [0u8; 100];
    std::fs::File::open(path)?.read_exact(&mut header)?;
    let mut file = std::fs::OpenOptions::new().write(true).open(copy)?;
    for (offset, len) in [(24usize, 4usize), (40, 4), (92, 4), (96, 4)] {
        file.seek(SeekFrom::Start(offset as u64))?;
        file.write_all(&header[offset..offset + len])?;
    }
    file.sync_all()
}

/// Whether the files at `a` and `b` both exist and hold the same bytes; read a slice at a
/// time, so a large database costs no memory.
fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let open = |p: &Path| match std::fs::File::open(p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        other => other.map(Some),
    };
    let (Some(a), Some(b)) = (open(a)?, open(b)?) else {
        return Ok(false);
    };
    if a.metadata()?.len() != b.metadata()?.len() {
        return Ok(false);
    }
    let (mut a, mut b) = (std::io::BufReader::new(a), std::io::BufReader::new(b));
    let (mut x, mut y) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = a.read(&mut x)?;
        if n == 0 {
            return Ok(true);
        }
        b.read_exact(&mut y[..n])?;
        if x[..n] != y[..n] {
            return Ok(false);
        }
    }
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

fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool, StorageError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Names of schema objects of one type, matching a LIKE pattern.
fn objects(conn: &Connection, kind: &str, like: &str) -> Result<Vec<String>, StorageError> {
    Ok(conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = ?1 AND name LIKE ?2 AND sql IS NOT NULL",
        )?
        .query_map([kind, like], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Runs a migration's `step` (one transaction) with foreign keys off, which rebuilding tables
/// needs, and scratch tables on disk; then deletes the dictionary values the migrated file
/// holds but no attempt uses (see [`dictionary::prune`]).
fn with_foreign_keys_off(
    conn: &mut Connection,
    step: impl FnOnce(&mut Connection) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    // Foreign keys cannot be switched inside a transaction.
    conn.pragma_update(None, "foreign_keys", false)?;
    // Its scratch tables hold a row per package: on disk, not in memory.
    conn.pragma_update(None, "temp_store", "FILE")?;
    let outcome = step(conn).and_then(|()| dictionary::prune(conn).map(drop));
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    if outcome.is_ok() {
        let free: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
        let page: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        if free * page > 64 << 20 {
            log::info!(
                "the old layout's {} MiB are free pages in the file now; with the server \
                 stopped, `sqlite3 FILE VACUUM` gives them back to the disk",
                (free * page) >> 20
            );
        }
    }
    outcome
}

/// Rewrites a file migrated from version 3 without its free space: version 3 deleted rows
/// without overwriting them, so the free space of its pages may still hold what learners who
/// asked to be forgotten sent (their emails included). Once, after the migration committed;
/// if it fails (it needs as much free disk as the file takes), the migration stands and the
/// log says how to do it by hand.
fn scrub(conn: &Connection) {
    let started = std::time::Instant::now();
    // The rewritten file is built in a temporary one: on disk, not in memory (95 MiB of
    // memory for a file of 88 MB).
    let vacuumed = conn
        .pragma_update(None, "temp_store", "FILE")
        .and_then(|()| conn.execute_batch("VACUUM"));
    if let Err(e) = conn.pragma_update(None, "temp_store", "MEMORY") {
        log::warn!("setting temp_store back after VACUUM: {e}");
    }
    match vacuumed {
        Ok(()) => log::info!(
            "rewrote the file without the free space version 3 left in {:.1} s",
            started.elapsed().as_secs_f64()
        ),
        Err(e) => log::warn!(
            "could not rewrite the file without the free space version 3 left (deleted \
             learners' data may remain in it): {e}; with the server stopped, \
             `sqlite3 FILE VACUUM` does it"
        ),
    }
}

/// Version 3: error texts were indexed by their whole text, and no dictionary value was ever
/// deleted. The texts move to a table with a hash; the new tables are made (as `schema.sql`
/// has them); every value's uses are counted, and those without any are queued for deletion.
fn rebuild_error_texts(conn: &mut Connection, to: i64) -> Result<(), StorageError> {
    // The old table is renamed out of the way without the rename reaching into the failures'
    // foreign key and the `failed_installs` view: both name `error_texts`, which is made
    // anew under that name below.
    conn.pragma_update(None, "legacy_alter_table", true)?;
    let tx = conn.transaction()?;
    tx.execute_batch("ALTER TABLE error_texts RENAME TO v3_error_texts")?;
    tx.pragma_update(None, "legacy_alter_table", false)?;
    create_missing(&tx)?;
    {
        let mut texts = tx.prepare("SELECT id, text FROM v3_error_texts")?;
        let mut insert =
            tx.prepare("INSERT INTO error_texts (id, hash, text) VALUES (?1, ?2, ?3)")?;
        let mut rows = texts.query([])?;
        while let Some(row) = rows.next()? {
            let text: String = row.get(1)?;
            insert.execute(params![row.get::<_, i64>(0)?, text_hash(&text), text])?;
        }
    }
    tx.execute_batch("DROP TABLE v3_error_texts")?;
    tally::recount_uses(&tx)?;
    finish(tx, to)
}

/// Makes every table, index and view of `schema.sql` that the file lacks, with the very
/// statement a new file gets, and the dictionaries' generation row.
fn create_missing(conn: &Connection) -> Result<(), StorageError> {
    let fresh = Connection::open_in_memory()?;
    fresh.execute_batch(SCHEMA)?;
    let objects: Vec<(String, String, String)> = fresh
        .prepare("SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (kind, name, sql) in objects {
        let exists = conn
            .query_row(
                "SELECT 1 FROM sqlite_schema WHERE type = ?1 AND name = ?2",
                [&kind, &name],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !exists {
            conn.execute_batch(&sql)?;
        }
    }
    conn.execute_batch(
        "INSERT INTO dictionary_generation (generation)
         SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM dictionary_generation)",
    )?;
    Ok(())
}

/// Checks the migrated rows' references, sets the version to `to` and commits.
fn finish(tx: rusqlite::Transaction<'_>, to: i64) -> Result<(), StorageError> {
    let broken: Option<String> = tx
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .optional()?;
    if let Some(table) = broken {
        return Err(StorageError::Corrupt(
            format!("migration left a broken reference in {table}").into(),
        ));
    }
    tx.pragma_update(None, "user_version", to)?;
    tx.commit()?;
    Ok(())
}

/// An older layout (the original server's, or this server's versions 1 and 2): the four
/// tables become the raw rows of this schema, in one transaction.
///
/// Every learner's attempts are counted under the learner's current workshop and machine
/// (older layouts kept no snapshot per attempt, and their statistics counted them so too).
/// An attempt without a time (the original kept none) gets its earliest package's time, or
/// its learner's. Packages recorded before attempts existed get one attempt per learner to
/// hold them. Rows that point at a learner or attempt that does not exist (the original's
/// cascade lived in its ORM and was not always run) cannot satisfy the foreign keys and are
/// dropped, with a count in the log.
fn rebuild_from_legacy(conn: &mut Connection, to: i64) -> Result<(), StorageError> {
    let tx = conn.transaction()?;
    // Version 2's triggers, view and tallies: derived, and replaced.
    for trigger in objects(&tx, "trigger", "%")? {
        tx.execute_batch(&format!("DROP TRIGGER {}", quoted(&trigger)))?;
    }
    for view in objects(&tx, "view", "%")? {
        tx.execute_batch(&format!("DROP VIEW {}", quoted(&view)))?;
    }
    for table in [
        "failure_tally",
        "learner_tally",
        "detail_tally",
        "day_tally",
    ] {
        tx.execute_batch(&format!("DROP TABLE IF EXISTS {table}"))?;
    }
    for table in LEGACY_TABLES {
        if has_table(&tx, table)? {
            tx.execute_batch(&format!("ALTER TABLE {table} RENAME TO legacy_{table}"))?;
        } else {
            // A very old file may lack a table; an empty one stands in for it.
            tx.execute_batch(&format!(
                "CREATE TABLE legacy_{table} AS SELECT * FROM ({}) WHERE 0",
                empty_legacy(table)
            ))?;
        }
    }
    // The legacy tables' indexes kept their names through the rename: drop them first.
    for index in objects(&tx, "index", "%")? {
        tx.execute_batch(&format!("DROP INDEX {}", quoted(&index)))?;
    }
    tx.execute_batch(SCHEMA)?;
    tx.execute_batch(
        "INSERT INTO user_system_info (id, unique_user_id, distribution_name,
             distribution_version, system_version, system, machine, system_platform,
             python_version, workshop_id, email_id, create_time)
         SELECT id, unique_user_id, distribution_name, distribution_version, system_version,
             system, machine, system_platform, python_version, workshop_id, email_id, create_time
           FROM legacy_user_system_info WHERE unique_user_id IS NOT NULL;",
    )?;
    let mut dictionary = Dictionary::default();
    tally::repair_learner_profiles(&tx, &mut dictionary)?;
    {
        let mut texts = tx.prepare(
            "SELECT DISTINCT CAST(error_description AS TEXT) FROM legacy_failed_installs
              WHERE error_description IS NOT NULL",
        )?;
        let mut insert = tx.prepare("INSERT INTO error_texts (hash, text) VALUES (?1, ?2)")?;
        let mut rows = texts.query([])?;
        while let Some(row) = rows.next()? {
            let text: String = row.get(0)?;
            insert.execute(params![text_hash(&text), text])?;
        }
    }
    let attempt_time = if has_column(&tx, "legacy_attempts", "create_time")? {
        "a.create_time"
    } else {
        "NULL"
    };
    tx.execute_batch(&format!(
        "CREATE TEMP TABLE old_attempt (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,
                                        create_time TEXT);
         INSERT INTO old_attempt (id, user_id, create_time)
         SELECT a.id, u.id, {attempt_time} FROM legacy_attempts a
           JOIN user_system_info u ON u.unique_user_id = a.unique_user_id;
         -- Packages recorded before attempts existed: one attempt per learner holds them.
         CREATE TEMP TABLE orphan_attempt (user_id INTEGER PRIMARY KEY, attempt_id INTEGER);
         INSERT INTO orphan_attempt (user_id)
         SELECT user_id FROM legacy_successful_installs WHERE attempt_id IS NULL
         UNION SELECT user_id FROM legacy_failed_installs WHERE attempt_id IS NULL;
         DELETE FROM orphan_attempt WHERE user_id NOT IN (SELECT id FROM user_system_info);
         INSERT INTO old_attempt (user_id) SELECT user_id FROM orphan_attempt ORDER BY user_id;
         UPDATE orphan_attempt SET attempt_id =
             (SELECT max(id) FROM old_attempt WHERE user_id = orphan_attempt.user_id);
         INSERT INTO packages (name, version)
         SELECT name, version FROM legacy_successful_installs WHERE name IS NOT NULL
         UNION SELECT name, version FROM legacy_failed_installs WHERE name IS NOT NULL;
         CREATE TEMP TABLE old_package (attempt_id INTEGER, row_id INTEGER, failed INTEGER,
                                        package_id INTEGER, error_id INTEGER, time TEXT);
         INSERT INTO old_package
         SELECT coalesce(s.attempt_id, o.attempt_id), s.id, 0, p.id, NULL, s.create_time
           FROM legacy_successful_installs s
           JOIN packages p ON p.name = s.name AND p.version IS s.version
           LEFT JOIN orphan_attempt o ON s.attempt_id IS NULL AND o.user_id = s.user_id;
         INSERT INTO old_package
         SELECT coalesce(f.attempt_id, o.attempt_id), f.id, 1, p.id, e.id, f.create_time
           FROM legacy_failed_installs f
           JOIN packages p ON p.name = f.name AND p.version IS f.version
           LEFT JOIN error_texts e ON e.text = f.error_description
           LEFT JOIN orphan_attempt o ON f.attempt_id IS NULL AND o.user_id = f.user_id;
         DELETE FROM old_package WHERE attempt_id IS NULL
             OR attempt_id NOT IN (SELECT id FROM old_attempt);
         CREATE INDEX temp.old_package_by_attempt
             ON old_package (attempt_id, failed, row_id, package_id, time);
         UPDATE old_attempt SET create_time = coalesce(
             (SELECT min(time) FROM old_package WHERE attempt_id = old_attempt.id),
             (SELECT create_time FROM user_system_info WHERE id = old_attempt.user_id))
          WHERE create_time IS NULL;
         INSERT INTO submissions (id, user_id, create_time, profile_id, workshop, successes)
         SELECT a.id, a.user_id, a.create_time, u.profile_id, w.id,
                (SELECT json_group_array(package_id) FROM
                    (SELECT package_id FROM old_package
                      WHERE attempt_id = a.id AND failed = 0 ORDER BY row_id))
           FROM old_attempt a
           JOIN user_system_info u ON u.id = a.user_id
           LEFT JOIN workshops w ON w.name = u.workshop_id;
         INSERT INTO submission_failures (submission_id, position, package_id, error_id)
         SELECT attempt_id, row_number() OVER (PARTITION BY attempt_id ORDER BY row_id) - 1,
                package_id, error_id
           FROM old_package WHERE failed = 1;
         UPDATE user_system_info SET latest_attempt_id =
             (SELECT max(id) FROM submissions s WHERE s.user_id = user_system_info.id);"
    ))?;
    let count = |sql: &str| tx.query_row(sql, [], |r| r.get::<_, i64>(0));
    let dropped = count(
        "SELECT (SELECT count(*) FROM legacy_user_system_info)
              + (SELECT count(*) FROM legacy_attempts)
              + (SELECT count(*) FROM legacy_successful_installs)
              + (SELECT count(*) FROM legacy_failed_installs)
              - (SELECT count(*) FROM user_system_info)
              - (SELECT count(*) FROM submissions
                  WHERE id IN (SELECT id FROM legacy_attempts))
              - (SELECT count(*) FROM old_package)",
    )?;
    if dropped > 0 {
        log::warn!("migration dropped {dropped} rows that pointed at no learner or attempt");
    }
    tx.execute_batch(
        "DROP TABLE old_package; DROP TABLE orphan_attempt; DROP TABLE old_attempt;
         DROP TABLE legacy_successful_installs; DROP TABLE legacy_failed_installs;
         DROP TABLE legacy_attempts; DROP TABLE legacy_user_system_info;",
    )?;
    rebuild::everything(&tx, &mut dictionary)?;
    finish(tx, to)
}

/// The columns of an original table, for a file that lacks it.
fn empty_legacy(table: &str) -> &'static str {
    match table {
        "user_system_info" => {
            "SELECT NULL AS id, NULL AS unique_user_id, NULL AS distribution_name,
                    NULL AS distribution_version, NULL AS system_version, NULL AS system,
                    NULL AS machine, NULL AS system_platform, NULL AS python_version,
                    NULL AS workshop_id, NULL AS email_id, NULL AS create_time"
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// From every version a file can have, the steps lead to [`SCHEMA_VERSION`], each step
    /// forward; and each version has one step only.
    #[test]
    fn the_steps_lead_from_every_older_version_to_the_current_one() {
        for start in 0..SCHEMA_VERSION {
            let mut version = start;
            while version < SCHEMA_VERSION {
                let starting: Vec<&Step> =
                    STEPS.iter().filter(|s| s.from.contains(&version)).collect();
                assert_eq!(starting.len(), 1, "steps from version {version}");
                assert!(
                    starting[0].to > version,
                    "a step from {version} goes forward"
                );
                version = starting[0].to;
            }
            assert_eq!(version, SCHEMA_VERSION, "from version {start}");
        }
    }

    /// The first step, from the original's empty tables, leaves the file at the current version
    /// with the schema of a new one (the later steps: `tests/migration.rs`, from `v3.db`).
    #[test]
    fn an_original_file_reaches_the_current_version_with_the_new_schema() {
        let fresh = Connection::open_in_memory().unwrap();
        fresh.execute_batch(SCHEMA).unwrap();
        let shape = |conn: &Connection| -> Vec<(String, String)> {
            conn.prepare(
                "SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY 1, 2",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        // The original's tables, as its Flask models made them (empty).
        let original = "CREATE TABLE user_system_info (id INTEGER PRIMARY KEY, unique_user_id TEXT,
                distribution_name TEXT, distribution_version TEXT, system_version TEXT,
                system TEXT, machine TEXT, system_platform TEXT, python_version TEXT,
                workshop_id TEXT, email_id TEXT, create_time TEXT);
            CREATE TABLE attempts (id INTEGER PRIMARY KEY, unique_user_id INTEGER);
            CREATE TABLE successful_installs (id INTEGER PRIMARY KEY, name TEXT, version TEXT,
                user_id INTEGER, attempt_id INTEGER, create_time TEXT);
            CREATE TABLE failed_installs (id INTEGER PRIMARY KEY, name TEXT, version TEXT,
                error_description TEXT, user_id INTEGER, attempt_id INTEGER, create_time TEXT);";
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(original).unwrap();
        migrate(&mut conn, &Location::Memory).unwrap();
        assert_eq!(
            conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
                .unwrap(),
            SCHEMA_VERSION
        );
        assert_eq!(shape(&conn), shape(&fresh));
    }

    /// Version 4 to 5: a registered workshop keeps its row and gets no time zone (UTC), and
    /// the table reads as a new file's.
    #[test]
    fn a_version_4_file_gets_workshop_time_zones() {
        let sql_of = |conn: &Connection| -> String {
            conn.query_row(
                "SELECT sql FROM sqlite_schema WHERE name = 'hosted_workshops'",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        let fresh = Connection::open_in_memory().unwrap();
        fresh.execute_batch(SCHEMA).unwrap();
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(
            "DROP TABLE hosted_workshops;
             CREATE TABLE hosted_workshops (
                 workshop_id  INTEGER PRIMARY KEY REFERENCES workshops (id) ON DELETE CASCADE,
                 title        TEXT,
                 checks       TEXT,
                 secret_hash  BLOB    NOT NULL,
                 created_time TEXT    NOT NULL,
                 link_time    TEXT    NOT NULL
             );
             INSERT INTO workshops (id, name) VALUES (1, '2026-11-27-oslo');
             INSERT INTO hosted_workshops VALUES (1, 'Oslo', 'git', x'00', '2026-11-01', '2026-11-02');
             PRAGMA user_version = 4;",
        )
        .unwrap();
        migrate(&mut conn, &Location::Memory).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(sql_of(&conn), sql_of(&fresh));
        let row: (String, String, Option<String>) = conn
            .query_row(
                "SELECT title, link_time, time_zone FROM hosted_workshops WHERE workshop_id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(row, ("Oslo".into(), "2026-11-02".into(), None));
    }
}
