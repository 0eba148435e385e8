//! The client's address (API.md §8): the connection's peer, or, when the peer
//! is a trusted proxy (`COLLABD_TRUSTED_PROXIES`), the right-most
//! `X-Forwarded-For` entry that is not one. From an untrusted peer the header
//! is ignored, so nobody chooses the address they are counted under.

use std::net::IpAddr;

use actix_web::dev::Payload as BodyStream;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::{ready, Ready};
use ipnet::IpNet;

use super::error::ApiError;

/// The addresses and ranges whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses and CIDR ranges.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("COLLABD_TRUSTED_PROXIES: {item:?} is not an address or range")
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client behind `peer`, given the `X-Forwarded-For` values. IPv4
    /// addresses seen through a dual-stack socket (`::ffff:a.b.c.d`) count as
    /// IPv4.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        // Right to left: each hop appended the address it saw.
        for entry in forwarded_for
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .rev()
        {
            match parse_hop(entry) {
                Some(address) if self.trusts(address) => client = address,
                Some(address) => return address,
                // Garbage is where believing stops.
                None => return client,
            }
        }
        client
    }
}

/// One `X-Forwarded-For` hop: an address, with or without a port or brackets.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse().ok())
        })
        .map(|address: IpAddr| address.to_canonical())
}

/// The client's address, as API.md §8 defines it.
pub struct ClientAddress(pub IpAddr);

impl FromRequest for ClientAddress {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut BodyStream) -> Self::Future {
        ready(client_address(req).map(ClientAddress))
    }
}

/// The client's address of `req`.
pub fn client_address(req: &HttpRequest) -> Result<IpAddr, ApiError> {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .ok_or_else(|| ApiError::Internal("no peer address".into()))?;
    let trusted = req
        .app_data::<TrustedProxies>()
        .cloned()
        .unwrap_or_default();
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    Ok(trusted.client(peer, &forwarded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("in a test")
    }

    #[test]
    fn only_trusted_peers_are_believed() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1").expect("in a test");
        // An untrusted peer: the header is ignored.
        assert_eq!(
            proxies.client(ip("198.51.100.7"), &["203.0.113.5"]),
            ip("198.51.100.7")
        );
        // A trusted peer: the right-most untrusted entry.
        assert_eq!(
            proxies.client(ip("10.1.1.1"), &["1.1.1.1, 203.0.113.5, 10.2.2.2"]),
            ip("203.0.113.5")
        );
        assert_eq!(
            proxies.client(ip("192.0.2.1"), &["203.0.113.9"]),
            ip("203.0.113.9")
        );
        // Nothing but proxies: the left-most proxy.
        assert_eq!(
            proxies.client(ip("10.1.1.1"), &["10.3.3.3"]),
            ip("10.3.3.3")
        );
        // Garbage stops the walk.
        assert_eq!(
            proxies.client(ip("10.1.1.1"), &["203.0.113.5, junk"]),
            ip("10.1.1.1")
        );
        assert!(TrustedProxies::parse("not-an-address").is_err());
    }
}
