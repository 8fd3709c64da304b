//! The znodes masters contend with: `<path>/json.info_<seq>`, ephemeral and sequential, each
//! holding a [`MasterInfo`] as JSON. The lowest sequence leads.

use serde::{Deserialize, Serialize};

/// Name prefix of the contenders' znodes (Mesos's convention; ZooKeeper appends a
/// ten-digit sequence number).
pub const ZNODE_PREFIX: &str = "json.info_";

/// A master as it announces itself in its znode, in Mesos's MasterInfo JSON shape: Mesos
/// clients read `ip` and `port` (or `address`), some the `pid`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterInfo {
    pub id: String,
    /// The IPv4 address as Mesos writes it: the `in_addr`'s network-order bytes read as a
    /// little-endian `uint32` (127.0.0.1 is 16777343); 0 when the master is not on IPv4.
    #[serde(default)]
    pub ip: u32,
    pub hostname: String,
    pub port: u32,
    /// `master@ip:port`, libprocess's name for the master.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pid: String,
    pub version: String,
    pub address: MasterAddress,
}

/// Where a master serves gRPC and HTTP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterAddress {
    pub ip: String,
    pub port: u32,
    pub hostname: String,
}

impl MasterInfo {
    /// A master serving on `ip:port`, with `ip` and `pid` filled in as Mesos fills them.
    pub fn new(id: &str, hostname: &str, ip: &str, port: u32, version: &str) -> Self {
        let pid = if ip.contains(':') {
            format!("master@[{ip}]:{port}")
        } else {
            format!("master@{ip}:{port}")
        };
        Self {
            id: id.to_string(),
            ip: mesos_ip(ip),
            hostname: hostname.to_string(),
            port,
            pid,
            version: version.to_string(),
            address: MasterAddress {
                ip: ip.to_string(),
                port,
                hostname: hostname.to_string(),
            },
        }
    }

    /// `http://ip:port` (brackets around an IPv6 address): what clients connect to.
    pub fn url(&self) -> String {
        let ip = &self.address.ip;
        if ip.contains(':') && !ip.starts_with('[') {
            format!("http://[{ip}]:{}", self.address.port)
        } else {
            format!("http://{ip}:{}", self.address.port)
        }
    }

    /// The znode payload.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain strings and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a znode payload; `None` when it is not a MasterInfo.
    pub fn from_json(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

/// An IPv4 address as Mesos's `MasterInfo.ip`; 0 for anything else.
fn mesos_ip(ip: &str) -> u32 {
    ip.parse::<std::net::Ipv4Addr>()
        .map_or(0, |addr| u32::from_le_bytes(addr.octets()))
}

/// The sequence number of a contender znode name, `None` for any other child.
pub fn sequence_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(ZNODE_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The leading contender among `children`: the `json.info_` znode with the lowest sequence.
pub fn leader_znode<S: AsRef<str>>(children: &[S]) -> Option<&str> {
    contenders(children).first().map(|(_, name)| *name)
}

/// The contender just ahead of `mine` (the one it watches), `None` when `mine` leads or is
/// not among `children`.
pub fn predecessor<'a, S: AsRef<str>>(children: &'a [S], mine: &str) -> Option<&'a str> {
    let sorted = contenders(children);
    let at = sorted.iter().position(|(_, name)| *name == mine)?;
    at.checked_sub(1)
        .and_then(|i| sorted.get(i))
        .map(|(_, name)| *name)
}

fn contenders<S: AsRef<str>>(children: &[S]) -> Vec<(u64, &str)> {
    let mut sorted: Vec<(u64, &str)> = children
        .iter()
        .map(AsRef::as_ref)
        .filter_map(|name| sequence_of(name).map(|seq| (seq, name)))
        .collect();
    sorted.sort_unstable();
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_sequence_leads_and_others_are_ignored() {
        let children = [
            "json.info_0000000012",
            "registry",
            "json.info_0000000003",
            "json.info_x",
            "json.info_0000000007",
        ];
        assert_eq!(leader_znode(&children), Some("json.info_0000000003"));
        assert_eq!(
            predecessor(&children, "json.info_0000000012"),
            Some("json.info_0000000007")
        );
        assert_eq!(predecessor(&children, "json.info_0000000003"), None);
        assert_eq!(predecessor(&children, "json.info_0000000099"), None);
        assert_eq!(leader_znode::<&str>(&[]), None);
        assert_eq!(leader_znode(&["registry"]), None);
    }

    #[test]
    fn master_info_round_trips_in_mesos_shape() {
        let info = MasterInfo::new("abc", "m1", "10.0.0.1", 5050, "0.1.0");
        let json = info.to_json();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
        assert_eq!(value["address"]["ip"], "10.0.0.1");
        assert_eq!(value["address"]["hostname"], "m1");
        assert_eq!(value["address"]["port"], 5050);
        assert_eq!(value["hostname"], "m1");
        assert_eq!(value["port"], 5050);
        // 10.0.0.1 in network order, read as Mesos's little-endian hosts read it.
        assert_eq!(value["ip"], 0x0100_000a);
        assert_eq!(value["pid"], "master@10.0.0.1:5050");
        let loopback = MasterInfo::new("m", "localhost", "127.0.0.1", 5050, "v");
        assert_eq!(loopback.ip, 16_777_343);
        assert_eq!(MasterInfo::from_json(&json), Some(info.clone()));
        assert_eq!(info.url(), "http://10.0.0.1:5050");
        assert_eq!(MasterInfo::from_json(b"{not json"), None);

        let v6 = MasterInfo {
            address: MasterAddress {
                ip: "::1".into(),
                ..info.address
            },
            ..info
        };
        assert_eq!(v6.url(), "http://[::1]:5050");
        assert_eq!(MasterInfo::new("m", "h", "::1", 5050, "v").ip, 0);
        assert_eq!(
            MasterInfo::new("m", "h", "::1", 5050, "v").pid,
            "master@[::1]:5050"
        );
        // A znode written without `ip` and `pid` (an older wasmesos) still parses.
        let old = br#"{"id":"a","hostname":"h","port":1,"version":"v","address":{"ip":"10.0.0.1","port":1,"hostname":"h"}}"#;
        assert_eq!(MasterInfo::from_json(old).map(|i| i.ip), Some(0));
    }
}
