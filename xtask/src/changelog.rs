//! The Debian changelog the package carries (`/usr/share/doc/PACKAGE/changelog.gz`: a native
//! package's name for it; lintian, `apt changelog` and apt-listchanges read it), made from
//! CHANGELOG.md, so the project keeps one changelog, in Keep a Changelog form.
//!
//! Each released version (`## [0.2.0] - 2026-12-03`) becomes an entry, newest first. While the
//! package's version has no heading of its own yet, `[Unreleased]` stands on top as that
//! version, `UNRELEASED` in Debian's words, dated the day it is built (or `SOURCE_DATE_EPOCH`).

/// Debian wants changelog lines under 80 characters.
const WIDTH: usize = 78;

/// One `## [...]` section of CHANGELOG.md.
struct Section<'a> {
    name: &'a str,
    /// `YYYY-MM-DD`, for a released version.
    date: Option<&'a str>,
    lines: Vec<&'a str>,
}

/// The Debian changelog for `version`, maintained by `maintainer` ("Name <email>"), from the
/// text of CHANGELOG.md; `today` is in days since 1970-01-01.
pub fn debian(
    markdown: &str,
    package: &str,
    version: &str,
    maintainer: &str,
    today: i64,
) -> String {
    let sections = sections(markdown);
    let released = sections.iter().any(|s| s.name == version);
    let mut out = String::new();
    for section in &sections {
        let (entry_version, distribution, day) = match (section.name, section.date) {
            ("Unreleased", _) if released => continue,
            ("Unreleased", _) => (version, "UNRELEASED", today),
            (name, Some(date)) => (name, "unstable", day_number(date).unwrap_or(today)),
            (_, None) => continue,
        };
        out.push_str(&format!(
            "{package} ({entry_version}) {distribution}; urgency=medium\n\n"
        ));
        let body = body(&section.lines);
        out.push_str(if body.is_empty() {
            "  * No changes.\n"
        } else {
            &body
        });
        out.push_str(&format!("\n -- {maintainer}  {}\n\n", rfc2822(day)));
    }
    out
}

fn sections(markdown: &str) -> Vec<Section<'_>> {
    let mut sections: Vec<Section> = Vec::new();
    for line in markdown.lines() {
        if let Some(heading) = line.strip_prefix("## [") {
            let (name, rest) = heading.split_once(']').unwrap_or((heading, ""));
            let date = rest.strip_prefix(" - ").map(str::trim);
            sections.push(Section {
                name,
                date,
                lines: Vec::new(),
            });
        } else if let Some(section) = sections.last_mut() {
            // `[0.2.0]: https://...` link definitions close the file; they are not changes.
            if !line.starts_with('[') {
                section.lines.push(line);
            }
        }
    }
    sections
}

/// `### Added` becomes `[ Added ]`, each `- item` (with its continuation lines) a `* item`
/// wrapped to [`WIDTH`].
fn body(lines: &[&str]) -> String {
    let mut out = String::new();
    let mut item = String::new();
    let flush = |item: &mut String, out: &mut String| {
        if !item.is_empty() {
            out.push_str(&wrap(item, "  * ", "    "));
            item.clear();
        }
    };
    for line in lines {
        if let Some(heading) = line.strip_prefix("### ") {
            flush(&mut item, &mut out);
            out.push_str(&format!("  [ {} ]\n", heading.trim()));
        } else if let Some(start) = line.strip_prefix("- ") {
            flush(&mut item, &mut out);
            item.push_str(start.trim());
        } else if !line.trim().is_empty() && !item.is_empty() {
            item.push(' ');
            item.push_str(line.trim());
        } else {
            flush(&mut item, &mut out);
        }
    }
    flush(&mut item, &mut out);
    out
}

/// The words of `text` in lines of at most [`WIDTH`] characters (a longer word stands alone).
fn wrap(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (Howard Hinnant's `days_from_civil`).
fn day_number(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// Midnight UTC of a day in the form Debian changelogs use: `Thu, 03 Dec 2026 00:00:00 +0000`
/// (Howard Hinnant's `civil_from_days`).
fn rfc2822(day: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let d = day_of_year - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = year_of_era + era * 400 + i64::from(m <= 2);
    format!(
        "{}, {d:02} {} {y} 00:00:00 +0000",
        WEEKDAYS[day.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKDOWN: &str = "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n### Added\n\
        - A Debian package, with its units, man pages and completions, that installs and \
        runs like any other service on Debian and Ubuntu machines.\n\n\
        ## [0.1.0] - 2026-11-27\n\n### Fixed\n- One thing,\n  over two lines.\n\n\
        [0.1.0]: https://example.org/0.1.0\n";

    #[test]
    fn unreleased_changes_stand_as_the_version_being_built() {
        let text = debian(MARKDOWN, "ras", "0.2.0", "M <m@example.org>", 20_790);
        let expected = "\
ras (0.2.0) UNRELEASED; urgency=medium

  [ Added ]
  * A Debian package, with its units, man pages and completions, that installs
    and runs like any other service on Debian and Ubuntu machines.

 -- M <m@example.org>  Thu, 03 Dec 2026 00:00:00 +0000

ras (0.1.0) unstable; urgency=medium

  [ Fixed ]
  * One thing, over two lines.

 -- M <m@example.org>  Fri, 27 Nov 2026 00:00:00 +0000

";
        assert_eq!(text, expected);
        assert!(text.lines().all(|line| line.len() <= WIDTH));
    }

    #[test]
    fn a_released_version_leaves_unreleased_out() {
        let released = MARKDOWN.replace("## [0.1.0]", "## [0.2.0] - 2026-12-03\n\n## [0.1.0]");
        let text = debian(&released, "ras", "0.2.0", "M <m@example.org>", 0);
        assert!(text.starts_with("ras (0.2.0) unstable; urgency=medium\n\n  * No changes.\n"));
        assert!(!text.contains("UNRELEASED") && !text.contains("A Debian package"));
    }

    #[test]
    fn days_and_dates_agree() {
        for (date, day, text) in [
            ("1970-01-01", 0, "Thu, 01 Jan 1970"),
            ("2000-02-29", 11_016, "Tue, 29 Feb 2000"),
            ("2026-12-03", 20_790, "Thu, 03 Dec 2026"),
        ] {
            assert_eq!(day_number(date), Some(day), "{date}");
            assert_eq!(rfc2822(day), format!("{text} 00:00:00 +0000"), "{date}");
        }
        assert_eq!(day_number("2026-13-01"), None);
    }
}
