//! What a task is asked to run with: [`TaskSpec`] and its parts.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

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
}

impl NetworkPolicy {
    /// A policy that allows exactly these addresses.
    pub fn allowing(allow: impl IntoIterator<Item = AllowedAddr>) -> Self {
        NetworkPolicy {
            allow: allow.into_iter().collect(),
            allow_name_lookup: false,
        }
    }

    /// Whether the guest may use `addr`. A guest with any grant may also bind the unspecified
    /// address on an ephemeral port: that is how a client socket gets its local end before it
    /// connects (wasi-libc does so), and it exposes nothing that a connect would not.
    pub(crate) fn permits(&self, addr: SocketAddr, binding: bool) -> bool {
        if binding && addr.ip().is_unspecified() && addr.port() == 0 && !self.denies_all() {
            return true;
        }
        self.allow.iter().any(|allowed| allowed.matches(addr))
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
}
