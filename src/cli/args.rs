//! Flags and subcommands, as clap sees them. Values are checked as they are parsed, so a bad
//! one is reported by name with exit code 2.

// The doc comments below are `--help` text for people, not rustdoc: `[::]:8080` is an address
// and URLs stay bare there.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]

use super::flags::{parse_public_url, DEFAULT_DB};
use super::generate::GenerateArgs;
use super::workshop::{parse_known_checks, WorkshopArgs};
use crate::config::{
    Checks, RateLimit, RedisUrl, TrustedProxies, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, DEFAULT_RATE_LIMIT, DEFAULT_REDIS_DEADLINE,
    DEFAULT_REDIS_PREFIX,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

const ABOUT: &str = "Collects the results of workshop installation-test scripts and shows \
which packages, versions and operating systems fail most.";

const AFTER_HELP: &str = "\
Without a subcommand it serves, as `serve` does. Every flag can also be set through the \
environment variable shown with it, so a systemd EnvironmentFile can configure the service.

Examples:
  result-aggregation-server                          # http://127.0.0.1:8080, ./result-aggregation.db
  result-aggregation-server --listen 0.0.0.0:8080 --rate-limit 20/minute
  result-aggregation-server --trusted-proxy 127.0.0.1,::1   # behind nginx on this host
  result-aggregation-server --listen 127.0.0.1:8081 --redis-url redis://127.0.0.1:6379/0   # a second instance, one budget
  result-aggregation-server delete-user 1b4e28ba-2fa1-11d2-883f-0016d3cca427
  result-aggregation-server workshop create 2026-11-27-oslo --checks 'git>=2.30,numpy,make?'
  result-aggregation-server backup /var/backups/ras.db   # a checked copy, while it serves
  result-aggregation-server purge --older-than 365 --dry-run
  result-aggregation-server verify   # every statistic against the stored reports";

const VERIFY_ABOUT: &str = "\
Check every statistic against its meaning computed from the stored reports.

The pages read counts (tallies) that the server keeps up to date as reports arrive. verify \
recomputes each statistic, in every scope (all workshops and each one, latest or every \
attempt, every package and version), with plain SQL over the stored reports and compares. It \
reads the database without changing it and never creates one; it can run while the server \
serves.

Run it after editing or deleting rows by hand with SQL, and before and after \
`rebuild-tallies`: before, to see what the edit put out of step; after, to see that the \
rebuild set it right.";

const VERIFY_AFTER_HELP: &str = "\
Exit status: 0 when every statistic agrees (one line: N statistics agree); 1 when some differ, \
with each one's scope and the rows that differ (reference: from the stored reports; found: \
from the tallies); 2 when the file is missing, is not an SQLite database, or is not this \
server's database at its schema version.

Example:
  result-aggregation-server verify --db /var/lib/result-aggregation-server/result-aggregation.db";

/// What `--version` prints after the name: the release, and the schema version of the
/// databases it writes (an admin checks it against the CHANGELOG before a rolling restart).
static VERSION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} (database schema {})",
        env!("CARGO_PKG_VERSION"),
        crate::storage::SCHEMA_VERSION
    )
});

#[derive(Parser, Debug)]
#[command(
    name = "result-aggregation-server",
    version = VERSION.as_str(),
    about = ABOUT,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
/// The whole command line.
pub struct Cli {
    /// The subcommand; none means `serve`.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `serve`'s flags, also accepted without the subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,
}

impl Cli {
    /// The subcommand to run; none means `serve` with the top-level flags.
    pub fn command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }
}

/// What to do.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API and the statistics (the default)
    Serve(ServeArgs),
    /// Delete a learner and, by cascade, all their attempts and packages
    DeleteUser(DeleteUserArgs),
    /// Fill a database with realistic synthetic reports (for benchmarks and demos)
    Generate(GenerateArgs),
    /// Recompute every statistic's counts from the stored reports (after editing rows by hand)
    RebuildTallies(DatabaseArgs),
    /// Check every statistic against its meaning computed from the stored reports (after
    /// editing rows by hand, before and after rebuild-tallies)
    #[command(long_about = VERIFY_ABOUT, after_help = VERIFY_AFTER_HELP)]
    Verify(DatabaseArgs),
    /// Register a workshop for a private readiness page and checks of its own; list, show,
    /// revoke its link, delete it
    Workshop(WorkshopArgs),
    /// Delete learners whose latest attempt is older than a number of days, with everything
    /// they sent
    Purge(PurgeArgs),
    /// Write a consistent, checked copy of the database, also while the server runs
    Backup(BackupArgs),
}

/// The flags of `serve`, before they are checked into a `Config`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address and port to listen on, e.g. 127.0.0.1:8080 or [::]:8080
    #[arg(
        long,
        env = "RAS_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,

    /// SQLite database file, created if missing; `:memory:` keeps everything in memory
    #[arg(
        long,
        env = "RAS_DB",
        value_name = "PATH",
        default_value = DEFAULT_DB
    )]
    pub db: String,

    /// Submissions allowed per client address: N/minute, N/hour, N/day, or `off`
    #[arg(
        long,
        env = "RAS_RATE_LIMIT",
        value_name = "SPEC",
        default_value_t = RateLimitSpec(Some(DEFAULT_RATE_LIMIT)),
        value_parser = parse_rate_limit
    )]
    pub rate_limit: RateLimitSpec,

    /// Proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For and
    /// X-Real-IP name the client; from any other peer those headers are ignored
    #[arg(
        long = "trusted-proxy",
        env = "RAS_TRUSTED_PROXIES",
        value_name = "ADDR[,ADDR...]",
        value_parser = parse_trusted_proxies
    )]
    pub trusted_proxies: Option<TrustedProxies>,

    /// The URL learners reach this server at, e.g. https://checks.example.org; written into
    /// the served check script and the landing page (default: from each request: its Host
    /// header, and from a --trusted-proxy its X-Forwarded-Proto and X-Forwarded-Host)
    #[arg(long, env = "RAS_PUBLIC_URL", value_name = "URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// Checks the served check script runs, comma-separated: NAME, NAME>=VERSION, and a
    /// trailing ? for optional, e.g. "shell,git>=2.30,python>=3.10,numpy,make?"
    /// (default: the script's own list; `python3 check.py --list` shows every name)
    #[arg(long, env = "RAS_CHECKS", value_name = "LIST", value_parser = parse_checks)]
    pub checks: Option<Checks>,

    /// Once a day, delete learners whose latest attempt is older than DAYS days, as
    /// `purge --older-than DAYS` does (default: keep everything)
    #[arg(long, env = "RAS_RETENTION", value_name = "DAYS", value_parser = parse_days)]
    pub retention: Option<u32>,
    /// Count the rate limit in this Redis, shared by every instance that names it, e.g.
    /// redis://127.0.0.1:6379/0 or redis://:PASSWORD@host:6379/0 (the password is never
    /// shown). While Redis does not answer, each instance counts on its own
    #[arg(long, env = "RAS_REDIS_URL", value_name = "URL", value_parser = parse_redis_url)]
    pub redis_url: Option<RedisUrl>,

    /// Put before every Redis key, so one Redis can serve several programs
    #[arg(
        long,
        env = "RAS_REDIS_PREFIX",
        value_name = "PREFIX",
        default_value = DEFAULT_REDIS_PREFIX,
        value_parser = parse_redis_prefix
    )]
    pub redis_prefix: String,

    /// How long one Redis call may take, in milliseconds, before the submission is counted
    /// in this process instead (raise it for a Redis on another host)
    #[arg(
        long,
        env = "RAS_REDIS_TIMEOUT",
        value_name = "MS",
        default_value_t = DEFAULT_REDIS_DEADLINE.as_millis() as u64,
        value_parser = clap::value_parser!(u64).range(1..=5000)
    )]
    pub redis_timeout: u64,

    /// Serve Prometheus metrics at /metrics (keep the path from the public: the nginx site
    /// in contrib/ does)
    #[arg(long, env = "RAS_METRICS", value_name = "on|off", default_value = "on")]
    pub metrics: Switch,

    /// Connections served at once; more wait in the kernel's queue until one ends. Lowered
    /// by itself to fit the open-files limit (ulimit -n, LimitNOFILE)
    #[arg(
        long,
        env = "RAS_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = DEFAULT_MAX_CONNECTIONS as u64,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000)
    )]
    pub max_connections: u64,

    /// Connections one client address (IPv6: one /64) may hold at once; more are answered
    /// 503 and closed at once. Counted per TCP peer: a --trusted-proxy is exempt (it
    /// carries every learner's connections; limit them in the proxy)
    #[arg(
        long,
        env = "RAS_MAX_CONNECTIONS_PER_ADDRESS",
        value_name = "N",
        default_value_t = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS as u64,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000)
    )]
    pub max_connections_per_address: u64,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

impl ServeArgs {
    /// How long one Redis call may take.
    pub(crate) fn redis_deadline(&self) -> Duration {
        Duration::from_millis(self.redis_timeout)
    }
}

/// The flags of `purge`.
#[derive(Args, Debug)]
pub struct PurgeArgs {
    /// Delete learners whose latest attempt is older than this many days
    #[arg(long, env = "RAS_RETENTION", value_name = "DAYS", value_parser = parse_days)]
    pub older_than: u32,

    /// Only count what would be deleted
    #[arg(long, env = "RAS_PURGE_DRY_RUN")]
    pub dry_run: bool,

    /// The database it works on.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// The flags of `backup`.
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Where to write the copy: a new file, or with --force an existing one, which is
    /// replaced once the copy checks out (never the database itself, nor a device or folder)
    #[arg(value_name = "PATH")]
    pub to: std::path::PathBuf,

    /// Replace the file at PATH if there is one (as a nightly backup replaces the last)
    #[arg(long)]
    pub force: bool,

    /// The database it copies.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// The flags of `delete-user`.
#[derive(Args, Debug)]
pub struct DeleteUserArgs {
    /// The learner's key (the uuid their check script keeps)
    pub key: String,

    /// The database it deletes from.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// The flag of subcommands that work on an existing database and nothing else.
#[derive(Args, Debug)]
pub struct DatabaseArgs {
    /// SQLite database file (it must exist)
    #[arg(
        long,
        env = "RAS_DB",
        value_name = "PATH",
        default_value = DEFAULT_DB
    )]
    pub db: String,
}

/// A rate limit, or none (`off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSpec(pub(crate) Option<RateLimit>);

impl std::fmt::Display for RateLimitSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(limit) => limit.fmt(f),
            None => f.write_str("off"),
        }
    }
}

fn parse_rate_limit(spec: &str) -> Result<RateLimitSpec, String> {
    if spec.trim().eq_ignore_ascii_case("off") {
        return Ok(RateLimitSpec(None));
    }
    spec.parse().map(|limit| RateLimitSpec(Some(limit)))
}

fn parse_trusted_proxies(list: &str) -> Result<TrustedProxies, String> {
    list.parse()
}

/// A whole number of days, at least one (a retention of zero days would delete everything).
fn parse_days(text: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|days| (1..=36_500).contains(days))
        .ok_or_else(|| format!("'{text}' is not a number of days from 1 to 36500"))
}

fn parse_checks(list: &str) -> Result<Checks, String> {
    parse_known_checks(list)
}

/// A URL the Redis client can connect to, over TCP or a Unix socket. TLS (`rediss://`) is
/// not built in: Redis on the same host or a private network needs none.
fn parse_redis_url(url: &str) -> Result<RedisUrl, String> {
    let url = url.trim();
    if url.starts_with("rediss://") {
        let why =
            "rediss:// (TLS) is not supported; use redis:// on this host or a private network";
        return Err(why.into());
    }
    if !["redis://", "redis+unix://", "unix://"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
    {
        return Err("expected redis://[:PASSWORD@]HOST[:PORT][/DB] or redis+unix:///PATH".into());
    }
    // The client's own reading of the URL; its errors do not repeat the URL.
    redis::Client::open(url).map_err(|e| format!("not a Redis URL: {e}"))?;
    Ok(RedisUrl::new(url))
}

/// Printable, without spaces: it becomes part of every key.
fn parse_redis_prefix(prefix: &str) -> Result<String, String> {
    if prefix.len() > 100 || prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a prefix is at most 100 characters, without spaces, e.g. ras:".into());
    }
    Ok(prefix.to_owned())
}
