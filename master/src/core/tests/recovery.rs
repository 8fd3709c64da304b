//! A master restart in virtual time: the registry ops one core produced rebuild the next,
//! agents re-register (or do not), frameworks resubscribe, and reconciliation waits for
//! agents that have not come back yet.

use std::time::Duration;

use wasmesos_proto::v1::{
    AgentInfo, FrameworkInfo, MasterInfo, Reason, ReconcileRequest, RegisterRequest,
    SubscribeRequest, TaskReport, TaskState, TaskStatus, agent_command, reconcile_request,
};

use super::*;
use crate::Error;
use crate::registry::{Op, Snapshot};

/// Everything the core asked the registry to record, applied in order.
fn registry_of(h: &mut Harness, into: &mut Snapshot) {
    for op in h.core.take_ops() {
        into.apply(op);
    }
}

/// A new core built from the registry, as a restarted master would be.
fn restart(mut h: Harness, registry: &mut Snapshot) -> Harness {
    registry_of(&mut h, registry);
    let master = MasterInfo {
        id: "m2".into(),
        ..MasterInfo::default()
    };
    let mut core =
        Core::recover(h.config.clone(), master, 2_000_000.0, registry.clone()).expect("recover");
    core.artifact_stored("ab00000000000000000000000000000000000000000000000000000000000000");
    Harness {
        core,
        now: Duration::ZERO,
        config: h.config,
        agents_alive: true,
    }
}

/// t1 RUNNING and t2 FINISHED on one agent, for a framework with a 60 s failover timeout.
fn cluster(config: MasterConfig) -> (Harness, String, String) {
    let mut h = Harness::with_config(config);
    let agent = h.register("cpus:4;mem:4GiB");
    let fw = subscribe(&mut h, "", 60.0).expect("subscribe");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let tasks = vec![
        task("t1", &agent, "cpus:1;mem:1GiB"),
        task("t2", &agent, "cpus:1;mem:1GiB"),
    ];
    h.accept(&fw, &[&offer.id], tasks, Some(3600.0));
    h.report(
        &agent,
        &fw,
        &[
            ("t1", TaskState::TaskRunning, 1),
            ("t2", TaskState::TaskFinished, 2),
        ],
    );
    h.take();
    (h, fw, agent)
}

fn subscribe(h: &mut Harness, id: &str, failover: f64) -> Result<String, Error> {
    let req = SubscribeRequest {
        framework: Some(FrameworkInfo {
            id: id.into(),
            name: "fw".into(),
            failover_timeout_seconds: failover,
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    h.core.subscribe(req, h.now).map(|s| s.framework_id)
}

fn reregister(h: &mut Harness, agent: &str, fw: &str, running: &[&str]) -> Registration {
    let tasks = running
        .iter()
        .map(|id| report(agent, fw, id, TaskState::TaskRunning))
        .collect();
    reregister_reporting(h, agent, tasks)
}

/// What an agent reports of task `id` (1 cpu, 1 GiB) whose latest state is `state`.
fn report(agent: &str, fw: &str, id: &str, state: TaskState) -> TaskReport {
    TaskReport {
        task: Some(task(id, agent, "cpus:1;mem:1GiB")),
        framework_id: fw.into(),
        latest: Some(TaskStatus {
            task_id: id.to_string(),
            state: state as i32,
            ..TaskStatus::default()
        }),
    }
}

fn reregister_reporting(h: &mut Harness, agent: &str, tasks: Vec<TaskReport>) -> Registration {
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

fn reconcile(h: &mut Harness, fw: &str, ids: &[&str]) -> Vec<TaskStatus> {
    let req = ReconcileRequest {
        framework_id: fw.into(),
        tasks: ids
            .iter()
            .map(|id| reconcile_request::ReconcileTask {
                task_id: id.to_string(),
                agent_id: String::new(),
            })
            .collect(),
    };
    h.core.reconcile(req, h.now).expect("reconcile");
    updates(&h.take(), fw)
}

fn state(status: &TaskStatus) -> (&str, i32, i32) {
    (status.task_id.as_str(), status.state, status.reason)
}

const RECONCILED: i32 = Reason::Reconciliation as i32;

#[test]
fn a_restart_keeps_agents_frameworks_and_running_tasks() {
    let (h, fw, agent) = cluster(MasterConfig::default());
    let mut registry = Snapshot::default();
    let mut h = restart(h, &mut registry);
    assert_eq!(subscribe(&mut h, &fw, 60.0).expect("resubscribe"), fw);
    let registration = reregister(&mut h, &agent, &fw, &["t1"]);
    assert_eq!(
        registration,
        Registration::Accepted {
            agent_id: agent.clone()
        }
    );
    let out = h.take();
    assert!(
        commands(&out, &agent).all(|c| !matches!(
            c,
            agent_command::Command::Kill(_) | agent_command::Command::Shutdown(_)
        )),
        "a master restart kills nothing"
    );
    let (used, _) = h.agent_usage(&agent);
    assert_eq!(
        used.scalar("cpus"),
        1.0,
        "the running task's resources are in use again"
    );
    let answers = reconcile(&mut h, &fw, &["t1", "t2", "ghost"]);
    let running = TaskState::TaskRunning as i32;
    let finished = TaskState::TaskFinished as i32;
    let lost = TaskState::TaskLost as i32;
    assert_eq!(
        answers.iter().map(state).collect::<Vec<_>>(),
        [
            ("t1", running, RECONCILED),
            ("t2", finished, RECONCILED),
            ("ghost", lost, RECONCILED)
        ]
    );
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let cpus = offer.resources.as_ref().map_or(0.0, |r| r.scalar("cpus"));
    assert_eq!(cpus, 3.0, "offers resume with what the task leaves free");
}

#[test]
fn reconciliation_waits_for_the_agent_to_re_register() {
    let (h, fw, agent) = cluster(MasterConfig::default());
    let mut registry = Snapshot::default();
    let mut h = restart(h, &mut registry);
    subscribe(&mut h, &fw, 60.0).expect("resubscribe");
    h.take();
    assert!(
        reconcile(&mut h, &fw, &["t1"]).is_empty(),
        "no answer while the agent is away"
    );
    assert!(reconcile(&mut h, &fw, &[]).is_empty(), "implicit waits too");
    reregister(&mut h, &agent, &fw, &["t1"]);
    let answers = updates(&h.take(), &fw);
    let running = TaskState::TaskRunning as i32;
    assert_eq!(
        answers.iter().map(state).collect::<Vec<_>>(),
        [("t1", running, RECONCILED), ("t1", running, RECONCILED)]
    );
}

#[test]
fn agents_that_never_return_are_removed_and_their_tasks_lost() {
    let config = MasterConfig {
        agent_reregister_timeout: Duration::from_secs(30),
        ..MasterConfig::default()
    };
    let (h, fw, agent) = cluster(config);
    let mut registry = Snapshot::default();
    let mut h = restart(h, &mut registry);
    subscribe(&mut h, &fw, 60.0).expect("resubscribe");
    assert!(reconcile(&mut h, &fw, &["t1"]).is_empty());
    h.advance(Duration::from_secs(29));
    assert!(updates(&h.take(), &fw).is_empty(), "not before the timeout");
    h.advance(Duration::from_secs(2));
    let lost = updates(&h.take(), &fw);
    assert_eq!(
        lost.iter().map(state).collect::<Vec<_>>(),
        [("t1", TaskState::TaskLost as i32, Reason::AgentLost as i32)]
    );
    match reregister(&mut h, &agent, &fw, &["t1"]) {
        Registration::Refused { commands } => assert!(
            commands
                .iter()
                .any(|c| matches!(c.command, Some(agent_command::Command::Shutdown(_))))
        ),
        accepted => panic!("a removed agent must be refused, got {accepted:?}"),
    }
    // The removal itself is durable: a second restart still refuses the agent.
    let mut h = restart(h, &mut registry);
    assert!(matches!(
        reregister(&mut h, &agent, &fw, &[]),
        Registration::Refused { .. }
    ));
}

#[test]
fn recorded_tasks_the_agent_no_longer_has_are_lost() {
    let (h, fw, agent) = cluster(MasterConfig::default());
    let mut registry = Snapshot::default();
    let mut h = restart(h, &mut registry);
    subscribe(&mut h, &fw, 60.0).expect("resubscribe");
    h.take();
    reregister(&mut h, &agent, &fw, &[]);
    let lost = updates(&h.take(), &fw);
    assert_eq!(
        lost.iter().map(state).collect::<Vec<_>>(),
        [(
            "t1",
            TaskState::TaskLost as i32,
            Reason::Reconciliation as i32
        )]
    );
    let (used, _) = h.agent_usage(&agent);
    assert_eq!(used.scalar("cpus"), 0.0);
}

#[test]
fn a_recovered_framework_fails_over_from_the_master_start() {
    let (h, fw, agent) = cluster(MasterConfig::default());
    let mut registry = Snapshot::default();
    let mut h = restart(h, &mut registry);
    reregister(&mut h, &agent, &fw, &["t1"]);
    h.take();
    h.advance(Duration::from_secs(59));
    assert!(
        subscribe(&mut h, &fw, 60.0).is_ok(),
        "inside the timeout it keeps its tasks"
    );
    h.core.framework_disconnected(&fw, h.now);
    h.advance(Duration::from_secs(61));
    let out = h.take();
    assert!(
        commands(&out, &agent).any(|c| matches!(
            c,
            agent_command::Command::ShutdownFramework(s) if s.framework_id == fw
        )),
        "past the timeout its tasks are killed"
    );
    assert!(matches!(
        subscribe(&mut h, &fw, 60.0),
        Err(Error::FrameworkRemoved(_))
    ));
    let mut h = restart(h, &mut registry);
    assert!(
        matches!(
            subscribe(&mut h, &fw, 60.0),
            Err(Error::FrameworkRemoved(_))
        ),
        "the removal survives a restart"
    );
}

#[test]
fn only_what_acknowledgements_depend_on_is_written() {
    let mut h = Harness::new();
    let agent = h.register("cpus:4;mem:4GiB");
    let fw = h.subscribe("fw", &[]);
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let kinds = |ops: Vec<Op>| -> Vec<&'static str> {
        ops.iter()
            .map(|op| match op {
                Op::PutAgent(_) => "agent",
                Op::PutFramework(_) => "framework",
                Op::PutTask(_) => "task",
                Op::RemoveTask { .. } => "forget",
                Op::ForgetAgent(_) | Op::ForgetFramework(_) => "forget removed",
                Op::PutMaintenance(_) => "maintenance",
            })
            .collect()
    };
    assert_eq!(kinds(h.core.take_ops()), ["agent", "framework"]);
    h.accept(&fw, &[&offer.id], vec![task("t1", &agent, "cpus:1")], None);
    assert_eq!(
        kinds(h.core.take_ops()),
        ["task"],
        "the launch, before it is sent"
    );
    h.report(&agent, &fw, &[("t1", TaskState::TaskRunning, 1)]);
    assert!(
        h.core.take_ops().is_empty(),
        "RUNNING comes back from the agent"
    );
    h.report(&agent, &fw, &[("t1", TaskState::TaskFinished, 2)]);
    assert_eq!(kinds(h.core.take_ops()), ["task"], "the terminal state");
}

/// Tasks that ended while no master listened, their updates still unacknowledged, hold no
/// resources when their agent re-registers (as Mesos counts a task's latest state): counted
/// as used, a few such rounds overfilled the agent, and the refused ones later freed other
/// tasks' resources. Their updates, resent by the agent, still reach the framework.
#[test]
fn tasks_that_ended_while_the_master_was_down_hold_no_resources() {
    let mut h = Harness::with_config(MasterConfig::default());
    let agent = h.register("cpus:4;mem:4GiB");
    let fw = subscribe(&mut h, "", 60.0).expect("subscribe");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let ids = ["t1", "t2", "t3", "t4"];
    let tasks = ids
        .iter()
        .map(|id| task(id, &agent, "cpus:1;mem:1GiB"))
        .collect();
    h.accept(&fw, &[&offer.id], tasks, Some(3600.0));
    h.take();
    let mut registry = Snapshot::default();
    let mut h = restart(h, &mut registry);
    subscribe(&mut h, &fw, 60.0).expect("resubscribe");
    let reports = [
        ("t1", TaskState::TaskFinished),
        ("t2", TaskState::TaskFinished),
        ("t3", TaskState::TaskFailed),
        ("t4", TaskState::TaskRunning),
    ];
    let tasks = reports
        .iter()
        .map(|(id, state)| report(&agent, &fw, id, *state))
        .collect();
    reregister_reporting(&mut h, &agent, tasks);
    h.take();
    assert_eq!(h.agent_usage(&agent).0.scalar("cpus"), 1.0, "only t4 runs");
    let answers = reconcile(&mut h, &fw, &["t1", "t3", "t4"]);
    assert_eq!(
        answers.iter().map(state).collect::<Vec<_>>(),
        [
            ("t1", TaskState::TaskFinished as i32, RECONCILED),
            ("t3", TaskState::TaskFailed as i32, RECONCILED),
            ("t4", TaskState::TaskRunning as i32, RECONCILED),
        ]
    );
    h.report(
        &agent,
        &fw,
        &[
            ("t1", TaskState::TaskFinished, 1),
            ("t2", TaskState::TaskFinished, 2),
            ("t3", TaskState::TaskFailed, 3),
        ],
    );
    let relayed = updates(&h.take(), &fw);
    assert_eq!(
        relayed
            .iter()
            .map(|s| s.task_id.as_str())
            .collect::<Vec<_>>(),
        ["t1", "t2", "t3"],
        "the resent updates still reach the framework"
    );
    assert_eq!(
        h.agent_usage(&agent).0.scalar("cpus"),
        1.0,
        "and free nothing twice"
    );
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let cpus = offer.resources.as_ref().map_or(0.0, |r| r.scalar("cpus"));
    assert_eq!(cpus, 3.0);
}
