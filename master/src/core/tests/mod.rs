//! State-machine tests: the core driven directly, in virtual time, without sockets.

mod accept;
mod allocation;
mod completed;
mod drain;
mod fetch;
mod lifecycle;
mod maintenance;
mod operations;
mod oversubscription;
mod partitions;
mod preemption;
mod recovery;
mod relay;

use std::time::Duration;

use wasmesos_allocator::Resources;
use wasmesos_proto::v1::{
    self as proto, AcceptRequest, AgentCommand, AgentInfo, DeclineRequest, Event, ExecutorInfo,
    Filters, FrameworkInfo, MasterInfo, Offer, Operation, RegisterRequest, StatusUpdates,
    SubscribeRequest, TaskInfo, TaskState, TaskStatus, agent_command, event, operation,
};

use super::convert::resources_to_proto;
use super::{Core, Outbox, Registration, StateSnapshot};
use crate::MasterConfig;

/// A digest the harness marks as uploaded.
const DIGEST: &str = "ab00000000000000000000000000000000000000000000000000000000000000";

pub(super) fn resources(text: &str) -> proto::Resources {
    let parsed: Resources = text
        .parse()
        .unwrap_or_else(|err| panic!("bad test resources {text:?}: {err}"));
    resources_to_proto(&parsed)
}

/// The core plus a virtual clock and everything it sent, accumulated per destination.
pub(super) struct Harness {
    pub(super) core: Core,
    pub(super) now: Duration,
    pub(super) config: MasterConfig,
    /// Whether registered agents heartbeat as the clock moves (tests of silence turn it off).
    pub(super) agents_alive: bool,
}

impl Harness {
    pub(super) fn new() -> Self {
        Self::with_config(MasterConfig::default())
    }

    pub(super) fn with_config(config: MasterConfig) -> Self {
        let master = MasterInfo {
            id: "m".into(),
            address: "http://127.0.0.1:5050".into(),
            ..MasterInfo::default()
        };
        let mut core = Core::new(config.clone(), master, 1_000_000.0).expect("valid config");
        core.artifact_stored(DIGEST);
        Self {
            core,
            now: Duration::ZERO,
            config,
            agents_alive: true,
        }
    }

    /// Moves the clock and runs whatever became due, in steps no longer than the agents'
    /// heartbeat interval so that live agents heartbeat on time.
    pub(super) fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while self.now < end {
            self.now = end.min(self.now + self.config.agent_heartbeat_interval);
            if self.agents_alive {
                let ids: Vec<String> = self.core.agents.keys().map(|id| id.to_string()).collect();
                for id in ids {
                    self.heartbeat(&id);
                }
            }
            self.core.tick(self.now);
        }
    }

    /// Lets a pending allocation round run.
    pub(super) fn settle(&mut self) {
        self.advance(self.config.allocation_batch_interval);
    }

    pub(super) fn take(&mut self) -> Outbox {
        self.core.take_outbox()
    }

    pub(super) fn subscribe(&mut self, name: &str, roles: &[&str]) -> String {
        let req = SubscribeRequest {
            framework: Some(FrameworkInfo {
                name: name.into(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                ..FrameworkInfo::default()
            }),
            heartbeat_interval_seconds: 0.0,
        };
        let subscription = self.core.subscribe(req, self.now).expect("subscribe");
        subscription.framework_id
    }

    pub(super) fn register(&mut self, total: &str) -> String {
        let req = RegisterRequest {
            agent: Some(AgentInfo {
                hostname: "host".into(),
                address: "http://127.0.0.1:5051".into(),
                resources: Some(resources(total)),
                ..AgentInfo::default()
            }),
            ..RegisterRequest::default()
        };
        match self.core.register_agent(req, self.now).expect("register") {
            Registration::Accepted { agent_id } => agent_id,
            Registration::Refused { commands } => panic!("refused: {commands:?}"),
        }
    }

    pub(super) fn heartbeat(&mut self, agent_id: &str) {
        self.core
            .agent_heartbeat(agent_id, self.now)
            .expect("heartbeat");
    }

    /// Accepts `offers` launching `tasks` with the given refusal filter.
    pub(super) fn accept(
        &mut self,
        framework_id: &str,
        offers: &[&str],
        tasks: Vec<TaskInfo>,
        refuse_seconds: Option<f64>,
    ) {
        let req = AcceptRequest {
            framework_id: framework_id.into(),
            offer_ids: offers.iter().map(|o| o.to_string()).collect(),
            operations: vec![Operation {
                operation: Some(operation::Operation::Launch(operation::Launch { tasks })),
            }],
            filters: Some(Filters { refuse_seconds }),
        };
        self.core.accept(req, self.now).expect("accept call");
    }

    pub(super) fn decline(&mut self, framework_id: &str, offer: &str, refuse_seconds: f64) {
        let req = DeclineRequest {
            framework_id: framework_id.into(),
            offer_ids: vec![offer.into()],
            filters: Some(Filters {
                refuse_seconds: Some(refuse_seconds),
            }),
        };
        self.core.decline(req, self.now).expect("decline");
    }

    /// Sends agent statuses for tasks of a framework.
    pub(super) fn report(
        &mut self,
        agent_id: &str,
        framework_id: &str,
        updates: &[(&str, TaskState, u8)],
    ) {
        let statuses = updates
            .iter()
            .map(|(task_id, state, uuid)| TaskStatus {
                task_id: task_id.to_string(),
                framework_id: framework_id.into(),
                state: *state as i32,
                uuid: vec![*uuid; 16],
                ..TaskStatus::default()
            })
            .collect();
        let req = StatusUpdates {
            agent_id: agent_id.into(),
            statuses,
        };
        self.core
            .status_updates(req, self.now)
            .expect("status updates");
    }

    /// The operator's state as the actor would publish it now.
    pub(super) fn snapshot(&self) -> StateSnapshot {
        self.core
            .state_snapshot(self.now, &StateSnapshot::default())
    }

    /// `Operator.GetState`'s answer, converted from [`Harness::snapshot`].
    pub(super) fn cluster_state(&self) -> proto::ClusterState {
        self.snapshot().cluster_state()
    }

    /// What the allocator says an agent has in use and on offer.
    pub(super) fn agent_usage(&self, agent_id: &str) -> (proto::Resources, proto::Resources) {
        let state = self.cluster_state();
        let agent = state
            .agents
            .into_iter()
            .find(|a| a.agent.as_ref().is_some_and(|i| i.id == agent_id))
            .expect("agent in state");
        (
            agent.used.unwrap_or_default(),
            agent.offered.unwrap_or_default(),
        )
    }
}

pub(super) fn task(id: &str, agent_id: &str, res: &str) -> TaskInfo {
    TaskInfo {
        task_id: id.into(),
        name: id.into(),
        agent_id: agent_id.into(),
        executor: Some(ExecutorInfo {
            digest: DIGEST.into(),
            ..ExecutorInfo::default()
        }),
        resources: Some(resources(res)),
        ..TaskInfo::default()
    }
}

fn events<'a>(out: &'a Outbox, framework_id: &str) -> impl Iterator<Item = &'a event::Event> {
    out.events
        .get(framework_id)
        .into_iter()
        .flatten()
        .filter_map(|e: &Event| e.event.as_ref())
}

pub(super) fn offers(out: &Outbox, framework_id: &str) -> Vec<Offer> {
    events(out, framework_id)
        .filter_map(|e| match e {
            event::Event::Offers(o) => Some(o.offers.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

pub(super) fn updates(out: &Outbox, framework_id: &str) -> Vec<TaskStatus> {
    events(out, framework_id)
        .filter_map(|e| match e {
            event::Event::Update(u) => Some(u.statuses.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

pub(super) fn rescinds(out: &Outbox, framework_id: &str) -> Vec<String> {
    events(out, framework_id)
        .filter_map(|e| match e {
            event::Event::Rescind(r) => Some(r.offer_id.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn errors(out: &Outbox, framework_id: &str) -> Vec<String> {
    events(out, framework_id)
        .filter_map(|e| match e {
            event::Event::Error(r) => Some(r.message.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn has_failure(out: &Outbox, framework_id: &str, agent_id: &str) -> bool {
    events(out, framework_id)
        .any(|e| matches!(e, event::Event::Failure(f) if f.agent_id == agent_id))
}

pub(super) fn commands<'a>(
    out: &'a Outbox,
    agent_id: &str,
) -> impl Iterator<Item = &'a agent_command::Command> {
    out.commands
        .get(agent_id)
        .into_iter()
        .flatten()
        .filter_map(|c: &AgentCommand| c.command.as_ref())
}

pub(super) fn launches(out: &Outbox, agent_id: &str) -> Vec<agent_command::Launch> {
    commands(out, agent_id)
        .filter_map(|c| match c {
            agent_command::Command::Launch(l) => Some(l.clone()),
            _ => None,
        })
        .collect()
}

/// The one offer a framework got, or a panic naming what it got instead.
pub(super) fn only_offer(out: &Outbox, framework_id: &str) -> Offer {
    let mut all = offers(out, framework_id);
    assert_eq!(all.len(), 1, "expected one offer, got {all:?}");
    all.remove(0)
}
