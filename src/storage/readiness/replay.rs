//! One learner's attempts replayed in order: the latest result of each check, what they fixed
//! and when they became ready; and the chart's day-by-day changes summed over learners.

use super::page::RequiredCheck;
use crate::storage::timestamp::{day_text, local_day, UNKNOWN_DAY};
use crate::storage::StorageError;
use rusqlite::Connection;
use std::collections::{BTreeMap, BTreeSet};

/// Days the chart goes back at most.
pub(super) const MAX_DAYS: i64 = 60;

/// One check's latest result, for one learner. Checks are told apart by a key: the smallest
/// package id bearing the check's name.
#[derive(Debug, Clone)]
pub(super) struct CheckState {
    /// When it was first reported, in the order replayed.
    pub(super) seq: usize,
    pub(super) passed: bool,
    /// The attempt (its index) where the current run of failures began.
    pub(super) since: Option<usize>,
    /// The latest failure's package (name and version) and error text.
    pub(super) package: i64,
    pub(super) error: Option<i64>,
}

/// A fix: the check's key, the attempt of its first failure, the first later one to pass it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fix {
    pub(super) key: i64,
    pub(super) failed_at: usize,
    pub(super) fixed_at: usize,
}

/// One attempt as the replay sees it: keys and packages passed, keys, packages and error
/// texts failed, in the order the script listed them.
#[derive(Debug, Default)]
pub(super) struct AttemptIds {
    pub(super) time: Option<String>,
    pub(super) passed: Vec<(i64, i64)>,
    pub(super) failed: Vec<(i64, i64, Option<i64>)>,
}

/// The required checks by key (a check no report ever named has none, and never passes).
pub(super) struct Requirements {
    /// Key -> index in the list, for the checks that have a key.
    pub(super) keys: BTreeMap<i64, usize>,
    pub(super) list: Vec<(RequiredCheck, Option<i64>)>,
    /// Required checks that are not optional.
    pub(super) needed: usize,
}

impl Requirements {
    pub(super) fn find(
        conn: &Connection,
        list: &[RequiredCheck],
    ) -> Result<Requirements, StorageError> {
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
    pub(super) fn of(&self, key: i64) -> Option<&RequiredCheck> {
        self.keys.get(&key).map(|&i| &self.list[i].0)
    }

    /// Whether the check is required and not optional.
    pub(super) fn needs(&self, key: i64) -> bool {
        self.of(key).is_some_and(|r| !r.optional)
    }
}

/// One learner's attempts, replayed.
#[derive(Default)]
pub(super) struct Replay {
    pub(super) checks: BTreeMap<i64, CheckState>,
    pub(super) first_failed: BTreeMap<i64, usize>,
    pub(super) fixes: Vec<Fix>,
    pub(super) fixed: BTreeSet<i64>,
    pub(super) times: Vec<Option<String>>,
    /// Required checks whose latest result passed.
    pub(super) passing: usize,
    /// `(day, ready after that day's last attempt)`, in order.
    pub(super) steps: Vec<(i64, bool)>,
    /// Whose wall clocks say which day an attempt was on (the workshop's); UTC's if none.
    pub(super) zone: Option<jiff::tz::TimeZone>,
}

impl Replay {
    pub(super) fn apply(&mut self, attempt: AttemptIds, required: &Requirements) {
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
        let day = local_day(attempt.time.as_deref(), self.zone.as_ref());
        self.times.push(attempt.time);
        let ready = self.ready(required);
        match self.steps.last_mut() {
            Some(last) if last.0 == day => last.1 = ready,
            _ => self.steps.push((day, ready)),
        }
    }

    pub(super) fn put(
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

    pub(super) fn ready(&self, required: &Requirements) -> bool {
        self.passing == required.needed
    }

    /// The checks still failing, in the order first reported.
    pub(super) fn failing(&self) -> Vec<(i64, &CheckState)> {
        let mut failing: Vec<(i64, &CheckState)> = self
            .checks
            .iter()
            .filter(|(_, c)| !c.passed)
            .map(|(&k, c)| (k, c))
            .collect();
        failing.sort_by_key(|(_, c)| c.seq);
        failing
    }

    pub(super) fn time(&self, attempt: Option<usize>) -> Option<String> {
        attempt.and_then(|i| self.times[i].clone())
    }
}

/// The per-day changes of the chart: learners who reported for the first time, and learners
/// who became ready (+1) or stopped being ready (-1), by day.
#[derive(Default)]
pub(super) struct DayChanges(BTreeMap<i64, (i64, i64)>);

impl DayChanges {
    pub(super) fn add(&mut self, steps: &[(i64, bool)]) {
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
    pub(super) fn days(&self, today: i64) -> Vec<(String, i64, i64)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::timestamp::day_number;

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
