//! Taking agents out of service in virtual time: DEACTIVATE_AGENT stops offers and keeps
//! tasks running; DRAIN_AGENT kills every task with the drain's grace and the agent becomes
//! DRAINED (or gone); REACTIVATE_AGENT returns it, never while it drains; a new master goes
//! on draining.

use wasmesos_proto::v1::{DrainState, KillPolicy, Reason, TaskReport};

use super::*;
use crate::registry::Snapshot;

/// One agent running t1 (no kill policy) and t2 (60 s of grace) for framework `fw`.
fn running() -> (Harness, String, String) {
    let mut h = Harness::new();
    let agent = h.register("cpus:4;mem:4GiB");
    let fw = h.subscribe("fw", &["r"]);
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let mut patient = task("t2", &agent, "cpus:1;mem:1GiB");
    patient.kill_policy = Some(KillPolicy {
        grace_period_seconds: Some(60.0),
    });
    let tasks = vec![task("t1", &agent, "cpus:1;mem:1GiB"), patient];
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
    (h, fw, agent)
}

fn kills(out: &Outbox, agent: &str) -> Vec<agent_command::Kill> {
    let mut kills: Vec<agent_command::Kill> = commands(out, agent)
        .filter_map(|c| match c {
            agent_command::Command::Kill(kill) => Some(kill.clone()),
            _ => None,
        })
        .collect();
    kills.sort_by(|a, b| a.task_id.cmp(&b.task_id));
    kills
}

fn agent_summary(h: &Harness, agent: &str) -> proto::AgentSummary {
    h.cluster_state()
        .agents
        .into_iter()
        .find(|a| a.agent.as_ref().is_some_and(|i| i.id == agent))
        .expect("agent in state")
}

fn drain_state(h: &Harness, agent: &str) -> Option<DrainState> {
    agent_summary(h, agent).drain_info.map(|d| d.state())
}

#[test]
fn a_deactivated_agent_keeps_its_tasks_and_is_offered_to_no_one_until_reactivated() {
    let (mut h, fw, agent) = running();
    // What is free on the agent is on offer now.
    assert!(
        !h.agent_usage(&agent).1.resources.is_empty(),
        "the rest of the agent is offered"
    );
    h.core.deactivate_agent(&agent, h.now).expect("deactivate");
    let out = h.take();
    assert_eq!(rescinds(&out, &fw).len(), 1, "its offer is rescinded");
    assert!(h.agent_usage(&agent).1.resources.is_empty());
    assert!(kills(&out, &agent).is_empty(), "its tasks keep running");
    h.advance(Duration::from_secs(30));
    assert!(
        offers(&h.take(), &fw).is_empty(),
        "no offers while deactivated"
    );
    assert!(agent_summary(&h, &agent).deactivated);
    assert_eq!(drain_state(&h, &agent), None);
    h.core.reactivate_agent(&agent, h.now).expect("reactivate");
    h.settle();
    assert_eq!(offers(&h.take(), &fw).len(), 1, "offered again");
    assert!(!agent_summary(&h, &agent).deactivated);
    // Mesos's refusals: reactivating an active agent, an unknown agent.
    assert!(matches!(
        h.core.reactivate_agent(&agent, h.now),
        Err(crate::Error::InvalidArgument(why)) if why == "Agent is not deactivated"
    ));
    assert!(matches!(
        h.core.deactivate_agent("nobody", h.now),
        Err(crate::Error::InvalidArgument(why)) if why.starts_with("Unknown agent")
    ));
}

#[test]
fn a_drain_kills_every_task_with_its_grace_and_the_agent_is_drained_once_none_is_left() {
    let (mut h, fw, agent) = running();
    h.core
        .drain_agent(&agent, Some(5.0), false, h.now)
        .expect("drain");
    let out = h.take();
    let sent = kills(&out, &agent);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|k| k.reason() == Reason::AgentDraining));
    // t1 had no grace of its own, t2 a longer one: both get the drain's 5 s.
    let graces: Vec<Option<f64>> = sent
        .iter()
        .map(|k| k.kill_policy.as_ref().and_then(|p| p.grace_period_seconds))
        .collect();
    assert_eq!(graces, vec![Some(5.0), Some(5.0)]);
    assert_eq!(drain_state(&h, &agent), Some(DrainState::Draining));
    assert!(matches!(
        h.core.reactivate_agent(&agent, h.now),
        Err(crate::Error::InvalidArgument(why)) if why == "Agent is still in the DRAINING state"
    ));
    h.report(&agent, &fw, &[("t1", TaskState::TaskKilled, 3)]);
    assert_eq!(drain_state(&h, &agent), Some(DrainState::Draining));
    h.report(&agent, &fw, &[("t2", TaskState::TaskKilled, 4)]);
    assert_eq!(drain_state(&h, &agent), Some(DrainState::Drained));
    h.advance(Duration::from_secs(30));
    assert!(
        offers(&h.take(), &fw).is_empty(),
        "a drained agent is not offered"
    );
    h.core
        .reactivate_agent(&agent, h.now)
        .expect("a drained agent may be reactivated");
    h.settle();
    assert_eq!(offers(&h.take(), &fw).len(), 1);
    assert_eq!(drain_state(&h, &agent), None);
}

#[test]
fn a_drain_with_mark_gone_removes_the_agent_once_drained() {
    let (mut h, fw, agent) = running();
    h.core
        .drain_agent(&agent, None, true, h.now)
        .expect("drain");
    let sent = kills(&h.take(), &agent);
    // No max grace: each task keeps its own policy.
    assert!(sent.iter().all(|k| k.kill_policy.is_none()), "{sent:?}");
    h.report(
        &agent,
        &fw,
        &[
            ("t1", TaskState::TaskKilled, 3),
            ("t2", TaskState::TaskKilled, 4),
        ],
    );
    let out = h.take();
    assert!(
        commands(&out, &agent).any(|c| matches!(c, agent_command::Command::Shutdown(_))),
        "the drained agent is marked gone and told to shut down"
    );
    assert!(h.cluster_state().agents.is_empty());
    // Gone is gone: nothing left to reactivate.
    assert!(h.core.reactivate_agent(&agent, h.now).is_err());
    assert!(matches!(
        h.core.drain_agent(&agent, Some(-1.0), false, h.now),
        Err(crate::Error::InvalidArgument(_))
    ));
}

#[test]
fn a_new_master_keeps_an_agent_draining_and_kills_what_it_reports_when_it_returns() {
    let (mut h, fw, agent) = running();
    h.core
        .drain_agent(&agent, Some(1.0), false, h.now)
        .expect("drain");
    h.report(&agent, &fw, &[("t1", TaskState::TaskKilled, 3)]);
    let mut registry = Snapshot::default();
    for op in h.core.take_ops() {
        registry.apply(op);
    }
    let master = MasterInfo {
        id: "m2".into(),
        ..MasterInfo::default()
    };
    let config = h.config.clone();
    let core = Core::recover(config.clone(), master, 1_000_010.0, registry).expect("recover");
    let mut h = Harness {
        core,
        now: Duration::ZERO,
        config,
        agents_alive: true,
    };
    let req = RegisterRequest {
        agent: Some(AgentInfo {
            id: agent.clone(),
            hostname: "host".into(),
            resources: Some(resources("cpus:4;mem:4GiB")),
            ..AgentInfo::default()
        }),
        tasks: vec![TaskReport {
            task: Some(task("t2", &agent, "cpus:1;mem:1GiB")),
            framework_id: fw.clone(),
            latest: Some(TaskStatus {
                task_id: "t2".into(),
                state: TaskState::TaskRunning as i32,
                ..TaskStatus::default()
            }),
        }],
        ..RegisterRequest::default()
    };
    h.core.register_agent(req, h.now).expect("re-register");
    let sent = kills(&h.take(), &agent);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].task_id, "t2");
    assert_eq!(sent[0].reason(), Reason::AgentDraining);
    assert!(agent_summary(&h, &agent).deactivated);
    h.advance(Duration::from_secs(30));
    assert!(offers(&h.take(), &fw).is_empty());
}
