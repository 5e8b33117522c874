//! The page itself: every learner replayed into a scratch database, from which the sorted
//! and filtered window, the counts and the grouped advice are read with bounded SQL.

use super::lookups::{attempts_sql, replay_each, Cache, Lookups};
use super::page::{
    Advice, AdviceGroup, FailingCheck, FixedCheck, LearnerOrder, LearnerRow, LearnerWindow,
    PageRules, RequiredCheck, Standings,
};
use super::replay::{DayChanges, Requirements};
use crate::storage::workshops::pseudonym;
use crate::storage::StorageError;
use rusqlite::{params, Connection};

/// Checks a learner still fails that a row shows; the rest are counted.
const FAILING_SHOWN: usize = 10;
/// Fixed checks a row shows; the rest are counted.
const FIXED_SHOWN: usize = 10;
/// Problems "What to tell them" shows, most learners first; the rest are counted.
const GROUPS_SHOWN: usize = 20;
/// Learners named under one problem; the rest are counted.
const GROUP_LEARNERS_SHOWN: usize = 25;
/// The scratch database's page cache, in KiB: beyond it SQLite uses the temporary file.
const SCRATCH_CACHE_KIB: i64 = 2048;

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
/// and the problems to tell them about. `today` (a day number) ends the chart, whose days
/// are `zone`'s (the workshop's time zone; UTC's when it has none).
pub(crate) fn standings(
    conn: &Connection,
    workshop: &str,
    required: &[RequiredCheck],
    window: &LearnerWindow,
    rules: &dyn PageRules,
    today: i64,
    zone: Option<&jiff::tz::TimeZone>,
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
            zone,
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
        None,
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
