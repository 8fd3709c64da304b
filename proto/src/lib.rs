//! The wasmesos wire protocol: protobuf messages and the gRPC services that master, agents,
//! schedulers and operators speak.
//!
//! The `.proto` files under `proto/wasmesos/v1/` are the source of truth; `build.rs` compiles
//! them with protox, so no system `protoc` is needed. This crate holds no logic beyond small
//! conversions; the behaviour behind each service lives in `wasmesos-master` and
//! `wasmesos-agent`.
// No `expect` outside tests: a panic on what a peer or a user sends is a bug (tests may).
#![cfg_attr(not(test), warn(clippy::expect_used))]
#![forbid(unsafe_code)]

/// Generated messages and services of package `wasmesos.v1`.
pub mod v1 {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("wasmesos.v1");
}

pub use v1::*;

/// Apache Mesos 1.11's v1 messages (package `mesos.v1` and its sub-packages), compiled from the
/// vendored, unchanged `.proto` files under `proto/mesos/v1/`. The master's Mesos HTTP API
/// speaks these.
pub mod mesos {
    /// The encoded `FileDescriptorSet` of every Mesos file, for reflection (Mesos's JSON).
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/mesos_descriptor.bin"));

    /// Package `mesos.v1`.
    pub mod v1 {
        #![allow(missing_docs, clippy::all, clippy::pedantic)]
        tonic::include_proto!("mesos.v1");

        /// Package `mesos.v1.scheduler`: the scheduler HTTP API's calls and events.
        pub mod scheduler {
            #![allow(missing_docs, clippy::all, clippy::pedantic)]
            tonic::include_proto!("mesos.v1.scheduler");
        }
        /// Package `mesos.v1.master`: the operator HTTP API's calls and responses.
        pub mod master {
            #![allow(missing_docs, clippy::all, clippy::pedantic)]
            tonic::include_proto!("mesos.v1.master");
        }
        /// Package `mesos.v1.maintenance`.
        pub mod maintenance {
            #![allow(missing_docs, clippy::all, clippy::pedantic)]
            tonic::include_proto!("mesos.v1.maintenance");
        }
        /// Package `mesos.v1.quota`.
        pub mod quota {
            #![allow(missing_docs, clippy::all, clippy::pedantic)]
            tonic::include_proto!("mesos.v1.quota");
        }
        /// Package `mesos.v1.allocator`.
        pub mod allocator {
            #![allow(missing_docs, clippy::all, clippy::pedantic)]
            tonic::include_proto!("mesos.v1.allocator");
        }
    }
}

pub mod fetch;
pub mod limits;
pub mod resources;
pub mod shell;
pub use resources::{Amounts, resources_from_proto, resources_to_proto};

/// The gRPC metadata key under which a non-leading master names the leader's address.
pub const LEADER_METADATA_KEY: &str = "wasmesos-leader";

/// Resource names every agent offers.
pub mod resource_names {
    pub const CPUS: &str = "cpus";
    pub const MEM: &str = "mem";
    pub const DISK: &str = "disk";
    /// Ranges of ports; agents offer 31000-32000 unless told otherwise, as Mesos does.
    pub const PORTS: &str = "ports";
}

impl TaskState {
    /// Whether no further state can follow this one.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::TaskFinished
                | TaskState::TaskFailed
                | TaskState::TaskKilled
                | TaskState::TaskError
                | TaskState::TaskLost
                | TaskState::TaskDropped
                | TaskState::TaskGone
                | TaskState::TaskGoneByOperator
        )
    }
}

impl TaskState {
    /// The name operators read (`RUNNING`, `FINISHED`, ...): the proto name without `TASK_`.
    /// The JSON APIs, the CLI and the agent's state page all spell states this way.
    pub fn name(self) -> &'static str {
        let name = self.as_str_name();
        name.strip_prefix("TASK_").unwrap_or(name)
    }

    /// The state [`TaskState::name`] spells, also accepting the proto name, in any case
    /// (`running`, `TASK_RUNNING`); `None` for anything else, including the unspecified state.
    pub fn from_name(name: &str) -> Option<TaskState> {
        let upper = name.to_ascii_uppercase();
        let bare = upper.strip_prefix("TASK_").unwrap_or(&upper);
        TaskState::from_str_name(&format!("TASK_{bare}")).filter(|s| *s != TaskState::Unspecified)
    }
}

impl Reason {
    /// The stable, machine-readable code of a reason (`memory_limit`, `exit_code`, ...);
    /// empty for [`Reason::Unspecified`]. This is the one table of reason codes.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Unspecified => "",
            Reason::ExitCode => "exit_code",
            Reason::Trap => "trap",
            Reason::GuestError => "guest_error",
            Reason::MemoryLimit => "memory_limit",
            Reason::FuelExhausted => "fuel_exhausted",
            Reason::Timeout => "timeout",
            Reason::DiskLimit => "disk_limit",
            Reason::StackOverflow => "stack_overflow",
            Reason::Killed => "killed",
            Reason::AgentLost => "agent_lost",
            Reason::AgentRestarted => "agent_restarted",
            Reason::InvalidTask => "invalid_task",
            Reason::InvalidOffers => "invalid_offers",
            Reason::ExecutorNotFound => "executor_not_found",
            Reason::InvalidComponent => "invalid_component",
            Reason::UnsupportedImports => "unsupported_imports",
            Reason::HostFault => "host_fault",
            Reason::FrameworkRemoved => "framework_removed",
            Reason::Reconciliation => "reconciliation",
            Reason::TaskUnknown => "task_unknown",
            Reason::Finished => "finished",
            Reason::TaskHealthCheckStatusUpdated => "task_health_check_status_updated",
            Reason::TaskUnhealthy => "task_unhealthy",
            Reason::ContainerLaunchFailed => "container_launch_failed",
            Reason::AgentRemovedByOperator => "agent_removed_by_operator",
            Reason::AgentReregistered => "agent_reregistered",
            Reason::AgentDraining => "agent_draining",
            Reason::TaskPreempted => "task_preempted",
            Reason::TaskSuspensionUpdated => "task_suspension_updated",
            Reason::Revocation => "revocation",
        }
    }

    /// The reason whose [`Reason::code`] is `code`; the empty code is [`Reason::Unspecified`].
    pub fn from_code(code: &str) -> Option<Reason> {
        (0..)
            .map_while(|n| Reason::try_from(n).ok())
            .find(|reason| reason.code() == code)
    }
}

impl Resources {
    /// Builds resources from `(name, value)` pairs, all unreserved.
    pub fn from_scalars<'a>(pairs: impl IntoIterator<Item = (&'a str, f64)>) -> Self {
        Resources {
            resources: pairs
                .into_iter()
                .map(|(name, value)| Resource {
                    name: name.to_string(),
                    value,
                    ..Resource::default()
                })
                .collect(),
        }
    }

    /// The total of the named scalar over every role.
    pub fn scalar(&self, name: &str) -> f64 {
        self.resources
            .iter()
            .filter(|r| r.name == name && r.r#type == ValueType::Scalar as i32)
            .map(|r| r.value)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn terminal_states_are_exactly_the_final_ones() {
        assert!(TaskState::TaskFinished.is_terminal());
        assert!(TaskState::TaskLost.is_terminal());
        assert!(!TaskState::TaskRunning.is_terminal());
        assert!(!TaskState::TaskStaging.is_terminal());
        assert!(!TaskState::TaskUnreachable.is_terminal());
        assert!(TaskState::TaskGone.is_terminal());
        assert!(TaskState::TaskGoneByOperator.is_terminal());
    }

    #[test]
    fn state_names_drop_the_prefix_and_parse_back() {
        assert_eq!(TaskState::TaskRunning.name(), "RUNNING");
        assert_eq!(TaskState::TaskFinished.name(), "FINISHED");
        for value in 1..=14 {
            let state = TaskState::try_from(value).expect("a state");
            assert_eq!(TaskState::from_name(state.name()), Some(state));
        }
        assert_eq!(
            TaskState::from_name("task_running"),
            Some(TaskState::TaskRunning)
        );
        assert_eq!(TaskState::from_name("STATE_UNSPECIFIED"), None);
        assert_eq!(TaskState::from_name("SLEEPING"), None);
    }

    #[test]
    fn every_reason_has_its_own_code_matching_its_proto_name() {
        let mut seen = std::collections::HashSet::new();
        for value in 0.. {
            let Ok(reason) = Reason::try_from(value) else {
                break;
            };
            let expected = reason
                .as_str_name()
                .trim_start_matches("REASON_")
                .to_ascii_lowercase();
            if reason == Reason::Unspecified {
                assert_eq!(reason.code(), "");
            } else {
                assert_eq!(reason.code(), expected);
            }
            assert!(
                seen.insert(reason.code()),
                "{reason:?} has a code of its own"
            );
            assert_eq!(Reason::from_code(reason.code()), Some(reason));
        }
        assert_eq!(seen.len(), 31);
        assert_eq!(Reason::from_code("out_of_luck"), None);
    }

    #[test]
    fn messages_round_trip_and_garbage_is_an_error() {
        let status = TaskStatus {
            task_id: "t1".into(),
            state: TaskState::TaskFinished as i32,
            reason: Reason::ExitCode as i32,
            data: b"42".to_vec(),
            exit_code: Some(0),
            ..Default::default()
        };
        let bytes = status.encode_to_vec();
        assert_eq!(TaskStatus::decode(bytes.as_slice()).ok(), Some(status));
        assert!(TaskStatus::decode(&[0xff, 0xff, 0xff][..]).is_err());
    }

    #[test]
    fn scalar_sums_across_roles() {
        let mut r = Resources::from_scalars([("cpus", 1.5), ("mem", 1024.0)]);
        r.resources.push(Resource {
            name: "cpus".into(),
            value: 2.0,
            role: "ads".into(),
            ..Resource::default()
        });
        assert_eq!(r.scalar("cpus"), 3.5);
        assert_eq!(r.scalar("gpus"), 0.0);
    }
}
