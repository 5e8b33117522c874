//! The host's readiness page, read side: each learner's attempts replayed in order into the
//! latest result of every check they reported, judged against the workshop's required checks;
//! what they still fail and since when, what they fixed, and what to tell them.
//!
//! A workshop may have tens of thousands of learners (its id is public), so nothing holds
//! them all. Attempts are streamed in order as ids (packages, error texts), one learner at a
//! time; each learner's standing goes into a scratch database, a private temporary file
//! SQLite deletes when it is closed, from which the page's sorted and filtered window, its
//! counts and its grouped advice are read with bounded SQL. The ready share and the day by
//! day chart are summed exactly on the way. Texts are read only for what is shown.
//!
//! A learner's latest result of each check counts: the script tells learners to re-test only
//! what failed, and such a partial run does not undo the checks that passed before. Within one
//! attempt a failure outweighs a pass of the same check. A check is told by the name the
//! script reports it under (`Git (git)`), whatever its version.

use super::stats::Rows;
use super::timestamp::{day_number, day_text, UNKNOWN_DAY};
use super::workshops::pseudonym;
use super::StorageError;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{BTreeMap, BTreeSet};

/// Checks a learner still fails that a row shows; the rest are counted.
const FAILING_SHOWN: usize = 10;
/// Fixed checks a row shows; the rest are counted.
const FIXED_SHOWN: usize = 10;
/// Problems "What to tell them" shows, most learners first; the rest are counted.
const GROUPS_SHOWN: usize = 20;
/// Learners named under one problem; the rest are counted.
const GROUP_LEARNERS_SHOWN: usize = 25;
/// Days the chart goes back at most.
const MAX_DAYS: i64 = 60;
/// Ids and texts each lookup cache holds before it starts again empty.
const CACHE_ENTRIES: usize = 2_000;
/// The scratch database's page cache, in KiB: beyond it SQLite uses the temporary file.
const SCRATCH_CACHE_KIB: i64 = 2048;

/// A check the workshop asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequiredCheck {
    /// Its name in the script's list (`git`), shown when a learner never reported it.
    pub name: String,
    /// The name the script reports its result under (`Git (git)`).
    pub label: String,
    /// Optional checks are shown but do not decide readiness.
    pub optional: bool,
    /// The minimum version the workshop asks for, for the fix.
    pub minimum: Option<String>,
}

/// The orders of the learner table; each ends with the learner's name, then their row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LearnerOrder {
    /// Not ready first, then most required checks missing, then most failures.
    Standing,
    Learner,
    System,
    /// The earliest failure still unfixed first; learners with none last.
    Since,
    Attempts,
    Last,
}

/// Which rows of the learner table to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LearnerWindow {
    pub order: LearnerOrder,
    /// The whole order reversed (the learner's row, the last tie-break, excepted).
    pub descending: bool,
    pub not_ready_only: bool,
    pub rows: Rows,
}

/// The fix the check script prints for a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Advice {
    pub text: String,
    pub url: Option<String>,
}

/// What the page decides and storage does not know: which checks a workshop requires, how
/// systems are named, what fix to send.
pub(crate) trait PageRules: Send {
    /// The checks a workshop requires, given its own list (`None`: it has none).
    fn required(&self, own: Option<&str>) -> Vec<RequiredCheck>;
    /// A system as the learner table shows it, with its distribution.
    fn system(&self, system: Option<&str>, distribution: Option<&str>) -> String;
    /// A system as "What to tell them" names it.
    fn system_label(&self, system: Option<&str>) -> String;
    /// Whether the fix for a failure of `label` depends on the failure (a check the learner's
    /// script knows); if not, one advice serves every failure of it.
    fn knows(&self, label: &str) -> bool;
    /// The fix for a failure of `label`, on `system`, for a workshop asking for `minimum`.
    fn advice(
        &self,
        label: &str,
        error: Option<&str>,
        system: Option<&str>,
        minimum: Option<&str>,
    ) -> Advice;
}

/// A check a learner still fails, as a row shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FailingCheck {
    pub label: String,
    pub version: Option<String>,
    pub error: Option<String>,
    /// When the current run of failures began (the first attempt that failed it since it last
    /// passed).
    pub since: Option<String>,
    /// Whether the workshop requires it (otherwise it is optional or not on its list).
    pub required: bool,
}

/// A failure the learner already fixed: a later attempt passed what an earlier one failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FixedCheck {
    pub label: String,
    /// The first attempt that failed it, and the first later one that passed it.
    pub failed_at: Option<String>,
    pub fixed_at: Option<String>,
}

/// One learner as the host sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LearnerRow {
    /// Their email where they gave one, else a pseudonym made from their key.
    pub who: String,
    pub has_email: bool,
    pub system: String,
    pub python_version: Option<String>,
    pub ready: bool,
    /// Checks whose latest result is a failure, in the order first reported, the first
    /// [`FAILING_SHOWN`]; `more_failing` the rest.
    pub failing: Vec<FailingCheck>,
    pub more_failing: usize,
    /// Required checks no attempt reported on.
    pub unchecked: Vec<String>,
    /// What they fixed, in the order fixed, the first [`FIXED_SHOWN`].
    pub fixed: Vec<FixedCheck>,
    pub more_fixed: usize,
    pub attempts: i64,
    pub first_report: Option<String>,
    pub last_report: Option<String>,
}

/// One problem on one system: the fix to send, and the learners it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AdviceGroup {
    pub label: String,
    pub system: String,
    pub advice: Advice,
    pub required: bool,
    /// The first [`GROUP_LEARNERS_SHOWN`] learners (by who reported first); `learners` in all.
    pub names: Vec<String>,
    pub learners: i64,
}

/// What the host's page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Standings {
    pub learners: i64,
    pub ready: i64,
    /// Learners the window's filter keeps.
    pub shown: i64,
    /// `(day, learners who had reported by its end, of whom ready)`, oldest first.
    pub days: Vec<(String, i64, i64)>,
    /// The window's rows.
    pub rows: Vec<LearnerRow>,
    /// The first [`GROUPS_SHOWN`] problems, required ones first, then most learners.
    pub groups: Vec<AdviceGroup>,
    pub all_groups: i64,
}

/// One check's latest result, for one learner. Checks are told apart by a key: the smallest
/// package id bearing the check's name.
#[derive(Debug, Clone)]
struct CheckState {
    /// When it was first reported, in the order replayed.
    seq: usize,
    passed: bool,
    /// The attempt (its index) where the current run of failures began.
    since: Option<usize>,
    /// The latest failure's package (name and version) and error text.
    package: i64,
    error: Option<i64>,
}

/// A fix: the check's key, the attempt of its first failure, the first later one to pass it.
#[derive(Debug, Clone, Copy)]
struct Fix {
    key: i64,
    failed_at: usize,
    fixed_at: usize,
}

/// One attempt as the replay sees it: keys and packages passed, keys, packages and error
/// texts failed, in the order the script listed them.
#[derive(Debug, Default)]
struct AttemptIds {
    time: Option<String>,
    passed: Vec<(i64, i64)>,
    failed: Vec<(i64, i64, Option<i64>)>,
}

/// The required checks by key (a check no report ever named has none, and never passes).
struct Requirements {
    /// Key -> index in the list, for the checks that have a key.
    keys: BTreeMap<i64, usize>,
    list: Vec<(RequiredCheck, Option<i64>)>,
    /// Required checks that are not optional.
    needed: usize,
}

impl Requirements {
    fn find(conn: &Connection, list: &[RequiredCheck]) -> Result<Requirements, StorageError> {
        let mut keys = BTreeMap::new();
        let mut found = Vec::new();
        for (i, check) in list.iter().enumerate() {
            let key: Option<i64> = conn
                .prepare_cached("SELECT min(id) FROM packages WHERE name = ?1")?
                .query_row([&check.label], |r| r.get(0))?;
            if let Some(key) = key {
                keys.entry(key).or_insert(i);
            }
            found.push((check.clone(), key));
        }
        Ok(Requirements {
            keys,
            needed: list.iter().filter(|c| !c.optional).count(),
            list: found,
        })
    }

    /// The requirement a check's key stands for.
    fn of(&self, key: i64) -> Option<&RequiredCheck> {
        self.keys.get(&key).map(|&i| &self.list[i].0)
    }

    /// Whether the check is required and not optional.
    fn needs(&self, key: i64) -> bool {
        self.of(key).is_some_and(|r| !r.optional)
    }
}

/// One learner's attempts, replayed.
#[derive(Default)]
struct Replay {
    checks: BTreeMap<i64, CheckState>,
    first_failed: BTreeMap<i64, usize>,
    fixes: Vec<Fix>,
    fixed: BTreeSet<i64>,
    times: Vec<Option<String>>,
    /// Required checks whose latest result passed.
    passing: usize,
    /// `(day, ready after that day's last attempt)`, in order.
    steps: Vec<(i64, bool)>,
}

impl Replay {
    fn apply(&mut self, attempt: AttemptIds, required: &Requirements) {
        let at = self.times.len();
        for &(key, _) in &attempt.passed {
            if let Some(&failed_at) = self.first_failed.get(&key) {
                if self.fixed.insert(key) {
                    self.fixes.push(Fix {
                        key,
                        failed_at,
                        fixed_at: at,
                    });
                }
            }
            self.put(key, true, None, 0, None, required);
        }
        for &(key, package, error) in &attempt.failed {
            self.first_failed.entry(key).or_insert(at);
            let since = match self.checks.get(&key) {
                Some(before) if !before.passed => before.since,
                _ => Some(at),
            };
            self.put(key, false, since, package, error, required);
        }
        let day = day_number(attempt.time.as_deref());
        self.times.push(attempt.time);
        let ready = self.ready(required);
        match self.steps.last_mut() {
            Some(last) if last.0 == day => last.1 = ready,
            _ => self.steps.push((day, ready)),
        }
    }

    fn put(
        &mut self,
        key: i64,
        passed: bool,
        since: Option<usize>,
        package: i64,
        error: Option<i64>,
        required: &Requirements,
    ) {
        let seq = self.checks.len();
        let state = self.checks.entry(key).or_insert(CheckState {
            seq,
            passed: false,
            since: None,
            package,
            error: None,
        });
        // A check new to the learner was not passing before.
        if required.needs(key) && state.passed != passed {
            match passed {
                true => self.passing += 1,
                false => self.passing -= 1,
            }
        }
        state.passed = passed;
        state.since = since;
        if !passed {
            state.package = package;
            state.error = error;
        }
    }

    fn ready(&self, required: &Requirements) -> bool {
        self.passing == required.needed
    }

    /// The checks still failing, in the order first reported.
    fn failing(&self) -> Vec<(i64, &CheckState)> {
        let mut failing: Vec<(i64, &CheckState)> = self
            .checks
            .iter()
            .filter(|(_, c)| !c.passed)
            .map(|(&k, c)| (k, c))
            .collect();
        failing.sort_by_key(|(_, c)| c.seq);
        failing
    }

    fn time(&self, attempt: Option<usize>) -> Option<String> {
        attempt.and_then(|i| self.times[i].clone())
    }
}

/// A bounded map that forgets everything when full.
struct Cache<K, V>(BTreeMap<K, V>);

impl<K: Ord, V: Clone> Cache<K, V> {
    fn new() -> Self {
        Cache(BTreeMap::new())
    }

    fn get_or(
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
struct Lookups<'c> {
    conn: &'c Connection,
    keys: Cache<i64, i64>,
    labels: Cache<i64, String>,
    packages: Cache<i64, (String, Option<String>)>,
    errors: Cache<i64, Option<String>>,
}

impl<'c> Lookups<'c> {
    fn new(conn: &'c Connection) -> Self {
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
    fn key(&mut self, package: i64) -> Result<i64, StorageError> {
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
    fn label(&mut self, key: i64) -> Result<String, StorageError> {
        let conn = self.conn;
        self.labels.get_or(key, || {
            Ok(conn
                .prepare_cached("SELECT name FROM packages WHERE id = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?
                .unwrap_or_default())
        })
    }

    fn package(&mut self, package: i64) -> Result<(String, Option<String>), StorageError> {
        let conn = self.conn;
        self.packages.get_or(package, || {
            Ok(conn
                .prepare_cached("SELECT name, version FROM packages WHERE id = ?1")?
                .query_row([package], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .unwrap_or_default())
        })
    }

    fn error(&mut self, error: Option<i64>) -> Result<Option<String>, StorageError> {
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
    fn attempt(
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
fn attempts_sql(learners: &str) -> String {
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
fn replay_each<T>(
    lookups: &mut Lookups<'_>,
    required: &Requirements,
    sql: &str,
    param: &dyn rusqlite::ToSql,
    learners: impl IntoIterator<Item = Result<(i64, T), StorageError>>,
    mut visit: impl FnMut(&mut Lookups<'_>, T, Replay) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let conn = lookups.conn;
    let mut statement = conn.prepare(sql)?;
    let mut rows = statement.query([param])?;
    let mut next = rows.next()?;
    for learner in learners {
        let (id, known) = learner?;
        let mut replay = Replay::default();
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

/// The per-day changes of the chart: learners who reported for the first time, and learners
/// who became ready (+1) or stopped being ready (-1), by day.
#[derive(Default)]
struct DayChanges(BTreeMap<i64, (i64, i64)>);

impl DayChanges {
    fn add(&mut self, steps: &[(i64, bool)]) {
        let Some(&(first, _)) = steps.first() else {
            return;
        };
        self.0.entry(first).or_default().0 += 1;
        let mut was_ready = false;
        for &(day, ready) in steps {
            if ready != was_ready {
                self.0.entry(day).or_default().1 += if ready { 1 } else { -1 };
                was_ready = ready;
            }
        }
    }

    /// The chart: from the first day a learner reported (at most [`MAX_DAYS`] back) to
    /// `today` or the last day reported, whichever is later. An attempt of unknown time
    /// counts from the start.
    fn days(&self, today: i64) -> Vec<(String, i64, i64)> {
        let Some(first) = self.0.keys().copied().find(|d| *d != UNKNOWN_DAY) else {
            return Vec::new();
        };
        let last = self
            .0
            .keys()
            .next_back()
            .copied()
            .unwrap_or(first)
            .max(today);
        let start = first.max(last - MAX_DAYS + 1);
        let (mut reported, mut ready) = (0, 0);
        for (_, (r, d)) in self.0.range(..start) {
            reported += r;
            ready += d;
        }
        (start..=last)
            .map(|day| {
                if let Some((r, d)) = self.0.get(&day) {
                    reported += r;
                    ready += d;
                }
                (day_text(day), reported, ready)
            })
            .collect()
    }
}

/// The scratch database: a private temporary file (SQLite's empty file name), with a page
/// cache of [`SCRATCH_CACHE_KIB`]; nothing in it needs to survive.
fn scratch() -> Result<Connection, StorageError> {
    let scratch = Connection::open("")?;
    scratch.execute_batch(&format!(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = FILE;
         PRAGMA cache_size = -{SCRATCH_CACHE_KIB};
         CREATE TABLE learner (id INTEGER PRIMARY KEY, ready INTEGER, missing INTEGER,
             failing INTEGER, since TEXT, attempts INTEGER, first TEXT, last TEXT,
             who TEXT, who_key TEXT, has_email INTEGER, system TEXT, python TEXT);
         CREATE TABLE label (key INTEGER PRIMARY KEY, text TEXT);
         CREATE TABLE advice (id INTEGER PRIMARY KEY, text TEXT, url TEXT, UNIQUE (text, url));
         CREATE TABLE member (learner INTEGER, key INTEGER, system TEXT, advice INTEGER,
             required INTEGER);
         BEGIN;"
    ))?;
    Ok(scratch)
}

/// The learner table's `ORDER BY`.
fn order_by(window: &LearnerWindow) -> String {
    let (asc, desc) = match window.descending {
        false => ("ASC", "DESC"),
        true => ("DESC", "ASC"),
    };
    let by = match window.order {
        LearnerOrder::Standing => format!("ready {asc}, missing {desc}, failing {desc}, "),
        LearnerOrder::Learner => String::new(),
        LearnerOrder::System => format!("system {asc}, "),
        LearnerOrder::Since => format!("since IS NULL {asc}, since {asc}, "),
        LearnerOrder::Attempts => format!("attempts {asc}, "),
        LearnerOrder::Last => format!("last {asc}, "),
    };
    format!("ORDER BY {by}who_key {asc}, id ASC")
}

/// A learner's own fields, as the table shows them.
struct LearnerFacts {
    id: i64,
    who: String,
    has_email: bool,
    system: Option<String>,
    system_text: String,
    python: Option<String>,
}

impl LearnerFacts {
    /// From a row of `id, unique_user_id, email_id, system, distribution_name,
    /// distribution_version, python_version`.
    fn read(row: &rusqlite::Row<'_>, rules: &dyn PageRules) -> rusqlite::Result<LearnerFacts> {
        let email: Option<String> = row
            .get::<_, Option<String>>(2)?
            .filter(|e| !e.trim().is_empty());
        let system: Option<String> = row.get(3)?;
        let distribution = match (
            row.get::<_, Option<String>>(4)?,
            row.get::<_, Option<String>>(5)?,
        ) {
            (Some(n), Some(v)) if !v.is_empty() => Some(format!("{n} {v}")),
            (n, _) => n.filter(|n| !n.is_empty()),
        };
        Ok(LearnerFacts {
            id: row.get(0)?,
            has_email: email.is_some(),
            who: match email {
                Some(email) => email,
                None => pseudonym(&row.get::<_, String>(1)?),
            },
            system_text: rules.system(system.as_deref(), distribution.as_deref()),
            system,
            python: row.get(6)?,
        })
    }
}

/// The advice for failures of one check by one system's learners with one error text (any
/// text, for a check the rules do not know), kept once in the scratch database; answers its
/// id there.
struct AdviceIds<'a> {
    scratch: &'a Connection,
    rules: &'a dyn PageRules,
    ids: Cache<(i64, Option<String>, Option<i64>), i64>,
    /// Each advice's id by its text and link.
    texts: Cache<(String, String), i64>,
}

impl AdviceIds<'_> {
    fn id(
        &mut self,
        lookups: &mut Lookups<'_>,
        required: &Requirements,
        key: i64,
        system: Option<&str>,
        error: Option<i64>,
    ) -> Result<i64, StorageError> {
        let AdviceIds {
            scratch,
            rules,
            ids,
            texts,
        } = self;
        let label = lookups.label(key)?;
        // The text matters only to the fix of a check the rules know.
        let error = error.filter(|_| rules.knows(&label));
        ids.get_or((key, system.map(str::to_owned), error), || {
            let text = lookups.error(error)?;
            let minimum = required.of(key).and_then(|r| r.minimum.as_deref());
            let advice = rules.advice(&label, text.as_deref(), system, minimum);
            scratch
                .prepare_cached("INSERT OR IGNORE INTO label (key, text) VALUES (?1, ?2)")?
                .execute(params![key, label])?;
            let url = advice.url.unwrap_or_default();
            texts.get_or((advice.text.clone(), url.clone()), || {
                scratch
                    .prepare_cached(
                        "INSERT INTO advice (text, url) VALUES (?1, ?2)
                                     ON CONFLICT DO UPDATE SET text = excluded.text
                                     RETURNING id",
                    )?
                    .query_row(params![advice.text, url], |r| r.get(0))
                    .map_err(StorageError::from)
            })
        })
    }
}

/// The host's page of the learners whose current workshop is `workshop`, judged against
/// `required`: the counts and the chart over all of them, the `window` of the learner table,
/// and the problems to tell them about. `today` (a day number) ends the chart.
pub(crate) fn standings(
    conn: &Connection,
    workshop: &str,
    required: &[RequiredCheck],
    window: &LearnerWindow,
    rules: &dyn PageRules,
    today: i64,
) -> Result<Standings, StorageError> {
    // One snapshot for every read below.
    let snapshot = conn.unchecked_transaction()?;
    let required = Requirements::find(conn, required)?;
    let scratch = scratch()?;
    let mut lookups = Lookups::new(conn);
    let mut days = DayChanges::default();
    let mut advice = AdviceIds {
        scratch: &scratch,
        rules,
        ids: Cache::new(),
        texts: Cache::new(),
    };
    {
        let mut statement = conn.prepare(
            "SELECT u.id, u.unique_user_id, u.email_id, p.system, p.distribution_name,
                    p.distribution_version, p.python_version
               FROM user_system_info u LEFT JOIN system_profiles p ON p.id = u.profile_id
              WHERE u.workshop_id = ?1 ORDER BY u.id",
        )?;
        let mut rows = statement.query([workshop])?;
        let learners = std::iter::from_fn(|| {
            rows.next()
                .transpose()
                .map(|row| Ok(LearnerFacts::read(row?, rules).map(|f| (f.id, f))?))
        });
        let sql = attempts_sql("SELECT id FROM user_system_info WHERE workshop_id = ?1");
        let mut insert = scratch.prepare(
            "INSERT INTO learner (id, ready, missing, failing, since, attempts, first, last,
                 who, who_key, has_email, system, python)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        let mut member = scratch.prepare(
            "INSERT INTO member (learner, key, system, advice, required)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        replay_each(
            &mut lookups,
            &required,
            &sql,
            &workshop,
            learners,
            |lookups, learner, replay| {
                days.add(&replay.steps);
                let failing = replay.failing();
                let since = failing
                    .iter()
                    .filter_map(|(_, c)| replay.time(c.since))
                    .min();
                insert.execute(params![
                    learner.id,
                    replay.ready(&required),
                    (required.needed - replay.passing) as i64,
                    failing.len() as i64,
                    since,
                    replay.times.len() as i64,
                    replay.times.iter().flatten().next(),
                    replay.times.iter().flatten().next_back(),
                    learner.who,
                    learner.who.to_lowercase(),
                    learner.has_email,
                    learner.system_text,
                    learner.python,
                ])?;
                let system = rules.system_label(learner.system.as_deref());
                for (key, check) in failing {
                    let id = advice.id(
                        lookups,
                        &required,
                        key,
                        learner.system.as_deref(),
                        check.error,
                    )?;
                    member.execute(params![learner.id, key, system, id, required.needs(key)])?;
                }
                Ok(())
            },
        )?;
    }
    scratch
        .execute_batch("CREATE INDEX member_by_group ON member (key, system, advice, learner)")?;
    let count = |sql: &str| scratch.query_row(sql, [], |r| r.get::<_, i64>(0));
    let filter = if window.not_ready_only {
        "WHERE ready = 0"
    } else {
        ""
    };
    let learners = count("SELECT count(*) FROM learner")?;
    let ready = count("SELECT coalesce(sum(ready), 0) FROM learner")?;
    let shown = count(&format!("SELECT count(*) FROM learner {filter}"))?;
    let (limit, offset) = window.rows.sql();
    let page: Vec<(i64, LearnerRow)> = scratch
        .prepare(&format!(
            "SELECT id, who, has_email, system, python, ready, attempts, first, last
               FROM learner {filter} {} LIMIT ?1 OFFSET ?2",
            order_by(window)
        ))?
        .query_map([limit, offset], |r| {
            Ok((
                r.get(0)?,
                LearnerRow {
                    who: r.get(1)?,
                    has_email: r.get(2)?,
                    system: r.get(3)?,
                    python_version: r.get(4)?,
                    ready: r.get(5)?,
                    failing: Vec::new(),
                    more_failing: 0,
                    unchecked: Vec::new(),
                    fixed: Vec::new(),
                    more_fixed: 0,
                    attempts: r.get(6)?,
                    first_report: r.get(7)?,
                    last_report: r.get(8)?,
                },
            ))
        })?
        .collect::<Result<_, _>>()?;
    let rows = detail(&mut lookups, &required, page)?;
    let groups = advice_groups(&scratch)?;
    let all_groups =
        count("SELECT count(*) FROM (SELECT DISTINCT key, system, advice FROM member)")?;
    drop(advice);
    drop(scratch);
    snapshot.rollback()?;
    Ok(Standings {
        learners,
        ready,
        shown,
        days: days.days(today),
        rows,
        groups,
        all_groups,
    })
}

/// Fills in the rows of a page: each learner's attempts replayed again (a page's learners
/// only), their failures, what they fixed and what they never reported, with their texts.
fn detail(
    lookups: &mut Lookups<'_>,
    required: &Requirements,
    page: Vec<(i64, LearnerRow)>,
) -> Result<Vec<LearnerRow>, StorageError> {
    // The attempts come in the learners' order; the page keeps its own.
    let mut by_id: Vec<(i64, usize)> = page
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    by_id.sort_unstable();
    let ids = serde_json::to_string(&by_id.iter().map(|(id, _)| id).collect::<Vec<_>>())
        .expect("numbers serialize");
    let mut rows: Vec<LearnerRow> = page.into_iter().map(|(_, row)| row).collect();
    let sql = attempts_sql("SELECT value FROM json_each(?1)");
    replay_each(
        lookups,
        required,
        &sql,
        &ids,
        by_id.iter().map(|&(id, at)| Ok((id, at))),
        |lookups, at, replay| {
            let row = &mut rows[at];
            let failing = replay.failing();
            row.more_failing = failing.len().saturating_sub(FAILING_SHOWN);
            for (key, check) in failing.into_iter().take(FAILING_SHOWN) {
                let (label, version) = lookups.package(check.package)?;
                row.failing.push(FailingCheck {
                    label,
                    version,
                    error: lookups.error(check.error)?,
                    since: replay.time(check.since),
                    required: required.needs(key),
                });
            }
            row.unchecked = required
                .list
                .iter()
                .filter(|(r, key)| {
                    !r.optional && key.is_none_or(|k| !replay.checks.contains_key(&k))
                })
                .map(|(r, _)| r.name.clone())
                .collect();
            row.more_fixed = replay.fixes.len().saturating_sub(FIXED_SHOWN);
            for fix in replay.fixes.iter().take(FIXED_SHOWN) {
                row.fixed.push(FixedCheck {
                    label: lookups.package(fix.key)?.0,
                    failed_at: replay.time(Some(fix.failed_at)),
                    fixed_at: replay.time(Some(fix.fixed_at)),
                });
            }
            Ok(())
        },
    )?;
    Ok(rows)
}

/// The first [`GROUPS_SHOWN`] problems: required ones first, then those concerning most
/// learners, then by check and system; each with its first learners.
fn advice_groups(scratch: &Connection) -> Result<Vec<AdviceGroup>, StorageError> {
    let groups: Vec<(i64, String, i64, AdviceGroup)> = scratch
        .prepare(
            "SELECT m.key, m.system, m.advice, l.text, a.text, a.url, max(m.required), count(*)
               FROM member m JOIN label l ON l.key = m.key JOIN advice a ON a.id = m.advice
              GROUP BY m.key, m.system, m.advice
              ORDER BY max(m.required) DESC, count(*) DESC, l.text, m.system, a.text
              LIMIT ?1",
        )?
        .query_map([GROUPS_SHOWN as i64], |r| {
            let url: String = r.get(5)?;
            Ok((
                r.get(0)?,
                r.get::<_, String>(1)?,
                r.get(2)?,
                AdviceGroup {
                    label: r.get(3)?,
                    system: r.get(1)?,
                    advice: Advice {
                        text: r.get(4)?,
                        url: Some(url).filter(|u| !u.is_empty()),
                    },
                    required: r.get(6)?,
                    names: Vec::new(),
                    learners: r.get(7)?,
                },
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut names = scratch.prepare(
        "SELECT l.who FROM member m JOIN learner l ON l.id = m.learner
          WHERE m.key = ?1 AND m.system = ?2 AND m.advice = ?3 ORDER BY m.learner LIMIT ?4",
    )?;
    groups
        .into_iter()
        .map(|(key, system, advice, mut group)| {
            group.names = names
                .query_map(
                    params![key, system, advice, GROUP_LEARNERS_SHOWN as i64],
                    |r| r.get(0),
                )?
                .collect::<Result<_, _>>()?;
            Ok(group)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks by key: git 1, numpy 2, make 3 (optional), as `requirements` would name them.
    fn required(keys: &[(&str, i64, bool)]) -> Requirements {
        let list: Vec<(RequiredCheck, Option<i64>)> = keys
            .iter()
            .map(|&(name, key, optional)| {
                (
                    RequiredCheck {
                        name: name.into(),
                        label: name.into(),
                        optional,
                        minimum: None,
                    },
                    Some(key),
                )
            })
            .collect();
        Requirements {
            keys: list
                .iter()
                .enumerate()
                .map(|(i, (_, k))| (k.unwrap(), i))
                .collect(),
            needed: list.iter().filter(|(r, _)| !r.optional).count(),
            list,
        }
    }

    /// An attempt; a check's package is its key, each failure's error text 9.
    fn attempt(time: &str, passed: &[i64], failed: &[i64]) -> AttemptIds {
        AttemptIds {
            time: Some(time.into()),
            passed: passed.iter().map(|&k| (k, k)).collect(),
            failed: failed.iter().map(|&k| (k, k, Some(9))).collect(),
        }
    }

    fn replay(required: &Requirements, attempts: Vec<AttemptIds>) -> Replay {
        let mut replay = Replay::default();
        for a in attempts {
            replay.apply(a, required);
        }
        replay
    }

    #[test]
    fn the_host_sees_what_was_fixed_once_and_when() {
        let required = required(&[("git", 1, false), ("numpy", 2, false)]);
        let replay = replay(
            &required,
            vec![
                attempt("2026-11-20 10:00:00.000", &[2], &[1]),
                attempt("2026-11-20 12:30:00.000", &[1], &[]),
                attempt("2026-11-21 09:00:00.000", &[], &[1]),
                attempt("2026-11-21 10:00:00.000", &[1], &[]),
            ],
        );
        let fixes: Vec<(i64, usize, usize)> = replay
            .fixes
            .iter()
            .map(|f| (f.key, f.failed_at, f.fixed_at))
            .collect();
        assert_eq!(fixes, [(1, 0, 1)], "numpy never failed; git is fixed once");
        assert!(replay.ready(&required));
    }

    #[test]
    fn a_retest_of_one_check_keeps_the_others_latest_results() {
        let required = required(&[("git", 1, false), ("numpy", 2, false), ("make", 3, true)]);
        let replay = replay(
            &required,
            vec![
                attempt("2026-11-20 10:00:00.000", &[3], &[1, 2]),
                attempt("2026-11-21 10:00:00.000", &[], &[2, 3]),
                // The script's own advice: re-test only what failed.
                attempt("2026-11-22 10:00:00.000", &[1], &[]),
            ],
        );
        assert!(!replay.ready(&required), "numpy still fails");
        let failing: Vec<(i64, bool, Option<String>)> = replay
            .failing()
            .into_iter()
            .map(|(key, c)| (key, required.needs(key), replay.time(c.since)))
            .collect();
        assert_eq!(
            failing,
            [
                (3, false, Some("2026-11-21 10:00:00.000".into())),
                (2, true, Some("2026-11-20 10:00:00.000".into())),
            ],
            "in the order first reported, each since its run of failures began"
        );
        assert_eq!(required.needed - replay.passing, 1);
        let mut days = DayChanges::default();
        days.add(&replay.steps);
        let today = day_number(Some("2026-11-23"));
        let chart = days.days(today);
        assert_eq!(chart.len(), 4);
        assert!(chart
            .iter()
            .all(|(_, reported, ready)| (*reported, *ready) == (1, 0)));
    }

    #[test]
    fn the_share_rises_on_the_day_a_fix_arrives_and_unchecked_is_not_ready() {
        let required = required(&[("git", 1, false)]);
        let fixed = replay(
            &required,
            vec![
                attempt("2026-11-20 09:00:00.000", &[], &[1]),
                attempt("2026-11-22 09:00:00.000", &[1], &[]),
            ],
        );
        let silent = replay(
            &required,
            vec![attempt("2026-11-21 09:00:00.000", &[5], &[])],
        );
        let mut days = DayChanges::default();
        days.add(&fixed.steps);
        days.add(&silent.steps);
        let counts: Vec<(i64, i64)> = days.days(0).iter().map(|d| (d.1, d.2)).collect();
        assert_eq!(counts, [(1, 0), (2, 0), (2, 1)]);
        assert!(!silent.ready(&required), "git never reported");
        assert!(fixed.ready(&required));
    }

    #[test]
    fn a_failure_outweighs_a_pass_in_the_same_attempt_and_the_chart_keeps_60_days() {
        let required = required(&[("git", 1, false)]);
        let both = replay(
            &required,
            vec![attempt("2026-01-01 09:00:00.000", &[1], &[1])],
        );
        assert!(!both.ready(&required));
        let mut days = DayChanges::default();
        days.add(&both.steps);
        let today = day_number(Some("2026-12-31"));
        let chart = days.days(today);
        assert_eq!(chart.len(), MAX_DAYS as usize);
        assert_eq!(chart.last().unwrap().0, "2026-12-31");
        assert_eq!(chart[0].1, 1, "who reported before the window still counts");
    }
}
