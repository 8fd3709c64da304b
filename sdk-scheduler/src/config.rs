//! How a [`Driver`](crate::Driver) connects, subscribes and reconnects.

use std::time::Duration;

use wasmesos_proto::FrameworkInfo;

pub use wasmesos_detector::{ClientTls, DEFAULT_MASTER_URL, Identity};

/// Everything a driver needs to know; plain fields so tests can shrink every interval.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// The master's gRPC endpoint, e.g. `http://127.0.0.1:5050` (`https://` for a master
    /// serving TLS), or `zk://host:2181/path` to follow whichever master leads there.
    pub master_url: String,
    /// For an `https://` master: the CA that verifies it (default: the system's roots) and
    /// a client certificate, for a master that asks for one.
    pub tls: ClientTls,
    /// Name, roles, principal and failover timeout. Leave `id` empty for a new framework; the
    /// driver fills it in from the master's `SUBSCRIBED` and keeps it across reconnects.
    pub framework: FrameworkInfo,
    /// The heartbeat interval asked of the master; zero means the master's default.
    pub heartbeat_interval: Duration,
    /// After this many heartbeat intervals without any event the subscription counts as lost.
    pub max_missed_heartbeats: u32,
    /// How long to wait for the TCP connection and for `SUBSCRIBED` after subscribing.
    pub connect_timeout: Duration,
    /// The first and the largest pause between re-subscription attempts (doubling, jittered).
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Acknowledge every status update after the `update` callback returns. Turn off to
    /// acknowledge by hand with [`Driver::acknowledge`](crate::Driver::acknowledge).
    pub auto_acknowledge: bool,
    /// After every SUBSCRIBED (the first and each resubscription), reconcile: explicitly the
    /// tasks this driver launched and has not seen end, then implicitly all of the
    /// framework's tasks. The answers arrive through `Scheduler::update`.
    pub reconcile_on_subscribe: bool,
    /// The principal and secret to authenticate with, for a master that requires
    /// authentication (`--credentials`). The framework's principal is then this principal.
    pub credential: Option<wasmesos_detector::Credential>,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            master_url: DEFAULT_MASTER_URL.to_string(),
            tls: ClientTls::default(),
            framework: FrameworkInfo::default(),
            heartbeat_interval: Duration::ZERO,
            max_missed_heartbeats: 3,
            connect_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            auto_acknowledge: true,
            reconcile_on_subscribe: true,
            credential: None,
        }
    }
}

impl DriverConfig {
    /// A config for a new framework called `name` in the default role.
    pub fn new(master_url: impl Into<String>, name: impl Into<String>) -> Self {
        DriverConfig {
            master_url: master_url.into(),
            framework: FrameworkInfo {
                name: name.into(),
                ..FrameworkInfo::default()
            },
            ..DriverConfig::default()
        }
    }

    /// Authenticates as `credential`'s principal.
    pub fn credential(mut self, credential: wasmesos_detector::Credential) -> Self {
        self.credential = Some(credential);
        self
    }

    /// Receives offers for `role` instead of the default role `*`.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.framework.roles = vec![role.into()];
        self
    }

    /// Lets the master preempt this framework's tasks for a role below its quota guarantee:
    /// suspend them in place (a RUNNING update with `suspended` set) where CPU alone is
    /// missing, kill them (TASK_KILLED, REASON_TASK_PREEMPTED) otherwise.
    pub fn preemptible(mut self) -> Self {
        self.framework.preemptible = true;
        self
    }

    /// Asks for revocable resources too (capability REVOCABLE_RESOURCES): offers may then
    /// hold revocable cpus (`Resource.revocable`, [`crate::Capacity::get_revocable`]), the
    /// CPU an agent's tasks leave unused. A task on them ([`crate::TaskBuilder::revocable_cpus`])
    /// may be suspended when the agent's regular tasks need their CPU back (a RUNNING update
    /// with `suspended` set), and killed with REASON_REVOCATION if it stays suspended.
    pub fn revocable_resources(mut self) -> Self {
        let capability = wasmesos_proto::FrameworkCapability::RevocableResources as i32;
        if !self.framework.capabilities.contains(&capability) {
            self.framework.capabilities.push(capability);
        }
        self
    }
}
