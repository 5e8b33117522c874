//! Issue 19: `generate` writes what the learner's script would send. Over one generated
//! database (the defaults, as a host runs it): names from the script's catalog only, each
//! group's error naming only what the script tries on that system, nothing dated after now,
//! most learners of past workshops ready, times to fix that differ between checks; and the
//! demo workshop registered, its printed link and every other page answering.

use crate::binary::{agent, Server, BIN};
use rusqlite::Connection;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::process::Command;

/// The catalog block of the script, read here on its own (the server's reading is what is
/// under test).
fn catalog() -> Value {
    let script = include_str!("../contrib/check/check.py");
    let block = script
        .split("# BEGIN CHECK CATALOG\n")
        .nth(1)
        .and_then(|rest| rest.split("# END CHECK CATALOG\n").next())
        .unwrap();
    let json = &block[block.find('{').unwrap()..=block.rfind('}').unwrap()];
    serde_json::from_str(json).unwrap()
}

/// The default checks by the label the script sends (`Human (name)`): their catalog entry
/// and whether they are optional.
fn default_labels(catalog: &Value) -> BTreeMap<String, (Value, bool)> {
    catalog["default_checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|spec| {
            let spec = spec.as_str().unwrap();
            let name = spec.trim_end_matches('?');
            let entry = catalog["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
                .unwrap()
                .clone();
            let label = format!("{} ({})", entry["human"].as_str().unwrap(), name);
            (label, (entry, spec.ends_with('?')))
        })
        .collect()
}

/// Every attempt in order: learner, seconds since 1970, workshop, system, and each check's
/// label with its error (`None`: passed).
type Attempt = (String, f64, String, String, Vec<(String, Option<String>)>);

fn attempts(conn: &Connection) -> Vec<Attempt> {
    let mut checks: HashMap<i64, Vec<(String, Option<String>)>> = HashMap::new();
    let mut rows = conn
        .prepare(
            "SELECT attempt_id, name, NULL FROM successful_installs
             UNION ALL SELECT attempt_id, name, error_description FROM failed_installs",
        )
        .unwrap();
    let found = rows
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    for row in found {
        let (id, name, error): (i64, String, Option<String>) = row.unwrap();
        checks.entry(id).or_default().push((name, error));
    }
    let mut rows = conn
        .prepare(
            "SELECT id, unique_user_id, strftime('%s', create_time) + 0.0, workshop_id, system
               FROM attempts ORDER BY create_time, id",
        )
        .unwrap();
    let all = rows
        .query_map([], |r| {
            let id: i64 = r.get(0)?;
            Ok((r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, id))
        })
        .unwrap();
    all.map(|row| {
        let (learner, at, workshop, system, id) = row.unwrap();
        (
            learner,
            at,
            workshop,
            system,
            checks.remove(&id).unwrap_or_default(),
        )
    })
    .collect()
}

#[test]
fn the_generated_season_is_what_the_script_would_send() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let out = Command::new(BIN)
        .args(["generate", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let catalog = catalog();
    let labels = default_labels(&catalog);
    let conn = Connection::open(&db).unwrap();
    let attempts = attempts(&conn);
    assert_eq!(attempts.len(), 10_000, "exactly --submissions");

    // Names from the catalog only, and each group's failure names exactly the alternatives
    // the script tries on that system (only bash for the shell on Windows).
    let mut by_system: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (_, _, _, system, checks) in &attempts {
        for (label, error) in checks {
            let (entry, _) = labels.get(label).unwrap_or_else(|| panic!("{label}"));
            let Some(error) = error else { continue };
            *by_system
                .entry((system.clone(), label.clone()))
                .or_default() += 1;
            if entry["kind"] == "any" && error.starts_with("none found") {
                let tried = entry["alternatives_on"]
                    .get(system)
                    .unwrap_or(&entry["alternatives"]);
                let named: Vec<&str> = error["none found: ".len()..]
                    .split("; ")
                    .map(|reason| reason.split(':').next().unwrap())
                    .collect();
                let tried: Vec<&str> = tried
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect();
                assert_eq!(named, tried, "{label} on {system}: {error}");
            }
            if error.contains("developer tools") {
                assert_eq!(system, "Darwin", "{label}: {error}");
            }
            if let Some((found, minimum)) = error
                .strip_prefix("version ")
                .and_then(|e| e.split_once(" < required "))
            {
                assert_eq!(entry["minimum"], minimum, "{label}: {error}");
                assert!(!found.is_empty());
            }
        }
    }
    // The install instructions' troubles, each where it happens.
    for (system, label) in [
        ("Windows", "GNU Make (make)"),
        ("Windows", "Shell (shell)"),
        ("Darwin", "Git (git)"),
        ("Linux", "Git (git)"),
        ("Windows", "Jupyter (jupyter)"),
    ] {
        assert!(
            by_system.contains_key(&(system.into(), label.into())),
            "{label} fails on {system}: {by_system:?}"
        );
    }
    for system in ["Darwin", "Linux"] {
        assert!(!by_system.contains_key(&(system.into(), "Shell (shell)".into())));
    }

    // Nothing after now.
    let later: i64 = conn
        .query_row(
            "SELECT count(*) FROM submissions
              WHERE create_time > strftime('%Y-%m-%d %H:%M:%f', 'now')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(later, 0);

    // Replayed: the latest result of each check per learner, and each fix's time (from the
    // first failure to the first pass after it).
    let mut latest: HashMap<&str, (&str, HashMap<&str, bool>)> = HashMap::new();
    let mut failing_since: HashMap<(&str, &str), f64> = HashMap::new();
    let mut times: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (learner, at, workshop, _, checks) in &attempts {
        let (_, state) = latest
            .entry(learner)
            .or_insert_with(|| (workshop, HashMap::new()));
        for (label, error) in checks {
            state.insert(label, error.is_none());
            let key = (learner.as_str(), label.as_str());
            match error {
                Some(_) => {
                    failing_since.entry(key).or_insert(*at);
                }
                None => {
                    if let Some(since) = failing_since.remove(&key) {
                        times.entry(label).or_default().push(at - since);
                    }
                }
            }
        }
    }
    let today: String = conn
        .query_row("SELECT date('now')", [], |r| r.get(0))
        .unwrap();
    let past: Vec<_> = latest
        .values()
        .filter(|(workshop, _)| workshop[..10] < *today)
        .collect();
    let ready = past
        .iter()
        .filter(|(_, state)| {
            state
                .iter()
                .all(|(label, passed)| *passed || labels[*label].1)
        })
        .count();
    let share = ready as f64 / past.len() as f64;
    assert!((0.6..=0.97).contains(&share), "{ready} of {}", past.len());
    let medians: BTreeMap<&str, f64> = times
        .iter_mut()
        .filter(|(_, t)| t.len() >= 20)
        .map(|(label, t)| {
            t.sort_by(f64::total_cmp);
            (*label, t[t.len() / 2])
        })
        .collect();
    let (least, most) = medians
        .values()
        .fold((f64::MAX, 0.0f64), |(l, m), v| (l.min(*v), m.max(*v)));
    assert!(medians.len() >= 6, "{medians:?}");
    assert!(
        most > 8.0 * least,
        "times to fix differ between checks: {medians:?}"
    );

    // Workshops still to come, the demo among them, registered.
    let upcoming: i64 = conn
        .query_row(
            "SELECT count(DISTINCT workshop_id) FROM attempts
              WHERE substr(workshop_id, 1, 10) >= date('now')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(upcoming >= 2, "{upcoming}");
    let demo: String = conn
        .query_row(
            "SELECT w.name FROM hosted_workshops h JOIN workshops w ON w.id = h.workshop_id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(demo.ends_with("-demo") && demo[..10] > *today, "{demo}");
    let mut names = conn.prepare("SELECT name FROM workshops").unwrap();
    let workshops: Vec<String> = names
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    drop(names);
    drop(conn);

    // The printed link, and every page, answer with something to show.
    let link = said
        .lines()
        .find_map(|l| l.trim().strip_prefix("http://127.0.0.1:8080"))
        .unwrap_or_else(|| panic!("a link in {said}"))
        .to_owned();
    assert!(link.starts_with(&format!("/host/{demo}/")), "{link}");
    let server = Server::start(&db, &[]);
    let get = |path: &str| {
        let mut response = agent()
            .get(format!("{}{path}", server.base))
            .call()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap())
    };
    let (status, host) = get(&link);
    assert_eq!(status, 200, "{host}");
    assert!(host.contains(&demo));
    // Every required check is one learners report (the old labels left all "not checked").
    assert!(
        host.contains("ready-share") && !host.contains("not checked"),
        "{host}"
    );
    for path in [
        "/".to_owned(),
        "/view/".to_owned(),
        format!("/view/{demo}/"),
        "/view/detail/?package_one_name=Git%20(git)".to_owned(),
        "/fixes/".to_owned(),
    ] {
        let (status, page) = get(&path);
        assert_eq!(status, 200, "{path}");
        // The home page lists workshops; the others show checks.
        let shows = |w: &String| page.contains(w.as_str());
        assert!(
            page.contains("Git (git)") || workshops.iter().any(shows),
            "{path}: {page}"
        );
    }
}
