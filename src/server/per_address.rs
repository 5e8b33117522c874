//! Connections per client address: one address (an IPv6 client by its /64, as the throttle
//! counts it) may hold at most `--max-connections-per-address` connections, so that one
//! client's idle sockets cannot take every slot of `--max-connections` from the others.
//! The count is of TCP connections, so it is per TCP peer; a trusted proxy carries every
//! learner's connections and is exempt (the proxy limits its own clients).

use crate::config::{canonical, TrustedProxies};
use crate::throttle::budget_key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// What a connection over its address's cap is told before it is closed. Written whole,
/// before its request is read: the client needs nothing of ours to understand it.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 90\r\n\r\n\
{\"error\":\"too many connections\",\"detail\":\"close some connections from this address first\"}";

/// How often at most the log says that connections were refused.
const REFUSALS_LOGGED_EVERY: Duration = Duration::from_secs(60);

/// Open connections per address, and the cap.
pub(super) struct PerAddress {
    cap: usize,
    proxies: TrustedProxies,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// Connections refused since the log last said so, and when it did.
    refused: Mutex<(u64, Option<Instant>)>,
}

/// One open connection's share of its address's count, given back when dropped.
pub(super) struct Ticket {
    address: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            // An address without connections is forgotten: the map holds only open ones.
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

impl PerAddress {
    pub(super) fn new(cap: usize, proxies: TrustedProxies) -> PerAddress {
        PerAddress {
            cap,
            proxies,
            open: Arc::default(),
            refused: Mutex::new((0, None)),
        }
    }

    /// A ticket for one more connection from `peer`: `Ok(None)` for a trusted proxy (not
    /// counted), `Err(())` when the address holds its cap already.
    pub(super) fn admit(&self, peer: IpAddr) -> Result<Option<Ticket>, ()> {
        let peer = canonical(peer);
        if self.proxies.trusts(peer) {
            return Ok(None);
        }
        let address = budget_key(peer);
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(address).or_insert(0);
        if *count >= self.cap {
            return Err(());
        }
        *count += 1;
        Ok(Some(Ticket {
            address,
            open: self.open.clone(),
        }))
    }

    /// Answers a connection over its address's cap with a 503 and closes it, without
    /// waiting for anything: the accept loop calls this. What the client sent already is
    /// read and dropped first, so that the close is not a reset that loses the answer.
    pub(super) fn refuse(&self, stream: TcpStream, peer: IpAddr) {
        let _ = stream.try_write(REFUSAL);
        let mut scratch = [0; 4096];
        for _ in 0..16 {
            match stream.try_read(&mut scratch) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        drop(stream);
        let mut refused = self
            .refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        refused.0 += 1;
        let due = refused
            .1
            .is_none_or(|said| said.elapsed() >= REFUSALS_LOGGED_EVERY);
        if due {
            log::warn!(
                "refused {} connection(s) from addresses that held {} already \
                 (--max-connections-per-address), the latest from {}",
                refused.0,
                self.cap,
                canonical(peer)
            );
            *refused = (0, Some(Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_refusal_is_a_whole_http_answer() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("Content-Length: {}", body.len())),
            "{head}"
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"], "too many connections");
    }

    #[test]
    fn each_address_holds_its_cap_and_a_trusted_proxy_is_not_counted() {
        let per = PerAddress::new(2, "10.0.0.1".parse().unwrap());
        let mut held = Vec::new();
        for address in [
            "192.0.2.1",
            "::ffff:192.0.2.1",
            "2001:db8::1",
            "2001:db8::2",
        ] {
            held.push(per.admit(ip(address)).unwrap().expect("counted"));
        }
        // The third from one address is over its cap; IPv6 counts by its /64.
        assert!(per.admit(ip("192.0.2.1")).is_err());
        assert!(per.admit(ip("2001:db8::3")).is_err());
        held.push(per.admit(ip("192.0.2.2")).unwrap().unwrap());
        held.push(per.admit(ip("2001:db8:0:1::3")).unwrap().unwrap());
        for _ in 0..10 {
            assert!(matches!(per.admit(ip("10.0.0.1")), Ok(None)));
        }
        assert_eq!(per.open.lock().unwrap().len(), 4);
        held.remove(0);
        held.push(per.admit(ip("192.0.2.1")).unwrap().unwrap());
        assert!(
            per.admit(ip("192.0.2.1")).is_err(),
            "one given back, one taken"
        );
        drop(held);
        assert!(
            per.open.lock().unwrap().is_empty(),
            "only open addresses are kept"
        );
    }
}
