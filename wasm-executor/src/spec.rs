//! What a task is asked to run with: [`TaskSpec`] and its parts, and the one text syntax of a
//! network grant (used by the agent for `network_allow` and by `wasmesos exec --allow-net`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::Error;
use crate::addr_rule::AddrRule;
use crate::output::OutputMemory;

/// Everything [`Executor::launch`](crate::Executor::launch) needs to run one task.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// The task's id, used in logs and passed to executor components.
    pub task_id: String,
    /// A human name for the task.
    pub name: String,
    /// Arguments. A command sees them as `argv[1..]`, after `argv[0]` = `name`.
    pub args: Vec<String>,
    /// The only environment variables the guest sees.
    pub env: Vec<(String, String)>,
    /// Opaque bytes handed to an executor component's `run`.
    pub data: Vec<u8>,
    /// Hard limits.
    pub limits: Limits,
    /// The task's sandbox directory, created if missing: the guest's only preopen, at `/`.
    pub sandbox_dir: PathBuf,
    /// Which addresses the guest may reach.
    pub network: NetworkPolicy,
    /// Where stdout and stderr go.
    pub output: OutputConfig,
}

impl TaskSpec {
    /// A spec with default limits, no network and capped output files.
    pub fn new(task_id: impl Into<String>, sandbox_dir: impl Into<PathBuf>) -> Self {
        let task_id = task_id.into();
        TaskSpec {
            name: task_id.clone(),
            task_id,
            args: Vec::new(),
            env: Vec::new(),
            data: Vec::new(),
            limits: Limits::default(),
            sandbox_dir: sandbox_dir.into(),
            network: NetworkPolicy::default(),
            output: OutputConfig::default(),
        }
    }
}

/// Per-task hard limits. Each one that is hit ends the task with its own
/// [`FailureReason`](crate::FailureReason).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Total bytes of linear memory and tables across all the instance's memories and tables.
    pub mem_bytes: u64,
    /// Share of one CPU core, e.g. `Some(0.25)`; `None` means unthrottled.
    pub cpus: Option<f64>,
    /// Instruction budget; `None` means unmetered.
    pub fuel: Option<u64>,
    /// Wall-clock budget, counted from launch.
    pub timeout: Option<Duration>,
    /// Quota on the bytes under the sandbox dir.
    pub disk_bytes: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            mem_bytes: 64 * 1024 * 1024,
            cpus: None,
            fuel: None,
            timeout: None,
            disk_bytes: None,
        }
    }
}

/// Which socket addresses a task may use. The default denies all, including name lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Addresses the guest may connect to, bind, or send datagrams to.
    pub allow: Vec<AllowedAddr>,
    /// Whether `wasi:sockets/ip-name-lookup` resolves names.
    pub allow_name_lookup: bool,
    /// Addresses the guest may never use, whatever `allow` says: the operator's protected
    /// ones (the agent's own port, the master, link-local metadata).
    pub deny: Vec<AddrRule>,
    /// Addresses in `deny` that the operator named on purpose, and so stay usable.
    pub deny_exceptions: Vec<AddrRule>,
}

impl NetworkPolicy {
    /// A policy that allows exactly these addresses.
    pub fn allowing(allow: impl IntoIterator<Item = AllowedAddr>) -> Self {
        NetworkPolicy {
            allow: allow.into_iter().collect(),
            ..NetworkPolicy::default()
        }
    }

    /// Whether the guest may use `addr` (to connect to, or with `binding`, to bind): it is
    /// granted and not protected. A guest with any grant may also bind the unspecified
    /// address on an ephemeral port: that is how a client socket gets its local end before it
    /// connects (wasi-libc does so), and it exposes nothing that a connect would not.
    pub fn permits(&self, addr: SocketAddr, binding: bool) -> bool {
        if binding && addr.ip().is_unspecified() && addr.port() == 0 && !self.denies_all() {
            return true;
        }
        let protected = self.deny.iter().any(|rule| rule.matches(addr))
            && !self.deny_exceptions.iter().any(|rule| rule.matches(addr));
        !protected && self.allow.iter().any(|allowed| allowed.matches(addr))
    }

    pub(crate) fn denies_all(&self) -> bool {
        self.allow.is_empty()
    }
}

/// One grant in a [`NetworkPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowedAddr {
    /// Exactly this address and port.
    Socket(SocketAddr),
    /// Any port on this IP.
    Ip(IpAddr),
}

impl AllowedAddr {
    fn matches(&self, addr: SocketAddr) -> bool {
        match self {
            AllowedAddr::Socket(allowed) => *allowed == addr,
            AllowedAddr::Ip(ip) => *ip == addr.ip(),
        }
    }
}

/// Parses `ip:port` ([`Socket`](AllowedAddr::Socket)) or a bare `ip` for any port
/// ([`Ip`](AllowedAddr::Ip)). An IPv6 address is written `[::1]:80` with a port, `::1` or
/// `[::1]` without. Surrounding whitespace is ignored; host names are refused.
impl FromStr for AllowedAddr {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(AllowedAddr::Socket(addr));
        }
        let bracketed = text.strip_prefix('[').and_then(|t| t.strip_suffix(']'));
        let ip = match bracketed {
            // Brackets are IPv6's way to set the address apart from a port.
            Some(inner) => inner.parse().ok().map(IpAddr::V6),
            None => text.parse().ok(),
        };
        ip.map(AllowedAddr::Ip)
            .ok_or_else(|| Error::InvalidNetworkGrant(text.escape_debug().to_string()))
    }
}

/// The syntax [`FromStr`] reads, so a grant survives a round trip through text.
impl fmt::Display for AllowedAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedAddr::Socket(addr) => addr.fmt(f),
            AllowedAddr::Ip(ip) => ip.fmt(f),
        }
    }
}

/// Where a task's stdout and stderr go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputConfig {
    /// Bytes kept per stream in the sandbox files `stdout` and `stderr`; older output is
    /// dropped so that the tail survives.
    pub cap_bytes: u64,
    /// Also copy the guest's output to this process's stdout and stderr (for `wasmesos exec`).
    pub tee: bool,
    /// Hold small output in memory, readable through this handle, instead of in the sandbox
    /// files; `None` writes straight to the files. A handle serves one task.
    pub memory: Option<OutputMemory>,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            cap_bytes: 1024 * 1024,
            tee: false,
            memory: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_addresses_are_denied_unless_named_on_purpose() {
        let addr = |text: &str| text.parse::<SocketAddr>().expect("addr");
        let mut policy =
            NetworkPolicy::allowing([AllowedAddr::Ip("127.0.0.1".parse().expect("ip"))]);
        policy.deny = AddrRule::port_anywhere(5051).to_vec();
        assert!(policy.permits(addr("127.0.0.1:8080"), false));
        assert!(!policy.permits(addr("127.0.0.1:5051"), false));
        policy.deny_exceptions = vec!["127.0.0.1:5051".parse().expect("rule")];
        assert!(policy.permits(addr("127.0.0.1:5051"), false));
    }

    #[test]
    fn grants_are_exact_or_per_ip() {
        let local: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let other_port: SocketAddr = "127.0.0.1:9090".parse().expect("addr");
        let ephemeral: SocketAddr = "0.0.0.0:0".parse().expect("addr");
        let exact = NetworkPolicy::allowing([AllowedAddr::Socket(local)]);
        assert!(exact.permits(local, false));
        assert!(!exact.permits(other_port, false));
        assert!(exact.permits(ephemeral, true));
        assert!(!exact.permits(ephemeral, false));
        let ip = NetworkPolicy::allowing([AllowedAddr::Ip(local.ip())]);
        assert!(ip.permits(other_port, false));
        let none = NetworkPolicy::default();
        assert!(!none.permits(ephemeral, true));
        assert!(!none.permits(local, false));
    }

    fn grant(text: &str) -> Result<AllowedAddr, Error> {
        text.parse()
    }

    #[test]
    fn grants_parse_with_or_without_a_port() {
        let v4: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let v6: SocketAddr = "[::1]:80".parse().expect("addr");
        assert_eq!(grant("127.0.0.1:8080").ok(), Some(AllowedAddr::Socket(v4)));
        assert_eq!(grant("[::1]:80").ok(), Some(AllowedAddr::Socket(v6)));
        assert_eq!(
            grant(" 127.0.0.1:8080\n").ok(),
            Some(AllowedAddr::Socket(v4))
        );
        assert_eq!(
            grant("10.0.0.1").ok(),
            Some(AllowedAddr::Ip([10, 0, 0, 1].into()))
        );
        for any_port_on_v6 in ["::1", "[::1]"] {
            assert_eq!(
                grant(any_port_on_v6).ok(),
                Some(AllowedAddr::Ip(v6.ip())),
                "{any_port_on_v6}"
            );
        }
    }

    #[test]
    fn bad_grants_are_refused_naming_the_grant() {
        for bad in [
            "",
            "example.com:80",
            "localhost",
            "127.0.0.1:99999",
            "127.0.0.1:",
            "[::1",
            "[127.0.0.1]",
            "10.0.0.0/8",
        ] {
            let err = grant(bad).expect_err(bad);
            assert!(matches!(err, Error::InvalidNetworkGrant(_)), "{bad}: {err}");
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn grants_survive_a_round_trip_through_text() {
        for text in ["127.0.0.1:8080", "[::1]:80", "10.0.0.1", "::1"] {
            let parsed = grant(text).expect(text);
            assert_eq!(parsed.to_string(), text);
            assert_eq!(grant(&parsed.to_string()).ok(), Some(parsed));
        }
    }
}
