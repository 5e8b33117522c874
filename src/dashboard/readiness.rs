//! Who is ready, as the host's page asks storage for it: the workshop's required checks (its
//! own list, else the server's, else the script's default), under the names the script reports
//! them by, and the wording of systems and fixes. Storage replays the attempts
//! (`storage/readiness.rs`).

use super::pages::system_label;
use crate::catalog::catalog;
use crate::config::{CheckSpec, Checks};
use crate::storage::{Advice, PageRules, RequiredCheck};

/// The text "What to tell them" gives a check the script does not know.
const UNKNOWN_CHECK: &str = "The check script does not know this package, so it has no fix for it.";

/// The workshop's list, else the server's, else the script's own default; each check once.
pub(super) fn requirements(workshop: Option<&str>, server: &Checks) -> Vec<RequiredCheck> {
    let own: Option<Checks> = workshop.and_then(|list| list.parse().ok());
    let specs: Vec<CheckSpec> = match own.and_then(|c| c.0).or_else(|| server.0.clone()) {
        Some(specs) => specs,
        None => catalog()
            .default_checks()
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect(),
    };
    let mut seen = Vec::new();
    specs
        .iter()
        .filter(|spec| {
            let new = !seen.contains(&spec.name().to_owned());
            seen.push(spec.name().to_owned());
            new
        })
        .map(|spec| {
            let entry = catalog().check(spec.name());
            RequiredCheck {
                name: spec.name().to_owned(),
                // The script reports a check as "Human name (name)".
                label: entry.map_or_else(
                    || spec.name().to_owned(),
                    |e| format!("{} ({})", e.human, e.name),
                ),
                optional: spec.optional(),
                minimum: spec
                    .minimum()
                    .map(str::to_owned)
                    .or_else(|| entry?.minimum.clone()),
            }
        })
        .collect()
}

/// The server's checks (for workshops without a list of their own), systems as every
/// dashboard page names them, and the fixes the learner's script prints.
pub(super) struct HostRules {
    pub server_checks: Checks,
}

impl PageRules for HostRules {
    fn required(&self, own: Option<&str>) -> Vec<RequiredCheck> {
        requirements(own, &self.server_checks)
    }

    fn system(&self, system: Option<&str>, distribution: Option<&str>) -> String {
        let label = system_label(system);
        match distribution.filter(|d| !d.is_empty() && *d != label) {
            Some(d) => format!("{label} · {d}"),
            None => label,
        }
    }

    fn system_label(&self, system: Option<&str>) -> String {
        system_label(system)
    }

    fn knows(&self, label: &str) -> bool {
        catalog().check_of_label(label).is_some()
    }

    fn advice(
        &self,
        label: &str,
        error: Option<&str>,
        system: Option<&str>,
        minimum: Option<&str>,
    ) -> Advice {
        match catalog().check_of_label(label) {
            Some(check) => {
                let fix = catalog().fix(check, error, system, minimum);
                Advice {
                    text: fix.text,
                    url: Some(fix.url),
                }
            }
            None => Advice {
                text: UNKNOWN_CHECK.into(),
                url: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_are_named_as_the_script_reports_them() {
        let required = requirements(Some("git>=2.30,numpy,make?,git"), &Checks(None));
        let labels: Vec<(&str, &str, bool, Option<&str>)> = required
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.label.as_str(),
                    r.optional,
                    r.minimum.as_deref(),
                )
            })
            .collect();
        assert_eq!(labels[0], ("git", "Git (git)", false, Some("2.30")));
        assert_eq!(labels[1].1, "NumPy (numpy)");
        assert!(labels[2].2, "make is optional");
        assert_eq!(labels.len(), 3, "git once");
    }

    #[test]
    fn a_known_check_gets_the_scripts_fix_and_an_unknown_one_says_so() {
        let rules = HostRules {
            server_checks: Checks(None),
        };
        let known = rules.advice("NumPy (numpy)", Some("not found"), Some("Linux"), None);
        assert!(
            known.text.contains("python3 -m pip install numpy"),
            "{known:?}"
        );
        assert!(known.url.is_some());
        let unknown = rules.advice("numpy", Some("not found"), Some("Linux"), None);
        assert_eq!((unknown.text.as_str(), unknown.url), (UNKNOWN_CHECK, None));
        assert_eq!(
            rules.system(Some("Linux"), Some("Ubuntu 22.04")),
            "Linux · Ubuntu 22.04"
        );
        assert_eq!(rules.system(None, None), "Unknown");
    }
}
