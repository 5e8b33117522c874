//! `generate`: fills a database with realistic synthetic reports, so anyone can reproduce the
//! benchmarks (and try the dashboard) without learners. Deterministic for a given seed.
//!
//! The shape follows real workshops: each has a date; its learners first run the check in
//! the two weeks before it, and come back after fixing things, hours to days later. Most
//! failures get fixed within a few attempts (with a newer version); some checks on some
//! systems are stubborn; now and then something that passed breaks.

use crate::config::Location;
use crate::report::{Failure, Package, Report, SystemInfo};
use crate::storage::{timestamp, Store};
use clap::Args;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// Reports written per transaction: large enough that commits are not the cost.
const CHUNK: usize = 5_000;
/// Learners per workshop when `--workshops` is not given: a typical workshop's size.
const LEARNERS_PER_WORKSHOP: usize = 25;
/// A learner first runs the check up to this many days before their workshop.
const DAYS_BEFORE: u64 = 14;
/// Of the learners, the share who give an email address.
const EMAIL_SHARE: f64 = 0.3;

/// The flags of `generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// SQLite database file to fill, created if missing. Required, and on purpose without
    /// RAS_DB: the service's settings must never point it at real learners' reports
    #[arg(long, value_name = "PATH")]
    pub db: String,
    /// Add to a database that already holds reports (refused without it)
    #[arg(long)]
    pub append: bool,
    /// Submissions (attempts) to write
    #[arg(long, default_value_t = 10_000)]
    pub submissions: usize,
    /// Distinct learners among them (default: 30% of the submissions)
    #[arg(long)]
    pub learners: Option<usize>,
    /// Workshops the learners belong to (default: one per 25 learners)
    #[arg(long)]
    pub workshops: Option<usize>,
    /// Days the workshops are spread over, ending yesterday
    #[arg(long, default_value_t = 730)]
    pub days: u32,
    /// Seed of the random choices (the same seed writes the same reports)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// A check as the learner's script reports it: label, versions seen (newest first), how
/// often it fails on Windows, macOS and Linux, and how likely one attempt fixes it there.
struct Check {
    label: &'static str,
    versions: &'static [&'static str],
    fails: [f64; 3],
    fixed: [f64; 3],
}

/// Most failures are fixed at the next attempt or the one after.
const EASY: [f64; 3] = [0.6, 0.6, 0.6];

const CHECKS: &[Check] = &[
    Check {
        label: "Bash (bash)",
        versions: &["5.2.15", "5.1.16", "4.4.20", "3.2.57"],
        fails: [0.08, 0.01, 0.0],
        fixed: EASY,
    },
    Check {
        label: "GNU nano (nano)",
        versions: &["7.2", "6.2", "5.4", "2.0.6"],
        fails: [0.15, 0.02, 0.02],
        fixed: EASY,
    },
    Check {
        label: "Vim (vim)",
        versions: &["9.1", "9.0", "8.2"],
        fails: [0.30, 0.01, 0.05],
        fixed: EASY,
    },
    Check {
        label: "Visual Studio Code (vscode)",
        versions: &["1.86.0", "1.85.1", "1.84.2"],
        fails: [0.25, 0.30, 0.40],
        fixed: [0.7, 0.5, 0.3],
    },
    Check {
        label: "Git (git)",
        versions: &["2.43.0", "2.39.2", "2.34.1", "2.25.1", "1.8.3"],
        fails: [0.12, 0.05, 0.03],
        fixed: [0.6, 0.7, 0.8],
    },
    Check {
        label: "GNU Make (make)",
        versions: &["4.4.1", "4.3", "3.81"],
        fails: [0.55, 0.10, 0.05],
        // Make on Windows is what instructors spend the first morning on.
        fixed: [0.12, 0.5, 0.7],
    },
    Check {
        label: "Python (python)",
        versions: &["3.12.1", "3.11.7", "3.10.12", "3.9.18", "3.7.9"],
        fails: [0.06, 0.05, 0.04],
        fixed: EASY,
    },
    Check {
        label: "pip (pip)",
        versions: &["24.0", "23.3.2", "22.0.2"],
        fails: [0.05, 0.04, 0.08],
        fixed: EASY,
    },
    Check {
        label: "conda (conda)",
        versions: &["24.1.2", "23.11.0", "4.12.0"],
        fails: [0.20, 0.15, 0.35],
        fixed: [0.4, 0.5, 0.25],
    },
    Check {
        label: "Jupyter Notebook (notebook)",
        versions: &["7.1.0", "7.0.6", "6.5.4"],
        fails: [0.10, 0.08, 0.15],
        fixed: EASY,
    },
    Check {
        label: "JupyterLab (jupyterlab)",
        versions: &["4.1.0", "4.0.10", "3.6.5"],
        fails: [0.12, 0.10, 0.18],
        fixed: EASY,
    },
    Check {
        label: "NumPy (numpy)",
        versions: &["2.0.0", "1.26.3", "1.24.4", "1.21.5"],
        fails: [0.07, 0.06, 0.10],
        fixed: EASY,
    },
    Check {
        label: "pandas (pandas)",
        versions: &["2.1.4", "2.0.3", "1.5.3"],
        fails: [0.08, 0.07, 0.12],
        fixed: EASY,
    },
    Check {
        label: "Matplotlib (matplotlib)",
        versions: &["3.8.2", "3.7.4", "3.5.1"],
        fails: [0.09, 0.08, 0.14],
        fixed: EASY,
    },
    Check {
        label: "SciPy (scipy)",
        versions: &["1.11.4", "1.10.1", "1.8.0"],
        fails: [0.10, 0.09, 0.12],
        fixed: EASY,
    },
    Check {
        label: "seaborn (seaborn)",
        versions: &["0.13.1", "0.12.2"],
        fails: [0.12, 0.11, 0.15],
        fixed: EASY,
    },
    Check {
        label: "scikit-learn (scikit-learn)",
        versions: &["1.4.0", "1.3.2", "1.2.2"],
        fails: [0.11, 0.10, 0.14],
        fixed: EASY,
    },
    Check {
        label: "SQLite (sqlite3)",
        versions: &["3.45.0", "3.43.2", "3.37.2", "3.31.1"],
        fails: [0.45, 0.03, 0.08],
        fixed: [0.2, 0.6, 0.7],
    },
    Check {
        label: "Python sqlite3 module (python-sqlite3)",
        versions: &["3.45.0", "3.40.1"],
        fails: [0.02, 0.01, 0.02],
        fixed: EASY,
    },
    Check {
        label: "R (r)",
        versions: &["4.3.2", "4.2.3", "4.1.2", "3.6.3"],
        fails: [0.20, 0.18, 0.22],
        fixed: [0.5, 0.5, 0.35],
    },
    Check {
        label: "RStudio (rstudio)",
        versions: &["2023.12.0", "2023.09.1"],
        fails: [0.25, 0.22, 0.35],
        fixed: [0.5, 0.5, 0.2],
    },
    Check {
        label: "Zsh (zsh)",
        versions: &["5.9", "5.8.1"],
        fails: [0.90, 0.01, 0.40],
        fixed: [0.05, 0.6, 0.5],
    },
    Check {
        label: "PowerShell (powershell)",
        versions: &["7.4.1", "5.1.22621"],
        fails: [0.01, 0.85, 0.90],
        fixed: [0.6, 0.05, 0.05],
    },
    Check {
        label: "GNU Emacs (emacs)",
        versions: &["29.1", "28.2", "27.1"],
        fails: [0.80, 0.60, 0.40],
        fixed: [0.1, 0.2, 0.4],
    },
    Check {
        label: "Git Bash (git-bash)",
        versions: &["2.43.0.windows.1", "2.39.2.windows.1"],
        fails: [0.10, 0.95, 0.95],
        fixed: [0.7, 0.02, 0.02],
    },
];

/// An operating system as the script reports it.
struct System {
    system: &'static str,
    distribution: &'static str,
    versions: &'static [&'static str],
    machine: &'static str,
    share: f64,
}

const SYSTEMS: &[System] = &[
    System {
        system: "Windows",
        distribution: "Windows",
        versions: &["10", "11"],
        machine: "AMD64",
        share: 0.45,
    },
    System {
        system: "Darwin",
        distribution: "macOS",
        versions: &["14.2.1", "13.6.3", "12.7.2"],
        machine: "arm64",
        share: 0.35,
    },
    System {
        system: "Linux",
        distribution: "Ubuntu",
        versions: &["22.04", "20.04", "24.04"],
        machine: "x86_64",
        share: 0.14,
    },
    System {
        system: "Linux",
        distribution: "Fedora Linux",
        versions: &["39", "38"],
        machine: "x86_64",
        share: 0.04,
    },
    System {
        system: "Linux",
        distribution: "Debian GNU/Linux",
        versions: &["12", "11"],
        machine: "aarch64",
        share: 0.02,
    },
];

const PLACES: &[&str] = &[
    "oslo",
    "ucl",
    "toronto",
    "capetown",
    "melbourne",
    "ttu",
    "berkeley",
    "edinburgh",
    "nairobi",
    "saopaulo",
    "online",
    "ethz",
    "uw",
    "mcgill",
    "auckland",
    "kyoto",
];
const PYTHONS: &[&str] = &["3.12.1", "3.11.7", "3.10.12", "3.9.18", "3.8.10"];

/// One synthetic learner: a machine and a workshop, kept across their attempts, and what is
/// failing on that machine now (by index into [`CHECKS`]).
struct Learner {
    key: Uuid,
    os: usize,
    distribution_version: &'static str,
    python: &'static str,
    workshop: String,
    email: Option<String>,
    failing: Vec<bool>,
    /// The version each check reports now.
    versions: Vec<&'static str>,
}

/// `generate`: writes the synthetic reports and says how fast it went.
pub fn generate(args: GenerateArgs) -> ExitCode {
    let learners = args
        .learners
        .unwrap_or(args.submissions * 3 / 10)
        .clamp(1, args.submissions.max(1));
    let workshops = args
        .workshops
        .unwrap_or(learners / LEARNERS_PER_WORKSHOP)
        .clamp(1, learners);
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
    // Synthetic reports among real ones would spoil every statistic, for good.
    let held = runtime.block_on(store.totals()).map(|t| t.attempts);
    match held {
        Ok(held) if held > 0 && !args.append => {
            eprintln!(
                "{location} already holds {held} report{}: generate fills an empty database \
                 (--append adds to this one; never point it at a deployment's database)",
                if held == 1 { "" } else { "s" }
            );
            store.close();
            return ExitCode::FAILURE;
        }
        Ok(_) => {}
        Err(e) => {
            eprintln!("cannot read {location}: {e}");
            store.close();
            return ExitCode::FAILURE;
        }
    }
    let mut rng = fastrand::Rng::with_seed(args.seed);
    let yesterday = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        / 86_400
        - 1;
    let started = Instant::now();
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut written = 0;
    let mut extra_attempts = args.submissions.saturating_sub(learners);
    let mut learners_left = learners;
    for w in 0..workshops {
        let day = yesterday - rng.u64(..u64::from(args.days.max(1)));
        let (y, m, d) = timestamp::civil_date(day);
        let name = format!(
            "{y:04}-{m:02}-{d:02}-{}-{w}",
            PLACES[rng.usize(..PLACES.len())]
        );
        // Spread the learners over the workshops, the last ones taking what is left.
        let here = learners_left / (workshops - w);
        for _ in 0..here {
            let mut learner = new_learner(&mut rng, &name);
            // Each learner's share of the extra attempts, around the mean that is left.
            let mean = extra_attempts as f64 / learners_left as f64;
            let extra = if learners_left == 1 {
                extra_attempts
            } else {
                (rng.f64() * 2.0 * mean).round() as usize
            }
            .min(extra_attempts);
            extra_attempts -= extra;
            learners_left -= 1;
            let mut at = (day - rng.u64(..DAYS_BEFORE)) * 86_400 + rng.u64(..86_400);
            for attempt in 0..=extra {
                if attempt > 0 {
                    // Back after an hour to two days: fixed something, or tried to.
                    at += 3600 + rng.u64(..2 * 86_400);
                    retry(&mut learner, &mut rng);
                }
                let time = timestamp::at(Duration::from_millis(at * 1000 + rng.u64(..1000)));
                chunk.push((report(&learner, &mut rng), time));
                if chunk.len() == CHUNK {
                    if let Err(e) = runtime.block_on(store.import(std::mem::take(&mut chunk))) {
                        eprintln!("writing to {location} failed after {written} submissions: {e}");
                        store.close();
                        return ExitCode::FAILURE;
                    }
                    written += CHUNK;
                }
            }
        }
    }
    let last = chunk.len();
    if let Err(e) = runtime.block_on(store.import(chunk)) {
        eprintln!("writing to {location} failed after {written} submissions: {e}");
        store.close();
        return ExitCode::FAILURE;
    }
    written += last;
    store.close();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "wrote {written} submissions from {learners} learners in {workshops} workshops to \
         {location} in {seconds:.1} s ({:.0}/s)",
        written as f64 / seconds
    );
    ExitCode::SUCCESS
}

fn new_learner(rng: &mut fastrand::Rng, workshop: &str) -> Learner {
    let mut pick = rng.f64();
    let os = SYSTEMS
        .iter()
        .position(|s| {
            pick -= s.share;
            pick < 0.0
        })
        .unwrap_or(0);
    let column = column(os);
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    let key = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let failing: Vec<bool> = CHECKS.iter().map(|c| rng.f64() < c.fails[column]).collect();
    Learner {
        key,
        os,
        distribution_version: SYSTEMS[os].versions[rng.usize(..SYSTEMS[os].versions.len())],
        python: PYTHONS[rng.usize(..PYTHONS.len())],
        workshop: workshop.to_owned(),
        email: (rng.f64() < EMAIL_SHARE).then(|| format!("learner-{}@example.org", rng.u32(..))),
        versions: CHECKS
            .iter()
            .zip(&failing)
            .map(|(c, &failing)| {
                // A failing check found an old version; a passing one any but the oldest.
                let n = c.versions.len();
                if failing {
                    c.versions[n - 1]
                } else {
                    c.versions[rng.usize(..(n - 1).max(1))]
                }
            })
            .collect(),
        failing,
    }
}

/// Which column of a check's odds a system reads: Windows, macOS, Linux.
fn column(os: usize) -> usize {
    match SYSTEMS[os].system {
        "Windows" => 0,
        "Darwin" => 1,
        _ => 2,
    }
}

/// Between two attempts: each failing check is fixed with its odds on this system (with the
/// newest version), and rarely a passing one breaks.
fn retry(learner: &mut Learner, rng: &mut fastrand::Rng) {
    let column = column(learner.os);
    for (i, check) in CHECKS.iter().enumerate() {
        if learner.failing[i] {
            if rng.f64() < check.fixed[column] {
                learner.failing[i] = false;
                learner.versions[i] = check.versions[0];
            }
        } else if rng.f64() < 0.01 {
            learner.failing[i] = true;
        }
    }
}

/// One attempt's report.
fn report(learner: &Learner, rng: &mut fastrand::Rng) -> Report {
    let os = &SYSTEMS[learner.os];
    let version = learner.distribution_version;
    let mut successes = Vec::new();
    let mut failures = Vec::new();
    for (i, check) in CHECKS.iter().enumerate() {
        let found = learner.versions[i].to_owned();
        if learner.failing[i] {
            // Half the time the tool is there but too old; otherwise it is not found.
            let too_old = rng.bool();
            failures.push(Failure {
                name: check.label.to_owned(),
                version: too_old.then_some(found),
                error_description: Some(
                    if too_old {
                        "version too old"
                    } else {
                        "not found"
                    }
                    .into(),
                ),
            });
        } else {
            successes.push(Package {
                name: check.label.to_owned(),
                version: Some(found),
            });
        }
    }
    let (system_version, platform) = match os.system {
        "Windows" => (
            format!("10.0.{}", if version == "11" { "22631" } else { "19045" }),
            format!("Windows-{version}-10.0-SP0"),
        ),
        "Darwin" => (
            format!(
                "Darwin Kernel Version {}.0.0",
                20 + version[..2].parse::<u32>().unwrap_or(14) - 11
            ),
            format!("macOS-{version}-{}-64bit", os.machine),
        ),
        _ => (
            format!("#1 SMP {} {version}", os.distribution),
            format!("Linux-6.5.0-{}-with-glibc2.35", os.machine),
        ),
    };
    Report {
        key: Some(learner.key),
        system: SystemInfo {
            distribution_name: Some(os.distribution.to_owned()),
            distribution_version: Some(version.to_owned()),
            system: Some(os.system.to_owned()),
            system_version: Some(system_version),
            machine: Some(os.machine.to_owned()),
            system_platform: Some(platform),
            python_version: Some(learner.python.to_owned()),
            workshop_id: Some(learner.workshop.clone()),
            email_id: learner.email.clone(),
        },
        successes,
        failures,
        checked_at: None,
    }
}
