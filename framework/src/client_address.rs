//! The address of the client a request comes from (Django's `REMOTE_ADDR`),
//! seen through the proxies the `trusted_proxies` setting names.
//!
//! `serve` and `runserver` give every request the TCP peer's address as
//! axum's [`ConnectInfo`]; a request over a unix socket has none. Behind
//! nginx every peer is nginx itself, so the real client is read from
//! `X-Forwarded-For` (which `deployconfig nginx` sets with
//! `$proxy_add_x_forwarded_for`: what the client sent, then the address
//! nginx saw), and only when the peer is a trusted proxy: anybody can send
//! that header, so it is never read otherwise.
//!
//! ```
//! use std::net::IpAddr;
//! use nuages::client_address::TrustedProxies;
//!
//! let trusted = TrustedProxies::new(&["127.0.0.1".to_string()]).unwrap();
//! let nginx: IpAddr = "127.0.0.1".parse().unwrap();
//! let client = trusted.client(Some(nginx), Some("6.6.6.6, 203.0.113.7"));
//! assert_eq!(client, Some("203.0.113.7".parse().unwrap()), "the rightmost untrusted one");
//! let stranger: IpAddr = "198.51.100.1".parse().unwrap();
//! assert_eq!(trusted.client(Some(stranger), Some("203.0.113.7")), Some(stranger));
//! ```

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::request::Parts;

use crate::error::{Error, Problem, Result};

/// What `trusted_proxies` names for a peer on a unix socket (a web server
/// on this machine), which has no address.
pub const UNIX_PEER: &str = "unix";

/// The `trusted_proxies` setting, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    addresses: Vec<IpAddr>,
    unix: bool,
}

impl TrustedProxies {
    /// Parse the setting: IP addresses, and `"unix"` for a peer on a unix
    /// socket. An entry that is neither is an error naming it.
    pub fn new(entries: &[String]) -> Result<Self> {
        let mut trusted = TrustedProxies::default();
        for entry in entries {
            if entry == UNIX_PEER {
                trusted.unix = true;
                continue;
            }
            match entry.trim().parse::<IpAddr>() {
                Ok(address) => trusted.addresses.push(address.to_canonical()),
                Err(_) => {
                    return Err(Error::Config(
                        Problem::new(format!(
                            "trusted_proxies holds \"{entry}\", which is not an IP address"
                        ))
                        .with_hint(
                            "list the addresses your web server connects from, e.g. \
                             trusted_proxies = [\"127.0.0.1\"], or \"unix\" when it connects \
                             over serve's unix socket",
                        ),
                    ));
                }
            }
        }
        Ok(trusted)
    }

    /// Whether `address` is a trusted proxy's (`None`: a unix socket's
    /// peer). An IPv4 address mapped into IPv6 (`::ffff:127.0.0.1`, how a
    /// socket listening on `[::]` sees an IPv4 peer) is its IPv4 address.
    fn trusts(&self, address: Option<IpAddr>) -> bool {
        match address {
            Some(address) => self.addresses.contains(&address.to_canonical()),
            None => self.unix,
        }
    }

    /// The client's address, from the connection's `peer` (`None` for a
    /// unix socket) and the request's `X-Forwarded-For`: the peer itself
    /// unless it is trusted; else the rightmost forwarded address that is
    /// not a trusted proxy (an address left of it could be made up by the
    /// client). `None` when nothing trustworthy is known.
    pub fn client(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|hop| !hop.is_empty())
            .collect();
        let mut last_parsed = peer;
        for hop in hops.iter().rev() {
            let Some(address) = parse_hop(hop) else {
                // Garbage from the client's side: nothing left of it counts.
                return last_parsed;
            };
            if !self.trusts(Some(address)) {
                return Some(address);
            }
            last_parsed = Some(address);
        }
        last_parsed
    }

    /// The client address of a request (see [`Self::client`]).
    pub fn client_of(&self, parts: &Parts) -> Option<IpAddr> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        if !self.trusts(peer) {
            // The headers cannot change the answer: skip joining them.
            return peer;
        }
        // Read leniently: bytes a client sent that are not UTF-8 spoil only
        // their own hop, not the ones the proxies added on their right.
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()))
            .collect::<Vec<_>>()
            .join(",");
        self.client(peer, Some(&forwarded))
    }
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `::1`,
/// `[::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|address| address.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let none = TrustedProxies::new(&[]).unwrap();
        assert_eq!(
            none.client(Some(ip("127.0.0.1")), Some("203.0.113.7")),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(none.client(None, Some("203.0.113.7")), None);

        let nginx = TrustedProxies::new(&["127.0.0.1".into(), "10.0.0.2".into()]).unwrap();
        let local = Some(ip("127.0.0.1"));
        assert_eq!(
            nginx.client(local, Some("1.1.1.1, 203.0.113.7, 10.0.0.2")),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(nginx.client(local, None), local, "no header: the peer");
        assert_eq!(
            nginx.client(local, Some("junk, 10.0.0.2")),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(
            nginx.client(local, Some("[2001:db8::1]:443")),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(nginx.client(None, Some("203.0.113.7")), None, "no unix");

        let unix = TrustedProxies::new(&["unix".into()]).unwrap();
        assert_eq!(
            unix.client(None, Some("203.0.113.7")),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn an_entry_that_is_no_address_is_refused() {
        let error = TrustedProxies::new(&["localhost".into()]).unwrap_err();
        assert!(error.to_string().contains("\"localhost\""), "{error}");
        assert!(error.hint().unwrap().contains("trusted_proxies = ["));
    }

    /// nginx appends the peer to what the client sent, bytes that are not
    /// UTF-8 included: the client's address is still the hop nginx added.
    #[test]
    fn bytes_that_are_not_utf8_spoil_only_their_own_hop() {
        let nginx = TrustedProxies::new(&["127.0.0.1".into()]).unwrap();
        let mut request = http::Request::get("/").body(()).unwrap();
        request.headers_mut().insert(
            "x-forwarded-for",
            http::HeaderValue::from_bytes(b"\xff, 192.0.2.200").unwrap(),
        );
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let (parts, ()) = request.into_parts();
        assert_eq!(nginx.client_of(&parts), Some(ip("192.0.2.200")));
    }
}
