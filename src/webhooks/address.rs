//! Which addresses outbound webhooks may reach. By default only public unicast addresses: a
//! receiver URL must not become a way into the newsroom's own network (SSRF), whether it names a
//! private address directly, hides one inside an IPv6 form, or is a name that resolves to one.
//! The check runs on the addresses actually connected to, at send time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether private targets are allowed (`MARGINALIA_WEBHOOK_ALLOW_PRIVATE_TARGETS`, for local
/// development and receivers inside the newsroom's network).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetPolicy {
    PublicOnly,
    AllowPrivate,
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{0} is not a public address (set MARGINALIA_WEBHOOK_ALLOW_PRIVATE_TARGETS=true to allow it)")]
    NotPublic(IpAddr),
    #[error("the host resolves to no address")]
    NoAddress,
}

/// Whether `ip` is a public unicast address: not loopback, private, link-local, shared (CGNAT),
/// multicast, broadcast, reserved, documentation or benchmarking space, and for IPv6 forms that
/// embed an IPv4 address (mapped, compatible, NAT64, 6to4), the embedded address is public too.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0 // "this network", includes 0.0.0.0
        || a == 10
        || a == 127
        || (a == 100 && (64..=127).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local, cloud metadata services
        || (a == 172 && (16..=31).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (18..=19).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224; // multicast, reserved, broadcast
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embedded_v4 = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    match segments {
        // Unspecified, loopback and the deprecated IPv4-compatible form ::a.b.c.d.
        [0, 0, 0, 0, 0, 0, _, _] => false,
        // NAT64 (64:ff9b::/96): reaches the embedded IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => is_public_v4(embedded_v4(high, low)),
        // 6to4 (2002::/16): reaches the IPv4 address in bits 16–48.
        [0x2002, high, low, ..] => is_public_v4(embedded_v4(high, low)),
        [first, second, ..] => {
            let refused = (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (first & 0xff00) == 0xff00 // multicast
                || (first == 0x2001 && second == 0x0db8) // documentation
                || (first == 0x2001 && second == 0) // Teredo: hides an IPv4 address
                || (first == 0x64 && second == 0xff9b) // local-use NAT64 (64:ff9b:1::/48)
                || first == 0x0100; // discard-only
            !refused
        }
    }
}

/// Checks one address under `policy`.
pub fn check(ip: IpAddr, policy: TargetPolicy) -> Result<(), Refused> {
    match policy {
        TargetPolicy::AllowPrivate => Ok(()),
        TargetPolicy::PublicOnly if is_public(ip) => Ok(()),
        TargetPolicy::PublicOnly => Err(Refused::NotPublic(ip)),
    }
}

/// The addresses a name resolved to, if every one of them is allowed. A name that resolves to
/// a public and a private address at once (DNS rebinding, or a split-horizon trick) is refused
/// as a whole, so the connection can never land on the private one.
pub fn check_resolved(
    addresses: Vec<SocketAddr>,
    policy: TargetPolicy,
) -> Result<Vec<SocketAddr>, Refused> {
    if addresses.is_empty() {
        return Err(Refused::NoAddress);
    }
    for address in &addresses {
        check(address.ip(), policy)?;
    }
    Ok(addresses)
}

/// Checks a URL whose host is an IP address (which HTTP clients connect to without resolving);
/// names are checked when they are resolved.
pub fn check_literal_host(url: &url::Url, policy: TargetPolicy) -> Result<(), Refused> {
    match url.host() {
        Some(url::Host::Ipv4(v4)) => check(IpAddr::V4(v4), policy),
        Some(url::Host::Ipv6(v6)) => check(IpAddr::V6(v6), policy),
        _ => Ok(()),
    }
}

/// Names that always mean this machine, refused without resolving when private targets are not
/// allowed (so that a creation-time mistake is reported at once).
pub fn is_local_name(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        _ => false,
    }
}

/// Whether a URL targets this machine by a form that needs no resolver: an address in
/// 127.0.0.0/8, `::1`, or the name `localhost` itself (which the loopback-only sender answers
/// locally). Anything else, `*.localhost` included, would need DNS and is not loopback here.
pub fn is_loopback_target(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(v4)) => v4.is_loopback(),
        Some(url::Host::Ipv6(v6)) => v6 == Ipv6Addr::LOCALHOST,
        Some(url::Host::Domain(name)) => is_localhost_name(name),
        None => false,
    }
}

/// The name `localhost` in any case, with or without the root's trailing dot.
pub fn is_localhost_name(name: &str) -> bool {
    name.strip_suffix('.')
        .unwrap_or(name)
        .eq_ignore_ascii_case("localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    fn socket(raw: &str) -> SocketAddr {
        SocketAddr::new(ip(raw), 443)
    }

    #[test]
    fn private_and_special_ipv4_is_refused() {
        for private in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!is_public(ip(private)), "{private}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "93.184.216.34",
        ] {
            assert!(is_public(ip(public)), "{public}");
        }
    }

    #[test]
    fn private_and_special_ipv6_is_refused() {
        for private in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "100::1",
            "64:ff9b:1::1",
        ] {
            assert!(!is_public(ip(private)), "{private}");
        }
        for public in ["2606:4700:4700::1111", "2a00:1450:4001:82a::200e"] {
            assert!(is_public(ip(public)), "{public}");
        }
    }

    #[test]
    fn ipv6_forms_that_embed_ipv4_are_judged_by_the_embedded_address() {
        for private in [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
        ] {
            assert!(!is_public(ip(private)), "{private}");
        }
        for public in ["::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"] {
            assert!(is_public(ip(public)), "{public}");
        }
    }

    #[test]
    fn a_name_resolving_to_any_private_address_is_refused_whole() {
        let policy = TargetPolicy::PublicOnly;
        assert_eq!(
            check_resolved(vec![socket("93.184.216.34")], policy),
            Ok(vec![socket("93.184.216.34")])
        );
        // DNS rebinding: the same name answers with a public and a private address.
        assert_eq!(
            check_resolved(vec![socket("93.184.216.34"), socket("127.0.0.1")], policy),
            Err(Refused::NotPublic(ip("127.0.0.1")))
        );
        assert_eq!(
            check_resolved(vec![socket("::ffff:192.168.0.10")], policy),
            Err(Refused::NotPublic(ip("::ffff:192.168.0.10")))
        );
        assert_eq!(check_resolved(vec![], policy), Err(Refused::NoAddress));
        assert!(check_resolved(vec![socket("127.0.0.1")], TargetPolicy::AllowPrivate).is_ok());
    }

    #[test]
    fn literal_hosts_and_local_names_are_checked_without_resolving() {
        let url = |raw: &str| url::Url::parse(raw).unwrap();
        let policy = TargetPolicy::PublicOnly;
        assert!(check_literal_host(&url("http://127.0.0.1:9000/x"), policy).is_err());
        assert!(check_literal_host(&url("http://[::ffff:7f00:1]/x"), policy).is_err());
        assert!(
            check_literal_host(&url("http://2130706433/x"), policy).is_err(),
            "decimal 127.0.0.1"
        );
        assert!(
            check_literal_host(&url("http://0x7f.1/x"), policy).is_err(),
            "hex 127.0.0.1"
        );
        assert!(check_literal_host(&url("https://8.8.8.8/x"), policy).is_ok());
        assert!(check_literal_host(&url("https://cms.example.org/x"), policy).is_ok());
        assert!(check_literal_host(&url("http://127.0.0.1/"), TargetPolicy::AllowPrivate).is_ok());
        assert!(is_local_name(&url("http://LOCALHOST./x")));
        assert!(is_local_name(&url("http://api.localhost/x")));
        assert!(!is_local_name(&url("http://localhost.example.org/x")));
    }

    #[test]
    fn only_loopback_addresses_and_the_name_localhost_are_loopback_targets() {
        let url = |raw: &str| url::Url::parse(raw).unwrap();
        for loopback in [
            "http://127.0.0.1:9000/x",
            "http://127.3.2.1/x",
            "http://2130706433/x",
            "http://[::1]:8080/x",
            "http://localhost:1234/x",
            "http://LocalHost./x",
        ] {
            assert!(is_loopback_target(&url(loopback)), "{loopback}");
        }
        for elsewhere in [
            "https://cms.example.org/x",
            "http://api.localhost/x",
            "http://localhost.example.org/x",
            "http://10.0.0.1/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://[::2]/x",
            "http://8.8.8.8/x",
        ] {
            assert!(!is_loopback_target(&url(elsewhere)), "{elsewhere}");
        }
    }
}
