//! Which addresses outbound webhooks may reach. By default only public unicast addresses: a
//! receiver URL must not become a way into the newsroom's own network (SSRF), whether it names a
//! private address directly, hides one inside an IPv6 form, or is a name that resolves to one.
//! The check runs on the addresses actually connected to, at send time. "Public" is decided from
//! the IANA special-purpose address registries of both families, kept as tables below (no
//! maintained crate carries them whole; std's `is_global` is unstable), each entry tested.

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

/// Whether `ip` is a public unicast address: in no block of the IANA special-purpose address
/// registries (both families, whatever a block's "globally reachable" flag: none of them is where
/// a receiver lives), not multicast, and for IPv6 within global unicast (2000::/3). IPv6 forms
/// that reach an embedded IPv4 address (mapped, NAT64, 6to4) are judged by that address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// An IPv4 block of the registries: first address, prefix length, name.
type V4Block = (Ipv4Addr, u8, &'static str);
/// An IPv6 block: first address, prefix length, name, and how an address in it is judged.
type V6Block = (Ipv6Addr, u8, &'static str, V6Rule);

/// How an IPv6 block's addresses are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V6Rule {
    Refused,
    /// Reaches the IPv4 address in the last 32 bits.
    EmbedsLast32,
    /// 6to4: reaches the IPv4 address in bits 16–48.
    Embeds6to4,
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

#[allow(clippy::too_many_arguments)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16) -> Ipv6Addr {
    Ipv6Addr::new(a, b, c, d, e, f, g, h)
}

/// The IANA IPv4 Special-Purpose Address Registry
/// (https://www.iana.org/assignments/iana-ipv4-special-registry/, as updated 2024), with
/// multicast (RFC 5771) and limited broadcast, which it does not list as blocks of its own.
const IPV4_SPECIAL: &[V4Block] = &[
    (v4(0, 0, 0, 0), 8, "\"This network\" (RFC 791)"),
    (
        v4(0, 0, 0, 0),
        32,
        "\"This host on this network\" (RFC 1122)",
    ),
    (v4(10, 0, 0, 0), 8, "Private-Use (RFC 1918)"),
    (v4(100, 64, 0, 0), 10, "Shared Address Space (RFC 6598)"),
    (v4(127, 0, 0, 0), 8, "Loopback (RFC 1122)"),
    (v4(169, 254, 0, 0), 16, "Link Local (RFC 3927)"),
    (v4(172, 16, 0, 0), 12, "Private-Use (RFC 1918)"),
    (v4(192, 0, 0, 0), 24, "IETF Protocol Assignments (RFC 6890)"),
    (
        v4(192, 0, 0, 0),
        29,
        "IPv4 Service Continuity Prefix (RFC 7335)",
    ),
    (v4(192, 0, 0, 8), 32, "IPv4 dummy address (RFC 7600)"),
    (
        v4(192, 0, 0, 9),
        32,
        "Port Control Protocol Anycast (RFC 7723)",
    ),
    (
        v4(192, 0, 0, 10),
        32,
        "Traversal Using Relays around NAT Anycast (RFC 8155)",
    ),
    (v4(192, 0, 0, 170), 32, "NAT64/DNS64 Discovery (RFC 7050)"),
    (v4(192, 0, 0, 171), 32, "NAT64/DNS64 Discovery (RFC 7050)"),
    (
        v4(192, 0, 2, 0),
        24,
        "Documentation (TEST-NET-1) (RFC 5737)",
    ),
    (v4(192, 31, 196, 0), 24, "AS112-v4 (RFC 7535)"),
    (v4(192, 52, 193, 0), 24, "AMT (RFC 7450)"),
    (
        v4(192, 88, 99, 0),
        24,
        "Deprecated (6to4 Relay Anycast) (RFC 7526)",
    ),
    (
        v4(192, 88, 99, 2),
        32,
        "6a44-relay anycast address (RFC 6751)",
    ),
    (v4(192, 168, 0, 0), 16, "Private-Use (RFC 1918)"),
    (
        v4(192, 175, 48, 0),
        24,
        "Direct Delegation AS112 Service (RFC 7534)",
    ),
    (v4(198, 18, 0, 0), 15, "Benchmarking (RFC 2544)"),
    (
        v4(198, 51, 100, 0),
        24,
        "Documentation (TEST-NET-2) (RFC 5737)",
    ),
    (
        v4(203, 0, 113, 0),
        24,
        "Documentation (TEST-NET-3) (RFC 5737)",
    ),
    (v4(224, 0, 0, 0), 4, "Multicast (RFC 5771)"),
    (v4(240, 0, 0, 0), 4, "Reserved (RFC 1112)"),
    (v4(255, 255, 255, 255), 32, "Limited Broadcast (RFC 919)"),
];

/// The IANA IPv6 Special-Purpose Address Registry
/// (https://www.iana.org/assignments/iana-ipv6-special-registry/, as updated 2025), with the
/// IPv4-translated form of SIIT (RFC 2765) and the deprecated site-local and IPv4-compatible
/// blocks, which connect nowhere public either. Addresses outside these and outside 2000::/3
/// (multicast, unassigned space) are refused too.
const IPV6_SPECIAL: &[V6Block] = &[
    (
        v6(0, 0, 0, 0, 0, 0, 0, 1),
        128,
        "Loopback Address (RFC 4291)",
        V6Rule::Refused,
    ),
    (
        v6(0, 0, 0, 0, 0, 0, 0, 0),
        128,
        "Unspecified Address (RFC 4291)",
        V6Rule::Refused,
    ),
    (
        v6(0, 0, 0, 0, 0, 0, 0, 0),
        96,
        "IPv4-compatible (deprecated, RFC 4291)",
        V6Rule::Refused,
    ),
    (
        v6(0, 0, 0, 0, 0, 0xffff, 0, 0),
        96,
        "IPv4-mapped Address (RFC 4291)",
        V6Rule::EmbedsLast32,
    ),
    (
        v6(0, 0, 0, 0, 0xffff, 0, 0, 0),
        96,
        "IPv4-translated Address (RFC 2765)",
        V6Rule::Refused,
    ),
    (
        v6(0x64, 0xff9b, 0, 0, 0, 0, 0, 0),
        96,
        "IPv4-IPv6 Translat. (RFC 6052)",
        V6Rule::EmbedsLast32,
    ),
    (
        v6(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        "IPv4-IPv6 Translat. (RFC 8215)",
        V6Rule::Refused,
    ),
    (
        v6(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "Discard-Only Address Block (RFC 6666)",
        V6Rule::Refused,
    ),
    (
        v6(0x100, 0, 0, 1, 0, 0, 0, 0),
        64,
        "Dummy IPv6 Prefix (RFC 9780)",
        V6Rule::Refused,
    ),
    (
        v6(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        "IETF Protocol Assignments (RFC 2928)",
        V6Rule::Refused,
    ),
    (
        v6(0x2001, 0, 0, 0, 0, 0, 0, 0),
        32,
        "TEREDO (RFC 4380)",
        V6Rule::Refused,
    ),
    (
        v6(0x2001, 1, 0, 0, 0, 0, 0, 1),
        128,
        "Port Control Protocol Anycast (RFC 7723)",
        V6Rule::Refused,
    ),
    (
        v6(0x2001, 1, 0, 0, 0, 0, 0, 2),
        128,
        "Traversal Using Relays around NAT Anycast (RFC 8155)",
        V6Rule::Refused,
    ),
    (
        v6(0x2001, 1, 0, 0, 0, 0, 0, 3),
        128,
        "DNS-SD Service Registration Protocol Anycast (RFC 9665)",
        V6Rule::Refused,
    ),
    (
        v6(0x2001, 2, 0, 0, 0, 0, 0, 0),
        48,
        "Benchmarking (RFC 5180)",
        V6Rule::Refused,
    ),
    (
        v6(0x2001, 3, 0, 0, 0, 0, 0, 0),
        32,
        "AMT (RFC 7450)",
        V6Rule::Refused,
    ),
    (
        v6(0x2001, 4, 0x112, 0, 0, 0, 0, 0),
        48,
        "AS112-v6 (RFC 7535)",
        V6Rule::Refused,
    ),
    (
        v6(0x2001, 0x10, 0, 0, 0, 0, 0, 0),
        28,
        "Deprecated (previously ORCHID) (RFC 4843)",
        V6Rule::Refused,
    ),
    (
        v6(0x2001, 0x20, 0, 0, 0, 0, 0, 0),
        28,
        "ORCHIDv2 (RFC 7343)",
        V6Rule::Refused,
    ),
    (
        v6(0x2001, 0x30, 0, 0, 0, 0, 0, 0),
        28,
        "Drone Remote ID Protocol Entity Tags (RFC 9374)",
        V6Rule::Refused,
    ),
    (
        v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "Documentation (RFC 3849)",
        V6Rule::Refused,
    ),
    (
        v6(0x2002, 0, 0, 0, 0, 0, 0, 0),
        16,
        "6to4 (RFC 3056)",
        V6Rule::Embeds6to4,
    ),
    (
        v6(0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0),
        48,
        "Direct Delegation AS112 Service (RFC 7534)",
        V6Rule::Refused,
    ),
    (
        v6(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "Documentation (RFC 9637)",
        V6Rule::Refused,
    ),
    (
        v6(0x5f00, 0, 0, 0, 0, 0, 0, 0),
        16,
        "Segment Routing (SRv6) SIDs (RFC 9602)",
        V6Rule::Refused,
    ),
    (
        v6(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "Unique-Local (RFC 4193)",
        V6Rule::Refused,
    ),
    (
        v6(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        "Link-Local Unicast (RFC 4291)",
        V6Rule::Refused,
    ),
    (
        v6(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        "Site-Local (deprecated, RFC 3879)",
        V6Rule::Refused,
    ),
];

fn in_v4_block(ip: Ipv4Addr, (first, length, _): &V4Block) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(*length)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(*first)
}

fn in_v6_block(ip: Ipv6Addr, first: Ipv6Addr, length: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(length)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(first)
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !IPV4_SPECIAL.iter().any(|block| in_v4_block(ip, block))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // The most specific block decides (the IPv4-compatible /96 holds loopback's /128, say).
    let block = IPV6_SPECIAL
        .iter()
        .filter(|(first, length, _, _)| in_v6_block(ip, *first, *length))
        .max_by_key(|(_, length, _, _)| *length);
    let bits = u128::from(ip);
    match block {
        Some((_, _, _, V6Rule::EmbedsLast32)) => is_public_v4(Ipv4Addr::from(bits as u32)),
        Some((_, _, _, V6Rule::Embeds6to4)) => is_public_v4(Ipv4Addr::from((bits >> 80) as u32)),
        Some((_, _, _, V6Rule::Refused)) => false,
        // Outside global unicast: multicast (ff00::/8) and unassigned space.
        None => in_v6_block(ip, v6(0x2000, 0, 0, 0, 0, 0, 0, 0), 3),
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

    /// The last address of a block.
    fn last_v4(first: Ipv4Addr, length: u8) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(first) | u32::MAX.checked_shr(u32::from(length)).unwrap_or(0))
    }

    fn last_v6(first: Ipv6Addr, length: u8) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(first) | u128::MAX.checked_shr(u32::from(length)).unwrap_or(0))
    }

    #[test]
    fn every_ipv4_registry_block_is_refused_from_first_to_last_address() {
        for &(first, length, name) in IPV4_SPECIAL {
            for address in [first, last_v4(first, length)] {
                assert!(!is_public(IpAddr::V4(address)), "{address} in {name}");
            }
        }
        // Just outside some blocks: public.
        for public in [
            "11.0.0.0",
            "9.255.255.255",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(is_public(ip(public)), "{public}");
        }
    }

    #[test]
    fn every_ipv6_registry_block_is_refused_from_first_to_last_address() {
        for &(first, length, name, _) in IPV6_SPECIAL {
            for address in [first, last_v6(first, length)] {
                assert!(!is_public(IpAddr::V6(address)), "{address} in {name}");
            }
        }
        for refused in [
            // The forms the endpoint check let through before.
            "::ffff:0:127.0.0.1",
            "::ffff:0:8.8.8.8",
            "3fff::1",
            "3fff:fff:ffff::1",
            "2001:10::1",
            "2001:20::1",
            "2001:2f:ffff::1",
            "5f00::1",
            // More of 2001::/23 and the rest.
            "2001:1::1",
            "2001:1::2",
            "2001:1::3",
            "2001:2::1",
            "2001:3::1",
            "2001:4:112::1",
            "2001:30::1",
            "2001:1ff:ffff::1",
            "100::1",
            "100:0:0:1::1",
            "64:ff9b:1::1",
            "2620:4f:8000::1",
            "ff0e::1",
            "4000::1",
            "::2",
        ] {
            assert!(!is_public(ip(refused)), "{refused}");
        }
        for public in [
            "2606:4700:4700::1111",
            "2a00:1450:4001:82a::200e",
            "2001:200::1",
            "3fff:1000::1",
            "2620:4f:8001::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
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
