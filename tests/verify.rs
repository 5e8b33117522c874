//! `verify`, as an admin runs it: on a generated database (every statistic agrees), after a
//! tally edited by hand (it names what differs, exit 1), after `rebuild-tallies` (agrees
//! again), and on files it cannot verify (exit 2, nothing created or changed).

use crate::binary::BIN;
use result_aggregation_server::storage::{verify, VerifyError, SCHEMA_VERSION};
use rusqlite::config::DbConfig;
use rusqlite::Connection;
use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str], db: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--db")
        .arg(db)
        .env_remove("RAS_DB")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_tally_edited_by_hand_is_named_until_rebuild_tallies_sets_it_right() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("generated.db");
    let generated = run(&["generate", "--submissions", "150", "--seed", "7"], &db);
    assert!(generated.status.success(), "{generated:?}");

    let agreed = run(&["verify"], &db);
    assert_eq!(agreed.status.code(), Some(0), "{agreed:?}");
    let line = stdout(&agreed);
    assert!(line.trim_end().ends_with("statistics agree"), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");
    let compared: usize = line.split(' ').next().unwrap().parse().unwrap();
    assert!(compared > 50, "{line}");

    // One failure counted five times more, in every workshop together, over every attempt,
    // left in the WAL (as a server that is still running or was killed leaves it).
    let conn = Connection::open(&db).unwrap();
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .unwrap();
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let edited = conn
        .execute(
            "UPDATE failure_tally SET every = every + 5
              WHERE (workshop, package_id, profile_id) IN
                    (SELECT workshop, package_id, profile_id FROM failure_tally
                      WHERE workshop = -1 AND every > 0 LIMIT 1)",
            [],
        )
        .unwrap();
    assert_eq!(edited, 1);
    drop(conn);
    let wal = dir.path().join("generated.db-wal");
    let files = || (std::fs::read(&db).unwrap(), std::fs::read(&wal).unwrap());
    let before = files();
    let differ = run(&["verify"], &db);
    assert_eq!(differ.status.code(), Some(1), "{differ:?}");
    assert!(before == files(), "verify changed the file or its WAL");
    let said = stdout(&differ);
    assert!(
        said.contains("all workshops, every attempt: failed names differs:"),
        "{said}"
    );
    assert!(said.contains("  reference  NameFailures {"), "{said}");
    assert!(said.contains("  found      NameFailures {"), "{said}");
    // Only the edited scope differs: latest attempts and each workshop still agree.
    assert!(!said.contains("latest attempts:"), "{said}");
    assert!(
        said.contains(&format!(" of {compared} statistics differ")),
        "{said}"
    );
    assert!(said.contains("rebuild-tallies --db"), "{said}");
    // The tests' own check is the same code, with the same findings.
    match verify(&db) {
        Err(VerifyError::Differ {
            differences,
            compared: all,
        }) => {
            assert_eq!(all, compared);
            assert!(differences
                .iter()
                .any(|d| d.statistic == "all workshops, every attempt: failed names"));
        }
        other => panic!("{other:?}"),
    }

    let rebuilt = run(&["rebuild-tallies"], &db);
    assert!(rebuilt.status.success(), "{rebuilt:?}");
    let agreed = run(&["verify"], &db);
    assert_eq!(agreed.status.code(), Some(0), "{agreed:?}");
    assert_eq!(stdout(&agreed), format!("{compared} statistics agree\n"));
    assert_eq!(verify(&db).unwrap(), compared);
}

#[test]
fn files_it_cannot_verify_exit_2_and_are_left_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo.db");
    let out = run(&["verify"], &missing);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("there is no database at"), "{out:?}");
    assert!(stdout(&out).is_empty(), "{out:?}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing created"
    );

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database, but notes\n".repeat(100)).unwrap();
    let out = run(&["verify"], &text);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("is not an SQLite database"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&text).unwrap(),
        "not a database, but notes\n".repeat(100)
    );

    let foreign = dir.path().join("other.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE notes (text TEXT)")
        .unwrap();
    let out = run(&["verify"], &foreign);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("not result-aggregation-server's"),
        "{out:?}"
    );

    let newer = dir.path().join("newer.db");
    let created = run(&["workshop", "create", "2026-11-27-oslo"], &newer);
    assert!(created.status.success(), "{created:?}");
    Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let out = run(&["verify"], &newer);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("newer than this program's"),
        "{out:?}"
    );

    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with("newer.db"))
        .collect();
    names.sort();
    assert_eq!(names, ["notes.txt", "other.db"]);
}

#[test]
fn its_help_says_when_an_admin_runs_it() {
    let out = Command::new(BIN)
        .args(["verify", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // clap wraps the text to the terminal's width.
    let help = stdout(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for words in [
        "by hand",
        "before and after `rebuild-tallies`",
        "never creates one",
        "--db <PATH>",
        "RAS_DB",
        "Exit status: 0",
    ] {
        assert!(help.contains(words), "{words}:\n{help}");
    }
    let top = Command::new(BIN).arg("--help").output().unwrap();
    assert!(stdout(&top).contains("verify "), "{}", stdout(&top));
}
