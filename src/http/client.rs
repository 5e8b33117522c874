//! Which address a request comes from: the TCP peer, unless the peer is a proxy we were told
//! to trust, in which case its forwarding headers say.

use crate::config::{canonical, TrustedProxies};
use hyper::header::HOST;
use hyper::HeaderMap;
use std::net::IpAddr;

/// The client's address. Only a trusted peer's headers count; in X-Forwarded-For the client
/// is the rightmost address that is not itself a trusted proxy (anything left of it was
/// written by the client and may be forged).
pub fn client_ip(proxies: &TrustedProxies, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
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

/// The base URL learners use to reach this server: `--public-url` when set, otherwise what
/// the request's Host header says (if it looks like a host), as http.
pub fn base_url(public_url: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(url) = public_url {
        return url.to_owned();
    }
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".:-[]".contains(c))
        })
        .unwrap_or("127.0.0.1:8080");
    format!("http://{host}")
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
