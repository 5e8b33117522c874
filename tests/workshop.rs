//! A host's workshop end to end, with the real binary: `workshop create` prints a command
//! that works when pasted (run with sh and the served script against fake tools) and a link
//! that opens the private page; `revoke` and `delete` do what they say; the server's log never
//! holds a secret; and the server's list of checks is the script's own.

use crate::binary::{agent, post_json, Server, BIN};
use crate::check_script::{fake_tools, printed, python};
use rusqlite::Connection;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

const WORKSHOP: &str = "2026-11-27-oslo";
const OTHER: &str = "2026-12-04-bergen";

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--db")
        .arg(db)
        .env_remove("RAS_PUBLIC_URL")
        .env_remove("RAS_CHECKS")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard output, after checking that the command succeeded (else what it said).
fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(out)
}

/// The one line of `workshop create`'s output that starts (after its indent) with `start`.
fn line_starting<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start}:\n{text}"))
}

fn get(url: &str) -> (u16, String) {
    let mut response = agent().get(url).call().unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// The secret of a private link.
fn secret_of(link: &str) -> String {
    link.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// What the learner's `check.py --yes` in `home` says, with the fake tools of `bin`.
fn consented(python: &Path, home: &Path, bin: &Path) -> String {
    let sent = Command::new(python)
        .args(["check.py", "--yes"])
        .env("PATH", bin)
        .env("SWC_CHECK_CONFIG_DIR", home.join("config"))
        .current_dir(home)
        .output()
        .unwrap();
    stdout(&sent)
}

fn learners_in(db: &Path, workshop: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM user_system_info WHERE workshop_id = ?1",
            [workshop],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn a_hosts_workshop_from_creation_to_deletion() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    // The host's first command on a new laptop creates the database.
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    let created = run(
        &db,
        &[
            "workshop",
            "create",
            WORKSHOP,
            "--checks",
            "git>=2.30,make,python",
            "--title",
            "Oslo, day one",
            "--public-url",
            &server.base,
        ],
    );
    let text = succeeded(&created);
    let posix = line_starting(&text, "curl ");
    assert_eq!(
        posix,
        format!(
            "curl -fsSL '{}/check.py?workshop={WORKSHOP}' -o check.py && python3 check.py",
            server.base
        )
    );
    let windows = line_starting(&text, "Invoke-WebRequest ");
    assert!(windows.contains(&format!(
        "-Uri '{}/check.py?workshop={WORKSHOP}'",
        server.base
    )));
    let link = line_starting(&text, &format!("{}/host/", server.base)).to_owned();
    let secret = secret_of(&link);
    assert!(secret.len() >= 32, "at least 128 bits: {secret}");

    // The command as pasted: it fetches this workshop's script and runs its three checks.
    let home = dir.path().join("learner");
    std::fs::create_dir_all(&home).unwrap();
    let bin = fake_tools(&home, &python);
    let curl = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v curl"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::os::unix::fs::symlink(curl.trim(), bin.join("curl")).unwrap();
    let pasted = Command::new("/bin/sh")
        .args(["-c", posix])
        .env("PATH", &bin)
        .env("SWC_CHECK_CONFIG_DIR", home.join("config"))
        .current_dir(&home)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let said = stdout(&pasted);
    assert!(
        said.contains("Checking 3 item(s)"),
        "the workshop's checks:\n{said}"
    );
    let (passed, failed) = printed(&said);
    assert_eq!(failed, BTreeSet::from(["Git (git)".to_owned()]), "{said}");
    assert_eq!(passed.len(), 2, "{said}");
    assert!(
        said.contains("no terminal to ask for your consent"),
        "{said}"
    );
    // With consent given, the same script reports.
    let sent_text = consented(&python, &home, &bin);
    assert!(sent_text.contains("Thank you"), "{sent_text}");
    let fix = line_starting(&sent_text, "Fix: ")
        .trim_start_matches("Fix: ")
        .to_owned();
    assert_eq!(
        fix,
        "Install Git 2.30 or newer: \
         https://carpentries.github.io/workshop-template/install_instructions/#git",
        "the script's fix"
    );

    // A learner of another workshop, who must survive this workshop's deletion.
    let other = json!({
        "user_system_info": {"system": "Linux", "workshop_id": OTHER, "email_id": "bo@example.org"},
        "successful_installs": [], "failed_installs": [], "unique_user_id": null
    });
    let (status, _) = post_json(
        &agent(),
        &format!("{}/installation_data/", server.base),
        &other.to_string(),
    );
    assert_eq!(status, 200);

    // The link opens the private page: the learner's failure, the script's own fix text.
    let (status, page) = get(&link);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Oslo, day one"));
    assert!(page.contains("Git (git)"));
    assert!(
        page.contains(&fix),
        "the page gives the fix the script printed"
    );
    assert!(
        page.contains("learner-"),
        "a pseudonym for a learner without email"
    );
    let key = std::fs::read_to_string(home.join("config/key")).unwrap();
    assert!(!page.contains(key.trim()), "never the key");
    let (_, csv) = get(&format!("{link}?export=csv"));
    assert!(
        csv.lines().nth(1).unwrap().contains(",no,Git (git),"),
        "{csv}"
    );

    // Another workshop's secret opens nothing here; revoking makes a new link at once.
    let other_link = line_starting(
        &stdout(&run(
            &db,
            &["workshop", "create", OTHER, "--public-url", &server.base],
        )),
        &format!("{}/host/", server.base),
    )
    .to_owned();
    let other_secret = secret_of(&other_link);
    let crossed = format!("{}/host/{WORKSHOP}/{other_secret}/", server.base);
    assert_eq!(get(&crossed).0, 404);
    assert_eq!(get(&other_link).0, 200);
    let revoked = run(
        &db,
        &["workshop", "revoke", WORKSHOP, "--public-url", &server.base],
    );
    succeeded(&revoked);
    let new_link = line_starting(&stdout(&revoked), &format!("{}/host/", server.base)).to_owned();
    assert_ne!(new_link, link);
    let (old_status, old_body) = get(&link);
    let (missing_status, missing_body) =
        get(&format!("{}/host/no-such-workshop/{secret}/", server.base));
    assert_eq!((old_status, missing_status), (404, 404));
    assert_eq!(
        old_body, missing_body,
        "a revoked link looks like a missing page"
    );
    assert!(!old_body.contains(&secret));
    assert_eq!(get(&new_link).0, 200);

    let listed = stdout(&run(&db, &["workshop", "list"]));
    assert!(
        listed.contains(&format!(
            "{WORKSHOP} \"Oslo, day one\": 1 learner, checks git>=2.30,make,python"
        )),
        "{listed}"
    );
    let shown = stdout(&run(
        &db,
        &["workshop", "show", WORKSHOP, "--public-url", &server.base],
    ));
    assert!(shown.contains(posix), "{shown}");
    assert!(
        !shown.contains(&secret_of(&new_link)),
        "the secret is not stored to show"
    );

    // Deleting asks first; without a terminal and without --yes nothing goes.
    let refused = run(&db, &["workshop", "delete", WORKSHOP]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(learners_in(&db, WORKSHOP), 1);
    let deleted = run(&db, &["workshop", "delete", WORKSHOP, "--yes"]);
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    assert!(
        stdout(&deleted).contains("with 1 learners, 1 attempts"),
        "{}",
        stdout(&deleted)
    );
    assert_eq!(learners_in(&db, WORKSHOP), 0);
    assert_eq!(learners_in(&db, OTHER), 1, "only that workshop's learners");
    assert_eq!(get(&new_link).0, 404);
    assert_eq!(
        run(&db, &["workshop", "show", WORKSHOP]).status.code(),
        Some(1)
    );

    assert!(server.terminate().success());
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("/host/"),
        "the private pages were logged:\n{log}"
    );
    for secret in [secret, other_secret, secret_of(&new_link)] {
        assert!(!log.contains(&secret), "a secret reached the log:\n{log}");
    }
}

#[test]
fn a_workshops_checks_are_what_its_script_runs_and_the_names_are_the_scripts() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let server = Server::start(&db, &["--checks", "git,python"]);
    succeeded(&run(
        &db,
        &["workshop", "create", WORKSHOP, "--checks", "make,sqlite3?"],
    ));
    succeeded(&run(&db, &["workshop", "create", OTHER]));
    let list = |workshop: &str| {
        let (status, script) = get(&format!("{}/check.py?workshop={workshop}", server.base));
        assert_eq!(status, 200);
        let path = dir.path().join(format!("{workshop}.py"));
        std::fs::write(&path, script).unwrap();
        let out = Command::new(&python)
            .arg(&path)
            .arg("--list")
            .output()
            .unwrap();
        let roles: BTreeSet<String> = stdout(&out)
            .lines()
            .skip(1)
            .filter_map(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                let role = l.get(53..).unwrap_or("").split_whitespace().next()?;
                (role != "-").then(|| format!("{} {role}", cells[0]))
            })
            .collect();
        (roles, stdout(&out))
    };
    let (own, _) = list(WORKSHOP);
    assert_eq!(
        own,
        BTreeSet::from(["make required".to_owned(), "sqlite3 optional".to_owned()])
    );
    let (default, _) = list(OTHER);
    assert_eq!(
        default,
        BTreeSet::from(["git required".to_owned(), "python required".to_owned()])
    );
    let (unregistered, listing) = list("never-registered");
    assert_eq!(
        unregistered, default,
        "the server's --checks stays the default"
    );

    // An unknown name is refused at creation, naming the known ones: the script's, exactly.
    let refused = run(&db, &["workshop", "create", "typo", "--checks", "git,gti"]);
    assert_eq!(refused.status.code(), Some(2));
    let error = String::from_utf8_lossy(&refused.stderr);
    let known: BTreeSet<&str> = error
        .split("the known checks are: ")
        .nth(1)
        .unwrap_or_else(|| panic!("{error}"))
        .split(" (see --help)")
        .next()
        .unwrap()
        .trim()
        .split(", ")
        .collect();
    let scripts: BTreeSet<&str> = listing
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        known, scripts,
        "the server knows exactly the script's checks"
    );
    assert!(error.contains("unknown check gti"), "{error}");
    assert_eq!(learners_in(&db, "typo"), 0);
    let registered = stdout(&run(&db, &["workshop", "list"]));
    assert!(!registered.contains("typo"), "{registered}");
}

/// Issue 20, item 2: `workshop create 'intro <python>'` printed the learners' commands, and
/// then every report of the workshop was refused (markup); an id holding U+200F was
/// registered too. One rule now decides at every door: the first is a workshop like any other
/// (created, its script served, its reports stored under it, its page escaping it), the
/// second is refused at each door with the same reason.
#[test]
fn an_id_with_markup_is_a_workshop_at_every_door_and_one_with_controls_at_none() {
    const ID: &str = "intro <python>";
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    let created = run(
        &db,
        &["workshop", "create", ID, "--public-url", &server.base],
    );
    let text = succeeded(&created);
    let posix = line_starting(&text, "curl ");
    let url = format!("{}/check.py?workshop=intro+%3Cpython%3E", server.base);
    assert!(posix.starts_with(&format!("curl -fsSL '{url}'")), "{posix}");
    let link = line_starting(&text, &format!("{}/host/", server.base)).to_owned();

    // The learner's script as the command fetches it, run with consent: stored under the id.
    let (status, script) = get(&url);
    assert_eq!(status, 200);
    assert!(script.contains("WORKSHOP_ID = \"intro <python>\"\n"));
    let home = dir.path().join("learner");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("check.py"), script).unwrap();
    let bin = fake_tools(&home, &python);
    let sent = consented(&python, &home, &bin);
    assert!(sent.contains("Thank you"), "{sent}");
    assert_eq!(learners_in(&db, ID), 1);

    // Its pages show it escaped, never as markup.
    let (status, page) = get(&format!("{}/view/intro%20%3Cpython%3E/", server.base));
    assert_eq!(status, 200);
    assert!(page.contains("<h1>intro &#60;python&#62;</h1>"), "{page}");
    assert!(!page.contains("<python>"), "{page}");
    let (status, private) = get(&link);
    assert_eq!(status, 200);
    assert!(!private.contains("<python>"), "{private}");

    // U+200F: refused at every door, naming the character, never echoing the id.
    let bidi = "intro\u{200f}-python";
    let reason = "control, line-break or direction characters (U+200F at position 6)";
    let refused = run(&db, &["workshop", "create", bidi]);
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.contains(reason), "{said}");
    assert!(!said.contains(bidi), "{said}");
    assert!(stdout(&refused).is_empty());
    let encoded: String = form_urlencoded::byte_serialize(bidi.as_bytes()).collect();
    let (status, answer) = get(&format!("{}/check.py?workshop={encoded}", server.base));
    assert_eq!(status, 400, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert!(
        answer["detail"].as_str().unwrap().contains(reason),
        "{answer}"
    );
    let (status, landing) = get(&format!("{}/?workshop={encoded}", server.base));
    assert_eq!(status, 400);
    assert!(landing.contains(reason), "{landing}");
    assert!(!landing.contains("curl "), "no command for it: {landing}");
    let listed = succeeded(&run(&db, &["workshop", "list"]));
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(server.terminate().success());
}

/// Issue 23: a host says what their workshop is instead of listing checks. A Data Carpentry
/// ecology workshop in R, by the template's own keys: its learners' script checks R, RStudio,
/// the R packages, OpenRefine and DB Browser; `workshop show` names the curriculum. A value
/// that names no preset is refused (exit 2) with the values that would do, and nothing is
/// registered.
#[test]
fn a_data_carpentry_r_workshop_by_its_curriculum_checks_what_its_lessons_need() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let server = Server::start(&db, &["--rate-limit", "off"]);
    let created = succeeded(&run(
        &db,
        &[
            "workshop",
            "create",
            WORKSHOP,
            "--curriculum",
            "dc-ecology",
            "--flavor",
            "r",
            "--public-url",
            &server.base,
        ],
    ));
    let r_checks = [
        "r",
        "rstudio",
        "r-tidyverse",
        "r-lubridate",
        "r-ratdat",
        "r-rsqlite",
        "openrefine",
        "dbbrowser",
    ];
    assert!(
        line_starting(&created, "Checks: ").ends_with("(curriculum dc-ecology, flavor r)"),
        "{created}"
    );
    let (status, script) = get(&format!("{}/check.py?workshop={WORKSHOP}", server.base));
    assert_eq!(status, 200);
    let checks: Vec<String> =
        serde_json::from_str(line_starting(&script, "CHECKS = ").trim_start_matches("CHECKS = "))
            .unwrap();
    for check in r_checks {
        assert!(checks.iter().any(|c| c == check), "{check} in {checks:?}");
    }
    assert!(!checks.iter().any(|c| c == "python"), "{checks:?}");
    let shown = succeeded(&run(&db, &["workshop", "show", WORKSHOP]));
    assert!(
        shown.contains(&format!(
            "checks {} (curriculum dc-ecology, flavor r)",
            checks.join(",")
        )),
        "{shown}"
    );

    // What the learner's script then runs: each of them (none installed here).
    if let Some(python) = python() {
        let path = dir.path().join("check.py");
        std::fs::write(&path, &script).unwrap();
        let ran = Command::new(&python)
            .arg(&path)
            .arg("--no-report")
            .env("PATH", dir.path())
            .env("HOME", dir.path())
            .env("SWC_CHECK_CONFIG_DIR", dir.path().join("config"))
            .output()
            .unwrap();
        let (passed, failed) = printed(&stdout(&ran));
        let named: BTreeSet<String> = passed.union(&failed).cloned().collect();
        for label in [
            "R (r)",
            "RStudio (rstudio)",
            "R package tidyverse (r-tidyverse)",
            "R package lubridate (r-lubridate)",
            "R package ratdat (r-ratdat)",
            "R package RSQLite (r-rsqlite)",
            "OpenRefine (openrefine)",
            "DB Browser for SQLite (dbbrowser)",
        ] {
            assert!(named.contains(label), "{label}:\n{}", stdout(&ran));
        }
    }

    // Values that name no preset: exit 2, the valid ones named, nothing registered.
    for (args, says) in [
        (
            &["--curriculum", "dc-genomics"][..],
            "swc-inflammation, swc-gapminder, dc-ecology, lc",
        ),
        (
            &["--curriculum", "dc-ecology"],
            "needs --flavor: python or r",
        ),
        (
            &["--curriculum", "swc-gapminder", "--flavor", "julia"],
            "python, r",
        ),
        (
            &["--curriculum", "lc", "--flavor", "r"],
            "lc takes no --flavor",
        ),
        (
            &["--curriculum", "lc", "--checks", "git"],
            "cannot be used with",
        ),
        (&["--flavor", "r"], "--curriculum"),
    ] {
        let mut command = vec!["workshop", "create", OTHER];
        command.extend(args);
        let refused = run(&db, &command);
        let error = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {error}");
        assert!(error.contains(says), "{args:?}: {error}");
    }
    let listed = succeeded(&run(&db, &["workshop", "list"]));
    assert_eq!(listed.lines().count(), 1, "{listed}");
    // Library Carpentry has no flavors; the curricula and flavors are in --help.
    succeeded(&run(
        &db,
        &["workshop", "create", OTHER, "--curriculum", "lc"],
    ));
    let help = stdout(&run(&db, &["workshop", "create", "--help"]));
    // Wrapped to the terminal's width: read as one line.
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("swc-inflammation, swc-gapminder, dc-ecology")
            && help.contains("lc takes none"),
        "{help}"
    );
}

/// `--time-zone` takes an IANA name the system's tzdb knows, refuses others, and `workshop
/// show` says it.
#[test]
fn a_workshops_time_zone_is_checked_stored_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let refused = run(
        &db,
        &[
            "workshop",
            "create",
            WORKSHOP,
            "--time-zone",
            "Mars/Olympus",
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Australia/Melbourne"));
    succeeded(&run(
        &db,
        &[
            "workshop",
            "create",
            WORKSHOP,
            "--time-zone",
            "australia/melbourne",
        ],
    ));
    succeeded(&run(&db, &["workshop", "create", OTHER]));
    let shown = succeeded(&run(&db, &["workshop", "show", WORKSHOP]));
    assert!(shown.contains("time zone Australia/Melbourne"), "{shown}");
    let other = succeeded(&run(&db, &["workshop", "show", OTHER]));
    assert!(other.contains("time zone UTC"), "{other}");
}
