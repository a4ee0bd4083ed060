//! The client's address behind reverse proxies (user-needs §4): the
//! `X-Forwarded-For` chain is believed only when the TCP peer is a
//! configured trusted proxy, and it is walked from the right, so that a
//! client cannot choose its own address by sending the header itself.
//!
//! ```
//! use natsws_core::ws::proxy::{client_ip, Cidr};
//! let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
//! let peer = "10.1.2.3".parse().unwrap();
//! // The client sent "6.6.6.6" itself; the proxy appended what it saw.
//! let xff = ["6.6.6.6, 203.0.113.7"];
//! assert_eq!(client_ip(peer, &xff, &trusted), "203.0.113.7".parse::<core::net::IpAddr>().unwrap());
//! // From an untrusted peer the header is ignored.
//! let other = "192.0.2.1".parse().unwrap();
//! assert_eq!(client_ip(other, &xff, &trusted), other);
//! ```

use core::net::IpAddr;

/// An address range: `10.0.0.0/8`, `2001:db8::/32`, or a single address
/// (`127.0.0.1`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ip` or `ip/prefix` (prefix at most 32 for IPv4, 128 for
    /// IPv6). `None` for anything else.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (ip, prefix) = match s.trim().split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = ip.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    /// Whether `ip` is in the range. An IPv4-mapped IPv6 address
    /// (`::ffff:a.b.c.d`) counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = unmap(ip);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The address of one `X-Forwarded-For` element: an address, possibly
/// with a port (`1.2.3.4:5678`, `[2001:db8::1]:443`), possibly quoted;
/// `None` for anything else.
pub fn hop_address(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (ip, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse::<core::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The client's address: `peer` (the TCP peer) unless it is in `trusted`;
/// then the `X-Forwarded-For` values (`xff`, every header line in order,
/// each a comma-separated list) are walked from the right past trusted
/// addresses, and the first untrusted one is the client. An element that
/// is not an address stops the walk at the last address believed; when
/// every element is trusted, the leftmost is the client. Addresses come
/// back as sent (an IPv4-mapped IPv6 address stays one).
pub fn client_ip<S: AsRef<str>>(peer: IpAddr, xff: &[S], trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for hop in xff.iter().rev().flat_map(|line| line.as_ref().rsplit(',')) {
        let Some(ip) = hop_address(hop) else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_parse_and_contains() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.255.0.1")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.1.1.1")));
        assert!(!c.contains(ip("::1")));
        let one = Cidr::parse("192.0.2.7").unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:1::1")) && !v6.contains(ip("2001:db9::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "host",
            "1.2.3.4/8x",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn walks_from_the_right_past_trusted_hops() {
        let t = [
            Cidr::parse("10.0.0.0/8").unwrap(),
            Cidr::parse("192.168.0.0/16").unwrap(),
        ];
        let proxy = ip("10.0.0.1");
        // Two proxies: the client's address is the first untrusted one.
        assert_eq!(
            client_ip(proxy, &["203.0.113.9, 192.168.1.1"], &t),
            ip("203.0.113.9")
        );
        // A forged leftmost entry is never reached.
        assert_eq!(
            client_ip(proxy, &["1.1.1.1, 203.0.113.9"], &t),
            ip("203.0.113.9")
        );
        // Several header lines: in order, as one list.
        assert_eq!(
            client_ip(proxy, &["1.1.1.1", "203.0.113.9, 10.2.2.2"], &t),
            ip("203.0.113.9")
        );
        // Ports, brackets and quotes.
        assert_eq!(
            client_ip(proxy, &["203.0.113.9:5555"], &t),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(proxy, &["\"[2001:db8::5]:443\""], &t),
            ip("2001:db8::5")
        );
        // Garbage stops the walk at the last address believed.
        assert_eq!(
            client_ip(proxy, &["203.0.113.9, unknown, 192.168.5.5"], &t),
            ip("192.168.5.5")
        );
        assert_eq!(client_ip(proxy, &["nonsense"], &t), proxy);
        // All trusted: the leftmost.
        assert_eq!(
            client_ip(proxy, &["10.9.9.9, 10.8.8.8"], &t),
            ip("10.9.9.9")
        );
        // No header: the peer.
        assert_eq!(client_ip::<&str>(proxy, &[], &t), proxy);
        // Untrusted peer: the header is ignored.
        assert_eq!(
            client_ip(ip("198.51.100.1"), &["203.0.113.9"], &t),
            ip("198.51.100.1")
        );
    }
}
