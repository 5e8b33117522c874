//! `generate`: fills a database with a season of workshops as the learner's script would
//! report it, so a host can try the pages (and anyone can reproduce the benchmarks) without
//! learners. Deterministic for a given seed and day.
//!
//! # The model
//!
//! Sources: the checks, their groups, minimums and error texts are the script's own (the
//! catalog block of `contrib/check/check.py`, read through `crate::catalog`, and the texts
//! of its `fail` calls); the troubles and their fixes follow the workshop template's install
//! instructions (<https://carpentries.github.io/workshop-template/install_instructions/>),
//! whose sections the catalog's fix links point into.
//!
//! - **Checks.** Every learner runs the script's default list (`default_checks`: `shell`,
//!   `editor`, `git`, `python`, `package-manager`, `jupyter`, the packages, `sqlite3`,
//!   `python-sqlite3`, `make?`), reported as `Human (name)`. A group reports the version of
//!   the first of its alternatives that the script tries on that system and that passes
//!   (on Windows the shell is Git Bash's bash only), else `none found: a: not found; ...`
//!   naming exactly the alternatives it tried there. A version below the catalog's minimum
//!   fails as `version 2.25.1 < required 2.28`.
//! - **Machines** (`platforms::PLATFORMS`): Windows 45%, macOS 33%, Linux 22% (Ubuntu 24.04,
//!   22.04, 20.04, Fedora, Debian), each with the versions its own tools report. The Python
//!   that runs the script is Miniforge's (50%), an Anaconda of 2022 (10%: Python 3.9, too
//!   old) or the system's or python.org's (40%, mostly without the workshop's packages;
//!   Ubuntu's 3.10 and Apple's 3.9.6 are too old, Debian's often has no pip).
//! - **Troubles**, as the install instructions warn: Windows without Git for Windows (20%:
//!   shell, git and often the editor fail together), make missing on Windows (88%; optional,
//!   so it only warns), sqlite3 missing on Windows outside conda; macOS without the command
//!   line developer tools (30%: git and make fail as Apple's stand-ins, `not found: Apple's
//!   command line developer tools are not installed`); an old git (Ubuntu 20.04, an old
//!   Mac, an old Git for Windows); Jupyter and the packages missing, a Python too old;
//!   sqlite3 and make missing on Linux; a broken Matplotlib on Windows.
//! - **Fixes** (`model::Fix::time`): each trouble's fix takes a log-normal time with its
//!   own median (Linux packages minutes, Git for Windows 40 min, the developer tools 1.5 h,
//!   Miniforge 2.5 h, sqlite3 on Windows 20 h, make on Windows two days), and some learners
//!   stay stuck; half of what is still broken at the workshop is fixed on its first morning.
//!   One fix can mend several checks (Git for Windows: shell, git, editor).
//! - **Attempts.** A learner first runs everything a log-normal lead before their workshop
//!   (median 2.5 days); each later attempt re-tests only the required checks that failed
//!   (as the script's closing line tells them), plus an optional one they fixed, or runs
//!   everything again when nothing failed. Attempts come after fixes (several fixes share a
//!   re-test when a learner came back fewer times) or, the rest, at any time up to the
//!   workshop's first morning. Nothing is dated after now.
//! - **Workshops** are named by date and place. Besides those spread over `--days` ending
//!   yesterday, two were earlier this week, some are still to come this week and next
//!   (with only the learners who have run the check by now), and a demo workshop the day
//!   after tomorrow is registered as `workshop create` registers it; its private link is
//!   printed.

mod model;
mod platforms;
mod season;

use super::flags::parse_public_url;
use super::workshop::LOCAL_URL;
use crate::catalog::{catalog, Entry};
use crate::config::Location;
use crate::dashboard::host_url;
use crate::report::{Report, SystemInfo};
use crate::storage::{timestamp, NewWorkshop, StorageError, Store};
use clap::Args;
use model::{Machine, Outcome};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// Reports written per transaction: large enough that commits are not the cost.
const CHUNK: usize = 5_000;
/// Learners per workshop when `--workshops` is not given: a typical workshop's size.
const LEARNERS_PER_WORKSHOP: usize = 25;
/// Of the learners, the share who give an email address.
const EMAIL_SHARE: f64 = 0.3;
/// The demo workshop's title on its host page.
const DEMO_TITLE: &str = "Demo workshop (generated learners)";

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
    /// Days the past workshops are spread over, ending yesterday (a few more fall this
    /// week and next); no attempt is dated after now
    #[arg(long, default_value_t = 730)]
    pub days: u32,
    /// Seed of the random choices (the same seed writes the same reports on the same day)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The URL the printed link of the demo workshop's private page starts with
    /// (default: http://127.0.0.1:8080, `serve`'s own)
    #[arg(long, value_name = "URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// Register no demo workshop
    #[arg(long)]
    pub no_demo: bool,
}

/// A check of the default list: the catalog's entry, the label the script sends, and
/// whether it is optional (`make?`).
struct Planned {
    check: &'static Entry,
    label: String,
    optional: bool,
}

/// The script's default list, as it plans it; checks the model does not answer are left
/// out (a unit test keeps the model complete).
fn planned() -> Vec<Planned> {
    let catalog = catalog();
    catalog
        .default_checks()
        .iter()
        .filter_map(|spec| {
            let name = spec.split(['>', '?']).next().unwrap_or(spec);
            let check = catalog.check(name)?;
            Machine::models(check).then(|| Planned {
                check,
                label: format!("{} ({})", check.human, check.name),
                optional: spec.ends_with('?'),
            })
        })
        .collect()
}

/// `generate`: writes the synthetic reports, registers the demo workshop and prints its
/// private link, and says how fast it went.
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
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let started = Instant::now();
    let season = season::workshops(
        &mut rng,
        workshops,
        learners,
        u64::from(args.days),
        now,
        !args.no_demo,
    );
    let plan = planned();
    let mut writer = Chunks {
        store: &store,
        runtime: &runtime,
        chunk: Vec::with_capacity(CHUNK),
        written: 0,
    };
    let mut budget = Budget {
        extra: args.submissions.saturating_sub(learners),
        learners,
        weights: 0.0,
        seen: 0,
    };
    let mut demo = None;
    for workshop in &season {
        if workshop.name.ends_with("-demo") {
            demo = Some((workshop.name.clone(), workshop.learners));
        }
        for _ in 0..workshop.learners {
            let (machine, fixes) = model::machine(&mut rng);
            let attempts = budget.attempts(&mut rng, fixes.len());
            let history = season::history(
                &mut rng,
                machine.platform.os,
                &fixes,
                workshop.day,
                attempts,
                now,
            );
            let learner = Learner::new(&mut rng, machine, &workshop.name);
            if let Err(e) = learner.report(&mut rng, &plan, &history, &mut writer) {
                eprintln!(
                    "writing to {location} failed after {} submissions: {e}",
                    writer.written
                );
                store.close();
                return ExitCode::FAILURE;
            }
        }
    }
    if let Err(e) = writer.flush() {
        eprintln!(
            "writing to {location} failed after {} submissions: {e}",
            writer.written
        );
        store.close();
        return ExitCode::FAILURE;
    }
    let written = writer.written;
    let registered = demo.map(|(name, learners)| {
        let new = NewWorkshop {
            name: name.clone(),
            title: Some(DEMO_TITLE.to_owned()),
            checks: None,
            time_zone: None,
        };
        (name, learners, runtime.block_on(store.create_workshop(new)))
    });
    store.close();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "wrote {written} submissions from {learners} learners in {} workshops to \
         {location} in {seconds:.1} s ({:.0}/s)",
        season.len(),
        written as f64 / seconds
    );
    match registered {
        Some((name, learners, Ok(secret))) => {
            let base = args.public_url.as_deref().unwrap_or(LOCAL_URL);
            println!(
                "Registered the demo workshop {name} (the day after tomorrow; {learners} \
                 learners have run the check so far)."
            );
            println!(
                "Serve the database (result-aggregation-server --db {location}), then open \
                 its private readiness page:"
            );
            println!("    {}", host_url(base, &name, secret.expose()));
        }
        Some((name, _, Err(StorageError::Exists))) => println!(
            "The demo workshop {name} was registered already; `workshop revoke {name}` \
             prints a new link to its private page."
        ),
        Some((name, _, Err(e))) => {
            eprintln!("cannot register the demo workshop {name} in {location}: {e}");
            return ExitCode::FAILURE;
        }
        None => {}
    }
    ExitCode::SUCCESS
}

/// Reports on their way to the database, a transaction per [`CHUNK`].
struct Chunks<'a> {
    store: &'a Store,
    runtime: &'a tokio::runtime::Runtime,
    chunk: Vec<(Report, String)>,
    written: usize,
}

impl Chunks<'_> {
    fn push(&mut self, report: Report, at: String) -> Result<(), StorageError> {
        self.chunk.push((report, at));
        if self.chunk.len() == CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StorageError> {
        let chunk = std::mem::take(&mut self.chunk);
        let n = chunk.len();
        self.runtime.block_on(self.store.import(chunk))?;
        self.written += n;
        Ok(())
    }
}

/// Shares the submissions among the learners so that exactly `--submissions` are written:
/// each learner's attempts beyond the first are drawn around what is left per learner,
/// more for a learner with troubles to fix, fewer for one whose first run passed.
struct Budget {
    extra: usize,
    learners: usize,
    /// The sum of the weights drawn so far, and how many.
    weights: f64,
    seen: usize,
}

impl Budget {
    fn attempts(&mut self, rng: &mut fastrand::Rng, troubles: usize) -> usize {
        let weight = if troubles == 0 {
            0.4
        } else {
            1.0 + 0.4 * troubles as f64
        };
        self.weights += weight;
        self.seen += 1;
        let mean_weight = self.weights / self.seen as f64;
        let extra = if self.learners <= 1 {
            self.extra
        } else {
            let mean = self.extra as f64 / self.learners as f64;
            ((rng.f64() * 2.0 * mean * weight / mean_weight).round() as usize).min(self.extra)
        };
        self.extra -= extra;
        self.learners = self.learners.saturating_sub(1);
        1 + extra
    }
}

/// One synthetic learner: a key, a machine, a workshop and maybe an email.
struct Learner {
    key: Uuid,
    machine: Machine,
    workshop: String,
    email: Option<String>,
}

impl Learner {
    fn new(rng: &mut fastrand::Rng, machine: Machine, workshop: &str) -> Learner {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes);
        Learner {
            key: uuid::Builder::from_random_bytes(bytes).into_uuid(),
            machine,
            workshop: workshop.to_owned(),
            email: (rng.f64() < EMAIL_SHARE)
                .then(|| format!("learner-{}@example.org", rng.u32(..))),
        }
    }

    /// Writes the learner's attempts: the first runs every check; each later one re-tests
    /// the required checks that failed and any optional one now fixed, or runs everything
    /// again when nothing failed.
    fn report(
        mut self,
        rng: &mut fastrand::Rng,
        plan: &[Planned],
        history: &season::History,
        writer: &mut Chunks,
    ) -> Result<(), StorageError> {
        let mut failing = vec![false; plan.len()];
        let mut fixes = history.fixes.iter().peekable();
        for (attempt, &at) in history.attempts.iter().enumerate() {
            while let Some((_, fix)) = fixes.next_if(|(time, _)| *time <= at) {
                self.machine.apply(*fix);
            }
            let outcomes: Vec<Outcome> =
                plan.iter().map(|p| self.machine.outcome(p.check)).collect();
            let retest = attempt > 0 && failing.iter().zip(plan).any(|(f, p)| *f && !p.optional);
            let mut report = self.blank();
            for (i, (planned, outcome)) in plan.iter().zip(outcomes).enumerate() {
                let runs = !retest
                    || (failing[i] && (!planned.optional || matches!(outcome, Outcome::Passed(_))));
                if !runs {
                    continue;
                }
                match outcome.into_report(&planned.label) {
                    Some(Ok(package)) => {
                        failing[i] = false;
                        report.successes.push(package);
                    }
                    Some(Err(failure)) => {
                        failing[i] = true;
                        report.failures.push(failure);
                    }
                    None => {}
                }
            }
            let time = timestamp::at(Duration::from_millis(at * 1000 + rng.u64(..1000)));
            writer.push(report, time)?;
        }
        Ok(())
    }

    /// A report with this learner's machine and nothing checked yet.
    fn blank(&self) -> Report {
        let platform = self.machine.platform;
        Report {
            key: Some(self.key),
            system: SystemInfo {
                distribution_name: Some(platform.distribution.to_owned()),
                distribution_version: Some(platform.version.to_owned()),
                system: Some(platform.os.system().to_owned()),
                system_version: Some(platform.system_version.to_owned()),
                machine: Some(platform.machine.to_owned()),
                system_platform: Some(platform.platform.to_owned()),
                python_version: Some(self.machine.python_version().to_owned()),
                workshop_id: Some(self.workshop.clone()),
                email_id: self.email.clone(),
            },
            successes: Vec::new(),
            failures: Vec::new(),
            checked_at: None,
        }
    }
}
