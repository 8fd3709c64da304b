//! Master URLs: `http://host:port` or `https://host:port` (one fixed master) or `zk://host:port,…/path` (whoever
//! leads under that ZooKeeper path).

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// Where clients look for the master when nothing else says so.
pub const DEFAULT_MASTER_URL: &str = "http://127.0.0.1:5050";

/// ZooKeeper's client port, used when a `zk://` host names none.
const DEFAULT_ZK_PORT: u16 = 2181;

/// Where to find the master.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MasterUrl {
    /// A fixed master, e.g. `http://127.0.0.1:5050`.
    Static(String),
    /// The leader among masters contending under `path` in the ZooKeeper ensemble `servers`.
    ZooKeeper {
        /// `host:port,host:port`, ports filled in.
        servers: String,
        /// Absolute znode path, e.g. `/wasmesos`; never `/` and never with a trailing `/`.
        path: String,
    },
}

impl MasterUrl {
    /// True for `zk://` URLs.
    pub fn is_zookeeper(&self) -> bool {
        matches!(self, Self::ZooKeeper { .. })
    }
}

impl fmt::Display for MasterUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static(url) => f.write_str(url),
            Self::ZooKeeper { servers, path } => write!(f, "zk://{servers}{path}"),
        }
    }
}

impl FromStr for MasterUrl {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::BadUrl {
            url: text.to_string(),
            why: why.to_string(),
        };
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("zk://") {
            return parse_zk(rest).map_err(|why| bad(&why));
        }
        if let Some(authority) = text
            .strip_prefix("http://")
            .or_else(|| text.strip_prefix("https://"))
        {
            let host = authority.split('/').next().unwrap_or_default();
            if host.is_empty() {
                return Err(bad("no host after the scheme"));
            }
            return Ok(Self::Static(text.trim_end_matches('/').to_string()));
        }
        // A bare `host:port` is a plain-HTTP master, as agents have always accepted.
        if !text.contains("://") && !text.is_empty() && !text.starts_with('/') {
            return Ok(Self::Static(format!(
                "http://{}",
                text.trim_end_matches('/')
            )));
        }
        Err(bad(
            "expected http://host:port, https://host:port or zk://host:port[,host:port…]/path",
        ))
    }
}

fn parse_zk(rest: &str) -> Result<MasterUrl, String> {
    let slash = rest
        .find('/')
        .ok_or("a zk:// URL needs a znode path, e.g. zk://host:2181/wasmesos")?;
    let (hosts, path) = rest.split_at(slash);
    if hosts.contains('@') {
        return Err("credentials in zk:// URLs are not supported".into());
    }
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        return Err("the znode path must not be the root /".into());
    }
    if path.split('/').skip(1).any(str::is_empty) {
        return Err(format!("the znode path {path:?} has an empty component"));
    }
    let servers = hosts
        .split(',')
        .map(with_port)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MasterUrl::ZooKeeper {
        servers: servers.join(","),
        path: path.to_string(),
    })
}

/// `host` → `host:2181`; `host:port` checked. IPv6 hosts go in brackets (`[::1]:2181`).
fn with_port(host: &str) -> Result<String, String> {
    if host.is_empty() {
        return Err("empty ZooKeeper host".into());
    }
    // The port follows the last `:`, which must come after an IPv6 host's closing `]`.
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !host.contains(']') || name.ends_with(']') => (name, Some(port)),
        _ => (host, None),
    };
    match port {
        _ if name.is_empty() => Err(format!("bad ZooKeeper address {host:?}")),
        None => Ok(format!("{host}:{DEFAULT_ZK_PORT}")),
        Some(port) if port.parse::<u16>().is_ok_and(|p| p > 0) => Ok(host.to_string()),
        Some(_) => Err(format!("bad ZooKeeper address {host:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zk(servers: &str, path: &str) -> MasterUrl {
        MasterUrl::ZooKeeper {
            servers: servers.into(),
            path: path.into(),
        }
    }

    #[test]
    fn parses_static_and_zookeeper_urls() {
        let parse = |s: &str| s.parse::<MasterUrl>().ok();
        assert_eq!(
            parse("http://127.0.0.1:5050/"),
            Some(MasterUrl::Static("http://127.0.0.1:5050".into()))
        );
        assert_eq!(
            parse("zk://h1:2181,h2:2182/wasmesos"),
            Some(zk("h1:2181,h2:2182", "/wasmesos"))
        );
        assert_eq!(parse("zk://h1/a/b/"), Some(zk("h1:2181", "/a/b")));
        assert_eq!(
            parse("10.0.0.5:5050"),
            Some(MasterUrl::Static("http://10.0.0.5:5050".into()))
        );
        assert_eq!(
            parse(DEFAULT_MASTER_URL),
            Some(MasterUrl::Static(DEFAULT_MASTER_URL.into()))
        );
        assert_eq!(parse("zk://[::1]:2181/m"), Some(zk("[::1]:2181", "/m")));
        assert_eq!(
            parse("zk://h1:2181,h2:2182/wasmesos").map(|u| u.to_string()),
            Some("zk://h1:2181,h2:2182/wasmesos".into())
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let why = |s: &str| s.parse::<MasterUrl>().err().map(|e| e.to_string());
        let cases = [
            ("zk://h1:2181", "needs a znode path"),
            ("zk://h1:2181/", "root"),
            ("zk://h1:2181//x", "empty component"),
            ("zk://h1:0/x", "bad ZooKeeper address"),
            ("zk://h1:port/x", "bad ZooKeeper address"),
            ("zk://:2181/x", "bad ZooKeeper address"),
            ("zk://h1,,h2/x", "empty ZooKeeper host"),
            ("zk://u:p@h1/x", "credentials"),
            ("ftp://h", "expected http://"),
            ("http://", "no host"),
            ("", "expected http://"),
        ];
        for (url, expected) in cases {
            let message = why(url);
            assert!(
                message.as_deref().is_some_and(|m| m.contains(expected)),
                "{url}: {message:?}"
            );
        }
    }
}
