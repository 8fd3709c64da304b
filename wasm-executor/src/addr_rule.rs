//! Sets of socket addresses an operator names: an IP network and a port range, such as
//! `10.0.0.0/8`, `0.0.0.0/0:443` or `[2001:db8::/32]:8000-8999`. The agent's
//! `--network-allow` is a list of them, and so is the deny list a [`NetworkPolicy`] carries.
//!
//! IPv4 addresses written as IPv6 (`::ffff:127.0.0.1`) are matched as the IPv4 address they
//! are, so that a guest cannot reach a denied address by spelling it the other way.
//!
//! [`NetworkPolicy`]: crate::NetworkPolicy

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use crate::Error;
use crate::spec::AllowedAddr;

/// An IP network and a range of ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRule {
    /// The network's address, with the bits past `prefix` cleared.
    network: IpAddr,
    prefix: u8,
    /// The first and last port, inclusive.
    ports: (u16, u16),
}

impl AddrRule {
    /// Every port of every address of `ip`'s network of `prefix` bits.
    pub fn network(ip: IpAddr, prefix: u8) -> Option<Self> {
        let ip = ip.to_canonical();
        let bits = max_prefix(ip);
        (prefix <= bits).then(|| AddrRule {
            network: mask(ip, prefix),
            prefix,
            ports: (0, u16::MAX),
        })
    }

    /// Exactly `addr`.
    pub fn socket(addr: SocketAddr) -> Self {
        let ip = addr.ip().to_canonical();
        AddrRule {
            network: ip,
            prefix: max_prefix(ip),
            ports: (addr.port(), addr.port()),
        }
    }

    /// `port` on every address, IPv4 and IPv6.
    pub fn port_anywhere(port: u16) -> [Self; 2] {
        [Ipv4Addr::UNSPECIFIED.into(), Ipv6Addr::UNSPECIFIED.into()].map(|ip: IpAddr| AddrRule {
            network: ip,
            prefix: 0,
            ports: (port, port),
        })
    }

    /// The link-local networks, where clouds serve instance metadata (`169.254.169.254`).
    pub fn link_local() -> [Self; 2] {
        [
            AddrRule {
                network: Ipv4Addr::new(169, 254, 0, 0).into(),
                prefix: 16,
                ports: (0, u16::MAX),
            },
            AddrRule {
                network: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0).into(),
                prefix: 10,
                ports: (0, u16::MAX),
            },
        ]
    }

    /// Whether `addr` is in this rule.
    pub fn matches(&self, addr: SocketAddr) -> bool {
        self.contains_ip(addr.ip().to_canonical())
            && (self.ports.0..=self.ports.1).contains(&addr.port())
    }

    /// Whether every address `grant` allows is in this rule.
    pub fn covers(&self, grant: &AllowedAddr) -> bool {
        match grant {
            AllowedAddr::Socket(addr) => self.matches(*addr),
            AllowedAddr::Ip(ip) => {
                self.contains_ip(ip.to_canonical()) && self.ports == (0, u16::MAX)
            }
        }
    }

    /// Whether this rule is about one address (any of its ports), not a wider network: what
    /// an operator writes to name a protected address on purpose. `0.0.0.0/0` allows the
    /// world, not the agent's own port; `127.0.0.1:5051` names it.
    pub fn is_single_address(&self) -> bool {
        self.prefix == max_prefix(self.network)
    }

    fn contains_ip(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(ip, self.prefix) == self.network
            }
            _ => false,
        }
    }
}

/// Parses `IP[/PREFIX][:PORT[-PORT]]`; an IPv6 rule with ports is bracketed:
/// `[IP[/PREFIX]]:PORTS`. Surrounding whitespace is ignored.
impl FromStr for AddrRule {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let invalid = || Error::InvalidAddrRule(text.escape_debug().to_string());
        let (net, ports) = split_ports(text).ok_or_else(invalid)?;
        let (ip, prefix) = match net.split_once('/') {
            Some((ip, prefix)) => {
                let ip: IpAddr = ip.parse().map_err(|_| invalid())?;
                (ip, Some(prefix.parse::<u8>().map_err(|_| invalid())?))
            }
            None => (net.parse().map_err(|_| invalid())?, None),
        };
        let prefix = prefix.unwrap_or_else(|| max_prefix(ip.to_canonical()));
        let mut rule = AddrRule::network(ip, prefix).ok_or_else(invalid)?;
        if let Some(ports) = ports {
            rule.ports = parse_ports(ports).ok_or_else(invalid)?;
        }
        Ok(rule)
    }
}

/// The network part and the ports part (if any) of a rule.
fn split_ports(text: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (net, after) = rest.split_once(']')?;
        return match after {
            "" => Some((net, None)),
            _ => Some((net, Some(after.strip_prefix(':')?))),
        };
    }
    match text.matches(':').count() {
        // IPv4, with or without ports.
        0 => Some((text, None)),
        1 => text.split_once(':').map(|(net, ports)| (net, Some(ports))),
        // Unbracketed IPv6: no ports.
        _ => Some((text, None)),
    }
}

fn parse_ports(text: &str) -> Option<(u16, u16)> {
    let (first, last) = match text.split_once('-') {
        Some((first, last)) => (first.parse().ok()?, last.parse().ok()?),
        None => {
            let port = text.parse().ok()?;
            (port, port)
        }
    };
    (first <= last).then_some((first, last))
}

impl fmt::Display for AddrRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.prefix == max_prefix(self.network);
        let net = match whole {
            true => self.network.to_string(),
            false => format!("{}/{}", self.network, self.prefix),
        };
        let ports = match self.ports {
            (0, u16::MAX) => return f.write_str(&net),
            (first, last) if first == last => first.to_string(),
            (first, last) => format!("{first}-{last}"),
        };
        match self.network {
            IpAddr::V4(_) => write!(f, "{net}:{ports}"),
            IpAddr::V6(_) => write!(f, "[{net}]:{ports}"),
        }
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & kept))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & kept))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> AddrRule {
        text.parse().unwrap_or_else(|err| panic!("{err}"))
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("a socket address")
    }

    #[test]
    fn networks_and_port_ranges_match_what_they_name() {
        let private = rule("10.0.0.0/8");
        assert!(private.matches(addr("10.1.2.3:80")));
        assert!(!private.matches(addr("11.0.0.1:80")));
        let https = rule("0.0.0.0/0:443");
        assert!(https.matches(addr("93.184.216.34:443")));
        assert!(!https.matches(addr("93.184.216.34:80")));
        assert!(!https.matches(addr("[2001:db8::1]:443")), "an IPv4 rule");
        let range = rule("[2001:db8::/32]:8000-8999");
        assert!(range.matches(addr("[2001:db8:1::5]:8080")));
        assert!(!range.matches(addr("[2001:db9::5]:8080")));
        assert!(!range.matches(addr("[2001:db8::5]:9000")));
        assert!(rule("::/0").matches(addr("[::1]:1")));
        assert!(rule("[::1]:80").matches(addr("[::1]:80")));
        assert!(rule("10.0.0.5").matches(addr("10.0.0.5:1")));
    }

    #[test]
    fn an_ipv4_address_spelled_as_ipv6_is_still_ipv4() {
        let metadata = AddrRule::link_local();
        assert!(metadata[0].matches(addr("[::ffff:169.254.169.254]:80")));
        assert!(metadata[1].matches(addr("[fe80::1]:80")));
        assert!(rule("127.0.0.1:5051").matches(addr("[::ffff:127.0.0.1]:5051")));
    }

    #[test]
    fn rules_round_trip_through_text_and_garbage_is_refused() {
        for text in [
            "10.0.0.0/8",
            "0.0.0.0/0:443",
            "10.0.0.5:80",
            "10.0.0.5",
            "::/0",
            "[2001:db8::/32]:8000-8999",
            "[::1]:80",
        ] {
            assert_eq!(rule(text).to_string(), text);
        }
        // Host bits are cleared.
        assert_eq!(rule("10.1.2.3/8").to_string(), "10.0.0.0/8");
        for garbage in [
            "",
            "example.com",
            "10.0.0.0/33",
            "10.0.0.0/8:",
            "10.0.0.0/8:99999",
            "10.0.0.0/8:90-80",
            "[::1",
            "[::1]80",
            "::1:80:",
        ] {
            assert!(garbage.parse::<AddrRule>().is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn a_rule_covers_a_grant_only_if_it_holds_all_of_it() {
        let private = rule("10.0.0.0/8");
        assert!(private.covers(&AllowedAddr::Ip("10.0.0.5".parse().expect("ip"))));
        assert!(private.covers(&AllowedAddr::Socket(addr("10.0.0.5:80"))));
        let https = rule("0.0.0.0/0:443");
        assert!(https.covers(&AllowedAddr::Socket(addr("1.2.3.4:443"))));
        // Every port of 1.2.3.4 is more than port 443.
        assert!(!https.covers(&AllowedAddr::Ip("1.2.3.4".parse().expect("ip"))));
    }

    #[test]
    fn only_a_single_address_is_named_on_purpose() {
        assert!(!rule("0.0.0.0/0").is_single_address());
        assert!(!rule("127.0.0.0/8:5051").is_single_address());
        assert!(rule("127.0.0.1:5051").is_single_address());
        assert!(rule("::1").is_single_address());
    }
}
