//! Workshops by when they run, for the home page, where a host looks for this week's: newest
//! first, by the date a workshop's id starts with (`2026-12-03-melbourne`), or else by the
//! day of its latest report.

use super::statistics::learner_totals;
use super::stats::{Rows, WorkshopSummary};
use super::{StorageError, Store};
use crate::report::workshop_date;
use jiff::civil::Date;
use rusqlite::{Connection, OptionalExtension};
use std::cmp::Reverse;

/// A workshop's learners, and the day it is sorted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DatedWorkshop {
    pub summary: WorkshopSummary,
    /// The day its id names (`Dated`), or that of its latest report (`LastHeard`); `None`
    /// for the learners who named no workshop, listed last.
    pub day: Option<WorkshopDay>,
}

/// Where a workshop's day comes from: only a day from the id can lie ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WorkshopDay {
    Dated(Date),
    LastHeard(Date),
}

impl WorkshopDay {
    pub(crate) fn date(self) -> Date {
        match self {
            WorkshopDay::Dated(d) | WorkshopDay::LastHeard(d) => d,
        }
    }
}

/// Every workshop with learners, newest first (equal days by name), the learners who named
/// none last; the `window` of them.
pub(crate) fn workshops_newest_first(
    conn: &Connection,
    window: Rows,
) -> Result<Vec<DatedWorkshop>, StorageError> {
    let mut statement = conn.prepare_cached(
        "SELECT w.name, t.learners, t.passing FROM workshop_tally t
           LEFT JOIN workshops w ON w.id = t.workshop
          WHERE t.learners > 0",
    )?;
    let summaries = statement
        .query_map([], |row| {
            Ok(WorkshopSummary {
                workshop: row.get(0)?,
                learners: row.get(1)?,
                passing: row.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    // Only a workshop whose id names no day reads its learners' latest attempts: most ids
    // follow the convention, so the page stays a read of one row per workshop.
    let mut latest = conn.prepare_cached(
        "SELECT max(s.create_time) FROM user_system_info u
           JOIN submissions s ON s.id = u.latest_attempt_id
          WHERE u.workshop_id = ?1",
    )?;
    let mut dated = Vec::with_capacity(summaries.len());
    for summary in summaries {
        let day = match summary.workshop.as_deref() {
            None => None,
            Some(name) => match workshop_date(name) {
                Some(date) => Some(WorkshopDay::Dated(date)),
                None => latest
                    .query_row([name], |row| row.get::<_, Option<String>>(0))
                    .optional()?
                    .flatten()
                    .and_then(|time| time.get(..10)?.parse().ok())
                    .map(WorkshopDay::LastHeard),
            },
        };
        dated.push(DatedWorkshop { summary, day });
    }
    dated.sort_by(|a, b| {
        let key = |w: &DatedWorkshop| {
            (
                w.summary.workshop.is_none(),
                Reverse(w.day.map(WorkshopDay::date)),
            )
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.summary.workshop.cmp(&b.summary.workshop))
    });
    Ok(dated
        .into_iter()
        .skip(window.offset)
        .take(window.limit)
        .collect())
}

impl Store {
    /// Workshops newest first (the `window` of them), and the learners and passing learners
    /// of all.
    pub(crate) async fn workshops_newest_first(
        &self,
        window: Rows,
    ) -> Result<(Vec<DatedWorkshop>, (i64, i64)), StorageError> {
        self.read(move |conn| {
            let snapshot = conn.unchecked_transaction()?;
            Ok((
                workshops_newest_first(&snapshot, window)?,
                learner_totals(&snapshot, None)?,
            ))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Failure, Report};
    use crate::storage::Location;

    fn attempt(workshop: Option<&str>, failing: bool) -> Report {
        let mut report = Report::default();
        report.system.workshop_id = workshop.map(str::to_owned);
        if failing {
            report.failures.push(Failure {
                name: "Git (git)".into(),
                version: None,
                error_description: None,
            });
        }
        report
    }

    /// Issue 19: the home page listed workshops largest first, so a host hunted for this
    /// week's among years of others.
    #[tokio::test]
    async fn workshops_come_newest_first_by_their_ids_date_or_latest_report() {
        let store = Store::open(&Location::Memory).unwrap();
        let at = |day: &str| format!("{day} 12:00:00.000");
        let reports = vec![
            (attempt(Some("2016-08-13-place"), true), at("2016-08-10")),
            (attempt(Some("2016-08-13-place"), false), at("2016-08-11")),
            (attempt(Some("2016-08-13-place"), true), at("2016-08-12")),
            // Reports before the day: the id's date counts, not the reports'.
            (
                attempt(Some("2026-12-10-melbourne"), false),
                at("2026-11-30"),
            ),
            (attempt(Some("intro-python"), true), at("2025-03-01")),
            (attempt(Some("intro-python"), false), at("2026-12-05")),
            (attempt(Some("old-undated"), false), at("2020-01-01")),
            (attempt(None, false), at("2026-12-02")),
            (attempt(Some("2026-12-01-b"), false), at("2026-11-20")),
            (attempt(Some("2026-12-01-a"), true), at("2026-11-20")),
        ];
        store.import(reports).await.unwrap();
        let (workshops, totals) = store.workshops_newest_first(Rows::ALL).await.unwrap();
        let names: Vec<_> = workshops
            .iter()
            .map(|w| w.summary.workshop.as_deref())
            .collect();
        assert_eq!(
            names,
            [
                Some("2026-12-10-melbourne"),
                Some("intro-python"),
                Some("2026-12-01-a"),
                Some("2026-12-01-b"),
                Some("old-undated"),
                Some("2016-08-13-place"),
                None,
            ]
        );
        let date = |y, m, d| Some(jiff::civil::date(y, m, d));
        assert_eq!(workshops[0].day, date(2026, 12, 10).map(WorkshopDay::Dated));
        assert_eq!(
            workshops[1].day,
            date(2026, 12, 5).map(WorkshopDay::LastHeard)
        );
        assert_eq!(workshops[6].day, None);
        assert_eq!(workshops[5].summary.learners, 3);
        assert_eq!(totals.0, 10);
        let (first, _) = store.workshops_newest_first(Rows::first(2)).await.unwrap();
        assert_eq!(first, workshops[..2]);
    }
}
