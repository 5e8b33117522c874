//! The command line: flags (each with an environment twin), validated once into a [`Config`]
//! the rest of the program trusts, and the subcommands that are not serving.

mod args;
mod generate;

pub use args::{Cli, Command, DeleteUserArgs, ServeArgs};
pub use generate::{generate, GenerateArgs};

use crate::check_script::Checks;
use crate::http::TrustedProxies;
use crate::storage::{Location, StorageError, Store};
use crate::throttle::{RateLimit, DEFAULT_RATE_LIMIT};
use clap::Parser;
use std::net::SocketAddr;
use std::process::ExitCode;

/// Everything `serve` needs, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub db: Location,
    /// `None`: throttling is off.
    pub rate_limit: Option<RateLimit>,
    pub trusted_proxies: TrustedProxies,
    /// How learners reach us (`https://checks.example.org`), for the served script and pages.
    pub public_url: Option<String>,
    /// The checks the served script runs.
    pub checks: Checks,
}

impl Config {
    /// The defaults with an in-memory database: what tests start from.
    pub fn in_memory() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            db: Location::Memory,
            rate_limit: Some(DEFAULT_RATE_LIMIT),
            trusted_proxies: TrustedProxies::default(),
            public_url: None,
            checks: Checks::default(),
        }
    }
}

impl ServeArgs {
    pub fn into_config(self) -> Config {
        Config {
            listen: self.listen,
            db: Location::parse(&self.db),
            rate_limit: self.rate_limit.0,
            trusted_proxies: self.trusted_proxies.unwrap_or_default(),
            public_url: self.public_url,
            checks: self.checks.unwrap_or_default(),
        }
    }
}

/// Parses the command line. `--help` and `--version` print and exit 0; a bad value prints
/// one line and exits 2.
pub fn parse() -> Cli {
    Cli::try_parse().unwrap_or_else(|e| {
        use clap::error::ErrorKind::*;
        if matches!(
            e.kind(),
            DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand
        ) {
            e.exit();
        }
        let rendered = e.render().to_string();
        let line: Vec<&str> = rendered
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more"))
            .collect();
        eprintln!("{} (see --help)", line.join(" "));
        std::process::exit(2);
    })
}

/// `delete-user KEY`: removes a learner and, by cascade, everything they sent.
pub fn delete_user(args: DeleteUserArgs) -> ExitCode {
    let location = Location::parse(&args.db);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a single-threaded runtime");
    let outcome = Store::open(&location).and_then(|store| {
        let deleted = runtime.block_on(store.delete_user(args.key.clone()));
        store.close();
        deleted
    });
    match outcome {
        Ok(d) => {
            println!(
                "deleted learner {} with {} attempts, {} successful and {} failed installs",
                args.key, d.attempts, d.successful_installs, d.failed_installs
            );
            ExitCode::SUCCESS
        }
        Err(StorageError::NotFound) => {
            eprintln!("no learner has the key {} in {location}", args.key);
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cannot delete from {location}: {e}");
            ExitCode::FAILURE
        }
    }
}
