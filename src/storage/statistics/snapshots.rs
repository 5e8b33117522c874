//! Whole-page snapshots: each view's lists read in one transaction, so its numbers agree
//! with each other, and the [`Store`] methods the dashboard calls for them.

use super::failures::{failed_names, failed_versions, failures_by_system};
use super::fixes::fix_overview;
use super::learners::{learner_totals, learners_by_system, workshop_summaries, workshops};
use super::packages::{package_detail, package_names, package_versions};
use crate::storage::stats::{
    Comparison, Extent, FixOverview, Overview, PackageFilter, Rows, Scope,
};
use crate::storage::{StorageError, Store};
use rusqlite::Connection;

/// The overview of one scope, as much of it as `extent` says, read in one transaction so
/// its numbers agree.
pub(crate) fn overview(
    conn: &Connection,
    scope: &Scope,
    extent: &Extent,
) -> Result<Overview, StorageError> {
    let snapshot = conn.unchecked_transaction()?;
    let workshop = scope.workshop.as_deref();
    let failed_names = failed_names(&snapshot, scope, extent.lists)?;
    let heat_names: Vec<String> = failed_names
        .iter()
        .take(extent.heat_names)
        .map(|f| f.name.clone())
        .collect();
    let (learners, passing) = learner_totals(&snapshot, workshop)?;
    Ok(Overview {
        failed_versions: failed_versions(&snapshot, scope, extent.lists)?,
        learners_by_system: learners_by_system(&snapshot, workshop, extent.lists)?,
        failures_by_system: failures_by_system(
            &snapshot,
            scope,
            Some(&heat_names),
            Rows::first(extent.heat_cells),
        )?,
        failed_names,
        workshops: workshops(&snapshot, extent.choices)?,
        summaries: workshop_summaries(&snapshot, workshop, extent.lists)?,
        learners,
        passing,
    })
}

/// The details of some packages, and the choices for comparing others, as much of them as
/// `extent` says, in one transaction.
pub(crate) fn comparison(
    conn: &Connection,
    packages: &[PackageFilter],
    scope: &Scope,
    extent: &Extent,
) -> Result<Comparison, StorageError> {
    let snapshot = conn.unchecked_transaction()?;
    Ok(Comparison {
        details: packages
            .iter()
            .map(|package| package_detail(&snapshot, package, scope, extent.lists))
            .collect::<Result<_, _>>()?,
        names: package_names(&snapshot, extent.choices)?,
        versions: {
            let mut versions = Vec::new();
            for package in packages {
                versions.extend(package_versions(&snapshot, &package.name, extent.choices)?);
            }
            versions.sort();
            versions.dedup();
            versions
        },
        workshops: workshops(&snapshot, extent.choices)?,
    })
}

/// "What gets fixed" and the workshops to choose from, as much of them as `extent` says, in
/// one transaction.
pub(crate) fn fixes_page(
    conn: &Connection,
    workshop: Option<&str>,
    min_failed: i64,
    extent: &Extent,
) -> Result<FixOverview, StorageError> {
    let snapshot = conn.unchecked_transaction()?;
    Ok(FixOverview {
        checks: fix_overview(&snapshot, workshop, min_failed, extent.lists)?,
        workshops: workshops(&snapshot, extent.choices)?,
    })
}

impl Store {
    /// "What gets fixed" in one workshop or all, for checks at least `min_failed` learners
    /// failed.
    pub(crate) async fn fix_overview(
        &self,
        workshop: Option<String>,
        min_failed: i64,
        extent: Extent,
    ) -> Result<FixOverview, StorageError> {
        self.read(move |conn| fixes_page(conn, workshop.as_deref(), min_failed, &extent))
            .await
    }

    /// Most failed packages, learners per system and workshop summaries for one scope.
    pub(crate) async fn overview(
        &self,
        scope: Scope,
        extent: Extent,
    ) -> Result<Overview, StorageError> {
        self.read(move |conn| overview(conn, &scope, &extent)).await
    }

    /// Where and when each of `packages` fails, with the packages one may compare instead.
    pub(crate) async fn comparison(
        &self,
        packages: Vec<PackageFilter>,
        scope: Scope,
        extent: Extent,
    ) -> Result<Comparison, StorageError> {
        self.read(move |conn| comparison(conn, &packages, &scope, &extent))
            .await
    }
}
