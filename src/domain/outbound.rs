//! The address rule for what the server reaches at a caller's choosing
//! (API.md §6): webhooks, and an organization's OpenID issuer (§9).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use super::{DomainError, DomainResult};
use crate::webhook_sender::is_private;

/// The longest URL taken.
pub const MAX_URL_LEN: usize = 2048;

/// Checks a URL the server will fetch or post to, chosen by a caller (a
/// webhook's, an organization's OpenID issuer): http or https, a host, no credentials or fragment,
/// and, unless private targets are allowed, a host that is, and resolves
/// only to, public addresses (a name that resolves to any private address
/// is refused: the sender would refuse that address at each try). Refusals
/// are 422 naming `field`. Blocks
/// on the resolver: run it off the HTTP workers.
pub fn check_url(raw: &str, allow_private: bool, field: &str) -> DomainResult<url::Url> {
    let invalid = |why: &str| DomainError::invalid(field, why);
    if raw.len() > MAX_URL_LEN {
        return Err(invalid("must be at most 2048 characters"));
    }
    let url = url::Url::parse(raw.trim()).map_err(|e| invalid(&format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must be an http or https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "must not carry credentials (every delivery is signed instead)",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid("must not have a fragment"));
    }
    let host = match url.host() {
        Some(host) => host,
        None => return Err(invalid("must name a host")),
    };
    if allow_private {
        return Ok(url);
    }
    let literal = match host {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    };
    let private = "must not lead to a loopback, private, link-local or unspecified address";
    if let Some(ip) = literal {
        return if is_private(ip) {
            Err(invalid(private))
        } else {
            Ok(url)
        };
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let name = url.host_str().unwrap_or_default().to_string();
    let addresses: Vec<SocketAddr> = (name.as_str(), port)
        .to_socket_addrs()
        .map_err(|_| invalid("its host does not resolve"))?
        .collect();
    if addresses.is_empty() {
        return Err(invalid("its host does not resolve"));
    }
    if addresses.iter().any(|a| is_private(a.ip())) {
        return Err(invalid(private));
    }
    Ok(url)
}
