//! Who is calling, as far as abuse protection needs to know: the client's address (taken from
//! `X-Forwarded-For` only when the connection comes from a configured proxy) and user agent.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use ipnet::IpNet;

use crate::state::AppState;

/// The proxies whose `X-Forwarded-For` is believed (a load balancer, a CDN's egress ranges).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<Vec<IpNet>>);

impl TrustedProxies {
    /// Parses addresses and CIDR ranges (`10.0.0.0/8`, `2001:db8::1`).
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let nets = entries
            .iter()
            .map(|entry| entry.trim())
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{entry}` is neither an IP address nor a CIDR range"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(Arc::new(nets)))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client's address: the peer, unless the peer is a trusted proxy; then the nearest
    /// address in `X-Forwarded-For` (read from the right) that is not itself a trusted proxy.
    /// Entries left of the first untrusted one were written by the client and prove nothing.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for entry in forwarded_for.rev() {
            match hop_address(entry.trim()) {
                Ok(address) => {
                    client = address;
                    if !self.trusts(address) {
                        break;
                    }
                }
                // A malformed hop: stop at the last address we could believe.
                Err(_) => break,
            }
        }
        client
    }
}

/// The address of one `X-Forwarded-For` hop: an address, possibly with a port
/// (`203.0.113.5:4711`, `[2001:db8::1]:443`) or in brackets.
fn hop_address(hop: &str) -> Result<IpAddr, ()> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|addr| addr.ip()))
        .or_else(|_| {
            hop.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .ok_or(())
                .and_then(|inner| inner.parse::<IpAddr>().map_err(|_| ()))
        })
        .map(|address| address.to_canonical())
        .map_err(|_| ())
}

/// The network a client address stands for in limits and digests: an IPv4 address itself, an
/// IPv6 address its /64 (what one subscriber usually gets, so changing the low bits is no new
/// client).
pub fn network_of(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let high = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(high))
        }
    }
}

/// Why a request's client could not be told: wiring bugs, never the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("app state missing")]
    StateMissing,
    #[error("the connection has no peer address")]
    NoPeerAddress,
}

/// The caller of a public write.
#[derive(Debug, Clone)]
pub struct Client {
    pub address: IpAddr,
    pub user_agent: String,
}

impl Client {
    /// The client of `req`: its address (believing `X-Forwarded-For` only from the trusted
    /// proxies) and user agent.
    pub fn of_request(req: &HttpRequest) -> Result<Self, ClientError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or(ClientError::StateMissing)?;
        let peer = req
            .peer_addr()
            .map(|addr| addr.ip())
            .ok_or(ClientError::NoPeerAddress)?;
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        let address = state
            .abuse
            .trusted_proxies
            .client_address(peer, forwarded.into_iter());
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(512)
            .collect();
        Ok(Self {
            address,
            user_agent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into(), "192.0.2.7".into()]).unwrap();
        let hops = ["198.51.100.9", " 203.0.113.5", "10.1.1.1"];
        // From a stranger, the header is ignored.
        assert_eq!(
            proxies.client_address(ip("203.0.113.200"), hops.into_iter()),
            ip("203.0.113.200")
        );
        // From our proxy: the nearest untrusted hop; the client-written ones left of it are not
        // believed.
        assert_eq!(
            proxies.client_address(ip("192.0.2.7"), hops.into_iter()),
            ip("203.0.113.5")
        );
        // Garbage in the chain stops the walk at the last good hop.
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), ["nonsense", "10.2.2.2"].into_iter()),
            ip("10.2.2.2")
        );
        assert_eq!(
            TrustedProxies::default().client_address(ip("10.0.0.1"), hops.into_iter()),
            ip("10.0.0.1")
        );
        assert!(TrustedProxies::parse(&["not-an-ip".into()]).is_err());
        // Hops with ports or brackets, and IPv4 seen through an IPv6 socket.
        assert_eq!(
            proxies.client_address(ip("::ffff:192.0.2.7"), ["203.0.113.5:4711"].into_iter()),
            ip("203.0.113.5")
        );
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), ["[2001:db8::1]:443"].into_iter()),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn an_ipv6_client_is_its_64_and_a_mapped_ipv4_is_the_ipv4() {
        assert_eq!(network_of(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            network_of(ip("2001:db8:1:2:aaaa::1")),
            network_of(ip("2001:db8:1:2:ffff::9"))
        );
        assert_eq!(network_of(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(network_of(ip("203.0.113.9")), ip("203.0.113.9"));
    }
}
