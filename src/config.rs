//! What the program was told to do, checked once: the [`Config`] that `cli` builds and every
//! other module reads, and the plain types it holds. Nothing here knows about HTTP or SQL.

use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Everything `serve` needs, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address and port to listen on.
    pub listen: SocketAddr,
    /// Where the database lives.
    pub db: Location,
    /// Submissions allowed per client address; `None`: throttling is off.
    pub rate_limit: Option<RateLimit>,
    /// Peers whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
    /// How learners reach us (`https://checks.example.org`), for the served script and pages.
    pub public_url: Option<String>,
    /// The checks the served script runs.
    pub checks: Checks,
    /// Learners whose latest attempt is older than this are deleted once a day; `None`:
    /// everything is kept.
    pub retention: Option<Duration>,
    /// Where instances that share one budget count it; `None`: in this process only.
    pub redis: Option<RedisSettings>,
    /// Whether `GET /metrics` answers (Prometheus scrapes it; `--metrics off` hides it).
    pub metrics: bool,
    /// Connections served at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Connections one client address (IPv6: one /64) may hold at once; more are answered
    /// 503 and closed. Trusted proxies are exempt.
    pub max_connections_per_address: usize,
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
            retention: None,
            redis: None,
            metrics: true,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
        }
    }
}

/// Connections served at once unless `--max-connections` says otherwise: far more than the
/// learners of many workshops submitting together (a submission takes milliseconds), and
/// with the few files the server opens besides, under the `LimitNOFILE=4096` of the systemd
/// units. Each connection costs a file descriptor and some 20 KiB of buffers.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Connections one address may hold at once unless `--max-connections-per-address` says
/// otherwise. A learner's script uses one connection at a time and a browser at most six, so
/// a venue's NAT carrying a whole workshop (scripts reporting together, a few dashboards
/// open) stays well under it; one address takes at most a sixteenth of the default
/// [`DEFAULT_MAX_CONNECTIONS`], so no single client can fill the server.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 64;

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file, created if missing.
    File(PathBuf),
    /// A private in-memory database (tests, demos): gone when the store closes.
    Memory,
}

impl Location {
    /// `:memory:` is the in-memory database, as in sqlite3; anything else is a file path.
    pub fn parse(text: &str) -> Location {
        if text == ":memory:" {
            Location::Memory
        } else {
            Location::File(PathBuf::from(text))
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Memory => f.write_str(":memory:"),
        }
    }
}

/// The seed's figure: 100 submissions an hour per address.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
    count: 100,
    window: Duration::from_secs(3600),
};

/// `count` submissions per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Submissions allowed in one window.
    pub count: u32,
    /// How long a window lasts; counts start again at zero after it.
    pub window: Duration,
}

impl FromStr for RateLimit {
    type Err = String;

    /// `N/second`, `N/minute`, `N/hour` or `N/day` (`off` is handled by the caller).
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let expected = "expected N/minute, N/hour, N/day or off, e.g. 100/hour";
        let (count, unit) = spec.split_once('/').ok_or_else(|| expected.to_string())?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("'{count}' is not a positive whole number; {expected}"))?;
        let seconds = match unit.trim().trim_end_matches('s') {
            "second" | "sec" => 1,
            "minute" | "min" => 60,
            "hour" | "h" => 3600,
            "day" | "d" => 86_400,
            other => return Err(format!("unknown period '{other}'; {expected}")),
        };
        Ok(RateLimit {
            count,
            window: Duration::from_secs(seconds),
        })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.window.as_secs() {
            1 => "second",
            60 => "minute",
            3600 => "hour",
            86_400 => "day",
            s => return write!(f, "{}/{s}s", self.count),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// Proxies whose X-Forwarded-For / X-Real-IP we believe (addresses or CIDR ranges).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list of addresses (`127.0.0.1`, `::1`) or ranges (`10.0.0.0/8`).
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("'{item}' is not an IP address or CIDR range"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(","))
    }
}

impl TrustedProxies {
    /// True when no proxy is trusted: every peer is the client.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `addr` is one of the proxies (IPv4 peers on a dual-stack socket included).
    pub fn trusts(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.0.iter().any(|net| net.contains(&addr))
    }
}

/// IPv4 peers on a dual-stack socket arrive as `::ffff:a.b.c.d`; treat them as IPv4.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The shared throttle's Redis: how to reach it, how long to wait for it, and the namespace
/// of its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// The server, e.g. `redis://:password@127.0.0.1:6379/0`; redacted when shown.
    pub url: RedisUrl,
    /// Put before every key, so one Redis can serve other programs (and tests) too.
    pub prefix: String,
    /// How long one Redis call may take before the submission is counted in this process.
    pub deadline: Duration,
}

/// The prefix of every key unless `--redis-prefix` says otherwise.
pub const DEFAULT_REDIS_PREFIX: &str = "ras:";

/// How long one Redis call may take: tens of milliseconds, so that a slow or hung Redis
/// costs a learner no more than that before the in-process count takes over.
pub const DEFAULT_REDIS_DEADLINE: Duration = Duration::from_millis(50);

/// A Redis URL. It may carry a password, so `Debug` and `Display` show it redacted; only
/// [`RedisUrl::expose`] gives the whole text, to connect with.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// The URL as given (checked by the caller); shown only redacted.
    pub fn new(url: &str) -> RedisUrl {
        RedisUrl(url.to_owned())
    }

    /// The whole URL, password included: for connecting, never for logs.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `url` with any password replaced by `***`: the user-info part of the authority
    /// (`redis://user:secret@host` keeps `user`; `redis://secret@host` loses it all, as
    /// some clients read a lone name as the password), and `pass`/`password` query values.
    pub fn redact(url: &str) -> String {
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (format!("{scheme}://"), rest),
            None => (String::new(), url),
        };
        let (before_query, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        let authority_end = before_query.find('/').unwrap_or(before_query.len());
        let (authority, path) = before_query.split_at(authority_end);
        let authority = match authority.rsplit_once('@') {
            Some((info, host)) => match info.split_once(':') {
                Some((user, _)) => format!("{user}:***@{host}"),
                None => format!("***@{host}"),
            },
            None => authority.to_owned(),
        };
        let query = query.map(|query| {
            query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if ["pass", "password"].contains(&name) => {
                        format!("{name}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("&")
        });
        match query {
            Some(query) => format!("{scheme}{authority}{path}?{query}"),
            None => format!("{scheme}{authority}{path}"),
        }
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&RedisUrl::redact(&self.0))
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

/// One check the host asks for: `NAME`, `NAME>=VERSION`, either followed by `?` (optional).
/// The same grammar as the script's `parse_check_spec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec(String);

impl CheckSpec {
    /// The spec as the script reads it, e.g. `git>=2.30` or `make?`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The check's name, e.g. `git`.
    pub fn name(&self) -> &str {
        let body = self.0.strip_suffix('?').unwrap_or(&self.0);
        body.split_once(">=").map_or(body, |(name, _)| name)
    }

    /// The minimum version asked for, if any.
    pub fn minimum(&self) -> Option<&str> {
        let body = self.0.strip_suffix('?').unwrap_or(&self.0);
        body.split_once(">=").map(|(_, version)| version)
    }

    /// True for a check whose failure is only a warning (`make?`).
    pub fn optional(&self) -> bool {
        self.0.ends_with('?')
    }
}

impl FromStr for CheckSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let spec = spec.trim();
        let body = spec.strip_suffix('?').unwrap_or(spec);
        let (name, version) = match body.split_once(">=") {
            Some((name, version)) => (name, Some(version)),
            None => (body, None),
        };
        let name_ok = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
        let version_ok = version.is_none_or(|v| {
            v.starts_with(|c: char| c.is_ascii_digit())
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".+-".contains(c))
        });
        if name_ok && version_ok {
            Ok(CheckSpec(spec.to_owned()))
        } else {
            Err(format!(
                "'{spec}' is not a check: expected NAME or NAME>=VERSION, optionally followed by ?"
            ))
        }
    }
}

impl fmt::Display for CheckSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The host's list of checks, `None` for the script's own default list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checks(pub Option<Vec<CheckSpec>>);

impl FromStr for Checks {
    type Err = String;

    /// A comma-separated list of check specs; `default` (or nothing) for the script's list.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        if list.trim().is_empty() || list.trim() == "default" {
            return Ok(Checks(None));
        }
        list.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(|specs| Checks(Some(specs)))
    }
}

impl fmt::Display for Checks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("default"),
            Some(specs) => {
                let names: Vec<String> = specs.iter().map(ToString::to_string).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_specs() {
        assert_eq!("100/hour".parse::<RateLimit>().unwrap(), DEFAULT_RATE_LIMIT);
        assert_eq!(
            "5/minute".parse::<RateLimit>().unwrap().window.as_secs(),
            60
        );
        assert_eq!(
            "1000/day".parse::<RateLimit>().unwrap().window.as_secs(),
            86_400
        );
        assert_eq!("2/hours".parse::<RateLimit>().unwrap().count, 2);
        for bad in ["", "100", "0/hour", "-1/hour", "x/hour", "100/fortnight"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
        assert_eq!(DEFAULT_RATE_LIMIT.to_string(), "100/hour");
    }

    #[test]
    fn bad_proxy_lists_are_refused() {
        assert!("10.0.0.1, nonsense".parse::<TrustedProxies>().is_err());
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        let proxies: TrustedProxies = "127.0.0.1, 10.0.0.0/8".parse().unwrap();
        assert!(proxies.trusts("::ffff:127.0.0.1".parse().unwrap()));
        assert!(proxies.trusts("10.9.8.7".parse().unwrap()));
        assert!(!proxies.trusts("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn redis_passwords_never_show() {
        let cases = [
            (
                "redis://:s3cret@127.0.0.1:6379/0",
                "redis://:***@127.0.0.1:6379/0",
            ),
            ("redis://ras:s3cret@host/1", "redis://ras:***@host/1"),
            ("redis://s3cret@host", "redis://***@host"),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            (
                "redis+unix:///run/redis.sock?db=1&pass=s3cret",
                "redis+unix:///run/redis.sock?db=1&pass=***",
            ),
            ("redis://:p@ss:w@rd@host/0", "redis://:***@host/0"),
        ];
        for (url, shown) in cases {
            assert_eq!(RedisUrl::redact(url), shown);
        }
        let config = Config {
            redis: Some(RedisSettings {
                url: RedisUrl::new("redis://:s3cret@127.0.0.1:6379/0"),
                prefix: DEFAULT_REDIS_PREFIX.into(),
                deadline: DEFAULT_REDIS_DEADLINE,
            }),
            ..Config::in_memory()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("redis://:***@127.0.0.1:6379/0"), "{shown}");
    }

    #[test]
    fn specs_follow_the_scripts_grammar() {
        for good in [
            "git",
            "git>=2.0",
            "python>=3.8?",
            "make?",
            "scikit-learn",
            "r>=4.0.1rc1",
        ] {
            assert!(good.parse::<CheckSpec>().is_ok(), "{good}");
        }
        for bad in ["Git", "git>=", "git>=x", "-git", "git >=2", "git?>=2", ""] {
            assert!(bad.parse::<CheckSpec>().is_err(), "{bad}");
        }
        let spec: CheckSpec = "python>=3.10?".parse().unwrap();
        assert_eq!(
            (spec.name(), spec.minimum(), spec.optional()),
            ("python", Some("3.10"), true)
        );
        assert_eq!("".parse::<Checks>().unwrap(), Checks(None));
        assert_eq!(
            "git, numpy?".parse::<Checks>().unwrap().to_string(),
            "git,numpy?"
        );
    }
}
