//! Partitions in virtual time: agents that miss their pings become unreachable, come back
//! with their tasks, time out, or are marked gone; partition-aware frameworks see
//! TASK_UNREACHABLE and TASK_GONE*, others TASK_LOST.

use std::time::Duration;

use wasmesos_proto::v1::{
    AgentInfo, FrameworkCapability, FrameworkInfo, KillRequest, MasterInfo, Reason,
    RegisterRequest, StatusSource, SubscribeRequest, TaskReport, TaskState, TaskStatus,
    agent_command,
};

use super::*;
use crate::registry::Snapshot;

fn config() -> MasterConfig {
    MasterConfig {
        agent_heartbeat_interval: Duration::from_millis(100),
        agent_ping_timeout: Duration::from_millis(500),
        agent_unreachable_timeout: Duration::from_secs(60),
        ..MasterConfig::default()
    }
}

fn subscribe(h: &mut Harness, partition_aware: bool) -> String {
    let capabilities = if partition_aware {
        vec![FrameworkCapability::PartitionAware as i32]
    } else {
        Vec::new()
    };
    let req = SubscribeRequest {
        framework: Some(FrameworkInfo {
            name: "fw".into(),
            capabilities,
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    h.core
        .subscribe(req, h.now)
        .expect("subscribe")
        .framework_id
}

/// One agent running t1 and t2 for one framework, agents silent from now on.
fn running(partition_aware: bool) -> (Harness, String, String) {
    let mut h = Harness::with_config(config());
    let agent = h.register("cpus:4;mem:4GiB");
    let fw = subscribe(&mut h, partition_aware);
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let tasks = vec![
        task("t1", &agent, "cpus:1;mem:1GiB"),
        task("t2", &agent, "cpus:1;mem:1GiB"),
    ];
    h.accept(&fw, &[&offer.id], tasks, Some(0.0));
    h.report(
        &agent,
        &fw,
        &[
            ("t1", TaskState::TaskRunning, 1),
            ("t2", TaskState::TaskRunning, 2),
        ],
    );
    h.settle();
    h.take();
    h.agents_alive = false;
    (h, fw, agent)
}

/// Silence past the ping timeout; what the framework was told.
fn partition(h: &mut Harness, fw: &str) -> Vec<TaskStatus> {
    h.advance(Duration::from_millis(700));
    let out = h.take();
    let mut seen = updates(&out, fw);
    seen.sort_by(|a, b| a.task_id.cmp(&b.task_id));
    seen
}

/// The agent re-registers with its id, reporting `tasks` RUNNING.
fn come_back(h: &mut Harness, agent: &str, fw: &str, tasks: &[&str]) -> Registration {
    let tasks = tasks
        .iter()
        .map(|id| TaskReport {
            task: Some(task(id, agent, "cpus:1;mem:1GiB")),
            framework_id: fw.into(),
            latest: Some(TaskStatus {
                task_id: id.to_string(),
                state: TaskState::TaskRunning as i32,
                ..TaskStatus::default()
            }),
        })
        .collect();
    let req = RegisterRequest {
        agent: Some(AgentInfo {
            id: agent.into(),
            hostname: "host".into(),
            resources: Some(resources("cpus:4;mem:4GiB")),
            ..AgentInfo::default()
        }),
        tasks,
        ..RegisterRequest::default()
    };
    h.core.register_agent(req, h.now).expect("register call")
}

fn states(statuses: &[TaskStatus]) -> Vec<(String, TaskState, Reason)> {
    statuses
        .iter()
        .map(|s| (s.task_id.clone(), s.state(), s.reason()))
        .collect()
}

fn kills(out: &Outbox, agent: &str) -> Vec<String> {
    let mut killed: Vec<String> = commands(out, agent)
        .filter_map(|c| match c {
            agent_command::Command::Kill(kill) => Some(kill.task_id.clone()),
            _ => None,
        })
        .collect();
    killed.sort();
    killed
}

fn task_state(h: &Harness, task_id: &str) -> String {
    h.snapshot()
        .tasks
        .iter()
        .find(|t| t.task_id == task_id)
        .map(|t| t.state.clone())
        .unwrap_or_default()
}

#[test]
fn a_partition_aware_framework_sees_unreachable_then_running_again() {
    let (mut h, fw, agent) = running(true);
    let seen = partition(&mut h, &fw);
    let unreachable = (TaskState::TaskUnreachable, Reason::AgentLost);
    assert_eq!(
        states(&seen),
        [
            ("t1".into(), unreachable.0, unreachable.1),
            ("t2".into(), unreachable.0, unreachable.1)
        ]
    );
    assert!(
        seen.iter()
            .all(|s| s.unreachable_time.is_some() && s.uuid.is_empty())
    );
    assert_eq!(task_state(&h, "t1"), "UNREACHABLE");
    // While it is away its resources are offered to nobody, and its calls are refused.
    assert!(h.core.agent_heartbeat(&agent, h.now).is_err());

    let back = come_back(&mut h, &agent, &fw, &["t1", "t2"]);
    assert!(matches!(back, Registration::Accepted { .. }), "{back:?}");
    let out = h.take();
    let seen = updates(&out, &fw);
    let again = (TaskState::TaskRunning, Reason::AgentReregistered);
    assert_eq!(
        states(&seen)
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>(),
        [
            ("t1".to_string(), again.0, again.1),
            ("t2".to_string(), again.0, again.1)
        ]
        .into_iter()
        .collect()
    );
    assert!(
        seen.iter()
            .all(|s| s.source() == StatusSource::SourceMaster && s.uuid.is_empty())
    );
    assert!(kills(&out, &agent).is_empty(), "nothing to kill");
    assert_eq!(task_state(&h, "t1"), "RUNNING");
    let (used, _) = h.agent_usage(&agent);
    assert!(
        (used.scalar("cpus") - 2.0).abs() < 1e-9,
        "its tasks count as used again: {used:?}"
    );
}

#[test]
fn other_frameworks_see_lost_and_their_tasks_are_killed_on_return() {
    let (mut h, fw, agent) = running(false);
    let seen = partition(&mut h, &fw);
    assert!(
        seen.iter()
            .all(|s| s.state() == TaskState::TaskLost && s.reason() == Reason::AgentLost),
        "{seen:?}"
    );
    assert_eq!(seen.len(), 2);
    let back = come_back(&mut h, &agent, &fw, &["t1", "t2"]);
    assert!(matches!(back, Registration::Accepted { .. }));
    let out = h.take();
    assert!(updates(&out, &fw).is_empty(), "no RUNNING after a LOST");
    assert_eq!(kills(&out, &agent), ["t1", "t2"]);
}

#[test]
fn an_unreachable_task_not_reported_on_return_is_gone() {
    let (mut h, fw, agent) = running(true);
    partition(&mut h, &fw);
    come_back(&mut h, &agent, &fw, &["t1"]);
    let seen = updates(&h.take(), &fw);
    let gone: Vec<_> = states(&seen)
        .into_iter()
        .filter(|(_, state, _)| *state == TaskState::TaskGone)
        .collect();
    assert_eq!(
        gone,
        [("t2".into(), TaskState::TaskGone, Reason::AgentRestarted)]
    );
}

#[test]
fn a_kill_of_an_unreachable_task_is_sent_when_its_agent_returns() {
    let (mut h, fw, agent) = running(true);
    partition(&mut h, &fw);
    let kill = KillRequest {
        framework_id: fw.clone(),
        task_id: "t1".into(),
        ..KillRequest::default()
    };
    h.core.kill(kill, h.now).expect("kill");
    let answer = updates(&h.take(), &fw);
    assert_eq!(states(&answer)[0].1, TaskState::TaskUnreachable);
    come_back(&mut h, &agent, &fw, &["t1", "t2"]);
    assert_eq!(kills(&h.take(), &agent), ["t1"]);
}

#[test]
fn past_the_unreachable_timeout_tasks_are_gone_and_the_agent_is_refused() {
    let (mut h, fw, agent) = running(true);
    partition(&mut h, &fw);
    h.advance(Duration::from_secs(59));
    assert!(
        updates(&h.take(), &fw).is_empty(),
        "gone before the timeout"
    );
    h.advance(Duration::from_secs(2));
    let seen = updates(&h.take(), &fw);
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|s| s.state() == TaskState::TaskGone && s.reason() == Reason::AgentLost)
    );
    let back = come_back(&mut h, &agent, &fw, &["t1", "t2"]);
    let Registration::Refused { commands } = back else {
        panic!("a removed agent must be refused: {back:?}");
    };
    assert!(
        commands
            .iter()
            .any(|c| matches!(c.command, Some(agent_command::Command::Shutdown(_))))
    );
}

#[test]
fn marking_a_registered_agent_gone_ends_its_tasks_and_shuts_it_down() {
    let (mut h, fw, agent) = running(true);
    h.core.mark_agent_gone(&agent, h.now).expect("mark gone");
    let out = h.take();
    let seen = updates(&out, &fw);
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|s| s.state() == TaskState::TaskGoneByOperator
                && s.reason() == Reason::AgentRemovedByOperator)
    );
    assert!(commands(&out, &agent).any(|c| matches!(c, agent_command::Command::Shutdown(_))));
    assert!(matches!(
        come_back(&mut h, &agent, &fw, &["t1"]),
        Registration::Refused { .. }
    ));
    h.core
        .mark_agent_gone(&agent, h.now)
        .expect("marking gone again is no error");
    assert!(
        updates(&h.take(), &fw).is_empty(),
        "and tells nobody anything new"
    );
    assert!(matches!(
        h.core.mark_agent_gone("nobody", h.now),
        Err(crate::Error::NotFound(_))
    ));
}

#[test]
fn marking_an_unreachable_agent_gone_ends_its_unreachable_tasks() {
    let (mut h, fw, agent) = running(true);
    partition(&mut h, &fw);
    h.core.mark_agent_gone(&agent, h.now).expect("mark gone");
    let seen = updates(&h.take(), &fw);
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|s| s.state() == TaskState::TaskGoneByOperator)
    );
    assert_eq!(task_state(&h, "t1"), "GONE_BY_OPERATOR");
}

#[test]
fn an_unreachable_agent_survives_a_master_restart_and_returns_with_its_tasks() {
    let (mut h, fw, agent) = running(true);
    partition(&mut h, &fw);
    let mut registry = Snapshot::default();
    for op in h.core.take_ops() {
        registry.apply(op);
    }
    let master = MasterInfo {
        id: "m2".into(),
        ..MasterInfo::default()
    };
    let config = MasterConfig {
        agent_unreachable_timeout: Duration::from_secs(3600),
        ..h.config
    };
    // The new master starts 10 s after the old one did.
    let core = Core::recover(config.clone(), master, 1_000_010.0, registry).expect("recover");
    let mut h = Harness {
        core,
        now: Duration::ZERO,
        config,
        agents_alive: false,
    };
    assert_eq!(task_state(&h, "t1"), "UNREACHABLE");
    let req = SubscribeRequest {
        framework: Some(FrameworkInfo {
            id: fw.clone(),
            name: "fw".into(),
            capabilities: vec![FrameworkCapability::PartitionAware as i32],
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    h.core.subscribe(req, h.now).expect("resubscribe");
    h.take();
    // Past the re-registration timeout of a restart: an unreachable agent is not "recovering".
    h.advance(h.config.agent_reregister_timeout + Duration::from_secs(1));
    let back = come_back(&mut h, &agent, &fw, &["t1", "t2"]);
    assert!(matches!(back, Registration::Accepted { .. }), "{back:?}");
    let seen = updates(&h.take(), &fw);
    assert_eq!(
        seen.iter()
            .filter(|s| s.state() == TaskState::TaskRunning)
            .count(),
        2,
        "{seen:?}"
    );
}
