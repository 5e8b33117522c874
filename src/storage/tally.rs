//! The overview's statistics read from the tallies that triggers in `schema.sql` keep on
//! every write: a few thousand rows, whatever the number of reports. Each function answers
//! exactly what its namesake in `reference.rs` computes from the raw rows; the tests below
//! hold them to that on random data.

use super::stats::{
    Breakdown, NameFailures, Package, Scope, SystemLearners, SystemNameFailures, ValueCount,
    VersionFailures, WorkshopSummary,
};
use super::StorageError;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

/// The tally column that counts in `scope`, and the WHERE clause with its parameters.
fn failures_in(scope: &Scope) -> (&'static str, String, Vec<Value>) {
    let column = if scope.all_attempts {
        "every"
    } else {
        "latest"
    };
    match &scope.workshop {
        Some(workshop) => (
            column,
            "WHERE workshop_id = ?".into(),
            vec![Value::Text(workshop.clone())],
        ),
        None => (column, String::new(), Vec::new()),
    }
}

pub fn failed_versions(
    conn: &Connection,
    scope: &Scope,
) -> Result<Vec<VersionFailures>, StorageError> {
    let (count, filter, values) = failures_in(scope);
    let sql = format!(
        "SELECT name, version, sum({count}) FROM failure_tally {filter}
         GROUP BY name, version HAVING sum({count}) > 0 ORDER BY 3 DESC, name, version"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(VersionFailures {
            name: row.get(0)?,
            version: row.get(1)?,
            count: row.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn failed_names(conn: &Connection, scope: &Scope) -> Result<Vec<NameFailures>, StorageError> {
    let (count, filter, values) = failures_in(scope);
    let sql = format!(
        "SELECT name, sum({count}) FROM failure_tally {filter}
         GROUP BY name HAVING sum({count}) > 0 ORDER BY 2 DESC, name"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(NameFailures {
            name: row.get(0)?,
            count: row.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn failures_by_system(
    conn: &Connection,
    scope: &Scope,
) -> Result<Vec<SystemNameFailures>, StorageError> {
    let (count, filter, values) = failures_in(scope);
    let sql = format!(
        "SELECT system, name, sum({count}) FROM failure_tally {filter}
         GROUP BY system, name HAVING sum({count}) > 0 ORDER BY 3 DESC, system, name"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(SystemNameFailures {
            system: row.get(0)?,
            name: row.get(1)?,
            count: row.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn learners_by_system(
    conn: &Connection,
    workshop: Option<&str>,
) -> Result<Vec<SystemLearners>, StorageError> {
    let scope = Scope {
        workshop: workshop.map(str::to_owned),
        all_attempts: false,
    };
    let (_, filter, values) = failures_in(&scope);
    let sql = format!(
        "SELECT system, sum(learners) FROM learner_tally {filter}
         GROUP BY system HAVING sum(learners) > 0 ORDER BY 2 DESC, system"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(SystemLearners {
            system: row.get(0)?,
            learners: row.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn workshops(conn: &Connection) -> Result<Vec<String>, StorageError> {
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT workshop_id FROM learner_tally
         WHERE workshop_id IS NOT NULL AND learners > 0 ORDER BY workshop_id",
    )?;
    let rows = statement.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn workshop_summaries(
    conn: &Connection,
    workshop: Option<&str>,
) -> Result<Vec<WorkshopSummary>, StorageError> {
    let scope = Scope {
        workshop: workshop.map(str::to_owned),
        all_attempts: false,
    };
    let (_, filter, values) = failures_in(&scope);
    let sql = format!(
        "SELECT workshop_id, sum(learners), sum(passing) FROM learner_tally {filter}
         GROUP BY workshop_id HAVING sum(learners) > 0 ORDER BY 2 DESC, workshop_id"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(WorkshopSummary {
            workshop: row.get(0)?,
            learners: row.get(1)?,
            passing: row.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn package_names(conn: &Connection) -> Result<Vec<String>, StorageError> {
    let mut statement = conn
        .prepare_cached("SELECT DISTINCT name FROM failure_tally WHERE every > 0 ORDER BY name")?;
    let rows = statement.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn package_versions(conn: &Connection, name: &str) -> Result<Vec<String>, StorageError> {
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT version FROM failure_tally
         WHERE name = ?1 AND every > 0 AND version IS NOT NULL AND version <> '' ORDER BY version",
    )?;
    let rows = statement.query_map([name], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The detail_tally rows of `package` in `scope` for one field, and the column that counts.
fn detail_rows(package: &Package, scope: &Scope, dim: &str) -> (&'static str, String, Vec<Value>) {
    let (count, _, _) = failures_in(scope);
    let mut filter = String::from("WHERE name = ? AND dim = ?");
    let mut values = vec![
        Value::Text(package.name.clone()),
        Value::Text(dim.to_owned()),
    ];
    if let Some(workshop) = &scope.workshop {
        filter.push_str(" AND workshop_id = ?");
        values.push(Value::Text(workshop.clone()));
    }
    if let Some(version) = &package.version {
        filter.push_str(" AND version = ?");
        values.push(Value::Text(version.clone()));
    }
    (count, filter, values)
}

pub fn failure_breakdown(
    conn: &Connection,
    package: &Package,
    scope: &Scope,
    by: Breakdown,
) -> Result<Vec<ValueCount>, StorageError> {
    if by == Breakdown::Day && scope.workshop.is_none() {
        return failures_by_day(conn, package, scope);
    }
    let (count, filter, values) = detail_rows(package, scope, by.dim());
    let sql = format!(
        "SELECT value, sum({count}) FROM detail_tally {filter}
         GROUP BY value HAVING sum({count}) > 0 ORDER BY 2 DESC, 1"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(ValueCount {
            value: row.get(0)?,
            count: row.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Days over all workshops come from `day_tally`: detail_tally holds a package's days once per
/// workshop, a hundred thousand rows for a common failure at a million reports.
fn failures_by_day(
    conn: &Connection,
    package: &Package,
    scope: &Scope,
) -> Result<Vec<ValueCount>, StorageError> {
    let (count, _, _) = failures_in(scope);
    let mut filter = String::from("WHERE name = ?");
    let mut values = vec![Value::Text(package.name.clone())];
    if let Some(version) = &package.version {
        filter.push_str(" AND version = ?");
        values.push(Value::Text(version.clone()));
    }
    let sql = format!(
        "SELECT day, sum({count}) FROM day_tally {filter}
         GROUP BY day HAVING sum({count}) > 0 ORDER BY 2 DESC, 1"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(ValueCount {
            value: row.get(0)?,
            count: row.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn failure_count(
    conn: &Connection,
    package: &Package,
    scope: &Scope,
) -> Result<i64, StorageError> {
    let (count, filter, values) = detail_rows(package, scope, "failures");
    let sql = format!("SELECT coalesce(sum({count}), 0) FROM detail_tally {filter}");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(values), |row| row.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::super::{reference as stats, Location, Store};
    use super::*;
    use crate::ingest::{Failure, Package, Report, SystemInfo};

    /// Random reports from few learners, workshops, systems and packages (NULLs included),
    /// with returning learners who move workshop or system, and deletions of learners and
    /// of single attempts: every path the triggers must follow.
    async fn random_store(seed: u64) -> Store {
        let store = Store::open(&Location::Memory).unwrap();
        let mut rng = fastrand::Rng::with_seed(seed);
        let pick = |rng: &mut fastrand::Rng, choices: &[Option<&str>]| {
            choices[rng.usize(..choices.len())].map(str::to_owned)
        };
        let mut keys = Vec::new();
        for _ in 0..300 {
            let key = if !keys.is_empty() && rng.bool() {
                Some(keys[rng.usize(..keys.len())])
            } else {
                None
            };
            let failures = (0..rng.usize(..4))
                .map(|_| Failure {
                    name: pick(&mut rng, &[Some("git"), Some("make"), Some("numpy")]).unwrap(),
                    version: pick(&mut rng, &[None, Some("1.0"), Some("2.0")]),
                    error_description: pick(&mut rng, &[None, Some("not found"), Some("too old")]),
                })
                .collect();
            let report = Report {
                key,
                system: SystemInfo {
                    system: pick(&mut rng, &[None, Some("Linux"), Some("Windows")]),
                    distribution_name: pick(&mut rng, &[None, Some("Ubuntu"), Some("Windows")]),
                    distribution_version: pick(&mut rng, &[None, Some("22.04"), Some("11")]),
                    python_version: pick(&mut rng, &[None, Some("3.11.7"), Some("3.8.10")]),
                    machine: pick(&mut rng, &[None, Some("x86_64"), Some("arm64")]),
                    workshop_id: pick(&mut rng, &[None, Some("w1"), Some("w2"), Some("w3")]),
                    ..SystemInfo::default()
                },
                successes: vec![Package {
                    name: "bash".into(),
                    version: None,
                }],
                failures,
            };
            let receipt = store.record(report).await.unwrap();
            if !receipt.known {
                keys.push(receipt.key);
            }
            if rng.u8(..20) == 0 {
                let gone = keys.swap_remove(rng.usize(..keys.len()));
                store.delete_user(gone.to_string()).await.unwrap();
            }
            if rng.u8(..10) == 0 {
                // A failure edited by hand: renamed, or moved to another attempt.
                store
                    .writer
                    .write(|conn| {
                        Ok(conn.execute(
                            "UPDATE failed_installs SET name = 'numpy', version = NULL,
                                 create_time = '2020-01-01 00:00:00',
                                 attempt_id = (SELECT min(id) FROM attempts a
                                     WHERE a.unique_user_id = (SELECT unique_user_id
                                         FROM user_system_info WHERE id = failed_installs.user_id))
                             WHERE id = (SELECT max(id) FROM failed_installs)",
                            [],
                        )?)
                    })
                    .await
                    .unwrap();
            }
            if rng.u8(..25) == 0 {
                // An attempt deleted by hand: the learner's latest moves back.
                store
                    .writer
                    .write(|conn| {
                        Ok(conn.execute(
                            "DELETE FROM attempts WHERE id = (SELECT max(id) FROM attempts)",
                            [],
                        )?)
                    })
                    .await
                    .unwrap();
            }
        }
        store
    }

    #[tokio::test]
    async fn tallies_equal_the_straightforward_queries_on_random_data() {
        for seed in 1..=8 {
            let store = random_store(seed).await;
            store
                .read(move |conn| {
                    for workshop in [None, Some("w1"), Some("w2"), Some("none")] {
                        for all_attempts in [false, true] {
                            let scope = Scope {
                                workshop: workshop.map(str::to_owned),
                                all_attempts,
                            };
                            for version in [None, Some("1.0")] {
                                let package = super::Package {
                                    name: "git".into(),
                                    version: version.map(str::to_owned),
                                };
                                let at = format!("seed {seed}, {scope:?}, {package:?}");
                                assert_eq!(
                                    failure_count(conn, &package, &scope)?,
                                    stats::failure_count(conn, &package, &scope)?,
                                    "{at}"
                                );
                                for by in [
                                    Breakdown::System,
                                    Breakdown::DistributionNameVersion,
                                    Breakdown::PythonVersion,
                                    Breakdown::Day,
                                    Breakdown::ErrorDescription,
                                    Breakdown::Machine,
                                ] {
                                    assert_eq!(
                                        failure_breakdown(conn, &package, &scope, by)?,
                                        stats::failure_breakdown(conn, &package, &scope, by)?,
                                        "{at}, {by:?}"
                                    );
                                }
                            }
                        }
                        for all_attempts in [false, true] {
                            let scope = Scope {
                                workshop: workshop.map(str::to_owned),
                                all_attempts,
                            };
                            let at = format!("seed {seed}, {scope:?}");
                            assert_eq!(
                                failed_versions(conn, &scope)?,
                                stats::failed_versions(conn, &scope)?,
                                "{at}"
                            );
                            assert_eq!(
                                failed_names(conn, &scope)?,
                                stats::failed_names(conn, &scope)?,
                                "{at}"
                            );
                            assert_eq!(
                                failures_by_system(conn, &scope)?,
                                stats::failures_by_system(conn, &scope)?,
                                "{at}"
                            );
                        }
                        assert_eq!(
                            learners_by_system(conn, workshop)?,
                            stats::learners_by_system(conn, workshop)?
                        );
                        assert_eq!(
                            workshop_summaries(conn, workshop)?,
                            stats::workshop_summaries(conn, workshop)?
                        );
                    }
                    assert_eq!(workshops(conn)?, stats::workshops(conn)?);
                    assert_eq!(package_names(conn)?, stats::package_names(conn)?);
                    assert_eq!(
                        package_versions(conn, "git")?,
                        stats::package_versions(conn, "git")?
                    );
                    Ok(())
                })
                .await
                .unwrap();
        }
    }
}
