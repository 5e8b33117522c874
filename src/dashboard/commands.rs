//! The one line a learner pastes to fetch the check script and run it, for POSIX shells and
//! for PowerShell, with the URL quoted for each (a `--public-url` may hold any character
//! that shell treats specially, `?` and `&` at least).

use super::query::script_url;

/// How the PowerShell line runs the script once downloaded. `python` alone is, on many
/// Windows machines, the Microsoft Store's stand-in (python.org's installer leaves PATH alone
/// unless asked) while python.org's `py` launcher is there; but `py` ignores an activated
/// conda environment, whose `python` is the one whose packages the workshop uses (Miniforge,
/// as the install instructions have it). So: `python` in a conda environment
/// (`CONDA_PREFIX`) or where there is no `py`, else `py`.
const WINDOWS_RUN: &str = "if ($env:CONDA_PREFIX -or -not (Get-Command py -ErrorAction \
                           SilentlyContinue)) { python check.py } else { py check.py }";

/// The learners' commands for one workshop (or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LearnerCommands {
    pub script_url: String,
    /// macOS and Linux (sh, bash, zsh).
    pub unix: String,
    /// Windows PowerShell and PowerShell 7.
    pub windows: String,
}

impl LearnerCommands {
    pub(crate) fn new(base_url: &str, workshop: Option<&str>) -> LearnerCommands {
        let url = script_url(base_url, workshop);
        LearnerCommands {
            unix: format!(
                "curl -fsSL {} -o check.py && python3 check.py",
                posix_quoted(&url)
            ),
            windows: format!(
                "Invoke-WebRequest -UseBasicParsing -Uri {} -OutFile check.py; {WINDOWS_RUN}",
                powershell_quoted(&url)
            ),
            script_url: url,
        }
    }
}

/// A POSIX shell word that is exactly `text`: single quotes keep everything literal, and a
/// quote inside is closed, escaped and reopened.
pub(super) fn posix_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// A PowerShell verbatim string: every kind of single quote PowerShell accepts (the typographic
/// ones too) is doubled inside it.
pub(super) fn powershell_quoted(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('\'');
    for c in text.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            quoted.push(c);
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_survive_each_shell() {
        assert_eq!(posix_quoted("a'b"), "'a'\\''b'");
        assert_eq!(powershell_quoted("a'b\u{2019}c"), "'a''b\u{2019}\u{2019}c'");
        let commands = LearnerCommands::new("http://h:8080", Some("2026-11-27 o'place"));
        assert_eq!(
            commands.unix,
            "curl -fsSL 'http://h:8080/check.py?workshop=2026-11-27+o%27place' -o check.py \
             && python3 check.py"
        );
        assert!(commands.windows.starts_with(
            "Invoke-WebRequest -UseBasicParsing -Uri 'http://h:8080/check.py?workshop="
        ));
    }

    /// Issue 23, item 10: the Windows line ran `python`, the Store's stand-in where Python
    /// came from python.org. It runs `py` there now, and `python` in a conda environment or
    /// where there is no `py`; still one line a learner pastes into PowerShell.
    #[test]
    fn the_windows_line_runs_py_unless_in_a_conda_environment() {
        let windows = LearnerCommands::new("http://h:8080", None).windows;
        assert_eq!(
            windows,
            "Invoke-WebRequest -UseBasicParsing -Uri 'http://h:8080/check.py' -OutFile \
             check.py; if ($env:CONDA_PREFIX -or -not (Get-Command py -ErrorAction \
             SilentlyContinue)) { python check.py } else { py check.py }"
        );
        assert!(!windows.contains('\n'));
        // Balanced, so PowerShell reads one statement list (its parser is not here to ask).
        for (open, close) in [('(', ')'), ('{', '}')] {
            assert_eq!(
                windows.matches(open).count(),
                windows.matches(close).count()
            );
        }
    }

    #[test]
    fn a_posix_quoted_word_is_read_back_by_sh() {
        let hostile = "it's $(echo no) `echo no` \"x\" \\ ; & | ? * ~";
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("printf %s {}", posix_quoted(hostile))])
            .output()
            .expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), hostile);
    }
}
