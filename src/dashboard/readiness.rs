//! Who is ready: each learner's attempts replayed in order into the latest result of every
//! check, judged against the workshop's required checks, day by day, with the fix for each
//! failure. Pure computation over what storage read; the host's page shows it.

use crate::catalog::{catalog, Entry, Fix};
use crate::config::{CheckSpec, Checks};
use crate::storage::timestamp::{day_number, day_text, UNKNOWN_DAY};
use crate::storage::{AttemptRecord, LearnerHistory};
use std::collections::BTreeMap;

/// Days the chart goes back at most.
const MAX_DAYS: i64 = 60;

/// A check the workshop asks for.
#[derive(Debug, Clone)]
pub struct Requirement {
    pub name: String,
    pub minimum: Option<String>,
    pub optional: bool,
}

/// The workshop's list, else the server's, else the script's own default.
pub fn requirements(workshop: Option<&str>, server: &Checks) -> Vec<Requirement> {
    let own: Option<Checks> = workshop.and_then(|list| list.parse().ok());
    let specs: Vec<CheckSpec> = match own.and_then(|c| c.0).or_else(|| server.0.clone()) {
        Some(specs) => specs,
        None => catalog()
            .default_checks()
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect(),
    };
    let mut seen = Vec::new();
    specs
        .iter()
        .filter(|spec| {
            let new = !seen.contains(&spec.name().to_owned());
            seen.push(spec.name().to_owned());
            new
        })
        .map(|spec| Requirement {
            name: spec.name().to_owned(),
            minimum: spec
                .minimum()
                .map(str::to_owned)
                .or_else(|| catalog().check(spec.name())?.minimum.clone()),
            optional: spec.optional(),
        })
        .collect()
}

/// The latest result of one check (or of a package the catalog does not know).
#[derive(Debug, Clone)]
pub struct Outcome {
    /// As the script sent it, `Git (git)`.
    pub label: String,
    pub check: Option<&'static Entry>,
    pub passed: bool,
    /// When the current run of failures began: the first attempt that failed it since it
    /// last passed.
    pub since: Option<String>,
    pub version: Option<String>,
    pub error: Option<String>,
}

/// A learner as the host sees them.
#[derive(Debug, Clone)]
pub struct Learner {
    /// Their email where they gave one, else their pseudonym.
    pub who: String,
    pub has_email: bool,
    pub system: Option<String>,
    pub distribution: Option<String>,
    pub python_version: Option<String>,
    pub attempts: usize,
    pub first_report: Option<String>,
    pub last_report: Option<String>,
    pub ready: bool,
    /// Checks whose latest result is a failure, in the order first seen.
    pub failing: Vec<Failing>,
    /// Required checks no attempt has reported on.
    pub unchecked: Vec<String>,
    /// Failures already fixed, in the order they were fixed.
    pub fixed: Vec<Fixed>,
}

/// One check a learner still fails.
#[derive(Debug, Clone)]
pub struct Failing {
    pub outcome: Outcome,
    /// Whether the workshop requires it (otherwise it is optional or not on its list).
    pub required: bool,
    pub fix: Option<Fix>,
}

/// The key of a check in a learner's state: its name, or the whole label when unknown.
fn key_of(label: &str) -> (String, Option<&'static Entry>) {
    match catalog().check_of_label(label) {
        Some(entry) => (entry.name.clone(), Some(entry)),
        None => (label.to_owned(), None),
    }
}

/// A failure the learner already fixed: a later attempt passed what an earlier one failed
/// (the definition of "What gets fixed").
#[derive(Debug, Clone)]
pub struct Fixed {
    pub label: String,
    /// The first attempt that failed it, and the first later one that passed it.
    pub failed_at: Option<String>,
    pub fixed_at: Option<String>,
}

/// A learner's checks after some attempts: name -> latest outcome, in first-seen order, and
/// what they fixed.
#[derive(Default)]
struct State {
    order: Vec<String>,
    outcomes: BTreeMap<String, Outcome>,
    /// When each check first failed.
    first_failed: BTreeMap<String, Option<String>>,
    fixed: Vec<(String, Fixed)>,
}

impl State {
    fn apply(&mut self, attempt: &AttemptRecord) {
        for label in &attempt.passed {
            let (key, check) = key_of(label);
            let fixed_before = self.fixed.iter().any(|(k, _)| *k == key);
            if let (Some(failed_at), false) = (self.first_failed.get(&key), fixed_before) {
                let fix = Fixed {
                    label: label.clone(),
                    failed_at: failed_at.clone(),
                    fixed_at: attempt.time.clone(),
                };
                self.fixed.push((key.clone(), fix));
            }
            self.put(
                key,
                Outcome {
                    label: label.clone(),
                    check,
                    passed: true,
                    since: None,
                    version: None,
                    error: None,
                },
            );
        }
        for failure in &attempt.failed {
            let (key, check) = key_of(&failure.name);
            self.first_failed
                .entry(key.clone())
                .or_insert_with(|| attempt.time.clone());
            let since = match self.outcomes.get(&key) {
                Some(before) if !before.passed => before.since.clone(),
                _ => attempt.time.clone(),
            };
            self.put(
                key,
                Outcome {
                    label: failure.name.clone(),
                    check,
                    passed: false,
                    since,
                    version: failure.version.clone(),
                    error: failure.error.clone(),
                },
            );
        }
    }

    fn put(&mut self, key: String, outcome: Outcome) {
        if !self.outcomes.contains_key(&key) {
            self.order.push(key.clone());
        }
        self.outcomes.insert(key, outcome);
    }

    /// Every required check's latest result passed.
    fn ready(&self, required: &[Requirement]) -> bool {
        required
            .iter()
            .filter(|r| !r.optional)
            .all(|r| self.outcomes.get(&r.name).is_some_and(|o| o.passed))
    }
}

/// Each learner's standing now, and the ready share per day.
pub struct Readiness {
    pub learners: Vec<Learner>,
    /// `(day, learners who had reported by its end, of whom ready)`, oldest first.
    pub days: Vec<(String, i64, i64)>,
}

impl Readiness {
    /// Replays every learner's attempts; `today` ends the day series (a day number).
    pub fn new(histories: &[LearnerHistory], required: &[Requirement], today: i64) -> Self {
        let mut learners = Vec::with_capacity(histories.len());
        // Per learner: (day, ready after that day's last attempt), in order.
        let mut steps: Vec<Vec<(i64, bool)>> = Vec::with_capacity(histories.len());
        for history in histories {
            let mut state = State::default();
            let mut changes: Vec<(i64, bool)> = Vec::new();
            for attempt in &history.attempts {
                state.apply(attempt);
                let day = day_number(attempt.time.as_deref());
                let ready = state.ready(required);
                match changes.last_mut() {
                    Some(last) if last.0 == day => last.1 = ready,
                    _ => changes.push((day, ready)),
                }
            }
            steps.push(changes);
            learners.push(Learner::new(history, &state, required));
        }
        let known_days = steps.iter().flatten().map(|(day, _)| *day);
        let days = match known_days.filter(|d| *d != UNKNOWN_DAY).min() {
            None => Vec::new(),
            Some(first) => {
                let last = steps
                    .iter()
                    .flatten()
                    .map(|(day, _)| *day)
                    .max()
                    .unwrap_or(first)
                    .max(today);
                (first.max(last - MAX_DAYS + 1)..=last)
                    .map(|day| {
                        let mut reported = 0;
                        let mut ready = 0;
                        for changes in &steps {
                            // An attempt of unknown time counts from the start.
                            let standing =
                                changes.iter().rfind(|(d, _)| *d <= day).map(|(_, r)| *r);
                            if let Some(r) = standing {
                                reported += 1;
                                ready += i64::from(r);
                            }
                        }
                        (day_text(day), reported, ready)
                    })
                    .collect()
            }
        };
        Readiness { learners, days }
    }

    pub fn ready(&self) -> usize {
        self.learners.iter().filter(|l| l.ready).count()
    }
}

impl Learner {
    fn new(history: &LearnerHistory, state: &State, required: &[Requirement]) -> Learner {
        let requirement = |name: &str| required.iter().find(|r| r.name == name);
        let failing = state
            .order
            .iter()
            .filter_map(|key| state.outcomes.get(key).map(|o| (key, o)))
            .filter(|(_, o)| !o.passed)
            .map(|(key, outcome)| {
                let wanted = requirement(key);
                Failing {
                    required: wanted.is_some_and(|r| !r.optional),
                    fix: outcome.check.map(|check| {
                        catalog().fix(
                            check,
                            outcome.error.as_deref(),
                            history.system.as_deref(),
                            wanted.and_then(|r| r.minimum.as_deref()),
                        )
                    }),
                    outcome: outcome.clone(),
                }
            })
            .collect();
        Learner {
            who: history
                .email
                .clone()
                .unwrap_or_else(|| history.pseudonym.clone()),
            has_email: history.email.is_some(),
            system: history.system.clone(),
            distribution: history.distribution.clone(),
            python_version: history.python_version.clone(),
            attempts: history.attempts.len(),
            first_report: history.attempts.iter().find_map(|a| a.time.clone()),
            last_report: history.attempts.iter().rev().find_map(|a| a.time.clone()),
            ready: state.ready(required),
            failing,
            unchecked: required
                .iter()
                .filter(|r| !r.optional && !state.outcomes.contains_key(&r.name))
                .map(|r| r.name.clone())
                .collect(),
            fixed: state.fixed.iter().map(|(_, f)| f.clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::FailureRecord;

    fn attempt(time: &str, passed: &[&str], failed: &[(&str, &str)]) -> AttemptRecord {
        AttemptRecord {
            time: Some(time.into()),
            passed: passed.iter().map(|s| s.to_string()).collect(),
            failed: failed
                .iter()
                .map(|(name, error)| FailureRecord {
                    name: name.to_string(),
                    version: None,
                    error: Some(error.to_string()),
                })
                .collect(),
        }
    }

    fn learner(attempts: Vec<AttemptRecord>) -> LearnerHistory {
        LearnerHistory {
            pseudonym: "learner-00000000".into(),
            email: None,
            system: Some("Linux".into()),
            distribution: None,
            python_version: None,
            attempts,
        }
    }

    #[test]
    fn the_host_sees_what_was_fixed_once_and_when() {
        let required = requirements(Some("git,numpy"), &Checks(None));
        let history = learner(vec![
            attempt(
                "2026-11-20 10:00:00.000",
                &["NumPy (numpy)"],
                &[("Git (git)", "too old")],
            ),
            attempt("2026-11-20 12:30:00.000", &["Git (git)"], &[]),
            attempt(
                "2026-11-21 09:00:00.000",
                &[],
                &[("Git (git)", "not found")],
            ),
            attempt("2026-11-21 10:00:00.000", &["Git (git)"], &[]),
        ]);
        let readiness = Readiness::new(&[history], &required, 0);
        let fixed = &readiness.learners[0].fixed;
        assert_eq!(
            fixed.len(),
            1,
            "numpy never failed; git is fixed once: {fixed:?}"
        );
        assert_eq!(fixed[0].label, "Git (git)");
        assert_eq!(
            fixed[0].failed_at.as_deref(),
            Some("2026-11-20 10:00:00.000")
        );
        assert_eq!(
            fixed[0].fixed_at.as_deref(),
            Some("2026-11-20 12:30:00.000")
        );
    }

    #[test]
    fn a_retest_of_one_check_keeps_the_others_latest_results() {
        let required = requirements(Some("git,numpy,make?"), &Checks(None));
        let history = learner(vec![
            attempt(
                "2026-11-20 10:00:00.000",
                &["GNU Make (make)"],
                &[("Git (git)", "not found"), ("NumPy (numpy)", "not found")],
            ),
            attempt(
                "2026-11-21 10:00:00.000",
                &[],
                &[
                    ("NumPy (numpy)", "not found"),
                    ("GNU Make (make)", "not found"),
                ],
            ),
            // The script's own advice: re-test only what failed.
            attempt("2026-11-22 10:00:00.000", &["Git (git)"], &[]),
        ]);
        let today = day_number(Some("2026-11-23"));
        let readiness = Readiness::new(&[history], &required, today);
        let learner = &readiness.learners[0];
        assert!(!learner.ready, "numpy still fails");
        let failing: Vec<(&str, bool, Option<&str>)> = learner
            .failing
            .iter()
            .map(|f| {
                (
                    f.outcome.label.as_str(),
                    f.required,
                    f.outcome.since.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            failing,
            [
                ("GNU Make (make)", false, Some("2026-11-21 10:00:00.000")),
                ("NumPy (numpy)", true, Some("2026-11-20 10:00:00.000")),
            ]
        );
        assert!(learner.failing[1]
            .fix
            .as_ref()
            .unwrap()
            .text
            .contains("python3 -m pip install numpy"));
        assert_eq!(readiness.days.len(), 4);
        assert!(readiness
            .days
            .iter()
            .all(|(_, reported, ready)| (*reported, *ready) == (1, 0)));
    }

    #[test]
    fn the_share_rises_on_the_day_a_fix_arrives_and_unchecked_is_not_ready() {
        let required = requirements(Some("git"), &Checks(None));
        let fixed = learner(vec![
            attempt(
                "2026-11-20 09:00:00.000",
                &[],
                &[("Git (git)", "not found")],
            ),
            attempt("2026-11-22 09:00:00.000", &["Git (git)"], &[]),
        ]);
        let silent = learner(vec![attempt(
            "2026-11-21 09:00:00.000",
            &["Shell (shell)"],
            &[],
        )]);
        let readiness = Readiness::new(&[fixed, silent], &required, 0);
        let days: Vec<(i64, i64)> = readiness.days.iter().map(|d| (d.1, d.2)).collect();
        assert_eq!(days, [(1, 0), (2, 0), (2, 1)]);
        assert_eq!(readiness.learners[1].unchecked, ["git"]);
        assert_eq!(readiness.ready(), 1);
    }
}
