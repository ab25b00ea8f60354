//! Which IP addresses an outbound webhook may be sent to.
//!
//! An endpoint URL is chosen by an operator, but a mistaken or malicious one
//! could make paywarden POST into its own network (the cloud metadata
//! service at 169.254.169.254, a database admin port on localhost). So
//! unless configuration allows it, every address a destination resolves to
//! must be a public unicast address. IPv4-mapped and IPv4-compatible IPv6
//! forms are judged as the IPv4 address they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused as a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ForbiddenAddress {
    #[error("a loopback address")]
    Loopback,
    #[error("a private network address")]
    Private,
    #[error("a link-local address")]
    LinkLocal,
    #[error("the unspecified address")]
    Unspecified,
    #[error("a shared (carrier-grade NAT) address")]
    SharedNat,
    #[error("a multicast or broadcast address")]
    Multicast,
    #[error("a reserved or documentation address")]
    Reserved,
}

/// Why `ip` may not be a destination, or `None` when it is public.
pub fn forbidden_reason(ip: IpAddr) -> Option<ForbiddenAddress> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => v4_reason(v4),
            None => v6_reason(v6),
        },
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<ForbiddenAddress> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some(ForbiddenAddress::Loopback)
    } else if ip.is_unspecified() || a == 0 {
        Some(ForbiddenAddress::Unspecified)
    } else if ip.is_private() {
        Some(ForbiddenAddress::Private)
    } else if ip.is_link_local() {
        Some(ForbiddenAddress::LinkLocal)
    } else if a == 100 && (64..128).contains(&b) {
        Some(ForbiddenAddress::SharedNat)
    } else if ip.is_multicast() || ip.is_broadcast() {
        Some(ForbiddenAddress::Multicast)
    } else if ip.is_documentation()
        || a >= 240
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
    {
        Some(ForbiddenAddress::Reserved)
    } else {
        None
    }
}

fn v6_reason(ip: Ipv6Addr) -> Option<ForbiddenAddress> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some(ForbiddenAddress::Loopback)
    } else if ip.is_unspecified() {
        Some(ForbiddenAddress::Unspecified)
    } else if first & 0xfe00 == 0xfc00 {
        Some(ForbiddenAddress::Private)
    } else if first & 0xffc0 == 0xfe80 {
        Some(ForbiddenAddress::LinkLocal)
    } else if ip.is_multicast() {
        Some(ForbiddenAddress::Multicast)
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some(ForbiddenAddress::Reserved)
    } else {
        None
    }
}

/// The IPv4 address inside `::ffff:a.b.c.d` (mapped), `::a.b.c.d`
/// (compatible, deprecated) or `64:ff9b::a.b.c.d` (NAT64).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let tail = Ipv4Addr::new(
        (s[6] >> 8) as u8,
        (s[6] & 0xff) as u8,
        (s[7] >> 8) as u8,
        (s[7] & 0xff) as u8,
    );
    let compatible = s[..6].iter().all(|&x| x == 0) && !ip.is_loopback() && !ip.is_unspecified();
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0);
    (compatible || nat64).then_some(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> Option<ForbiddenAddress> {
        forbidden_reason(text.parse().expect("an ip"))
    }

    #[test]
    fn every_internal_address_class_is_refused() {
        use ForbiddenAddress::*;
        let cases = [
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("::1", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("169.254.169.254", LinkLocal),
            ("fe80::1", LinkLocal),
            ("0.0.0.0", Unspecified),
            ("::", Unspecified),
            ("100.64.0.1", SharedNat),
            ("100.127.255.254", SharedNat),
            ("224.0.0.1", Multicast),
            ("255.255.255.255", Multicast),
            ("ff02::1", Multicast),
            ("192.0.2.1", Reserved),
            ("2001:db8::1", Reserved),
            // IPv4 inside IPv6 is judged as IPv4.
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:10.0.0.1", Private),
            ("::10.0.0.1", Private),
            ("64:ff9b::192.168.0.1", Private),
        ];
        for (ip, expected) in cases {
            assert_eq!(reason(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:93.184.216.34",
        ] {
            assert_eq!(reason(ip), None, "{ip}");
        }
    }
}
