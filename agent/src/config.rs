//! [`AgentConfig`]: everything an agent is told at start, with defaults a local cluster can use.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use wasmesos_proto::Resources;
use wasmesos_wasm_executor::{AddrRule, ExecutorConfig};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// The master's default URL.
pub const DEFAULT_MASTER_URL: &str = wasmesos_detector::DEFAULT_MASTER_URL;

/// The agent's default listen address.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5051);

/// How an agent runs. A plain struct: tests shrink the intervals, the CLI fills it from flags.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The master, e.g. `http://127.0.0.1:5050`.
    pub master_url: String,
    /// A file with the principal and secret the agent authenticates to the master with
    /// (`--credential`: JSON `{"principal", "secret"}` or one `p s` line), read at start.
    pub credential_file: Option<PathBuf>,
    /// The principals and secrets that may call this agent's own API, in the master's
    /// `--credentials` format (`--http-credentials`); without it the agent's port is open.
    pub http_credentials_file: Option<PathBuf>,
    /// Where [`spawn`](crate::spawn) binds the agent's own gRPC server. `serve` is handed a
    /// listener instead.
    pub listen: SocketAddr,
    /// The URL the master and CLI use to reach this agent (`AgentInfo.address`). `None`
    /// derives it from the bound address; an unspecified bind address (`0.0.0.0`) becomes
    /// the local address the master's host is reached from.
    pub advertise_url: Option<String>,
    /// The hostname reported to the master; `None` asks the OS.
    pub hostname: Option<String>,
    /// The resources offered to frameworks. `cpus`, `mem` and `disk` that are missing
    /// (or all of them, when `None`) are detected from the host; see
    /// [`complete_resources`](crate::complete_resources).
    pub resources: Option<Resources>,
    /// Holds `checkpoint.journal` (what a restarted agent must not forget), `artifacts/`
    /// (fetched executors), `compiled/` (the compile cache), `fetcher-cache/` (cached
    /// downloads of tasks' `uris`),
    /// `sandbox-pool/` (the directories tasks run in) and
    /// `sandboxes/<framework_id>/<task_id>/` (those of finished tasks that left files).
    /// Created if missing.
    pub work_dir: PathBuf,
    /// First delay before retrying a failed registration; it doubles on each failure.
    pub registration_backoff: Duration,
    /// Cap on the registration retry delay.
    pub registration_backoff_max: Duration,
    /// How long a registration may wait for the master's `registered` before it is retried.
    pub registration_timeout: Duration,
    /// How long an unacknowledged status update waits before it is sent again; it doubles
    /// on each resend.
    pub status_update_retry: Duration,
    /// Cap on the status update resend delay.
    pub status_update_retry_max: Duration,
    /// Heartbeat interval used if the master announces none (or a nonsensical one).
    pub default_heartbeat_interval: Duration,
    /// How long an executor download keeps retrying while the master cannot serve it (a
    /// restart or a failover in progress) before the task fails with EXECUTOR_NOT_FOUND.
    /// A digest the master does not have fails at once.
    pub executor_download_patience: Duration,
    /// The largest executor the agent downloads.
    pub max_artifact_bytes: u64,
    /// The largest file the fetcher writes for one of a task's `uris` (checked while it
    /// streams, whatever the source announces).
    pub fetch_max_bytes: u64,
    /// How long fetching one of a task's `uris` may take in all.
    pub fetch_timeout: Duration,
    /// Directories `file://` uris may read from (and below). Empty: every `file://` uri is
    /// refused.
    pub fetch_allowed_dirs: Vec<PathBuf>,
    /// Bytes the fetcher cache (`work_dir/fetcher-cache`) holds at most; the least recently
    /// used downloads go first.
    pub fetcher_cache_bytes: u64,
    /// Fetches running at once on this agent; further ones wait.
    pub max_concurrent_fetches: usize,
    /// The largest result `data` a task may return; larger results fail the task with
    /// REASON_GUEST_ERROR rather than clog the status channel.
    pub max_result_bytes: u64,
    /// Bytes kept (the tail) of each task's `stdout` and `stderr` file.
    pub output_cap_bytes: u64,
    /// Bytes of each of a task's `stdout` and `stderr` held in memory (and served by
    /// `ReadFile` from there) before the stream moves to its file in the sandbox. A task that
    /// writes less and creates no files leaves nothing on disk, and its sandbox directory is
    /// reused. 0 writes straight to the files. Retained completed tasks keep theirs, so this
    /// times 2 × `completed_tasks_retained` bounds the memory it takes.
    pub output_memory_bytes: u64,
    /// The most bytes one `Agent.ReadFile` call returns.
    pub read_file_max_bytes: u64,
    /// Finished, acknowledged tasks kept for `GetAgentState` and `ReadFile`. When an older
    /// one drops out of this list, its sandbox directory is deleted, which bounds the disk
    /// and inodes that finished tasks hold.
    pub completed_tasks_retained: usize,
    /// The addresses tasks may be granted (`--network-allow`): a task whose executor asks for
    /// more is refused (TASK_ERROR) naming the grant. `None`: any grant. Either way no guest
    /// reaches the agent's own port, the master, or the link-local networks (cloud metadata)
    /// unless one of these rules names that single address.
    pub network_allow: Option<Vec<AddrRule>>,
    /// Engine, pool and compile-cache sizing. A `cache_dir` of `None` becomes
    /// `work_dir/compiled`.
    pub executor: ExecutorConfig,
    /// TLS on the agent's port and for its calls to the master; off by default.
    pub tls: crate::AgentTls,
    /// Offer the CPU that tasks were given and do not use as revocable resources, under a
    /// QoS controller (`--oversubscribe`); `None` (the default) offers none.
    pub oversubscription: Option<crate::OversubscriptionConfig>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            master_url: DEFAULT_MASTER_URL.to_string(),
            credential_file: None,
            http_credentials_file: None,
            listen: DEFAULT_LISTEN,
            advertise_url: None,
            hostname: None,
            resources: None,
            work_dir: std::env::temp_dir().join("wasmesos-agent"),
            registration_backoff: Duration::from_millis(100),
            registration_backoff_max: Duration::from_secs(10),
            registration_timeout: Duration::from_secs(10),
            status_update_retry: Duration::from_secs(10),
            status_update_retry_max: Duration::from_secs(600),
            default_heartbeat_interval: Duration::from_secs(1),
            executor_download_patience: Duration::from_secs(60),
            max_artifact_bytes: 64 * MIB,
            fetch_max_bytes: 256 * MIB,
            fetch_timeout: Duration::from_secs(5 * 60),
            fetch_allowed_dirs: Vec::new(),
            fetcher_cache_bytes: 2 * 1024 * MIB,
            max_concurrent_fetches: 8,
            max_result_bytes: MIB,
            network_allow: None,
            output_cap_bytes: 8 * MIB,
            output_memory_bytes: 8 * KIB,
            read_file_max_bytes: MIB,
            completed_tasks_retained: 1000,
            executor: ExecutorConfig::default(),
            tls: crate::AgentTls::default(),
            oversubscription: None,
        }
    }
}
