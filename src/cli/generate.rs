//! `generate`: fills a database with realistic synthetic reports, so anyone can reproduce the
//! benchmarks (and try the dashboard) without learners. Deterministic for a given seed.

use super::args::DEFAULT_DB;
use crate::config::Location;
use crate::report::{Failure, Package, Report, SystemInfo};
use crate::storage::Store;
use clap::Args;
use std::process::ExitCode;
use std::time::Instant;
use uuid::Uuid;

/// Reports written per transaction: large enough that commits are not the cost.
const CHUNK: usize = 5_000;

/// The flags of `generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// SQLite database file to fill (created if missing; existing rows are kept)
    #[arg(
        long,
        env = "RAS_DB",
        value_name = "PATH",
        default_value = DEFAULT_DB
    )]
    pub db: String,
    /// Submissions (attempts) to write
    #[arg(long, default_value_t = 10_000)]
    pub submissions: usize,
    /// Distinct learners among them (default: 30% of the submissions)
    #[arg(long)]
    pub learners: Option<usize>,
    /// Workshops the learners belong to
    #[arg(long, default_value_t = 40)]
    pub workshops: usize,
    /// Days the submissions are spread over, ending today
    #[arg(long, default_value_t = 730)]
    pub days: u32,
    /// Seed of the random choices (the same seed writes the same reports)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// A check as the learner's script reports it: label, versions seen, and how often it fails
/// on Windows, macOS and Linux.
struct Check {
    label: &'static str,
    versions: &'static [&'static str],
    fails: [f64; 3],
}

const CHECKS: &[Check] = &[
    Check {
        label: "Bash (bash)",
        versions: &["5.2.15", "5.1.16", "3.2.57", "4.4.20"],
        fails: [0.08, 0.01, 0.0],
    },
    Check {
        label: "GNU nano (nano)",
        versions: &["7.2", "6.2", "5.4", "2.0.6"],
        fails: [0.15, 0.02, 0.02],
    },
    Check {
        label: "Vim (vim)",
        versions: &["9.0", "8.2", "9.1"],
        fails: [0.30, 0.01, 0.05],
    },
    Check {
        label: "Visual Studio Code (vscode)",
        versions: &["1.85.1", "1.84.2", "1.86.0"],
        fails: [0.25, 0.30, 0.40],
    },
    Check {
        label: "Git (git)",
        versions: &["2.43.0", "2.39.2", "2.34.1", "2.25.1", "1.8.3"],
        fails: [0.12, 0.05, 0.03],
    },
    Check {
        label: "GNU Make (make)",
        versions: &["4.3", "3.81", "4.4.1"],
        fails: [0.55, 0.10, 0.05],
    },
    Check {
        label: "Python (python)",
        versions: &["3.11.7", "3.12.1", "3.10.12", "3.9.18", "3.7.9"],
        fails: [0.06, 0.05, 0.04],
    },
    Check {
        label: "pip (pip)",
        versions: &["23.3.2", "24.0", "22.0.2"],
        fails: [0.05, 0.04, 0.08],
    },
    Check {
        label: "conda (conda)",
        versions: &["23.11.0", "24.1.2", "4.12.0"],
        fails: [0.20, 0.15, 0.35],
    },
    Check {
        label: "Jupyter Notebook (notebook)",
        versions: &["7.0.6", "6.5.4", "7.1.0"],
        fails: [0.10, 0.08, 0.15],
    },
    Check {
        label: "JupyterLab (jupyterlab)",
        versions: &["4.0.10", "3.6.5", "4.1.0"],
        fails: [0.12, 0.10, 0.18],
    },
    Check {
        label: "NumPy (numpy)",
        versions: &["1.26.3", "1.24.4", "2.0.0", "1.21.5"],
        fails: [0.07, 0.06, 0.10],
    },
    Check {
        label: "pandas (pandas)",
        versions: &["2.1.4", "2.0.3", "1.5.3"],
        fails: [0.08, 0.07, 0.12],
    },
    Check {
        label: "Matplotlib (matplotlib)",
        versions: &["3.8.2", "3.7.4", "3.5.1"],
        fails: [0.09, 0.08, 0.14],
    },
    Check {
        label: "SciPy (scipy)",
        versions: &["1.11.4", "1.10.1", "1.8.0"],
        fails: [0.10, 0.09, 0.12],
    },
    Check {
        label: "seaborn (seaborn)",
        versions: &["0.13.1", "0.12.2"],
        fails: [0.12, 0.11, 0.15],
    },
    Check {
        label: "scikit-learn (scikit-learn)",
        versions: &["1.3.2", "1.4.0", "1.2.2"],
        fails: [0.11, 0.10, 0.14],
    },
    Check {
        label: "SQLite (sqlite3)",
        versions: &["3.45.0", "3.43.2", "3.37.2", "3.31.1"],
        fails: [0.45, 0.03, 0.08],
    },
    Check {
        label: "Python sqlite3 module (python-sqlite3)",
        versions: &["3.45.0", "3.40.1"],
        fails: [0.02, 0.01, 0.02],
    },
    Check {
        label: "R (r)",
        versions: &["4.3.2", "4.2.3", "4.1.2", "3.6.3"],
        fails: [0.20, 0.18, 0.22],
    },
    Check {
        label: "RStudio (rstudio)",
        versions: &["2023.12.0", "2023.09.1"],
        fails: [0.25, 0.22, 0.35],
    },
    Check {
        label: "Zsh (zsh)",
        versions: &["5.9", "5.8.1"],
        fails: [0.90, 0.01, 0.40],
    },
    Check {
        label: "PowerShell (powershell)",
        versions: &["7.4.1", "5.1.22621"],
        fails: [0.01, 0.85, 0.90],
    },
    Check {
        label: "GNU Emacs (emacs)",
        versions: &["29.1", "28.2", "27.1"],
        fails: [0.80, 0.60, 0.40],
    },
    Check {
        label: "Git Bash (git-bash)",
        versions: &["2.43.0.windows.1", "2.39.2.windows.1"],
        fails: [0.10, 0.95, 0.95],
    },
];

/// Operating systems as the script reports them: (system, distribution, versions, machine, share).
const SYSTEMS: &[(&str, &str, &[&str], &str, f64)] = &[
    ("Windows", "Windows", &["10", "11"], "AMD64", 0.45),
    (
        "Darwin",
        "macOS",
        &["14.2.1", "13.6.3", "12.7.2"],
        "arm64",
        0.35,
    ),
    (
        "Linux",
        "Ubuntu",
        &["22.04", "20.04", "24.04"],
        "x86_64",
        0.14,
    ),
    ("Linux", "Fedora Linux", &["39", "38"], "x86_64", 0.04),
    ("Linux", "Debian GNU/Linux", &["12", "11"], "aarch64", 0.02),
];

/// One synthetic learner: a machine and a workshop, kept across their attempts.
struct Learner {
    key: Option<Uuid>,
    os: usize,
    distribution_version: &'static str,
    python: &'static str,
    workshop: String,
    first_day: u32,
}

/// `generate`: writes the synthetic reports and says how fast it went.
pub fn generate(args: GenerateArgs) -> ExitCode {
    let learners = args.learners.unwrap_or(args.submissions * 3 / 10).max(1);
    let location = Location::parse(&args.db);
    let store = match Store::open(&location) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("cannot open {location}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut rng = fastrand::Rng::with_seed(args.seed);
    let today = days_since_epoch();
    let mut people: Vec<Learner> = Vec::with_capacity(learners);
    let started = Instant::now();
    let mut written = 0;
    while written < args.submissions {
        let count = CHUNK.min(args.submissions - written);
        let mut chunk = Vec::with_capacity(count);
        let mut owners = Vec::with_capacity(count);
        // Learners from earlier chunks have their keys; only they can come back.
        let keyed = people.len();
        for n in written..written + count {
            // The first `learners` submissions are first attempts; the rest come back.
            let who = if n < learners || keyed == 0 {
                people.push(new_learner(&mut rng, args.workshops, args.days));
                people.len() - 1
            } else {
                rng.usize(..keyed)
            };
            let retry = people[who].key.is_some();
            let at = timestamp(today, &people[who], args.days, retry, &mut rng);
            chunk.push((report(&people[who], retry, &mut rng), at));
            owners.push(who);
        }
        match runtime.block_on(store.record_batch(chunk)) {
            Ok(receipts) => {
                for (who, receipt) in owners.into_iter().zip(receipts) {
                    people[who].key = Some(receipt.key);
                }
            }
            Err(e) => {
                eprintln!("writing to {location} failed after {written} submissions: {e}");
                store.close();
                return ExitCode::FAILURE;
            }
        }
        written += count;
    }
    store.close();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "wrote {written} submissions from {} learners in {} workshops to {location} in {seconds:.1} s ({:.0}/s)",
        people.len(),
        args.workshops,
        written as f64 / seconds
    );
    ExitCode::SUCCESS
}

fn new_learner(rng: &mut fastrand::Rng, workshops: usize, days: u32) -> Learner {
    let mut pick = rng.f64();
    let os = SYSTEMS
        .iter()
        .position(|s| {
            pick -= s.4;
            pick < 0.0
        })
        .unwrap_or(0);
    let pythons = ["3.11.7", "3.12.1", "3.10.12", "3.9.18", "3.8.10"];
    Learner {
        key: None,
        os,
        distribution_version: SYSTEMS[os].2[rng.usize(..SYSTEMS[os].2.len())],
        python: pythons[rng.usize(..pythons.len())],
        workshop: {
            let w = rng.usize(..workshops.max(1));
            format!("2025-{:02}-{:02}-workshop-{w}", 1 + w % 12, 1 + w * 7 % 28)
        },
        first_day: rng.u32(..days.max(1)),
    }
}

/// One attempt's report; a learner who comes back has fixed about half of what failed.
fn report(learner: &Learner, retry: bool, rng: &mut fastrand::Rng) -> Report {
    let (system, distribution, _, machine, _) = SYSTEMS[learner.os];
    let column = match system {
        "Windows" => 0,
        "Darwin" => 1,
        _ => 2,
    };
    let mut successes = Vec::new();
    let mut failures = Vec::new();
    for check in CHECKS {
        let version = check.versions[rng.usize(..check.versions.len())].to_owned();
        let odds = if retry {
            check.fails[column] / 2.0
        } else {
            check.fails[column]
        };
        if rng.f64() < odds {
            let found = rng.bool();
            failures.push(Failure {
                name: check.label.to_owned(),
                version: found.then_some(version),
                error_description: Some(
                    if found {
                        "version too old"
                    } else {
                        "not found"
                    }
                    .to_owned(),
                ),
            });
        } else {
            successes.push(Package {
                name: check.label.to_owned(),
                version: Some(version),
            });
        }
    }
    Report {
        key: learner.key,
        system: SystemInfo {
            distribution_name: Some(distribution.to_owned()),
            distribution_version: Some(learner.distribution_version.to_owned()),
            system: Some(system.to_owned()),
            system_version: Some(format!("{system} {}", learner.distribution_version)),
            machine: Some(machine.to_owned()),
            system_platform: Some(format!(
                "{system}-{}-{machine}",
                learner.distribution_version
            )),
            python_version: Some(learner.python.to_owned()),
            workshop_id: Some(learner.workshop.clone()),
            email_id: None,
        },
        successes,
        failures,
    }
}

/// When an attempt arrived: a learner's first on their day, later ones up to three days on.
fn timestamp(
    today: u32,
    learner: &Learner,
    days: u32,
    retry: bool,
    rng: &mut fastrand::Rng,
) -> String {
    let later = if retry { rng.u32(..=3) } else { 0 };
    // Up to yesterday, so no report is from the future.
    let day = today - days.max(1) + (learner.first_day + later).min(days.max(1) - 1);
    let (y, m, d) = civil_date(day);
    let seconds = rng.u32(..86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        rng.u32(..1000)
    )
}

fn days_since_epoch() -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_secs() / 86_400) as u32
}

/// The Gregorian date of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
fn civil_date(days: u32) -> (i64, u32, u32) {
    let z = i64::from(days) + 719_468;
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
    use super::civil_date;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(19_782), (2024, 2, 29));
        assert_eq!(civil_date(20_784), (2026, 11, 27));
    }
}
