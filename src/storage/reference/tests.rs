//! The tallies against the reference after every step of random histories, and every
//! bounded variant the pages read against its window of the full list.

mod history;

use super::*;
use crate::report::MIN_ADVICE_LEARNERS;
use crate::storage::stats::{Fixes, PackageFilter, Scope};
use crate::storage::{statistics, Location, Rows, StorageError, Store};
use history::step;
use rusqlite::Connection;

/// Every statistic from the tallies equals its reference, in every scope.
fn assert_tallies_match(conn: &Connection, at: &str) -> Result<(), StorageError> {
    for workshop in [None, Some("w1"), Some("w2"), Some("none")] {
        for all_attempts in [false, true] {
            let scope = Scope {
                workshop: workshop.map(str::to_owned),
                all_attempts,
            };
            let at = format!("{at}, {scope:?}");
            for version in [None, Some("1.0")] {
                let package = PackageFilter {
                    name: "git".into(),
                    version: version.map(str::to_owned),
                };
                assert_eq!(
                    statistics::failure_count(conn, &package, &scope)?,
                    failure_count(conn, &package, &scope)?,
                    "{at}, {package:?}"
                );
                for by in [
                    Breakdown::System,
                    Breakdown::DistributionName,
                    Breakdown::DistributionNameVersion,
                    Breakdown::PythonVersion,
                    Breakdown::Day,
                    Breakdown::ErrorDescription,
                    Breakdown::Machine,
                ] {
                    assert_eq!(
                        statistics::failure_breakdown(conn, &package, &scope, by, Rows::ALL)?,
                        failure_breakdown(conn, &package, &scope, by)?,
                        "{at}, {package:?}, {by:?}"
                    );
                }
            }
            assert_eq!(
                statistics::failed_versions(conn, &scope, Rows::ALL)?,
                failed_versions(conn, &scope)?,
                "{at}"
            );
            assert_eq!(
                statistics::failed_names(conn, &scope, Rows::ALL)?,
                failed_names(conn, &scope)?,
                "{at}"
            );
            assert_eq!(
                statistics::failures_by_system(conn, &scope, None, Rows::ALL)?,
                failures_by_system(conn, &scope)?,
                "{at}"
            );
        }
        assert_eq!(
            statistics::learners_by_system(conn, workshop, Rows::ALL)?,
            learners_by_system(conn, workshop)?,
            "{at}, {workshop:?}"
        );
        assert_eq!(
            statistics::workshop_summaries(conn, workshop, Rows::ALL)?,
            workshop_summaries(conn, workshop)?,
            "{at}, {workshop:?}"
        );
    }
    let records = check_records(conn)?;
    for min_learners in [1, 2, 5] {
        let snapshot = super::super::advice::snapshot(conn, min_learners)?;
        assert_eq!(
            snapshot.entries().into_iter().cloned().collect::<Vec<_>>(),
            all_advice(&records, min_learners),
            "{at}, advice for at least {min_learners}"
        );
    }
    for workshop in [None, Some("w1"), Some("w2"), Some("none")] {
        for name in ["git", "make", "numpy", "bash", "nothing"] {
            assert_eq!(
                statistics::check_fixes(conn, name, workshop, Rows::ALL)?,
                check_fixes(&records, name, workshop),
                "{at}, fixes of {name} in {workshop:?}"
            );
        }
        for min_failed in [1, 3] {
            assert_eq!(
                statistics::fix_overview(conn, workshop, min_failed, Rows::ALL)?,
                fix_overview(&records, workshop, min_failed),
                "{at}, what gets fixed in {workshop:?}, at least {min_failed}"
            );
        }
    }
    assert_eq!(
        statistics::workshops(conn, Rows::ALL)?,
        workshops(conn)?,
        "{at}"
    );
    assert_eq!(
        statistics::package_names(conn, Rows::ALL)?,
        package_names(conn)?,
        "{at}"
    );
    assert_eq!(
        statistics::package_versions(conn, "git", Rows::ALL)?,
        package_versions(conn, "git")?,
        "{at}"
    );
    Ok(())
}

/// The rows of `list` that `window` names: what a bounded variant must return.
fn window_of<T: Clone>(list: &[T], window: Rows) -> Vec<T> {
    list.iter()
        .skip(window.offset)
        .take(window.limit)
        .cloned()
        .collect()
}

/// Every bounded variant the pages and exports read equals its window of the full list
/// (which `assert_tallies_match` holds to the reference), and the totals read beside
/// them equal the sums of the full lists.
fn assert_windows_match(conn: &Connection, at: &str) -> Result<(), StorageError> {
    let windows = [
        Rows::first(0),
        Rows::first(1),
        Rows::first(3),
        Rows {
            offset: 1,
            limit: 2,
        },
        Rows {
            offset: 4,
            limit: 100,
        },
        Rows::ALL,
    ];
    let breakdowns = [
        Breakdown::DistributionName,
        Breakdown::DistributionVersion,
        Breakdown::DistributionNameVersion,
        Breakdown::System,
        Breakdown::SystemVersion,
        Breakdown::SystemPlatform,
        Breakdown::Machine,
        Breakdown::PythonVersion,
        Breakdown::Day,
        Breakdown::ErrorDescription,
    ];
    for window in windows {
        let at = format!("{at}, {window:?}");
        for workshop in [None, Some("w1"), Some("none")] {
            for all_attempts in [false, true] {
                let scope = Scope {
                    workshop: workshop.map(str::to_owned),
                    all_attempts,
                };
                let at = format!("{at}, {scope:?}");
                assert_eq!(
                    statistics::failed_versions(conn, &scope, window)?,
                    window_of(
                        &statistics::failed_versions(conn, &scope, Rows::ALL)?,
                        window
                    ),
                    "{at}"
                );
                assert_eq!(
                    statistics::failed_names(conn, &scope, window)?,
                    window_of(&statistics::failed_names(conn, &scope, Rows::ALL)?, window),
                    "{at}"
                );
                let names = ["git".to_owned(), "numpy".to_owned()];
                let cells: Vec<_> = statistics::failures_by_system(conn, &scope, None, Rows::ALL)?
                    .into_iter()
                    .filter(|c| names.contains(&c.name))
                    .collect();
                assert_eq!(
                    statistics::failures_by_system(conn, &scope, Some(&names), window)?,
                    window_of(&cells, window),
                    "{at}"
                );
                for version in [None, Some("1.0")] {
                    let package = PackageFilter {
                        name: "git".into(),
                        version: version.map(str::to_owned),
                    };
                    for by in breakdowns {
                        assert_eq!(
                            statistics::failure_breakdown(conn, &package, &scope, by, window)?,
                            window_of(
                                &statistics::failure_breakdown(
                                    conn,
                                    &package,
                                    &scope,
                                    by,
                                    Rows::ALL
                                )?,
                                window
                            ),
                            "{at}, {package:?}, {by:?}"
                        );
                    }
                }
            }
            assert_eq!(
                statistics::learners_by_system(conn, workshop, window)?,
                window_of(
                    &statistics::learners_by_system(conn, workshop, Rows::ALL)?,
                    window
                ),
                "{at}, {workshop:?}"
            );
            let summaries = statistics::workshop_summaries(conn, workshop, Rows::ALL)?;
            assert_eq!(
                statistics::workshop_summaries(conn, workshop, window)?,
                window_of(&summaries, window),
                "{at}, {workshop:?}"
            );
            assert_eq!(
                statistics::learner_totals(conn, workshop)?,
                (
                    summaries.iter().map(|s| s.learners).sum(),
                    summaries.iter().map(|s| s.passing).sum()
                ),
                "{at}, {workshop:?}"
            );
            for name in ["git", "make", "nothing"] {
                let full = statistics::check_fixes(conn, name, workshop, Rows::ALL)?;
                let bounded = statistics::check_fixes(conn, name, workshop, window)?;
                assert_eq!(
                    bounded,
                    Fixes {
                        fixed_with: window_of(&full.fixed_with, window),
                        by_system: window_of(&full.by_system, window),
                        ..full.clone()
                    },
                    "{at}, fixes of {name} in {workshop:?}"
                );
            }
            for min_failed in [1, 2, 3] {
                assert_eq!(
                    statistics::fix_overview(conn, workshop, min_failed, window)?,
                    window_of(
                        &statistics::fix_overview(conn, workshop, min_failed, Rows::ALL)?,
                        window
                    ),
                    "{at}, what gets fixed in {workshop:?}, at least {min_failed}"
                );
            }
        }
        assert_eq!(
            statistics::workshops(conn, window)?,
            window_of(&statistics::workshops(conn, Rows::ALL)?, window),
            "{at}"
        );
        assert_eq!(
            statistics::package_names(conn, window)?,
            window_of(&statistics::package_names(conn, Rows::ALL)?, window),
            "{at}"
        );
        assert_eq!(
            statistics::package_versions(conn, "git", window)?,
            window_of(
                &statistics::package_versions(conn, "git", Rows::ALL)?,
                window
            ),
            "{at}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn tallies_equal_the_straightforward_queries_after_every_step_of_random_histories() {
    for seed in 1..=5 {
        let store = Store::open(&Location::Memory).unwrap();
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut keys = Vec::new();
        for n in 0..120 {
            let what = step(&store, &mut rng, &mut keys).await;
            let at = format!("seed {seed}, step {n}: {what}");
            // The windows every tenth step: they are many, and each step changes little.
            let windows = n % 10 == 9;
            store
                .read(move |conn| {
                    assert_tallies_match(conn, &at)?;
                    if windows {
                        assert_windows_match(conn, &at)?;
                    }
                    Ok(())
                })
                .await
                .unwrap();
        }
        // The advice compared was not all empty: at the end some check on some system
        // has the minimum of learners, fixes with a median and versions.
        let full = store
            .read(|conn| Ok(all_advice(&check_records(conn)?, MIN_ADVICE_LEARNERS)))
            .await
            .unwrap();
        assert!(
            full.iter()
                .any(|a| a.median_seconds_to_fix.is_some() && !a.fixed_with.is_empty()),
            "seed {seed}: {full:?}"
        );
    }
}

#[tokio::test]
async fn no_tally_row_is_left_at_zero() {
    let store = Store::open(&Location::Memory).unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    let mut keys = Vec::new();
    for _ in 0..200 {
        step(&store, &mut rng, &mut keys).await;
    }
    for key in keys.clone() {
        store.delete_user(key.to_string()).await.unwrap();
    }
    let left: i64 = store
        .read(|conn| {
            Ok(conn.query_row(
                "SELECT (SELECT count(*) FROM failure_tally) + (SELECT count(*) FROM
                 failure_day_tally) + (SELECT count(*) FROM failure_error_tally) +
                 (SELECT count(*) FROM learner_tally) + (SELECT count(*) FROM workshop_tally)",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(left, 0, "every learner deleted leaves no tally row behind");
}
