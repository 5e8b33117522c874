//! The statistics, read side: every dashboard number, read from the tallies (a few thousand
//! rows whatever the number of reports) and the small dictionaries they point into. Each
//! function answers exactly what its namesake in `reference.rs` computes from the raw rows;
//! the tests there hold them to that on random histories, and `consistency.rs` over a whole
//! database. Every list takes its window (`Rows::ALL` for all of it).
//!
//! One file per concept: failure lists (`failures.rs`), learners and workshops
//! (`learners.rs`), package breakdowns (`packages.rs`), fixes and their percentiles
//! (`fixes.rs`), and the pages' snapshots read in one transaction with the `Store` methods
//! that serve them (`snapshots.rs`); `sql.rs` holds what the queries share.

mod failures;
mod fixes;
mod learners;
mod packages;
mod snapshots;
mod sql;

pub(crate) use failures::{failed_names, failed_versions, failures_by_system};
pub(crate) use fixes::fix_overview;
pub(crate) use learners::{learner_totals, learners_by_system, workshop_summaries, workshops};
pub(crate) use packages::{package_detail, package_names, package_versions};
// The parts of a package's detail, which the tests hold to their reference one at a time.
#[cfg(test)]
pub(crate) use fixes::check_fixes;
#[cfg(test)]
pub(crate) use packages::{failure_breakdown, failure_count};
