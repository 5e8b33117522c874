//! The checks the learner's script knows: their names, default minimum versions and the fix
//! printed for each kind of failure; and the presets, the checks of each curriculum the
//! workshop template knows. They are read from the JSON block inside
//! `contrib/check/check.py`, the file the script itself reads them from, so the server's list
//! of names, the fixes a host sees and `workshop create --curriculum` are the script's own and
//! cannot drift from it.

use crate::config::Checks;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The learner's script, with its catalog block.
pub(crate) const SCRIPT: &str = include_str!("../contrib/check/check.py");
const BEGIN: &str = "# BEGIN CHECK CATALOG\n";
const END: &str = "# END CHECK CATALOG\n";
/// What the catalog writes for "the Python that runs the script".
const PYTHON: &str = "{python}";

/// The parsed catalog; the block is compiled in, so a unit test proves it parses.
static CATALOG: LazyLock<Catalog> =
    LazyLock::new(|| Catalog::parse(SCRIPT).expect("check.py carries a valid catalog"));

/// The catalog of the script this binary serves.
pub(crate) fn catalog() -> &'static Catalog {
    &CATALOG
}

/// Every check, the default list, and the fix texts, as the script declares them.
#[derive(Debug, Deserialize)]
pub(crate) struct Catalog {
    default_checks: Vec<String>,
    /// Situation (`install`, `upgrade`, `timed_out`, `reinstall`), then kind, then template.
    fixes: BTreeMap<String, BTreeMap<String, String>>,
    checks: Vec<Entry>,
    /// The checks of each curriculum (and flavor), in the template's order.
    presets: Vec<Preset>,
}

/// The checks one curriculum's workshops need, by the workshop template's own keys
/// (`curriculum` and `flavor` in a workshop's `_config.yml`).
#[derive(Debug, Deserialize)]
pub(crate) struct Preset {
    pub curriculum: String,
    /// `python` or `r`; `None` for a curriculum that has no flavors (`lc`).
    pub flavor: Option<String>,
    /// Check specs, as `--checks` takes them.
    pub checks: Vec<String>,
    /// Where the list comes from: the template's and lessons' setup pages.
    pub sources: Vec<String>,
}

impl Preset {
    /// Its checks as one list, as `--checks` takes it and a workshop stores it.
    pub(crate) fn check_list(&self) -> String {
        self.checks.join(",")
    }
}

/// One check; the fields the server needs (the script reads more).
#[derive(Debug, Deserialize)]
pub(crate) struct Entry {
    pub name: String,
    pub human: String,
    pub kind: String,
    pub url: String,
    #[serde(default)]
    pub minimum: Option<String>,
    #[serde(default)]
    module: Option<String>,
    #[serde(default)]
    distribution: Option<String>,
    /// An install fix of its own on some systems (`platform.system()`'s names).
    #[serde(default)]
    install_on: BTreeMap<String, String>,
    /// An install fix of its own on the other systems (pip's is `python -m ensurepip`).
    #[serde(default)]
    install: Option<String>,
    /// A group's checks (`kind` "any"), tried in order; the first that passes answers.
    #[serde(default)]
    alternatives: Vec<String>,
    /// Other alternatives on some systems: on Windows only Git Bash is a shell.
    #[serde(default)]
    alternatives_on: BTreeMap<String, Vec<String>>,
}

impl Entry {
    /// The alternatives the script tries for this group on `system` (`platform.system()`'s
    /// name), in its order; empty for a check that is no group.
    pub(crate) fn alternatives_on(&self, system: &str) -> &[String] {
        self.alternatives_on
            .get(system)
            .unwrap_or(&self.alternatives)
    }
}

/// What a learner is told to do about one failure, and where to read more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fix {
    pub text: String,
    pub url: String,
}

impl Catalog {
    /// Reads the JSON between the marker lines of the script's source.
    fn parse(script: &str) -> Result<Catalog, String> {
        let start = script.find(BEGIN).ok_or("no BEGIN CHECK CATALOG line")? + BEGIN.len();
        let end = start
            + script[start..]
                .find(END)
                .ok_or("no END CHECK CATALOG line")?;
        let block = &script[start..end];
        let (open, close) = (block.find('{'), block.rfind('}'));
        let json = match (open, close) {
            (Some(open), Some(close)) if open < close => &block[open..=close],
            _ => return Err("no JSON object between the catalog markers".into()),
        };
        serde_json::from_str(json).map_err(|e| format!("the check catalog: {e}"))
    }

    /// Every check name, in the script's order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.checks.iter().map(|c| c.name.as_str())
    }

    /// The list the script runs when nobody chose one.
    pub(crate) fn default_checks(&self) -> &[String] {
        &self.default_checks
    }

    pub(crate) fn check(&self, name: &str) -> Option<&Entry> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The curricula with presets, in the catalog's order.
    pub(crate) fn curricula(&self) -> Vec<&str> {
        let mut curricula: Vec<&str> = Vec::new();
        for preset in &self.presets {
            if !curricula.contains(&preset.curriculum.as_str()) {
                curricula.push(&preset.curriculum);
            }
        }
        curricula
    }

    /// The flavors of `curriculum` (empty for one that has none), in the catalog's order.
    pub(crate) fn flavors(&self, curriculum: &str) -> Vec<&str> {
        self.presets
            .iter()
            .filter(|p| p.curriculum == curriculum)
            .filter_map(|p| p.flavor.as_deref())
            .collect()
    }

    /// The preset of `curriculum` in `flavor`: a flavor exactly where the curriculum has
    /// them. The error names the values that would do.
    pub(crate) fn preset(&self, curriculum: &str, flavor: Option<&str>) -> Result<&Preset, String> {
        let curricula = self.curricula();
        if !curricula.contains(&curriculum) {
            return Err(format!(
                "unknown curriculum {curriculum}; the curricula are: {}",
                curricula.join(", ")
            ));
        }
        let flavors = self.flavors(curriculum);
        match (flavor, flavors.as_slice()) {
            (Some(_), []) => Err(format!("curriculum {curriculum} takes no --flavor")),
            (None, [_, ..]) => Err(format!(
                "curriculum {curriculum} needs --flavor: {}",
                flavors.join(" or ")
            )),
            (Some(flavor), _) if !flavors.contains(&flavor) => Err(format!(
                "curriculum {curriculum} has no flavor {flavor}; its flavors are: {}",
                flavors.join(", ")
            )),
            _ => Ok(self
                .presets
                .iter()
                .find(|p| p.curriculum == curriculum && p.flavor.as_deref() == flavor)
                .expect("a curriculum's flavor has its preset")),
        }
    }

    /// The preset whose check list `list` is, if any (what `workshop show` names).
    pub(crate) fn preset_of(&self, list: &str) -> Option<&Preset> {
        self.presets.iter().find(|p| p.check_list() == list)
    }

    /// Refuses a list that names a check the script does not know, naming those it does.
    pub(crate) fn validate(&self, checks: &Checks) -> Result<(), String> {
        let unknown: Vec<&str> = checks
            .0
            .iter()
            .flatten()
            .map(|spec| spec.name())
            .filter(|name| self.check(name).is_none())
            .collect();
        match unknown.as_slice() {
            [] => Ok(()),
            names => Err(format!(
                "unknown check{} {}; the known checks are: {}",
                if names.len() == 1 { "" } else { "s" },
                names.join(", "),
                self.names().collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// The check a reported package name stands for: the script sends `Human (name)`.
    pub(crate) fn check_of_label(&self, label: &str) -> Option<&Entry> {
        let inner = label.strip_suffix(')')?;
        let name = &inner[inner.rfind('(')? + 1..];
        self.check(name)
            .filter(|c| label == format!("{} ({})", c.human, c.name))
    }

    /// The fix the script prints for `error` (the `error_description` it sent) on `system`,
    /// with the interpreter named as a learner on that system types it.
    pub(crate) fn fix(
        &self,
        check: &Entry,
        error: Option<&str>,
        system: Option<&str>,
        minimum: Option<&str>,
    ) -> Fix {
        let error = error.unwrap_or("");
        // "not found: Apple's command line developer tools are not installed" is a not found.
        let situation = if error.starts_with("not found") || error.starts_with("none found") {
            "install"
        } else if error.starts_with("version ") {
            "upgrade"
        } else if error == "timed out" {
            "timed_out"
        } else {
            "reinstall"
        };
        // "version 1.8 < required 2.0" names the minimum the learner's script applied.
        let minimum = error
            .split_once("< required ")
            .map(|(_, m)| m.trim())
            .or(minimum)
            .or(check.minimum.as_deref());
        let own = match (situation, system) {
            ("install", Some(system)) => check.install_on.get(system).or(check.install.as_ref()),
            ("install", None) => check.install.as_ref(),
            _ => None,
        };
        let template = own
            .or_else(|| self.fixes.get(situation)?.get(&check.kind))
            .map_or("See {url}", String::as_str);
        let python = if system == Some("Windows") {
            "python"
        } else {
            "python3"
        };
        let distribution = check
            .distribution
            .as_deref()
            .or(check.module.as_deref())
            .unwrap_or(&check.name);
        // The templates say "{human} {minimum} or newer"; without a minimum that would read
        // "SQLite a newer version or newer", so the phrase is rewritten whole.
        let template = match minimum {
            Some(_) => template.to_owned(),
            None => template
                .replace("{human} {minimum} or newer", "a newer version of {human}")
                .replace("{minimum} or newer", "a newer version")
                .replace("{minimum}", "a newer version"),
        };
        let text = template
            .replace("{human}", &check.human)
            .replace("{url}", &check.url)
            .replace("{minimum}", minimum.unwrap_or_default())
            .replace("{module}", check.module.as_deref().unwrap_or(&check.name))
            .replace("{distribution}", distribution)
            .replace(PYTHON, python);
        Fix {
            text,
            url: check.url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckSpec;
    use std::collections::BTreeSet;

    #[test]
    fn the_scripts_catalog_parses_and_is_complete() {
        let catalog = catalog();
        assert!(catalog.names().count() >= 20);
        for name in catalog.names() {
            assert!(name.parse::<CheckSpec>().is_ok(), "{name}");
        }
        for spec in catalog.default_checks() {
            let spec: CheckSpec = spec.parse().unwrap();
            assert!(catalog.check(spec.name()).is_some(), "{spec}");
        }
        // Every kind of check has a fix for every situation, using only known placeholders.
        let kinds: BTreeSet<&str> = catalog.checks.iter().map(|c| c.kind.as_str()).collect();
        assert!(kinds.contains("r-package") && kinds.contains("conda-env"));
        for situation in ["install", "upgrade", "timed_out", "reinstall"] {
            for kind in &kinds {
                let template = &catalog.fixes[situation][*kind];
                let mut rest = template.as_str();
                while let Some(open) = rest.find('{') {
                    let close = rest[open..].find('}').unwrap() + open;
                    let field = &rest[open + 1..close];
                    assert!(
                        [
                            "human",
                            "url",
                            "minimum",
                            "module",
                            "distribution",
                            "python"
                        ]
                        .contains(&field),
                        "{situation}/{kind}: {{{field}}}"
                    );
                    rest = &rest[close..];
                }
            }
        }
    }

    /// Issue 23: every preset names checks the script knows, each curriculum the template
    /// validates is there, flavors exactly where the template has them, and each preset says
    /// where its list comes from.
    #[test]
    fn every_preset_names_known_checks_and_its_sources() {
        let catalog = catalog();
        assert_eq!(
            catalog.curricula(),
            ["swc-inflammation", "swc-gapminder", "dc-ecology", "lc"]
        );
        for curriculum in ["swc-inflammation", "swc-gapminder", "dc-ecology"] {
            assert_eq!(catalog.flavors(curriculum), ["python", "r"], "{curriculum}");
        }
        assert!(catalog.flavors("lc").is_empty());
        for preset in &catalog.presets {
            let at = format!("{} {:?}", preset.curriculum, preset.flavor);
            let checks: Checks = preset.check_list().parse().unwrap();
            assert_eq!(catalog.validate(&checks), Ok(()), "{at}");
            assert_eq!(
                checks.to_string(),
                preset.check_list(),
                "{at}: stored as written"
            );
            assert!(!preset.sources.is_empty(), "{at}");
            for source in &preset.sources {
                assert!(source.starts_with("https://"), "{at}: {source}");
            }
        }
    }

    #[test]
    fn a_preset_needs_a_flavor_exactly_where_the_curriculum_has_them() {
        let catalog = catalog();
        let dc_r = catalog.preset("dc-ecology", Some("r")).unwrap();
        for check in ["r", "rstudio", "r-tidyverse", "openrefine", "dbbrowser"] {
            assert!(dc_r.checks.iter().any(|c| c == check), "{check}");
        }
        assert!(catalog.preset("lc", None).is_ok());
        let errors = [
            (
                catalog.preset("dc-ecology", None),
                "curriculum dc-ecology needs --flavor: python or r",
            ),
            (
                catalog.preset("lc", Some("r")),
                "curriculum lc takes no --flavor",
            ),
            (
                catalog.preset("swc-gapminder", Some("julia")),
                "curriculum swc-gapminder has no flavor julia; its flavors are: python, r",
            ),
            (
                catalog.preset("dc-genomics", None),
                "unknown curriculum dc-genomics; the curricula are: swc-inflammation, \
                 swc-gapminder, dc-ecology, lc",
            ),
        ];
        for (outcome, error) in errors {
            assert_eq!(outcome.unwrap_err(), error);
        }
        assert_eq!(
            catalog.preset_of(&dc_r.check_list()).map(|p| &p.curriculum),
            Some(&"dc-ecology".to_owned())
        );
        assert!(catalog.preset_of("git,make").is_none());
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let catalog = catalog();
        assert!(catalog
            .validate(&"git>=2.30,numpy?".parse().unwrap())
            .is_ok());
        assert!(catalog.validate(&Checks(None)).is_ok());
        let error = catalog
            .validate(&"git,gti,nmupy?".parse().unwrap())
            .unwrap_err();
        assert!(error.starts_with("unknown checks gti, nmupy;"), "{error}");
        assert!(error.contains("git, make, python"), "{error}");
    }

    /// Issue 19: a check without a minimum read "Install SQLite a newer version or newer".
    #[test]
    fn every_fix_says_its_minimum_once() {
        let catalog = catalog();
        let errors = [
            "not found",
            "version 1.0 < required 9.9",
            "version unknown",
            "timed out",
            "crashed",
        ];
        for check in &catalog.checks {
            for error in errors {
                for system in [None, Some("Linux"), Some("Darwin"), Some("Windows")] {
                    for minimum in [None, Some("9.9")] {
                        let fix = catalog.fix(check, Some(error), system, minimum);
                        let text = &fix.text;
                        let said = |phrase: &str| text.matches(phrase).count();
                        assert!(said("newer") <= 1, "{}: {text}", check.name);
                        assert!(said("9.9") <= 1, "{}: {text}", check.name);
                        assert!(!text.contains('{'), "{}: {text}", check.name);
                    }
                }
            }
        }
        let sqlite = catalog.check("sqlite3").unwrap();
        let text = catalog
            .fix(sqlite, Some("version unknown"), None, None)
            .text;
        assert!(
            text.starts_with("Install a newer version of SQLite: "),
            "{text}"
        );
    }

    #[test]
    fn fixes_follow_the_failure_and_the_system() {
        let catalog = catalog();
        let git = catalog.check_of_label("Git (git)").unwrap();
        assert!(catalog.check_of_label("Git (numpy)").is_none());
        assert!(catalog.check_of_label("EasyMercurial").is_none());
        let old = catalog.fix(git, Some("version 1.8.3 < required 2.30"), None, None);
        assert_eq!(
            old.text,
            "Install Git 2.30 or newer: \
             https://carpentries.github.io/workshop-template/install_instructions/#git"
        );
        let mac = catalog.fix(git, Some("not found"), Some("Darwin"), None);
        assert!(mac.text.contains("xcode-select --install"), "{}", mac.text);
        // The script's words for Apple's stand-in of git: the developer tools are missing.
        let stub = "not found: Apple's command line developer tools are not installed";
        let stub = catalog.fix(git, Some(stub), Some("Darwin"), None);
        assert_eq!(stub, mac);
        // pip has an install fix of its own everywhere, and one more for Linux.
        let pip = catalog.check("pip").unwrap();
        let windows = catalog.fix(pip, Some("not found"), Some("Windows"), None);
        assert!(windows
            .text
            .starts_with("Install pip: python -m ensurepip --upgrade"));
        let linux = catalog.fix(pip, Some("not found"), Some("Linux"), None);
        assert!(
            linux.text.contains("sudo apt install python3-pip"),
            "{}",
            linux.text
        );
        // The new kinds: an R package, a conda environment.
        let ratdat = catalog.check("r-ratdat").unwrap();
        let r = catalog.fix(ratdat, Some("not found"), Some("Windows"), None);
        assert!(r.text.contains("install.packages('ratdat')"), "{}", r.text);
        assert!(r.url.ends_with("/install_instructions/#r"));
        let numpy = catalog.check("numpy").unwrap();
        let windows = catalog.fix(numpy, Some("not found"), Some("Windows"), None);
        assert!(windows
            .text
            .starts_with("Install it: python -m pip install numpy"));
        let linux = catalog.fix(numpy, Some("import failed: boom"), Some("Linux"), None);
        assert!(linux.text.starts_with("Reinstall it; see https://"));
    }
}
