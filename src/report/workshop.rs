//! A workshop id: one rule for every door it comes in by (a report, `workshop create`,
//! `/check.py?workshop=`, the landing page's `/?workshop=`), so no door accepts an id another
//! refuses, and no host can register an id whose reports would be stored under another name.

use super::text::{clean, is_unclean, Lines};
use super::MAX_SYSTEM_FIELD_CHARS;
use std::fmt;

/// A workshop id as stored: trimmed, not empty, at most [`MAX_SYSTEM_FIELD_CHARS`]
/// characters, and nothing in it that cleaning would remove or change (controls, terminal
/// escapes, line breaks, tabs, bidirectional controls, U+FEFF). Angle brackets, quotes and
/// inner spaces are allowed: they are escaped, quoted or percent-encoded wherever shown.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkshopId(String);

/// Why a text is not a workshop id; its message names the problem, never the text itself
/// (which may hold terminal escapes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkshopIdError {
    /// Nothing but whitespace.
    Empty,
    /// More characters than [`MAX_SYSTEM_FIELD_CHARS`].
    TooLong(usize),
    /// A character cleaning would remove or change.
    Character {
        /// Its code point.
        code: u32,
        /// Where it is in the trimmed id, counting characters from 1.
        position: usize,
    },
}

impl fmt::Display for WorkshopIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkshopIdError::Empty => f.write_str("a workshop id may not be empty"),
            WorkshopIdError::TooLong(chars) => write!(
                f,
                "a workshop id may hold at most {MAX_SYSTEM_FIELD_CHARS} characters, not {chars}"
            ),
            WorkshopIdError::Character { code, position } => write!(
                f,
                "a workshop id may not hold control, line-break or direction characters \
                 (U+{code:04X} at position {position})"
            ),
        }
    }
}

impl std::error::Error for WorkshopIdError {}

impl WorkshopId {
    /// The id a host or a learner typed, checked: surrounding whitespace is trimmed; what
    /// cleaning would change is refused, not cleaned, so the id shown is the id stored.
    pub fn parse(text: &str) -> Result<WorkshopId, WorkshopIdError> {
        let id = text.trim();
        if id.is_empty() {
            return Err(WorkshopIdError::Empty);
        }
        let chars = id.chars().count();
        if chars > MAX_SYSTEM_FIELD_CHARS {
            return Err(WorkshopIdError::TooLong(chars));
        }
        if let Some((at, c)) = id.chars().enumerate().find(|&(_, c)| is_unclean(c)) {
            return Err(WorkshopIdError::Character {
                code: u32::from(c),
                position: at + 1,
            });
        }
        debug_assert_eq!(clean(id, Lines::One), id, "the rule is cleaning's own");
        Ok(WorkshopId(id.to_owned()))
    }

    /// The id a report carries, cleaned as every one-line field is; `None` when nothing is
    /// left. A report is never refused for its workshop id (its length is checked with the
    /// other fields', as received).
    pub fn from_report(text: &str) -> Option<WorkshopId> {
        WorkshopId::parse(&clean(text, Lines::One)).ok()
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// The day a workshop id names, by the Carpentries' convention of starting it with the date
/// (`2026-12-03-melbourne`); `None` when it starts with no valid date.
pub fn workshop_date(id: &str) -> Option<jiff::civil::Date> {
    let date = id.get(..10)?;
    let rest = &id[10..];
    let shaped = date.bytes().enumerate().all(|(i, b)| {
        if i == 4 || i == 7 {
            b == b'-'
        } else {
            b.is_ascii_digit()
        }
    });
    if !shaped || rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    date.parse().ok()
}

impl fmt::Display for WorkshopId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_cleaning_would_change_is_refused_with_its_code_and_place() {
        assert_eq!(
            WorkshopId::parse("intro\u{200f}-x").unwrap_err(),
            WorkshopIdError::Character {
                code: 0x200F,
                position: 6
            }
        );
        let message = WorkshopId::parse("a\u{1b}[31mb").unwrap_err().to_string();
        assert_eq!(
            message,
            "a workshop id may not hold control, line-break or direction characters \
             (U+001B at position 2)"
        );
        for bad in [
            "a\nb",
            "a\tb",
            "a\u{202e}b",
            "\u{feff}a",
            "a\u{7f}",
            "a\u{2028}b",
        ] {
            assert!(
                matches!(
                    WorkshopId::parse(bad),
                    Err(WorkshopIdError::Character { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn markup_quotes_and_inner_spaces_are_an_id_like_any_other() {
        for id in [
            "intro <python>",
            "2026-11-27-place",
            "\"quoted\" & 'single'",
            "ünïcødé 工作坊",
            "a  b",
            ".",
        ] {
            assert_eq!(WorkshopId::parse(id).unwrap().as_str(), id);
        }
        assert_eq!(WorkshopId::parse("  x \n").unwrap().as_str(), "x");
    }

    #[test]
    fn empty_and_too_long_are_refused_at_every_door() {
        assert_eq!(WorkshopId::parse(" \t "), Err(WorkshopIdError::Empty));
        let longest = "w".repeat(MAX_SYSTEM_FIELD_CHARS);
        assert!(WorkshopId::parse(&longest).is_ok());
        assert_eq!(
            WorkshopId::parse(&format!("{longest}w")),
            Err(WorkshopIdError::TooLong(MAX_SYSTEM_FIELD_CHARS + 1))
        );
    }

    #[test]
    fn a_date_at_the_start_of_an_id_is_its_day() {
        let day = |y, m, d| Some(jiff::civil::date(y, m, d));
        assert_eq!(workshop_date("2026-12-03-melbourne"), day(2026, 12, 3));
        assert_eq!(workshop_date("2026-12-03"), day(2026, 12, 3));
        assert_eq!(workshop_date("2016-08-13 place"), day(2016, 8, 13));
        for none in [
            "melbourne-2026-12-03",
            "2026-13-03-x",
            "2026-02-30-x",
            "2026-12-031",
            "2026-1-3-x",
            "2026",
            "工作坊-12-03-x",
            "",
        ] {
            assert_eq!(workshop_date(none), None, "{none:?}");
        }
    }

    #[test]
    fn a_reports_id_is_cleaned_not_refused() {
        assert_eq!(
            WorkshopId::from_report("2026-11-27-\u{202e}ecalp")
                .unwrap()
                .as_str(),
            "2026-11-27-ecalp"
        );
        assert_eq!(
            WorkshopId::from_report("x\r\nSet-Cookie: a=b")
                .unwrap()
                .as_str(),
            "x Set-Cookie: a=b"
        );
        assert_eq!(WorkshopId::from_report("\u{1b}[0m \n"), None);
    }
}
