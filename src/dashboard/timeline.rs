//! A real time axis for the charts over time: every day between the first and the last is
//! there (a day without data is a zero, not skipped), and a long span is binned by week,
//! month, quarter or year so no chart has more than [`MAX_BINS`] columns. The chart and the
//! table beside it are drawn from the same bins.

use super::series::Category;
use crate::storage::timestamp::{civil_date, day_text, seconds};

/// The columns a chart over time has at most: more would be thinner than a line on a phone.
pub(super) const MAX_BINS: usize = 60;

/// How long one column of a chart over time is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bin {
    Day,
    /// From Monday to Sunday, named by its Monday.
    Week,
    Month,
    Quarter,
    Year,
}

/// How the days of one bin make its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fold {
    /// Counts per day (failures): a bin is their sum, a day without data is zero.
    Sum,
    /// A state at the end of each day (learners ready by then): a bin is its last day's, a
    /// day without data keeps the day before's.
    Last,
}

/// The bins of a span of days, in order, each with its value per series.
#[derive(Debug, Clone)]
pub(super) struct Timeline {
    pub bin: Bin,
    pub bins: Vec<Category>,
}

impl Bin {
    /// The bin a day (days since 1970-01-01) falls in, as a number that counts bins.
    fn of(self, day: i64) -> i64 {
        let (y, m, _) = civil_date(day.max(0) as u64);
        let month = i64::from(m) - 1;
        match self {
            Bin::Day => day,
            // 1970-01-01 was a Thursday: 1969-12-29 starts week 0.
            Bin::Week => (day + 3).div_euclid(7),
            Bin::Month => y * 12 + month,
            Bin::Quarter => y * 4 + month / 3,
            Bin::Year => y,
        }
    }

    /// The bin's label on the axis and in the table.
    fn label(self, bin: i64) -> String {
        match self {
            Bin::Day => day_text(bin),
            Bin::Week => day_text(bin * 7 - 3),
            Bin::Month => format!("{}-{:02}", bin.div_euclid(12), bin.rem_euclid(12) + 1),
            Bin::Quarter => format!("{} Q{}", bin.div_euclid(4), bin.rem_euclid(4) + 1),
            Bin::Year => bin.to_string(),
        }
    }

    /// The table's header for the bins' column.
    pub(super) fn heading(self) -> &'static str {
        match self {
            Bin::Day => "Day",
            Bin::Week => "Week of",
            Bin::Month => "Month",
            Bin::Quarter => "Quarter",
            Bin::Year => "Year",
        }
    }

    /// "per day", "per week"...: what one column counts.
    pub(super) fn per(self) -> &'static str {
        match self {
            Bin::Day => "per day",
            Bin::Week => "per week (Monday to Sunday)",
            Bin::Month => "per month",
            Bin::Quarter => "per quarter",
            Bin::Year => "per year",
        }
    }

    /// A label as a hover says it ("week of 2026-11-02").
    pub(super) fn describe(self, label: &str) -> String {
        match self {
            Bin::Week => format!("week of {label}"),
            _ => label.to_owned(),
        }
    }
}

impl Timeline {
    /// Bins `days` (day number and a value per series, in any order; a day given twice adds
    /// up) from the first day to the last, by the shortest bin that keeps to [`MAX_BINS`].
    pub(super) fn new(days: &[(i64, Vec<i64>)], series: usize, fold: Fold) -> Timeline {
        let mut days: Vec<&(i64, Vec<i64>)> = days.iter().collect();
        days.sort_by_key(|(day, _)| *day);
        let (Some((first, _)), Some((last, _))) = (days.first(), days.last()) else {
            return Timeline {
                bin: Bin::Day,
                bins: Vec::new(),
            };
        };
        let (first, last) = (*first, *last);
        let bin = [Bin::Day, Bin::Week, Bin::Month, Bin::Quarter]
            .into_iter()
            .find(|b| b.of(last) - b.of(first) < MAX_BINS as i64)
            .unwrap_or(Bin::Year);
        let start = bin.of(first);
        let count = (bin.of(last) - start + 1) as usize;
        let mut values = vec![vec![0; series]; count];
        let mut touched = vec![false; count];
        for (day, counts) in days {
            let i = (bin.of(*day) - start) as usize;
            for (value, &count) in values[i].iter_mut().zip(counts) {
                match fold {
                    Fold::Sum => *value += count,
                    // Days come in order: the last one written is the bin's last day.
                    Fold::Last => *value = count,
                }
            }
            touched[i] = true;
        }
        if fold == Fold::Last {
            for i in 1..count {
                if !touched[i] {
                    values[i] = values[i - 1].clone();
                }
            }
        }
        let bins = values
            .into_iter()
            .enumerate()
            .map(|(i, counts)| Category {
                label: bin.label(start + i as i64),
                counts,
            })
            .collect();
        Timeline { bin, bins }
    }
}

/// A time as a page shows it: the UTC text, and the instant for `<time datetime>`, which
/// `static/local-time.js` shows in the reader's zone (keeping UTC in the title).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Moment {
    /// `2026-11-03T10:00:00Z`; empty when there is no time.
    pub iso: String,
    /// `2026-11-03 10:00` (UTC), or "–".
    pub text: String,
    /// The IANA zone to show it in (a workshop's), rather than the reader's.
    pub zone: Option<String>,
}

impl Moment {
    /// A stored time (`YYYY-MM-DD HH:MM:SS.SSS`, UTC), to the minute.
    pub(super) fn of(stored: Option<&str>) -> Moment {
        let valid = stored.filter(|t| t.len() >= 16 && seconds(Some(t)).is_some());
        match valid {
            Some(t) => Moment {
                iso: format!("{}T{}Z", &t[..10], t.get(11..19).unwrap_or(&t[11..16])),
                text: t[..16].to_owned(),
                zone: None,
            },
            None => Moment {
                iso: String::new(),
                text: "–".into(),
                zone: None,
            },
        }
    }

    /// The same time, shown in `zone` (an IANA name) when there is one.
    pub(super) fn in_zone(self, zone: Option<&str>) -> Moment {
        Moment {
            zone: zone.map(str::to_owned),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::timestamp::day_number;

    fn day(text: &str) -> i64 {
        day_number(Some(text))
    }

    fn labels(t: &Timeline) -> Vec<&str> {
        t.bins.iter().map(|b| b.label.as_str()).collect()
    }

    fn counts(t: &Timeline) -> Vec<i64> {
        t.bins.iter().map(|b| b.counts[0]).collect()
    }

    #[test]
    fn one_day_is_one_column() {
        let t = Timeline::new(&[(day("2026-11-03"), vec![4])], 1, Fold::Sum);
        assert_eq!(t.bin, Bin::Day);
        assert_eq!(labels(&t), ["2026-11-03"]);
        assert_eq!(counts(&t), [4]);
        assert!(Timeline::new(&[], 1, Fold::Sum).bins.is_empty());
    }

    #[test]
    fn a_month_is_days_and_days_without_data_are_zero() {
        let data = [
            (day("2026-11-30"), vec![1, 0]),
            (day("2026-11-01"), vec![2, 1]),
            (day("2026-11-03"), vec![5, 0]),
            (day("2026-11-03"), vec![1, 1]),
        ];
        let t = Timeline::new(&data, 2, Fold::Sum);
        assert_eq!(t.bin, Bin::Day);
        assert_eq!(t.bins.len(), 30);
        assert_eq!(t.bins[0].label, "2026-11-01");
        assert_eq!(t.bins[1].label, "2026-11-02");
        assert_eq!(t.bins[1].counts, [0, 0], "a gap is a zero");
        assert_eq!(t.bins[2].counts, [6, 1], "a day given twice adds up");
        assert_eq!(t.bins[29].label, "2026-11-30");
    }

    #[test]
    fn far_apart_days_stand_apart() {
        // The days of the issue: side by side as if consecutive, before.
        let data = [
            (day("2024-11-27"), vec![1]),
            (day("2025-01-03"), vec![1]),
            (day("2025-01-21"), vec![1]),
        ];
        let t = Timeline::new(&data, 1, Fold::Sum);
        assert_eq!(t.bin, Bin::Day);
        assert_eq!(t.bins.len(), 56);
        assert_eq!(counts(&t).iter().sum::<i64>(), 3);
        assert_eq!(t.bins[37].label, "2025-01-03");
        assert_eq!(t.bins[37].counts, [1]);
    }

    #[test]
    fn two_years_are_months_and_longer_spans_keep_to_the_cap() {
        let data = [
            (day("2024-12-15"), vec![3]),
            (day("2024-12-31"), vec![1]),
            (day("2026-11-27"), vec![2]),
        ];
        let t = Timeline::new(&data, 1, Fold::Sum);
        assert_eq!(t.bin, Bin::Month);
        assert_eq!(t.bins.len(), 24);
        assert_eq!(t.bins[0].label, "2024-12");
        assert_eq!(t.bins[0].counts, [4]);
        assert_eq!(t.bins[1].counts, [0]);
        assert_eq!(t.bins[23].label, "2026-11");

        // Every span from a day to 40 years keeps to the cap, by the shortest bin that does.
        let start = day("2016-01-01");
        for span in (0..40 * 366).step_by(13) {
            let t = Timeline::new(&[(start, vec![1]), (start + span, vec![1])], 1, Fold::Sum);
            assert!(t.bins.len() <= MAX_BINS, "{span} days: {}", t.bins.len());
            let expected = match span {
                0..60 => Bin::Day,
                60..400 => Bin::Week,
                _ => t.bin,
            };
            assert_eq!(t.bin, expected, "{span} days");
            assert_eq!(counts(&t).iter().sum::<i64>(), 2, "{span} days");
        }
    }

    #[test]
    fn weeks_start_on_monday_and_quarters_and_years_are_named() {
        // 2026-11-04 is a Wednesday; the span of 100 days is weeks.
        let first = day("2026-11-04");
        let t = Timeline::new(&[(first, vec![1]), (first + 100, vec![1])], 1, Fold::Sum);
        assert_eq!(t.bin, Bin::Week);
        assert_eq!(t.bins[0].label, "2026-11-02");
        assert_eq!(Bin::Week.describe(&t.bins[0].label), "week of 2026-11-02");
        assert_eq!(
            Bin::Quarter.label(Bin::Quarter.of(day("2026-11-04"))),
            "2026 Q4"
        );
        assert_eq!(Bin::Year.label(Bin::Year.of(day("2026-01-01"))), "2026");
        let t = Timeline::new(
            &[(day("2010-02-01"), vec![1]), (day("2026-11-04"), vec![1])],
            1,
            Fold::Sum,
        );
        assert_eq!(t.bin, Bin::Year);
        assert_eq!(labels(&t)[..2], ["2010", "2011"]);
    }

    #[test]
    fn a_state_keeps_its_last_value_through_a_gap() {
        let data = [
            (day("2026-11-01"), vec![1]),
            (day("2026-11-02"), vec![3]),
            (day("2026-11-05"), vec![4]),
        ];
        let t = Timeline::new(&data, 1, Fold::Last);
        assert_eq!(counts(&t), [1, 3, 3, 3, 4]);
    }

    #[test]
    fn a_moment_names_its_instant_in_utc() {
        let m = Moment::of(Some("2026-11-03 22:05:09.123"));
        assert_eq!(m.iso, "2026-11-03T22:05:09Z");
        assert_eq!(m.text, "2026-11-03 22:05");
        assert_eq!(
            Moment::of(Some("2026-11-03 22:05")).iso,
            "2026-11-03T22:05Z"
        );
        assert_eq!(Moment::of(None).text, "–");
        assert!(Moment::of(Some("garbage")).iso.is_empty());
    }
}
