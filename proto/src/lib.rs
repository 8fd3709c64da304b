//! The wasmesos wire protocol: protobuf messages and the gRPC services that master, agents,
//! schedulers and operators speak.
//!
//! The `.proto` files under `proto/wasmesos/v1/` are the source of truth; `build.rs` compiles
//! them with protox, so no system `protoc` is needed. This crate holds no logic beyond small
//! conversions; the behaviour behind each service lives in `wasmesos-master` and
//! `wasmesos-agent`.
#![forbid(unsafe_code)]

/// Generated messages and services of package `wasmesos.v1`.
pub mod v1 {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("wasmesos.v1");
}

pub use v1::*;

/// The gRPC metadata key under which a non-leading master names the leader's address.
pub const LEADER_METADATA_KEY: &str = "wasmesos-leader";

/// Resource names every agent offers.
pub mod resource_names {
    pub const CPUS: &str = "cpus";
    pub const MEM: &str = "mem";
    pub const DISK: &str = "disk";
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
        )
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
                    role: String::new(),
                })
                .collect(),
        }
    }

    /// The total of the named scalar over every role.
    pub fn scalar(&self, name: &str) -> f64 {
        self.resources
            .iter()
            .filter(|r| r.name == name)
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
        });
        assert_eq!(r.scalar("cpus"), 3.5);
        assert_eq!(r.scalar("gpus"), 0.0);
    }
}
