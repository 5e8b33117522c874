//! Which address a request comes from: the TCP peer, unless the peer is a proxy we were told
//! to trust, in which case its forwarding headers say.

use crate::config::{canonical, TrustedProxies};
use hyper::header::HOST;
use hyper::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// The client's address. Only a trusted peer's headers count; in X-Forwarded-For the client
/// is the rightmost address that is not itself a trusted proxy (anything left of it was
/// written by the client and may be forged).
pub(crate) fn client_ip(proxies: &TrustedProxies, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let peer = canonical(peer);
    if !proxies.trusts(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    // Walk from the nearest hop outwards; every hop we pass is one of our proxies.
    let mut nearest_proxy = None;
    for hop in hops.iter().rev() {
        match parse_forwarded(hop) {
            Some(addr) if proxies.trusts(addr) => nearest_proxy = Some(addr),
            Some(addr) => return addr,
            None => break,
        }
    }
    if let Some(proxy) = nearest_proxy {
        // Every readable hop is trusted: the outermost is as close to the client as we know.
        return proxy;
    }
    headers
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_forwarded(v.trim()))
        .unwrap_or(peer)
}

/// The local address a request arrived on (the accepted socket's), put into each request's
/// extensions by the server: where the client reached us when its Host header cannot say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArrivedAt(pub SocketAddr);

/// Longest Host header taken as a host name (DNS names are at most 253 bytes, plus a port).
const MAX_HOST_BYTES: usize = 260;

/// The base URL learners use to reach this server: `--public-url` when set; otherwise the
/// scheme and host the request names. Behind a trusted proxy (`from_proxy`, the TCP peer is
/// one) its `X-Forwarded-Proto` says the scheme and its `X-Forwarded-Host` the host, so that
/// a site served over TLS writes `https://` links; from any other peer those headers are the
/// client's own words and never count. The host is the Host header when it names one (names
/// with underscores included, as container service names have them), otherwise the address
/// the request arrived on. Never an address the client did not reach us at.
pub(crate) fn base_url(
    public_url: Option<&str>,
    headers: &HeaderMap,
    arrived_at: SocketAddr,
    from_proxy: bool,
) -> String {
    if let Some(url) = public_url {
        return url.to_owned();
    }
    let forwarded = |name| from_proxy.then(|| only_value(headers, name)).flatten();
    let scheme = forwarded(X_FORWARDED_PROTO)
        .map(str::trim)
        .and_then(|proto| {
            ["http", "https"]
                .into_iter()
                .find(|s| proto.eq_ignore_ascii_case(s))
        })
        .unwrap_or("http");
    let host = forwarded(X_FORWARDED_HOST)
        .filter(|h| is_host(h))
        .or_else(|| only_value(headers, HOST.as_str()).filter(|h| is_host(h)));
    match host {
        Some(host) => format!("{scheme}://{}", host.to_ascii_lowercase()),
        None => format!("{scheme}://{}", socket_text(arrived_at)),
    }
}

/// The scheme the client used to reach a trusted proxy (nginx: `$scheme`).
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";
/// The host and port the client asked a trusted proxy for (nginx: `$http_host`).
const X_FORWARDED_HOST: &str = "x-forwarded-host";

/// The header's value when the request carries it exactly once, as visible ASCII: which of
/// two the client meant is anyone's guess, so two count as none.
fn only_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok(),
        _ => None,
    }
}

/// `name[:port]`, `a.b.c.d[:port]` or `[v6][:port]`, as a Host header carries them.
fn is_host(host: &str) -> bool {
    if host.is_empty() || host.len() > MAX_HOST_BYTES {
        return false;
    }
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') || name.ends_with(']') => (name, Some(port)),
        _ => (host, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            let name = name.strip_suffix('.').unwrap_or(name);
            !name.is_empty()
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
        }
    };
    port_ok && name_ok
}

/// A socket address as a URL's authority: IPv4-mapped IPv6 as IPv4, a scope id escaped.
fn socket_text(addr: SocketAddr) -> String {
    match canonical(addr.ip()) {
        IpAddr::V4(v4) => format!("{v4}:{}", addr.port()),
        IpAddr::V6(v6) => format!("[{v6}]:{}", addr.port()),
    }
}

/// True when the request carries more than one Host header: which one the client meant is
/// anyone's guess (a proxy and we may read different ones), so it is refused.
pub(crate) fn has_several_hosts(headers: &HeaderMap) -> bool {
    headers.get_all(HOST).iter().nth(1).is_some()
}

/// An address as a forwarding header writes it: `192.0.2.1`, `2001:db8::1`, `[2001:db8::1]:80`,
/// `192.0.2.1:4711`.
fn parse_forwarded(item: &str) -> Option<IpAddr> {
    if let Ok(addr) = item.parse::<IpAddr>() {
        return Some(canonical(addr));
    }
    item.parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| canonical(s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                hyper::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Issue 11, item 5: no Host, an underscore, a non-ASCII Host all got
    /// `http://127.0.0.1:8080`, whatever the server listened on.
    #[test]
    fn the_base_url_is_the_host_named_or_where_the_request_arrived() {
        let arrived: SocketAddr = "192.0.2.5:9000".parse().unwrap();
        let base = |pairs: &[(&str, &str)]| base_url(None, &headers(pairs), arrived, false);
        assert_eq!(base(&[]), "http://192.0.2.5:9000");
        assert_eq!(base(&[("host", "my_host:8080")]), "http://my_host:8080");
        assert_eq!(
            base(&[("host", "Checks.Example.org")]),
            "http://checks.example.org"
        );
        assert_eq!(
            base(&[("host", "[2001:db8::1]:80")]),
            "http://[2001:db8::1]:80"
        );
        assert_eq!(base(&[("host", "10.0.0.1")]), "http://10.0.0.1");
        for odd in [
            "", "a b", "x:y", "h:123456", "a..b", "evil\"@x", "[::1", "a/b", ":80",
        ] {
            assert_eq!(base(&[("host", odd)]), "http://192.0.2.5:9000", "{odd:?}");
        }
        let mut utf8 = HeaderMap::new();
        utf8.insert(
            HOST,
            hyper::header::HeaderValue::from_bytes("bücher.de".as_bytes()).unwrap(),
        );
        assert_eq!(
            base_url(None, &utf8, arrived, false),
            "http://192.0.2.5:9000"
        );
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:8081".parse().unwrap();
        assert_eq!(
            base_url(None, &HeaderMap::new(), mapped, false),
            "http://127.0.0.1:8081"
        );
        assert_eq!(
            base_url(
                Some("https://x.org"),
                &headers(&[("host", "y")]),
                arrived,
                true
            ),
            "https://x.org"
        );
        let twice = headers(&[("host", "a.org"), ("host", "b.org")]);
        assert!(has_several_hosts(&twice));
        assert_eq!(
            base_url(None, &twice, arrived, false),
            "http://192.0.2.5:9000"
        );
    }

    /// Issue 20, item 1: behind nginx with TLS the landing page and the served script said
    /// `http://`, and the script's reports went to nginx's redirect. A trusted proxy's
    /// `X-Forwarded-Proto` and `X-Forwarded-Host` now name the scheme and host, checked as
    /// strictly as a Host header; anyone else's are ignored, and `--public-url` still wins.
    #[test]
    fn a_trusted_proxy_names_the_scheme_and_host_the_learner_used() {
        let arrived: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let base = |pairs: &[(&str, &str)], from_proxy| {
            base_url(None, &headers(pairs), arrived, from_proxy)
        };
        let proxied = [
            ("host", "checks.example.org"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "Checks.Example.org:8443"),
        ];
        assert_eq!(base(&proxied, true), "https://checks.example.org:8443");
        assert_eq!(base(&proxied, false), "http://checks.example.org");
        assert_eq!(
            base(
                &[
                    ("host", "checks.example.org"),
                    ("x-forwarded-proto", "HTTPS ")
                ],
                true
            ),
            "https://checks.example.org"
        );
        // A bad forwarded host falls back to the Host header; a bad scheme to http.
        for (proto, host) in [
            ("ftp", "a b"),
            ("https, http", "evil\"@x"),
            ("javascript", "x.org,y.org"),
            ("", "[::1"),
        ] {
            let pairs = [
                ("host", "checks.example.org"),
                ("x-forwarded-proto", proto),
                ("x-forwarded-host", host),
            ];
            assert_eq!(
                base(&pairs, true),
                "http://checks.example.org",
                "{proto} {host}"
            );
        }
        // Two of a kind are ambiguous: none counts.
        let twice = [
            ("host", "checks.example.org"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "a.org"),
            ("x-forwarded-host", "b.org"),
        ];
        assert_eq!(base(&twice, true), "http://checks.example.org");
        // No Host at all: the scheme still counts, the host is where the request arrived.
        assert_eq!(
            base(&[("x-forwarded-proto", "https")], true),
            "https://127.0.0.1:8080"
        );
        assert_eq!(
            base_url(
                Some("https://pinned.org"),
                &headers(&proxied),
                arrived,
                true
            ),
            "https://pinned.org"
        );
    }

    #[test]
    fn untrusted_peers_headers_are_ignored() {
        let proxies: TrustedProxies = "10.0.0.1".parse().unwrap();
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-real-ip", "203.0.113.9"),
        ]);
        assert_eq!(
            client_ip(&proxies, ip("198.51.100.7"), &h),
            ip("198.51.100.7")
        );
        let none = TrustedProxies::default();
        assert_eq!(client_ip(&none, ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn trusted_proxy_headers_name_the_client() {
        let proxies: TrustedProxies = "127.0.0.1, 10.0.0.0/8".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.1.2.3")]);
        // 1.2.3.4 was written by the client; 10.1.2.3 is our own inner proxy.
        assert_eq!(client_ip(&proxies, ip("127.0.0.1"), &h), ip("203.0.113.9"));
        let h = headers(&[("x-real-ip", "203.0.113.10")]);
        assert_eq!(
            client_ip(&proxies, ip("::ffff:127.0.0.1"), &h),
            ip("203.0.113.10")
        );
        let h = headers(&[("x-forwarded-for", "garbage")]);
        assert_eq!(client_ip(&proxies, ip("127.0.0.1"), &h), ip("127.0.0.1"));
        let h = headers(&[("x-forwarded-for", "[2001:db8::5]:443")]);
        assert_eq!(client_ip(&proxies, ip("127.0.0.1"), &h), ip("2001:db8::5"));
    }
}
