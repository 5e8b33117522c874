//! The statistics, read from the tallies that triggers in `schema.sql` keep on every write: a
//! few thousand rows, whatever the number of reports. Each function answers exactly what its
//! namesake in `reference.rs` computes from the raw rows; the tests below hold them to that
//! on random data. The [`Store`] methods at the end read a whole view in one transaction.

use super::stats::{
    Breakdown, Comparison, NameFailures, Overview, PackageDetail, PackageFilter, Scope,
    SystemLearners, SystemNameFailures, ValueCount, VersionFailures, WorkshopSummary,
};
use super::{StorageError, Store};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, Row};

/// A WHERE clause and its parameters, one condition at a time.
#[derive(Default)]
struct Filter {
    sql: String,
    values: Vec<Value>,
}

impl Filter {
    fn and(mut self, condition: &str, value: &str) -> Filter {
        self.sql.push_str(if self.sql.is_empty() {
            "WHERE "
        } else {
            " AND "
        });
        self.sql.push_str(condition);
        self.values.push(Value::Text(value.to_owned()));
        self
    }

    /// `and`, when there is a value to filter by.
    fn and_some(self, condition: &str, value: Option<&str>) -> Filter {
        match value {
            Some(value) => self.and(condition, value),
            None => self,
        }
    }
}

/// The field's name in `detail_tally.dim`.
fn dim(by: Breakdown) -> &'static str {
    match by {
        Breakdown::DistributionName => "distribution_name",
        Breakdown::DistributionVersion => "distribution_version",
        Breakdown::DistributionNameVersion => "distribution_name_version",
        Breakdown::System => "system",
        Breakdown::SystemVersion => "system_version",
        Breakdown::SystemPlatform => "system_platform",
        Breakdown::Machine => "machine",
        Breakdown::PythonVersion => "python_version",
        Breakdown::Day => "day",
        Breakdown::ErrorDescription => "error_description",
    }
}

/// The tally column that counts in `scope`.
fn counted(scope: &Scope) -> &'static str {
    if scope.all_attempts {
        "every"
    } else {
        "latest"
    }
}

/// Runs `sql` with the filter's parameters and maps each row.
fn rows<T>(
    conn: &Connection,
    sql: &str,
    filter: Filter,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StorageError> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params_from_iter(filter.values), map)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn in_workshop(workshop: Option<&str>) -> Filter {
    Filter::default().and_some("workshop_id = ?", workshop)
}

pub fn failed_versions(
    conn: &Connection,
    scope: &Scope,
) -> Result<Vec<VersionFailures>, StorageError> {
    let (count, filter) = (counted(scope), in_workshop(scope.workshop.as_deref()));
    let sql = format!(
        "SELECT name, version, sum({count}) FROM failure_tally {}
         GROUP BY name, version HAVING sum({count}) > 0 ORDER BY 3 DESC, name, version",
        filter.sql
    );
    rows(conn, &sql, filter, |row| {
        Ok(VersionFailures {
            name: row.get(0)?,
            version: row.get(1)?,
            count: row.get(2)?,
        })
    })
}

pub fn failed_names(conn: &Connection, scope: &Scope) -> Result<Vec<NameFailures>, StorageError> {
    let (count, filter) = (counted(scope), in_workshop(scope.workshop.as_deref()));
    let sql = format!(
        "SELECT name, sum({count}) FROM failure_tally {}
         GROUP BY name HAVING sum({count}) > 0 ORDER BY 2 DESC, name",
        filter.sql
    );
    rows(conn, &sql, filter, |row| {
        Ok(NameFailures {
            name: row.get(0)?,
            count: row.get(1)?,
        })
    })
}

pub fn failures_by_system(
    conn: &Connection,
    scope: &Scope,
) -> Result<Vec<SystemNameFailures>, StorageError> {
    let (count, filter) = (counted(scope), in_workshop(scope.workshop.as_deref()));
    let sql = format!(
        "SELECT system, name, sum({count}) FROM failure_tally {}
         GROUP BY system, name HAVING sum({count}) > 0 ORDER BY 3 DESC, system, name",
        filter.sql
    );
    rows(conn, &sql, filter, |row| {
        Ok(SystemNameFailures {
            system: row.get(0)?,
            name: row.get(1)?,
            count: row.get(2)?,
        })
    })
}

pub fn learners_by_system(
    conn: &Connection,
    workshop: Option<&str>,
) -> Result<Vec<SystemLearners>, StorageError> {
    let filter = in_workshop(workshop);
    let sql = format!(
        "SELECT system, sum(learners) FROM learner_tally {}
         GROUP BY system HAVING sum(learners) > 0 ORDER BY 2 DESC, system",
        filter.sql
    );
    rows(conn, &sql, filter, |row| {
        Ok(SystemLearners {
            system: row.get(0)?,
            learners: row.get(1)?,
        })
    })
}

pub fn workshops(conn: &Connection) -> Result<Vec<String>, StorageError> {
    let sql = "SELECT DISTINCT workshop_id FROM learner_tally
               WHERE workshop_id IS NOT NULL AND learners > 0 ORDER BY workshop_id";
    rows(conn, sql, Filter::default(), |row| row.get(0))
}

pub fn workshop_summaries(
    conn: &Connection,
    workshop: Option<&str>,
) -> Result<Vec<WorkshopSummary>, StorageError> {
    let filter = in_workshop(workshop);
    let sql = format!(
        "SELECT workshop_id, sum(learners), sum(passing) FROM learner_tally {}
         GROUP BY workshop_id HAVING sum(learners) > 0 ORDER BY 2 DESC, workshop_id",
        filter.sql
    );
    rows(conn, &sql, filter, |row| {
        Ok(WorkshopSummary {
            workshop: row.get(0)?,
            learners: row.get(1)?,
            passing: row.get(2)?,
        })
    })
}

pub fn package_names(conn: &Connection) -> Result<Vec<String>, StorageError> {
    let sql = "SELECT DISTINCT name FROM failure_tally WHERE every > 0 ORDER BY name";
    rows(conn, sql, Filter::default(), |row| row.get(0))
}

pub fn package_versions(conn: &Connection, name: &str) -> Result<Vec<String>, StorageError> {
    let filter = Filter::default().and("name = ?", name);
    let sql = format!(
        "SELECT DISTINCT version FROM failure_tally {}
           AND every > 0 AND version IS NOT NULL AND version <> '' ORDER BY version",
        filter.sql
    );
    rows(conn, &sql, filter, |row| row.get(0))
}

/// The filter of one package's failures in `scope`.
fn of_package(package: &PackageFilter, workshop: Option<&str>) -> Filter {
    Filter::default()
        .and("name = ?", &package.name)
        .and_some("version = ?", package.version.as_deref())
        .and_some("workshop_id = ?", workshop)
}

pub fn failure_breakdown(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
    by: Breakdown,
) -> Result<Vec<ValueCount>, StorageError> {
    let count = counted(scope);
    let map = |row: &Row<'_>| {
        Ok(ValueCount {
            value: row.get(0)?,
            count: row.get(1)?,
        })
    };
    if by == Breakdown::Day && scope.workshop.is_none() {
        // detail_tally holds a package's days once per workshop: a hundred thousand rows for
        // a common failure at a million reports. day_tally has them across workshops.
        let filter = of_package(package, None);
        let sql = format!(
            "SELECT day, sum({count}) FROM day_tally {}
             GROUP BY day HAVING sum({count}) > 0 ORDER BY 2 DESC, 1",
            filter.sql
        );
        return rows(conn, &sql, filter, map);
    }
    let filter = of_package(package, scope.workshop.as_deref()).and("dim = ?", dim(by));
    let sql = format!(
        "SELECT value, sum({count}) FROM detail_tally {}
         GROUP BY value HAVING sum({count}) > 0 ORDER BY 2 DESC, 1",
        filter.sql
    );
    rows(conn, &sql, filter, map)
}

pub fn failure_count(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
) -> Result<i64, StorageError> {
    let filter = of_package(package, scope.workshop.as_deref()).and("dim = ?", "failures");
    let sql = format!(
        "SELECT coalesce(sum({}), 0) FROM detail_tally {}",
        counted(scope),
        filter.sql
    );
    let counts = rows(conn, &sql, filter, |row| row.get(0))?;
    Ok(counts.into_iter().next().unwrap_or(0))
}

/// Every breakdown of one package's failures.
pub fn package_detail(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
) -> Result<PackageDetail, StorageError> {
    let by = |breakdown| failure_breakdown(conn, package, scope, breakdown);
    Ok(PackageDetail {
        package: package.clone(),
        failures: failure_count(conn, package, scope)?,
        distribution_name: by(Breakdown::DistributionName)?,
        distribution_version: by(Breakdown::DistributionVersion)?,
        distribution_name_version: by(Breakdown::DistributionNameVersion)?,
        system: by(Breakdown::System)?,
        system_version: by(Breakdown::SystemVersion)?,
        system_platform: by(Breakdown::SystemPlatform)?,
        machine: by(Breakdown::Machine)?,
        python_version: by(Breakdown::PythonVersion)?,
        days: by(Breakdown::Day)?,
        error_descriptions: by(Breakdown::ErrorDescription)?,
    })
}

/// The overview of one scope, read in one transaction so its numbers agree.
pub fn overview(conn: &Connection, scope: &Scope) -> Result<Overview, StorageError> {
    let snapshot = conn.unchecked_transaction()?;
    let workshop = scope.workshop.as_deref();
    Ok(Overview {
        failed_versions: failed_versions(&snapshot, scope)?,
        failed_names: failed_names(&snapshot, scope)?,
        learners_by_system: learners_by_system(&snapshot, workshop)?,
        failures_by_system: failures_by_system(&snapshot, scope)?,
        workshops: workshops(&snapshot)?,
        summaries: workshop_summaries(&snapshot, workshop)?,
    })
}

/// The details of some packages, and the choices for comparing others, in one transaction.
pub fn comparison(
    conn: &Connection,
    packages: &[PackageFilter],
    scope: &Scope,
) -> Result<Comparison, StorageError> {
    let snapshot = conn.unchecked_transaction()?;
    Ok(Comparison {
        details: packages
            .iter()
            .map(|package| package_detail(&snapshot, package, scope))
            .collect::<Result<_, _>>()?,
        names: package_names(&snapshot)?,
        versions: {
            let mut versions = Vec::new();
            for package in packages {
                versions.extend(package_versions(&snapshot, &package.name)?);
            }
            versions.sort();
            versions.dedup();
            versions
        },
        workshops: workshops(&snapshot)?,
    })
}

impl Store {
    /// Most failed packages, learners per system and workshop summaries for one scope.
    pub(crate) async fn overview(&self, scope: Scope) -> Result<Overview, StorageError> {
        self.read(move |conn| overview(conn, &scope)).await
    }

    /// Where and when each of `packages` fails, with the packages one may compare instead.
    pub(crate) async fn comparison(
        &self,
        packages: Vec<PackageFilter>,
        scope: Scope,
    ) -> Result<Comparison, StorageError> {
        self.read(move |conn| comparison(conn, &packages, &scope))
            .await
    }

    /// Learners and passing learners per workshop, largest first.
    pub(crate) async fn workshop_summaries(&self) -> Result<Vec<WorkshopSummary>, StorageError> {
        self.read(|conn| workshop_summaries(conn, None)).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::{reference as stats, Location, Store};
    use super::*;
    use crate::report::{Failure, Package, Report, SystemInfo};

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
                                let package = PackageFilter {
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
