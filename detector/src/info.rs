//! The znodes masters contend with: `<path>/json.info_<seq>`, ephemeral and sequential, each
//! holding a [`MasterInfo`] as JSON. The lowest sequence leads.

use serde::{Deserialize, Serialize};

/// Name prefix of the contenders' znodes (Mesos's convention; ZooKeeper appends a
/// ten-digit sequence number).
pub const ZNODE_PREFIX: &str = "json.info_";

/// A master as it announces itself in its znode, in Mesos's MasterInfo JSON shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterInfo {
    pub id: String,
    pub hostname: String,
    pub port: u32,
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
        let info = MasterInfo {
            id: "abc".into(),
            hostname: "m1".into(),
            port: 5050,
            version: "0.1.0".into(),
            address: MasterAddress {
                ip: "10.0.0.1".into(),
                port: 5050,
                hostname: "m1".into(),
            },
        };
        let json = info.to_json();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
        assert_eq!(value["address"]["ip"], "10.0.0.1");
        assert_eq!(value["port"], 5050);
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
    }
}
