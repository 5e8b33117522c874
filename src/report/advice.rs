//! Advice from those who fixed it: what the answer to a report adds under each failed check
//! (DESIGN's wire contract), and the one line the learner reads for it. The check script
//! prints that line from the answer (`advice_line` in `contrib/check/check.py`); the host's
//! page shows the same words, written here once for the server.

use serde::Serialize;

/// Advice is given for a check on a system only when at least this many learners failed it
/// there: fewer say nothing a learner should act on, and could point at one person.
pub const MIN_ADVICE_LEARNERS: i64 = 5;
/// The versions an entry names at most, most learners first.
pub const MAX_FIXED_WITH: usize = 3;

/// One entry of the answer's `advice`: what learners who failed the check `name` on the
/// operating system `system` did. Counts learners as "What gets fixed" does: each learner
/// under the system of the attempt where they first failed the check, in every workshop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advice {
    /// The check's name exactly as the report sent it (`Git (git)`).
    pub name: String,
    /// The operating system, as `platform.system()` names it (`Windows`, `Darwin`, `Linux`).
    pub system: String,
    /// Learners who failed it on that system (at least [`MIN_ADVICE_LEARNERS`]).
    pub failed_learners: i64,
    /// Of those, learners a later attempt of whom passed it.
    pub fixed_learners: i64,
    /// The nearest-rank median of their seconds from first failure to first pass, over the
    /// fixes whose times are known; `None` when there is none.
    pub median_seconds_to_fix: Option<i64>,
    /// The versions that passed, with how many learners each, most first (then by version),
    /// at most [`MAX_FIXED_WITH`]; versions the script could not tell are left out.
    pub fixed_with: Vec<(String, i64)>,
}

impl Advice {
    /// The learner's line: "38 of 45 learners on Windows fixed this, half of them within 2
    /// hours; most ended with Git 2.43." with `human` the check's name for people (`Git`).
    /// Word for word what `check.py`'s `advice_line` prints for the same entry
    /// (tests/advice.rs runs both on the same entries); `None` where the script prints
    /// nothing (no learner failed it).
    pub fn line(&self, human: &str) -> Option<String> {
        let system = if self.system.is_empty() {
            "your system"
        } else {
            &self.system
        };
        let failed = self.failed_learners;
        if failed <= 0 || self.fixed_learners < 0 {
            return None;
        }
        if self.fixed_learners == 0 {
            return Some(format!(
                "None of {failed} learners on {system} has fixed this yet."
            ));
        }
        let mut line = format!(
            "{} of {failed} learners on {system} fixed this",
            self.fixed_learners
        );
        // A negative time (checks whose clock ran backwards) says nothing: the script skips it.
        if let Some(median) = self.median_seconds_to_fix.filter(|m| *m >= 0) {
            line.push_str(&format!(", half of them within {}", in_words(median)));
        }
        // Versions count by major.minor (2.43.0 and 2.43.1 are both "2.43"), most learners
        // first; on a tie the first listed.
        let mut counts: Vec<(&str, i64)> = Vec::new();
        for (version, learners) in &self.fixed_with {
            let short = short_version(version);
            if short.is_empty() || *learners < 0 {
                continue;
            }
            match counts.iter_mut().find(|(v, _)| *v == short) {
                Some((_, n)) => *n += learners,
                None => counts.push((short, *learners)),
            }
        }
        let mut most: Option<(&str, i64)> = None;
        for &(version, n) in &counts {
            if most.is_none_or(|(_, m)| n > m) {
                most = Some((version, n));
            }
        }
        if let Some((version, _)) = most {
            line.push_str(&format!("; most ended with {human} {version}"));
        }
        line.push('.');
        Some(line)
    }
}

/// A dotted version cut to major.minor ("2.43.0.windows.1" is "2.43"); others as they are.
/// The script's `(\d+\.\d+)(?:\.|$)`, with ASCII digits (versions are ASCII in practice).
fn short_version(version: &str) -> &str {
    let digits = |from: usize| {
        version[from..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(version.len(), |n| from + n)
    };
    let major = digits(0);
    if major == 0 || !version[major..].starts_with('.') {
        return version;
    }
    let minor = digits(major + 1);
    if minor == major + 1 {
        return version;
    }
    if minor == version.len() || version[minor..].starts_with('.') {
        &version[..minor]
    } else {
        version
    }
}

/// A time to fix in words: "1 minute", "25 minutes", "2 hours", "3 days"; rounded half to
/// even, as Python's `round` does.
fn in_words(seconds: i64) -> String {
    for (unit, size, up_to) in [
        ("minute", 60.0, Some(60.0)),
        ("hour", 3600.0, Some(48.0)),
        ("day", 86400.0, None),
    ] {
        let count = (seconds as f64 / size).round_ties_even().max(1.0);
        if up_to.is_none_or(|limit| count < limit) {
            let s = if count == 1.0 { "" } else { "s" };
            return format!("{count} {unit}{s}");
        }
    }
    unreachable!("days have no upper limit")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advice(failed: i64, fixed: i64, median: Option<i64>, with: &[(&str, i64)]) -> Advice {
        Advice {
            name: "Git (git)".into(),
            system: "Windows".into(),
            failed_learners: failed,
            fixed_learners: fixed,
            median_seconds_to_fix: median,
            fixed_with: with.iter().map(|(v, n)| ((*v).to_owned(), *n)).collect(),
        }
    }

    #[test]
    fn the_line_is_the_scripts() {
        assert_eq!(
            advice(45, 38, Some(7200), &[("2.43.0", 20), ("2.42.0", 9)])
                .line("Git")
                .unwrap(),
            "38 of 45 learners on Windows fixed this, half of them within 2 hours; most ended \
             with Git 2.43."
        );
        assert_eq!(
            advice(7, 0, None, &[]).line("Git").unwrap(),
            "None of 7 learners on Windows has fixed this yet."
        );
        assert_eq!(
            advice(5, 2, Some(-30), &[]).line("Git").unwrap(),
            "2 of 5 learners on Windows fixed this."
        );
        // 2.43.0 and 2.43.1 add up and beat 2.44.0.
        assert_eq!(
            advice(
                9,
                9,
                Some(0),
                &[("2.44.0", 5), ("2.43.0", 3), ("2.43.1", 3)]
            )
            .line("Git")
            .unwrap(),
            "9 of 9 learners on Windows fixed this, half of them within 1 minute; most ended \
             with Git 2.43."
        );
    }

    #[test]
    fn durations_round_half_to_even_as_python_does() {
        assert_eq!(in_words(90), "2 minutes");
        assert_eq!(in_words(150), "2 minutes");
        assert_eq!(in_words(3570), "1 hour");
        assert_eq!(in_words(9000), "2 hours");
        assert_eq!(in_words(48 * 3600), "2 days");
        assert_eq!(in_words(47 * 3600 + 1700), "47 hours");
    }

    #[test]
    fn versions_shorten_to_major_minor_only_when_dotted() {
        for (version, short) in [
            ("2.43.0.windows.1", "2.43"),
            ("2.43", "2.43"),
            ("3.11.7", "3.11"),
            ("2.43rc1", "2.43rc1"),
            ("11", "11"),
            ("v2.1", "v2.1"),
            ("1.", "1."),
            ("", ""),
        ] {
            assert_eq!(short_version(version), short, "{version}");
        }
    }
}
