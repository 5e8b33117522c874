//! Times as the database stores them: `YYYY-MM-DD HH:MM:SS.SSS`, UTC, the form SQLite's
//! `strftime('%Y-%m-%d %H:%M:%f')` writes, so a text sort is a time sort and the first ten
//! characters are the day.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, as stored.
pub(crate) fn now() -> String {
    of(SystemTime::now())
}

/// A time as stored (a time before 1970 as 1970's first instant).
pub(crate) fn of(time: SystemTime) -> String {
    at(time.duration_since(UNIX_EPOCH).unwrap_or_default())
}

/// The stored form of a time since the Unix epoch.
pub(crate) fn at(since_epoch: Duration) -> String {
    let seconds = since_epoch.as_secs();
    let (y, m, d) = civil_date(seconds / 86_400);
    let of_day = seconds % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since_epoch.subsec_millis()
    )
}

/// The day tallies use for a time nobody recorded.
pub(crate) const UNKNOWN_DAY: i64 = -1;

/// The day of a stored time as a number (days since 1970-01-01), which is what SQL's
/// `CAST(julianday(substr(t, 1, 10)) - 2440587.5 AS INTEGER)` computes; [`UNKNOWN_DAY`] when
/// there is none.
pub(crate) fn day_number(stored: Option<&str>) -> i64 {
    let Some(date) = stored.and_then(|t| t.get(..10)) else {
        return UNKNOWN_DAY;
    };
    let bytes = date.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes[range.clone()]
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| date[range].parse::<i64>().ok())
            .flatten()
    };
    match (
        bytes[4],
        bytes[7],
        digits(0..4),
        digits(5..7),
        digits(8..10),
    ) {
        (b'-', b'-', Some(y), Some(m @ 1..=12), Some(d @ 1..=31)) => days_from_civil(y, m, d),
        _ => UNKNOWN_DAY,
    }
}

/// Seconds since the Unix epoch of a stored time, fractions dropped (as SQL's
/// `strftime('%s', t)`); `None` when there is no time or it is not one.
pub(crate) fn seconds(stored: Option<&str>) -> Option<i64> {
    let stored = stored?;
    let day = day_number(Some(stored));
    if day == UNKNOWN_DAY {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        stored
            .get(range)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<i64>().ok())
    };
    // A date alone is midnight; hours, minutes and seconds when they are there.
    let (h, m, s) = match stored.len() {
        10 => (0, 0, 0),
        _ => (
            number(11..13)?,
            number(14..16)?,
            number(17..19).unwrap_or(0),
        ),
    };
    Some(day * 86_400 + h * 3600 + m * 60 + s)
}

/// A time zone by its IANA name (`Australia/Melbourne`), from the system's tzdb
/// (`/usr/share/zoneinfo`, which jiff reads and re-reads as it changes); `None` when the name
/// is not one.
pub(crate) fn zone(name: &str) -> Option<jiff::tz::TimeZone> {
    jiff::tz::db().get(name).ok()
}

/// The day of a stored time on `zone`'s wall clocks (UTC's when there is none), as
/// [`day_number`] counts days; [`UNKNOWN_DAY`] when there is no time.
pub(crate) fn local_day(stored: Option<&str>, zone: Option<&jiff::tz::TimeZone>) -> i64 {
    let Some(zone) = zone else {
        return day_number(stored);
    };
    let Some(at) = seconds(stored).and_then(|s| jiff::Timestamp::from_second(s).ok()) else {
        return day_number(stored);
    };
    let date = zone.to_datetime(at).date();
    days_from_civil(
        i64::from(date.year()),
        i64::from(date.month()),
        i64::from(date.day()),
    )
}

/// `YYYY-MM-DD` of a day number.
pub(crate) fn day_text(day: i64) -> String {
    let (y, m, d) = civil_date(day.max(0) as u64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 of a Gregorian date (Howard Hinnant's days_from_civil); a day past
/// the month's end carries into the next month, as SQLite's julianday does.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The Gregorian date of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
pub(crate) fn civil_date(days: u64) -> (i64, u32, u32) {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_round_trip() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(19_782), (2024, 2, 29));
        assert_eq!(civil_date(20_784), (2026, 11, 27));
        let t = at(Duration::from_millis(1_700_000_000_123));
        assert_eq!(t, "2023-11-14 22:13:20.123");
        assert_eq!(day_text(day_number(Some(&t))), "2023-11-14");
        assert_eq!(day_number(Some("1970-01-01")), 0);
        assert_eq!(day_number(Some("2024-02-29 10:00")), 19_782);
        assert_eq!(day_number(None), UNKNOWN_DAY);
        assert_eq!(day_number(Some("2024-13-01")), UNKNOWN_DAY);
        assert_eq!(day_number(Some("garbage!!!")), UNKNOWN_DAY);
        assert_eq!(seconds(Some(&t)), Some(1_700_000_000));
        assert_eq!(seconds(Some("1970-01-02")), Some(86_400));
        assert_eq!(seconds(Some("1970-01-01 01:02")), Some(3720));
        assert_eq!(seconds(None), None);
        assert_eq!(seconds(Some("not a time")), None);
        let melbourne = zone("Australia/Melbourne").expect("the system's tzdb");
        let late = Some("2026-11-20 22:00:00.000");
        assert_eq!(day_text(local_day(late, None)), "2026-11-20");
        assert_eq!(day_text(local_day(late, Some(&melbourne))), "2026-11-21");
        assert_eq!(local_day(None, Some(&melbourne)), UNKNOWN_DAY);
        assert!(zone("Mars/Olympus").is_none());
        assert!(
            zone("../../../etc/passwd").is_none(),
            "a name, never a path"
        );
        let spelled = zone("australia/melbourne").unwrap();
        assert_eq!(spelled.iana_name(), Some("Australia/Melbourne"));
    }
}
