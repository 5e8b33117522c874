//! Flag values that more than one subcommand takes: the default database file and the
//! public URL's parser. Here rather than in `args.rs`, so that `workshop.rs` takes them
//! without importing `args.rs`, which imports it.

/// The database file every subcommand uses unless told otherwise: in the working directory.
pub(super) const DEFAULT_DB: &str = "result-aggregation.db";

/// What a base URL is made of: RFC 3986's unreserved characters, `%` escapes, `:` and `/`,
/// and brackets for an IPv6 address. Nothing a shell or PowerShell treats specially outside
/// quotes (`'`, `"`, `$`, `;`, `&`, spaces...), so the commands built from it stay one word.
fn is_url_character(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~%:/[]".contains(c)
}

/// An http(s) URL of scheme, host, port and path only, without a trailing slash, so paths
/// can be appended to it. Parsed by the `url` crate (the WHATWG rules browsers follow), so
/// what learners' browsers and curl make of it is what we checked.
pub(crate) fn parse_public_url(text: &str) -> Result<String, String> {
    const EXPECTED: &str = "expected http(s)://HOST[:PORT][/PATH], e.g. https://checks.example.org";
    let text = text.trim();
    for (c, part) in [
        ('?', "a query"),
        ('#', "a fragment"),
        ('@', "a user or password"),
    ] {
        if text.contains(c) {
            return Err(format!("{part} ({c}) has no place in it; {EXPECTED}"));
        }
    }
    if let Some(c) = text.chars().find(|c| !is_url_character(*c)) {
        return Err(format!("{c:?} has no place in it; {EXPECTED}"));
    }
    let url = url::Url::parse(text).map_err(|e| format!("not a URL ({e}); {EXPECTED}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("the scheme must be http or https; {EXPECTED}"));
    }
    let plain_name = |name: &str| {
        name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        })
    };
    match url.host() {
        Some(url::Host::Domain(name)) if plain_name(name.trim_end_matches('.')) => {}
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => {}
        _ => return Err(format!("no host name in it; {EXPECTED}")),
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11, item 7: a `--public-url` that broke out of the landing page's curl command,
    /// and `?` and `#` that made broken script URLs, were accepted.
    #[test]
    fn a_public_url_is_scheme_host_port_and_path() {
        for (given, kept) in [
            ("https://checks.example.org/", "https://checks.example.org"),
            ("http://192.0.2.10:8080", "http://192.0.2.10:8080"),
            ("http://my_host:8080/ras/", "http://my_host:8080/ras"),
            ("HTTP://Checks.Example.org", "http://checks.example.org"),
            ("http://[2001:db8::1]:8080", "http://[2001:db8::1]:8080"),
            ("  https://x.org/a%20b  ", "https://x.org/a%20b"),
        ] {
            assert_eq!(parse_public_url(given).as_deref(), Ok(kept), "{given}");
        }
        for bad in [
            "http://x';touch${IFS}/tmp/PWNED;'",
            "http://x.org/?workshop=a",
            "http://x.org/#top",
            "http://user:pw@x.org",
            "http://x.org/a b",
            "http://x.org/\"",
            "http://x.org/$(id)",
            "ftp://x.org",
            "x.org",
            "http://",
            "http://x..org",
        ] {
            let refused = parse_public_url(bad);
            assert!(refused.is_err(), "{bad}: {refused:?}");
            assert!(!refused.unwrap_err().contains('\n'));
        }
    }
}
