//! One learner's machine as the script sees it, the troubles the install instructions warn
//! about, and the fixes that end them; what each check of the catalog reports on that machine.
//! The model itself is described at the top of the `generate` module.

use super::platforms::{Os, Platform, PLATFORMS};
use crate::catalog::{catalog, Entry};
use crate::report::{Failure, Package};

/// Miniforge's Python as the install instructions set it up: conda, pip and the workshop's
/// packages, and on Windows sqlite3.exe in its Library\bin.
const MINIFORGE: Python = Python {
    version: "3.12.8",
    pip: Some("24.3.1"),
    conda: Some("24.11.2"),
    sqlite: "3.47.2",
    packages: Some(["7.3.2", "2.2.1", "2.2.3", "3.10.0"]),
};
/// An Anaconda of 2022 that nobody updated: everything there, but a Python too old.
const OLD_ANACONDA: Python = Python {
    version: "3.9.13",
    pip: Some("22.2.2"),
    conda: Some("22.9.0"),
    sqlite: "3.39.3",
    packages: Some(["6.4.12", "1.21.5", "1.4.4", "3.5.2"]),
};

/// The Python that runs the script, and what it has.
#[derive(Debug, Clone, Copy)]
struct Python {
    version: &'static str,
    pip: Option<&'static str>,
    conda: Option<&'static str>,
    /// `sqlite3.sqlite_version`: the SQLite library this Python was built with.
    sqlite: &'static str,
    /// Versions of notebook, numpy, pandas, matplotlib; `None` when not installed.
    packages: Option<[&'static str; 4]>,
}

/// What a learner does about a trouble, each as the install instructions (or the fix the
/// script prints) tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fix {
    /// Windows: install Git for Windows, which brings Git Bash, nano and git.
    GitForWindows,
    /// macOS: `xcode-select --install`, which brings git and make (and Apple's Python).
    DeveloperTools,
    /// A git older than the catalog's minimum replaced with a newer one.
    NewerGit,
    /// GNU Make installed (Windows: by hand or with conda; Linux: the package manager).
    Make,
    /// Miniforge installed and the script run again from it.
    Miniforge,
    /// The workshop's packages installed with pip (or conda) into the Python at hand.
    Packages,
    /// sqlite3 installed (Windows: downloaded onto PATH; Linux: the package manager).
    Sqlite,
    /// Matplotlib reinstalled after a broken import.
    Matplotlib,
}

/// How long a fix takes, in minutes: log-normal around `median`, `sigma` wide; a share of
/// learners never gets there before their workshop.
pub(super) struct FixTime {
    pub(super) median: f64,
    pub(super) sigma: f64,
    pub(super) stuck: f64,
}

impl Fix {
    /// The time a fix takes on `os` (what the install instructions ask for: a download of
    /// minutes, a package manager's seconds, or for make on Windows, a search of days).
    pub(super) fn time(self, os: Os) -> FixTime {
        let (median, sigma, stuck) = match (self, os) {
            (Fix::GitForWindows, _) => (40.0, 1.0, 0.03),
            (Fix::DeveloperTools, _) => (90.0, 0.9, 0.03),
            (Fix::NewerGit, Os::Linux) => (1_440.0, 1.0, 0.3),
            (Fix::NewerGit, _) => (60.0, 1.0, 0.05),
            (Fix::Make, Os::Windows) => (2_880.0, 0.9, 0.5),
            (Fix::Make, _) => (10.0, 1.0, 0.05),
            (Fix::Miniforge, _) => (150.0, 1.1, 0.06),
            (Fix::Packages, _) => (20.0, 1.3, 0.04),
            (Fix::Sqlite, Os::Windows) => (1_200.0, 1.2, 0.2),
            (Fix::Sqlite, _) => (8.0, 0.9, 0.02),
            (Fix::Matplotlib, _) => (45.0, 1.0, 0.1),
        };
        FixTime {
            median,
            sigma,
            stuck,
        }
    }
}

/// A learner's machine now: what is installed. Checks are answered from it.
#[derive(Clone)]
pub(super) struct Machine {
    pub(super) platform: &'static Platform,
    /// Windows: Git for Windows (Git Bash, its nano and vim, git).
    git_for_windows: bool,
    /// macOS: Apple's command line developer tools (git, make, /usr/bin/python3).
    developer_tools: bool,
    /// The git found, when there is one (its version as the script reads it).
    git: Option<&'static str>,
    make: Option<&'static str>,
    /// Windows: an editor of its own beside Git's (VS Code's version; Notepad++ has none).
    vscode: Option<&'static str>,
    notepad: bool,
    python: Python,
    sqlite: Option<&'static str>,
    /// Matplotlib installed but its import fails (a DLL missing on Windows).
    broken_matplotlib: bool,
}

/// A fresh machine and the fixes its troubles need, in the order the learner meets them.
pub(super) fn machine(rng: &mut fastrand::Rng) -> (Machine, Vec<Fix>) {
    let mut pick = rng.f64();
    let platform = PLATFORMS
        .iter()
        .find(|p| {
            pick -= p.share;
            pick < 0.0
        })
        .unwrap_or(&PLATFORMS[0]);
    let os = platform.os;
    let git_for_windows = os == Os::Windows && rng.f64() < 0.8;
    let developer_tools = os == Os::Mac && rng.f64() < 0.7;
    let git = match os {
        Os::Windows if git_for_windows && rng.f64() < 0.05 => Some("2.17.1.windows.2"),
        Os::Windows => git_for_windows.then_some(platform.git),
        Os::Mac => developer_tools.then_some(platform.git),
        Os::Linux => (rng.f64() < 0.92).then_some(platform.git),
    };
    let make = match os {
        Os::Windows => (rng.f64() < 0.12).then_some(platform.make),
        Os::Mac => developer_tools.then_some(platform.make),
        Os::Linux => (rng.f64() < 0.75).then_some(platform.make),
    };
    let mut python = match rng.f64() {
        x if x < 0.5 => MINIFORGE,
        x if x < 0.6 => OLD_ANACONDA,
        _ => Python {
            // Without the developer tools a Mac's python3 is a stand-in: python.org's then.
            version: if os == Os::Mac && !developer_tools {
                "3.13.1"
            } else {
                platform.bare_python
            },
            pip: (rng.f64() < platform.bare_pip).then_some("24.3.1"),
            conda: None,
            sqlite: platform.sqlite,
            packages: (rng.f64() < 0.15).then_some(["7.2.2", "2.1.3", "2.2.3", "3.9.2"]),
        },
    };
    if python.conda.is_some() && python.packages.is_some() && rng.f64() < 0.12 {
        // Miniforge installed, the workshop's packages not yet.
        python.packages = None;
    }
    let conda_sqlite = os == Os::Windows && python.conda.is_some();
    let sqlite = match os {
        Os::Windows => (conda_sqlite || rng.f64() < 0.15).then_some(platform.sqlite),
        Os::Mac => Some(platform.sqlite),
        Os::Linux => (rng.f64() < 0.6).then_some(platform.sqlite),
    };
    let machine = Machine {
        platform,
        git_for_windows,
        developer_tools,
        git,
        make,
        vscode: (os == Os::Windows && rng.f64() < 0.6).then_some("1.96.0"),
        notepad: os == Os::Windows && rng.f64() < 0.15,
        python,
        sqlite,
        broken_matplotlib: os == Os::Windows && python.packages.is_some() && rng.f64() < 0.04,
    };
    let mut fixes = Vec::new();
    if os == Os::Windows && !git_for_windows {
        fixes.push(Fix::GitForWindows);
    }
    if os == Os::Mac && !developer_tools {
        fixes.push(Fix::DeveloperTools);
    }
    if machine.git.is_some_and(|v| too_old(v, "git")) {
        fixes.push(Fix::NewerGit);
    }
    if os == Os::Linux && machine.git.is_none() {
        // Linux's "sudo apt install git" gets today's git: the newer-git fix.
        fixes.push(Fix::NewerGit);
    }
    if machine.make.is_none() && os != Os::Mac {
        fixes.push(Fix::Make);
    }
    if too_old(machine.python.version, "python") || machine.python.pip.is_none() {
        fixes.push(Fix::Miniforge);
    } else if machine.python.packages.is_none() {
        fixes.push(Fix::Packages);
    }
    if machine.sqlite.is_none() {
        fixes.push(Fix::Sqlite);
    }
    if machine.broken_matplotlib {
        fixes.push(Fix::Matplotlib);
    }
    (machine, fixes)
}

/// Whether `version` is older than the catalog's minimum for `check` (none: never).
fn too_old(version: &str, check: &str) -> bool {
    let minimum = catalog().check(check).and_then(|c| c.minimum.as_deref());
    minimum.is_some_and(|m| older(version, m))
}

/// Dotted versions compared number by number, as the script's `version_tuple` does (a part
/// that is no number ends the comparison: "2.47.1.windows.1" is 2.47.1).
pub(super) fn older(version: &str, minimum: &str) -> bool {
    let numbers = |v: &str| -> Vec<u64> {
        v.split('.')
            .map_while(|part| part.parse::<u64>().ok())
            .collect()
    };
    numbers(version) < numbers(minimum)
}

impl Machine {
    /// The Python that runs the script (the `python_version` of its reports).
    pub(super) fn python_version(&self) -> &'static str {
        self.python.version
    }

    /// The machine after `fix`.
    pub(super) fn apply(&mut self, fix: Fix) {
        let platform = self.platform;
        match fix {
            Fix::GitForWindows => {
                self.git_for_windows = true;
                self.git = Some(platform.git);
            }
            Fix::DeveloperTools => {
                self.developer_tools = true;
                // Installed today, the tools bring a git newer than an old Mac's leftovers.
                self.git = Some(if too_old(platform.git, "git") {
                    "2.37.1"
                } else {
                    platform.git
                });
                self.make = Some(platform.make);
            }
            Fix::NewerGit => {
                self.git = Some(match platform.os {
                    Os::Linux => "2.47.1",
                    Os::Mac => "2.47.1",
                    Os::Windows => "2.47.1.windows.1",
                });
            }
            Fix::Make => self.make = Some("4.4.1"),
            Fix::Miniforge => {
                self.python = MINIFORGE;
                if platform.os == Os::Windows {
                    self.sqlite = self.sqlite.or(Some(MINIFORGE.sqlite));
                }
            }
            Fix::Packages => self.python.packages = Some(MINIFORGE.packages.unwrap_or_default()),
            Fix::Sqlite => self.sqlite = Some(platform.sqlite),
            Fix::Matplotlib => self.broken_matplotlib = false,
        }
    }

    /// Whether the machine answers `check` at all (every default check is modelled; a test
    /// holds the model to the catalog).
    pub(super) fn models(check: &Entry) -> bool {
        MODELLED.contains(&check.name.as_str())
    }

    /// What the script reports for `check` on this machine: the version it found, or the
    /// failure (version found, error text) in the script's own words.
    pub(super) fn outcome(&self, check: &Entry) -> Outcome {
        let os = self.platform.os;
        let tool = |found: Option<&'static str>| found.map(Some).ok_or(NOT_FOUND);
        let found = match check.name.as_str() {
            "bash" => match os {
                Os::Windows => tool(self.git_for_windows.then_some(self.platform.bash)),
                _ => tool(Some(self.platform.bash)),
            },
            "zsh" => tool((os == Os::Mac).then_some("5.9")),
            "powershell" => tool((os == Os::Windows).then_some("5.1.26100.2161")),
            "nano" => match os {
                Os::Windows => tool(self.git_for_windows.then_some(self.platform.nano)),
                _ => tool(Some(self.platform.nano)),
            },
            "vim" => match os {
                Os::Windows => tool(self.git_for_windows.then_some("9.1")),
                _ => tool(Some("9.1")),
            },
            "emacs" => tool(None),
            "vscode" => tool(self.vscode),
            "notepad-plus-plus" => self.notepad.then_some(None).ok_or(NOT_FOUND),
            "git" if os == Os::Mac && !self.developer_tools => Err(DEVELOPER_TOOLS),
            "make" if os == Os::Mac && !self.developer_tools => Err(DEVELOPER_TOOLS),
            "git" => tool(self.git),
            "make" => tool(self.make),
            "python" => tool(Some(self.python.version)),
            "pip" => tool(self.python.pip),
            "conda" => tool(self.python.conda),
            "notebook" => tool(self.package(0)),
            "jupyterlab" => tool(self.package(0).map(|_| "4.3.4")),
            "numpy" => tool(self.package(1)),
            "pandas" => tool(self.package(2)),
            "matplotlib" if self.broken_matplotlib && self.package(3).is_some() => {
                return Outcome::Failed(None, MATPLOTLIB_DLL.into())
            }
            "matplotlib" => tool(self.package(3)),
            "sqlite3" => tool(self.sqlite),
            "python-sqlite3" => tool(Some(self.python.sqlite)),
            _ if check.kind == "any" => return self.any(check),
            _ => return Outcome::Unknown,
        };
        match found {
            Ok(version) => match (version, check.minimum.as_deref()) {
                (Some(v), Some(minimum)) if older(v, minimum) => Outcome::Failed(
                    Some(v.to_owned()),
                    format!("version {v} < required {minimum}"),
                ),
                (version, _) => Outcome::Passed(version.map(str::to_owned)),
            },
            Err(error) => Outcome::Failed(None, error.to_owned()),
        }
    }

    /// A group: the first alternative the script runs on this system that passes answers
    /// with its version; else every alternative's error, as `find_any` words it.
    fn any(&self, group: &Entry) -> Outcome {
        let catalog = catalog();
        let mut reasons = Vec::new();
        for name in group.alternatives_on(self.platform.os.system()) {
            let Some(alternative) = catalog.check(name) else {
                return Outcome::Unknown;
            };
            match self.outcome(alternative) {
                Outcome::Passed(version) => return Outcome::Passed(version),
                Outcome::Failed(_, error) => reasons.push(format!("{name}: {error}")),
                Outcome::Unknown => return Outcome::Unknown,
            }
        }
        Outcome::Failed(None, format!("none found: {}", reasons.join("; ")))
    }

    fn package(&self, index: usize) -> Option<&'static str> {
        self.python.packages.map(|p| p[index])
    }
}

/// The checks (and groups' alternatives) the machine answers.
const MODELLED: &[&str] = &[
    "shell",
    "bash",
    "zsh",
    "powershell",
    "editor",
    "nano",
    "vim",
    "emacs",
    "vscode",
    "notepad-plus-plus",
    "git",
    "make",
    "python",
    "package-manager",
    "pip",
    "conda",
    "jupyter",
    "notebook",
    "jupyterlab",
    "numpy",
    "pandas",
    "matplotlib",
    "sqlite3",
    "python-sqlite3",
];

/// The script's error texts (`check.py`'s `fail` calls).
const NOT_FOUND: &str = "not found";
const DEVELOPER_TOOLS: &str = "not found: Apple's command line developer tools are not installed";
const MATPLOTLIB_DLL: &str = "import failed: ImportError: DLL load failed while importing \
                              _c_internal_utils: The specified module could not be found.";

/// What one check reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    Passed(Option<String>),
    /// The version found (when the check got that far) and the error text.
    Failed(Option<String>, String),
    /// A check the model does not know: never reported.
    Unknown,
}

impl Outcome {
    /// As the report lists it, under the script's label `Human (name)`.
    pub(super) fn into_report(self, label: &str) -> Option<Result<Package, Failure>> {
        match self {
            Outcome::Passed(version) => Some(Ok(Package {
                name: label.to_owned(),
                version,
            })),
            Outcome::Failed(version, error) => Some(Err(Failure {
                name: label.to_owned(),
                version,
                error_description: Some(error),
            })),
            Outcome::Unknown => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model answers every check the script runs by default, and each group's
    /// alternatives; a check added to the catalog's defaults fails here until it is modelled.
    #[test]
    fn every_default_check_is_modelled() {
        let catalog = catalog();
        for spec in catalog.default_checks() {
            let name = spec.trim_end_matches('?');
            let check = catalog
                .check(name)
                .expect("a default check is in the catalog");
            assert!(Machine::models(check), "{name}");
            for os in [Os::Windows, Os::Mac, Os::Linux] {
                for alternative in check.alternatives_on(os.system()) {
                    let alternative = catalog.check(alternative).unwrap();
                    assert!(Machine::models(alternative), "{name}: {}", alternative.name);
                }
            }
        }
        for name in MODELLED {
            assert!(catalog.check(name).is_some(), "{name} is the catalog's");
        }
    }

    /// Versions the model calls old are older than the catalog's minimum, and the ones its
    /// fixes bring are new enough.
    #[test]
    fn versions_compare_as_the_script_compares_them() {
        assert!(older("2.25.1", "2.28"));
        assert!(older("2.17.1.windows.2", "2.28"));
        assert!(!older("2.47.1.windows.1", "2.28"));
        assert!(older("3.10.12", "3.11"));
        assert!(!older("3.12.8", "3.11"));
        assert!(!too_old(MINIFORGE.version, "python"));
        assert!(too_old(OLD_ANACONDA.version, "python"));
    }

    /// After every fix its troubles need, a machine passes every required default check.
    #[test]
    fn the_fixes_end_the_troubles() {
        let catalog = catalog();
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..2_000 {
            let (mut machine, fixes) = machine(&mut rng);
            for fix in fixes {
                machine.apply(fix);
            }
            for spec in catalog.default_checks() {
                let check = catalog.check(spec.trim_end_matches('?')).unwrap();
                let outcome = machine.outcome(check);
                assert!(
                    matches!(outcome, Outcome::Passed(_)),
                    "{} on {}: {outcome:?}",
                    check.name,
                    machine.platform.distribution
                );
            }
        }
    }
}
