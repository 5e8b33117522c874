//! The command line: flags (each with an environment twin), validated once into a [`Config`]
//! the rest of the program trusts, and the subcommands that are not serving.

mod args;
mod flags;
mod generate;
mod verify;
mod workshop;

pub use args::{
    BackupArgs, Cli, Command, DatabaseArgs, DeleteUserArgs, PurgeArgs, ServeArgs, Switch,
};
pub use generate::{generate, GenerateArgs};
pub use verify::verify;
pub use workshop::{workshop, WorkshopAction, WorkshopArgs};

use crate::config::{Config, Location, RedisSettings, RedisUrl};
use crate::storage::{Cause, StorageError, Store};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser;
use std::process::ExitCode;

impl ServeArgs {
    /// The checked configuration these flags describe.
    pub fn into_config(self) -> Config {
        let redis = self.redis_url.clone().map(|url| RedisSettings {
            url,
            prefix: self.redis_prefix.clone(),
            deadline: self.redis_deadline(),
        });
        Config {
            listen: self.listen,
            db: Location::parse(&self.db),
            rate_limit: self.rate_limit.0,
            trusted_proxies: self.trusted_proxies.unwrap_or_default(),
            public_url: self.public_url,
            checks: self.checks.unwrap_or_default(),
            retention: self.retention.map(days),
            redis,
            metrics: self.metrics == Switch::On,
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            max_connections_per_address: usize::try_from(self.max_connections_per_address)
                .unwrap_or(usize::MAX),
        }
    }
}

/// Parses the command line. `--help` and `--version` print and exit 0; a bad value prints
/// one line and exits 2.
pub fn parse() -> Cli {
    Cli::try_parse().unwrap_or_else(|e| {
        if matches!(
            e.kind(),
            ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        ) {
            e.exit();
        }
        eprintln!("{} (see --help)", one_line(&e));
        std::process::exit(2);
    })
}

/// A clap error in one line, built from its kind and context rather than its printed text
/// (which spans several lines and changes with clap's wording).
fn one_line(e: &clap::Error) -> String {
    let context = |kind| e.get(kind).map(context_text);
    let arg = context(ContextKind::InvalidArg).unwrap_or_default();
    let value = context(ContextKind::InvalidValue).unwrap_or_default();
    // A Redis URL may hold a password: never echo it whole.
    let value = if arg.starts_with("--redis-url") {
        RedisUrl::redact(&value)
    } else {
        value
    };
    // A value parser's own explanation (ours say what is expected, with an example).
    let why = std::error::Error::source(e).map(ToString::to_string);
    let mut line = match e.kind() {
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let why = why
                .or_else(|| {
                    context(ContextKind::ValidValue).map(|v| format!("expected one of {v}"))
                })
                .unwrap_or_else(|| "not accepted".into());
            format!("invalid value '{value}' for {arg}: {why}")
        }
        ErrorKind::UnknownArgument => format!("unexpected argument '{arg}'"),
        ErrorKind::InvalidSubcommand => format!(
            "unrecognized subcommand '{}'",
            context(ContextKind::InvalidSubcommand).unwrap_or_default()
        ),
        ErrorKind::MissingRequiredArgument => format!("missing {arg}"),
        ErrorKind::MissingSubcommand => "a subcommand is required".into(),
        ErrorKind::ArgumentConflict => format!(
            "{arg} cannot be used with {}",
            context(ContextKind::PriorArg).unwrap_or_default()
        ),
        ErrorKind::WrongNumberOfValues | ErrorKind::TooManyValues | ErrorKind::TooFewValues => {
            format!("wrong number of values for {arg}")
        }
        ErrorKind::NoEquals => format!("{arg} needs a value after '='"),
        ErrorKind::InvalidUtf8 => "an argument is not valid UTF-8".into(),
        other => why.unwrap_or_else(|| format!("{other:?}")),
    };
    if let Some(suggestion) = context(ContextKind::SuggestedArg)
        .or_else(|| context(ContextKind::SuggestedSubcommand))
        .or_else(|| context(ContextKind::SuggestedValue))
    {
        line.push_str(&format!("; did you mean {suggestion}?"));
    }
    line
}

fn context_text(value: &ContextValue) -> String {
    match value {
        ContextValue::String(s) => s.clone(),
        ContextValue::Strings(list) => list.join(", "),
        ContextValue::StyledStr(s) => s.to_string(),
        ContextValue::StyledStrs(list) => list
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        ContextValue::Number(n) => n.to_string(),
        ContextValue::Bool(b) => b.to_string(),
        ContextValue::None => String::new(),
        _ => String::new(),
    }
}

/// Opens the database (creating it if missing), runs `work` on it and closes it.
fn with_store<T>(
    location: &Location,
    work: impl AsyncFnOnce(&Store) -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    run_on(Store::open(location)?, work)
}

/// Opens an existing database (never creating one: a typo in `--db` must not make an empty
/// file that the command then reports on), runs `work` on it and closes it.
fn with_existing_store<T>(
    location: &Location,
    work: impl AsyncFnOnce(&Store) -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    run_on(Store::open_existing(location)?, work)
}

fn run_on<T>(
    store: Store,
    work: impl AsyncFnOnce(&Store) -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| StorageError::Other(Cause::new("starting a runtime", e)))?;
    let outcome = runtime.block_on(work(&store));
    store.close();
    outcome
}

/// `delete-user KEY`: removes a learner and, by cascade, everything they sent.
pub fn delete_user(args: DeleteUserArgs) -> ExitCode {
    let location = Location::parse(&args.database.db);
    let key = args.key.clone();
    let outcome = with_existing_store(&location, async move |store| store.delete_user(key).await);
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

/// `rebuild-tallies`: recomputes every count the statistics read from the stored reports.
pub fn rebuild_tallies(args: DatabaseArgs) -> ExitCode {
    let location = Location::parse(&args.db);
    let started = std::time::Instant::now();
    match with_existing_store(&location, async |store| store.rebuild_tallies().await) {
        Ok(()) => {
            println!(
                "rebuilt the tallies of {location} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot rebuild the tallies of {location}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `purge --older-than DAYS [--dry-run]`: retention by hand (or from a timer).
pub fn purge(args: PurgeArgs) -> ExitCode {
    let location = Location::parse(&args.database.db);
    let (age, dry_run) = (days(args.older_than), args.dry_run);
    match with_existing_store(&location, async move |store| {
        store.purge(age, dry_run).await
    }) {
        Ok(purged) => {
            let d = purged.deleted;
            let verb = if dry_run { "would delete" } else { "deleted" };
            println!(
                "{verb} {} learners whose latest attempt was before {} UTC (older than {} days): \
                 {} attempts, {} successful and {} failed installs{}",
                d.learners,
                &purged.before[..19],
                args.older_than,
                d.attempts,
                d.successful_installs,
                d.failed_installs,
                if dry_run {
                    " (dry run: nothing deleted)"
                } else {
                    ""
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot purge {location}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `backup PATH`: a consistent copy of a live database, checked, and its size.
pub fn backup(args: BackupArgs) -> ExitCode {
    let location = Location::parse(&args.database.db);
    let started = std::time::Instant::now();
    match crate::storage::back_up(&location, &args.to, args.force) {
        Ok(bytes) => {
            println!(
                "backed up {location} to {} in {:.1} s: {bytes} bytes ({:.1} MiB), integrity ok",
                args.to.display(),
                started.elapsed().as_secs_f64(),
                bytes as f64 / (1024.0 * 1024.0)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot back up {location} to {}: {e}", args.to.display());
            ExitCode::FAILURE
        }
    }
}

fn days(days: u32) -> std::time::Duration {
    std::time::Duration::from_secs(u64::from(days) * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(args: &[&str]) -> String {
        let e = Cli::try_parse_from(args).unwrap_err();
        one_line(&e)
    }

    #[test]
    fn clap_errors_become_one_line_from_their_context() {
        let bad = error(&["ras", "--rate-limit", "lots"]);
        assert!(
            bad.starts_with("invalid value 'lots' for --rate-limit"),
            "{bad}"
        );
        assert!(bad.contains("e.g. 100/hour"), "{bad}");
        let unknown = error(&["ras", "--no-such-flag"]);
        assert_eq!(unknown, "unexpected argument '--no-such-flag'");
        let typo = error(&["ras", "--rate-limt", "5/hour"]);
        assert!(typo.contains("did you mean --rate-limit"), "{typo}");
        let missing = error(&["ras", "delete-user"]);
        assert!(missing.starts_with("missing"), "{missing}");
        for line in [bad, unknown, typo, missing] {
            assert!(!line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn a_bad_redis_url_is_refused_without_its_password() {
        for url in [
            "rediss://:s3cret@host",
            "http://:s3cret@host",
            "redis://:s3cret@[::1",
        ] {
            let line = error(&["ras", "--redis-url", url]);
            assert!(line.contains("--redis-url"), "{line}");
            assert!(!line.contains("s3cret"), "{line}");
        }
        let cli = Cli::try_parse_from(["ras", "--redis-url", "redis://:s3cret@127.0.0.1/0"]);
        let Command::Serve(args) = cli.unwrap().command() else {
            panic!("serve is the default")
        };
        let config = args.into_config();
        let redis = config.redis.as_ref().expect("redis is configured");
        assert_eq!(redis.prefix, "ras:");
        assert_eq!(redis.deadline, std::time::Duration::from_millis(50));
        assert!(!format!("{config:?}").contains("s3cret"));
        assert!(config.metrics);
    }
}
