//! Advice from those who fixed it, read side: for each check and operating system at least
//! [`MIN_ADVICE_LEARNERS`] learners failed, how many fixed it, their median time to fix and the
//! versions they fixed it with ([`Advice`]), for the answer to a report.
//!
//! The writer keeps nothing new for it. Learners who failed and fixed are the fix tally's,
//! summed over each system's machine profiles; the median and the versions per system are in
//! no tally, so they come from one pass over every learner's fix records. That pass is the
//! cost (0.15 to 0.6 s at a million reports, the more the busier the writer), so it is taken as a [`Snapshot`] of every check
//! and system at once, in one read transaction on the readers' pool, and kept: an answer reads
//! the snapshot in memory, never the database. A snapshot serves for [`MIN_AGE`], or for
//! [`AGE_PER_FILL`] times as long as taking it took, whichever is longer, so the readers spend
//! at most about 1% of their time on it; after that, the next answer still uses it and a new
//! one is taken in the background. Only the first answer after start-up waits for one (taken
//! after its own report committed, so that report counts in it).
//!
//! What the numbers mean is `reference::advice`, over the raw rows; the tests there hold a
//! snapshot equal to it after every step of random histories. An answer's advice is the
//! reference at the moment its snapshot was taken: a learner's own report counts in it when
//! it was committed before then.

use super::dictionary::ALL_WORKSHOPS;
use super::stats::percentile_rank;
use super::{Cause, StorageError, Store};
use crate::report::{Advice, MAX_FIXED_WITH, MIN_ADVICE_LEARNERS};
use rusqlite::{Connection, OptionalExtension};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The shortest time a snapshot serves before a newer one is taken: on a small database a
/// pass takes a millisecond, and a second-old count is as good as a live one.
const MIN_AGE: Duration = Duration::from_secs(1);
/// A snapshot serves at least this many times as long as taking it took (100: at most 1% of
/// one reader's time goes to advice, whatever the size of the database).
const AGE_PER_FILL: u32 = 100;

/// Every check and system's advice at one moment, by check name, then system.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    advice: HashMap<String, HashMap<String, Advice>>,
}

impl Snapshot {
    /// The advice for check `name` on `system`, if at least the minimum of learners failed it.
    pub(crate) fn get(&self, name: &str, system: &str) -> Option<&Advice> {
        self.advice.get(name)?.get(system)
    }

    /// Every entry, by check name and then system (for the tests' comparisons).
    pub(crate) fn entries(&self) -> Vec<&Advice> {
        let mut all: Vec<&Advice> = self.advice.values().flat_map(HashMap::values).collect();
        all.sort_by(|a, b| (&a.name, &a.system).cmp(&(&b.name, &b.system)));
        all
    }
}

/// What one check on one system adds up to while the fix records are read.
#[derive(Default)]
struct Tally {
    failed: i64,
    fixed: i64,
    /// The known times to fix.
    times: Vec<i64>,
    /// Learners per package (version) that passed.
    packages: HashMap<i64, i64>,
}

/// Takes the advice of every check and system at least `min_learners` learners failed, in
/// one read transaction: the counts from the fix tally, the times and versions from one pass
/// over the fix records of those checks and systems.
pub(crate) fn snapshot(conn: &Connection, min_learners: i64) -> Result<Snapshot, StorageError> {
    // One moment for every number; inside a caller's transaction, that one's.
    let _moment = match conn.is_autocommit() {
        true => Some(conn.unchecked_transaction()?),
        false => None,
    };
    // Systems by index, and each machine profile's.
    let mut systems: Vec<String> = Vec::new();
    let mut system_of: HashMap<i64, usize> = HashMap::new();
    {
        let mut profiles =
            conn.prepare("SELECT id, system FROM system_profiles WHERE system IS NOT NULL")?;
        let mut rows = profiles.query([])?;
        let mut index: HashMap<String, usize> = HashMap::new();
        while let Some(row) = rows.next()? {
            let system: String = row.get(1)?;
            let next = systems.len();
            let at = *index.entry(system.clone()).or_insert(next);
            if at == next {
                systems.push(system);
            }
            system_of.insert(row.get(0)?, at);
        }
    }
    // Learners who failed and fixed each check, per system: the fix tally of all workshops.
    let mut tallies: HashMap<(i64, usize), Tally> = HashMap::new();
    {
        let mut counts = conn.prepare(
            "SELECT name_id, profile_id, failed, fixed FROM fix_tally WHERE workshop = ?1",
        )?;
        let mut rows = counts.query([ALL_WORKSHOPS])?;
        while let Some(row) = rows.next()? {
            let Some(&system) = system_of.get(&row.get(1)?) else {
                continue;
            };
            let tally = tallies.entry((row.get(0)?, system)).or_default();
            tally.failed += row.get::<_, i64>(2)?;
            tally.fixed += row.get::<_, i64>(3)?;
        }
    }
    tallies.retain(|_, t| t.failed >= min_learners);
    // Times and versions of the fixes of the checks and systems that qualify: one pass.
    if tallies.values().any(|t| t.fixed > 0) {
        let mut fixes = conn.prepare(
            "SELECT name_id, profile_id, fixed_package_id, seconds_to_fix FROM learner_checks
              WHERE fixed_package_id IS NOT NULL",
        )?;
        let mut rows = fixes.query([])?;
        while let Some(row) = rows.next()? {
            let Some(&system) = system_of.get(&row.get(1)?) else {
                continue;
            };
            let Some(tally) = tallies.get_mut(&(row.get(0)?, system)) else {
                continue;
            };
            *tally.packages.entry(row.get(2)?).or_default() += 1;
            if let Some(seconds) = row.get(3)? {
                tally.times.push(seconds);
            }
        }
    }
    let mut advice: HashMap<String, HashMap<String, Advice>> = HashMap::new();
    let mut name_of = conn.prepare_cached("SELECT name FROM check_names WHERE id = ?1")?;
    let mut version_of = conn.prepare_cached("SELECT version FROM packages WHERE id = ?1")?;
    for ((name, system), mut tally) in tallies {
        let Some(name) = name_of
            .query_row([name], |r| r.get::<_, String>(0))
            .optional()?
        else {
            continue;
        };
        // Versions by their text (the script could not tell some: those are left out).
        let mut versions: HashMap<String, i64> = HashMap::new();
        for (package, learners) in tally.packages {
            let version: Option<String> = version_of
                .query_row([package], |r| r.get(0))
                .optional()?
                .flatten();
            if let Some(version) = version.filter(|v| !v.is_empty()) {
                *versions.entry(version).or_default() += learners;
            }
        }
        let mut fixed_with: Vec<(String, i64)> = versions.into_iter().collect();
        fixed_with.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        fixed_with.truncate(MAX_FIXED_WITH);
        let median = (!tally.times.is_empty()).then(|| {
            let rank = percentile_rank(tally.times.len() as i64, 1, 2) as usize;
            *tally.times.select_nth_unstable(rank - 1).1
        });
        let system = systems[system].clone();
        advice.entry(name.clone()).or_default().insert(
            system.clone(),
            Advice {
                name,
                system,
                failed_learners: tally.failed,
                fixed_learners: tally.fixed,
                median_seconds_to_fix: median,
                fixed_with,
            },
        );
    }
    Ok(Snapshot { advice })
}

/// How long a snapshot whose pass took `took` serves.
fn fresh_for(took: Duration) -> Duration {
    MIN_AGE.max(took * AGE_PER_FILL)
}

/// The snapshot answers read, and when to take the next one.
#[derive(Default)]
pub(crate) struct AdviceCache {
    state: Mutex<State>,
    /// Held while the first snapshot is taken, so the answers that need it at once wait for
    /// one pass instead of each taking its own.
    first: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    current: Option<Current>,
    /// A newer snapshot is being taken in the background.
    refreshing: bool,
}

struct Current {
    snapshot: Arc<Snapshot>,
    /// When it stops being fresh.
    fresh_until: Instant,
}

/// What an answer does with the cache at one moment.
#[derive(Debug)]
pub(crate) enum Plan {
    /// Read this snapshot.
    Fresh(Arc<Snapshot>),
    /// Read this snapshot, and take a newer one in the background (this answer's job).
    Refresh(Arc<Snapshot>),
    /// There is none yet: take one and wait for it.
    First,
}

impl AdviceCache {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What to do at `now`. At most one answer at a time is told to refresh.
    pub(crate) fn plan(&self, now: Instant) -> Plan {
        let mut state = self.state();
        let refreshing = state.refreshing;
        match &state.current {
            None => Plan::First,
            Some(current) if now < current.fresh_until || refreshing => {
                Plan::Fresh(current.snapshot.clone())
            }
            Some(current) => {
                let snapshot = current.snapshot.clone();
                state.refreshing = true;
                Plan::Refresh(snapshot)
            }
        }
    }

    /// Keeps a snapshot whose pass began at `began` and took `took`.
    pub(crate) fn keep(&self, snapshot: Snapshot, began: Instant, took: Duration) -> Arc<Snapshot> {
        let snapshot = Arc::new(snapshot);
        let serves = fresh_for(took);
        let mut state = self.state();
        state.current = Some(Current {
            snapshot: snapshot.clone(),
            fresh_until: began + serves,
        });
        state.refreshing = false;
        snapshot
    }

    /// A background pass failed: the next answer tries again.
    fn failed(&self) {
        self.state().refreshing = false;
    }

    /// The snapshot kept, if any.
    fn current(&self) -> Option<Arc<Snapshot>> {
        self.state().current.as_ref().map(|c| c.snapshot.clone())
    }
}

/// Takes a snapshot on a reader, off the async threads, and keeps it.
fn take(
    pool: &r2d2::Pool<r2d2_sqlite::SqliteConnectionManager>,
    cache: &AdviceCache,
) -> Result<Arc<Snapshot>, StorageError> {
    let conn = pool
        .get()
        .map_err(|e| StorageError::Other(Cause::new("no reader available", e)))?;
    let began = Instant::now();
    let snapshot = snapshot(&conn, MIN_ADVICE_LEARNERS)?;
    let took = began.elapsed();
    log::debug!(
        "advice: a snapshot of {} checks taken in {took:.1?}, fresh for {:.1?}",
        snapshot.advice.len(),
        fresh_for(took)
    );
    Ok(cache.keep(snapshot, began, took))
}

impl Store {
    /// The snapshot to read now: the kept one (renewed in the background once it is no
    /// longer fresh), or, before the first, one taken now.
    async fn advice_snapshot(&self) -> Result<Arc<Snapshot>, StorageError> {
        match self.advice.plan(Instant::now()) {
            Plan::Fresh(snapshot) => Ok(snapshot),
            Plan::Refresh(snapshot) => {
                let (pool, cache) = (self.readers.clone(), self.advice.clone());
                // Not awaited: this answer reads the snapshot it has.
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = take(&pool, &cache) {
                        cache.failed();
                        log::warn!("advice: a new snapshot could not be taken: {e}");
                    }
                });
                Ok(snapshot)
            }
            Plan::First => {
                let _one_pass = self.advice.first.lock().await;
                match self.advice.current() {
                    Some(snapshot) => Ok(snapshot),
                    None => {
                        let (pool, cache) = (self.readers.clone(), self.advice.clone());
                        tokio::task::spawn_blocking(move || take(&pool, &cache)).await?
                    }
                }
            }
        }
    }

    /// The advice for the checks `names` (as a report lists its failures) on `system`: one
    /// entry per distinct name that at least [`MIN_ADVICE_LEARNERS`] learners failed on that
    /// system, in the order given. Nothing for a report that names no system.
    pub(crate) async fn advice(
        &self,
        system: Option<String>,
        names: Vec<String>,
    ) -> Result<Vec<Advice>, StorageError> {
        let Some(system) = system else {
            return Ok(Vec::new());
        };
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let snapshot = self.advice_snapshot().await?;
        let mut given: Vec<Advice> = Vec::new();
        for name in names {
            if given.iter().any(|a| a.name == name) {
                continue;
            }
            if let Some(advice) = snapshot.get(&name, &system) {
                given.push(advice.clone());
            }
        }
        Ok(given)
    }

    /// The advice for each `(check name, system)` of `problems`, from one snapshot (what a
    /// host's page shows beside each problem's fix).
    pub(crate) async fn advice_on(
        &self,
        problems: Vec<(String, String)>,
    ) -> Result<Vec<Option<Advice>>, StorageError> {
        if problems.is_empty() {
            return Ok(Vec::new());
        }
        let snapshot = self.advice_snapshot().await?;
        Ok(problems
            .iter()
            .map(|(name, system)| snapshot.get(name, system).cloned())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_serves_while_fresh_then_one_answer_refreshes_it() {
        let cache = AdviceCache::default();
        let start = Instant::now();
        assert!(matches!(cache.plan(start), Plan::First));
        // A pass of 50 ms serves 5 s; one of 1 ms serves the minimum, 1 s.
        cache.keep(Snapshot::default(), start, Duration::from_millis(50));
        let at = |seconds: f64| start + Duration::from_secs_f64(seconds);
        assert!(matches!(cache.plan(at(4.9)), Plan::Fresh(_)));
        assert!(matches!(cache.plan(at(5.0)), Plan::Refresh(_)));
        // While that refresh runs, every other answer reads the old snapshot.
        assert!(matches!(cache.plan(at(6.0)), Plan::Fresh(_)));
        cache.keep(Snapshot::default(), at(6.0), Duration::from_millis(1));
        assert!(matches!(cache.plan(at(6.9)), Plan::Fresh(_)));
        assert!(matches!(cache.plan(at(7.0)), Plan::Refresh(_)));
        // A refresh that failed is tried again by the next answer.
        cache.failed();
        assert!(matches!(cache.plan(at(7.1)), Plan::Refresh(_)));
    }
}
