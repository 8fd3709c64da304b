//! Agents and frameworks coming and going: timeouts, re-registration, teardown, failover.

use std::time::Duration;

use wasmesos_proto::v1::{
    FrameworkInfo, Reason, RegisterRequest, SubscribeRequest, TaskReport, TaskState, agent_command,
};

use super::*;
use crate::{Error, MasterConfig};

fn short_timeouts() -> MasterConfig {
    MasterConfig {
        agent_heartbeat_interval: Duration::from_millis(100),
        agent_ping_timeout: Duration::from_millis(500),
        ..MasterConfig::default()
    }
}

/// A framework with one running task on `agent` and an outstanding offer for the rest.
fn running_with_offer(h: &mut Harness, agent: &str) -> (String, String) {
    let fw = h.subscribe("fw", &[]);
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    h.accept(
        &fw,
        &[&offer.id],
        vec![task("t1", agent, "cpus:1;mem:1GiB")],
        Some(0.0),
    );
    h.report(agent, &fw, &[("t1", TaskState::TaskRunning, 1)]);
    h.settle();
    let rest = only_offer(&h.take(), &fw);
    (fw, rest.id)
}

#[test]
fn a_silent_agent_is_unreachable_its_tasks_lost_and_offers_rescinded() {
    let mut h = Harness::with_config(short_timeouts());
    h.agents_alive = false;
    let agent = h.register("cpus:4;mem:4GiB");
    let (fw, offer) = running_with_offer(&mut h, &agent);
    h.advance(Duration::from_millis(450));
    assert!(
        h.take().close_agents.is_empty(),
        "removed before the timeout"
    );
    h.advance(Duration::from_millis(200));
    let out = h.take();
    let lost = updates(&out, &fw);
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].task_id, "t1");
    assert_eq!(lost[0].state, TaskState::TaskLost as i32);
    assert_eq!(lost[0].reason, Reason::AgentLost as i32);
    assert!(lost[0].uuid.is_empty());
    assert_eq!(rescinds(&out, &fw), vec![offer.clone()]);
    assert!(has_failure(&out, &fw, &agent));
    let kinds: Vec<&str> = out.events[&fw]
        .iter()
        .filter_map(|e| match e.event.as_ref() {
            Some(wasmesos_proto::v1::event::Event::Rescind(_)) => Some("rescind"),
            Some(wasmesos_proto::v1::event::Event::Failure(_)) => Some("failure"),
            Some(wasmesos_proto::v1::event::Event::Update(_)) => Some("update"),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        ["rescind", "failure", "update"],
        "FAILURE comes before the LOST updates"
    );
    // Unreachable, not removed: it may come back, so it is not told to shut down.
    assert!(!commands(&out, &agent).any(|c| matches!(c, agent_command::Command::Shutdown(_))));
    assert_eq!(out.close_agents, vec![agent.clone()]);
    assert!(h.cluster_state().agents.is_empty());
    // Its calls are refused until it re-registers.
    assert!(matches!(
        h.core.agent_heartbeat(&agent, h.now),
        Err(crate::Error::NotRegistered(_))
    ));
}

#[test]
fn heartbeats_keep_an_agent_alive() {
    let mut h = Harness::with_config(short_timeouts());
    h.agents_alive = false;
    let agent = h.register("cpus:4;mem:4GiB");
    for _ in 0..20 {
        h.advance(Duration::from_millis(100));
        h.heartbeat(&agent);
    }
    assert!(h.take().close_agents.is_empty());
    assert_eq!(h.cluster_state().agents.len(), 1);
}

#[test]
fn a_dropped_command_stream_alone_does_not_remove_the_agent() {
    let mut h = Harness::with_config(short_timeouts());
    h.agents_alive = false;
    let agent = h.register("cpus:4;mem:4GiB");
    h.core.agent_disconnected(&agent, h.now);
    let state = h.cluster_state();
    assert!(!state.agents[0].active);
    h.advance(Duration::from_millis(600));
    assert_eq!(
        h.take().close_agents,
        vec![agent],
        "silence still removes it"
    );
}

fn reregister(h: &mut Harness, agent: &str, fw: &str, reported: &[&str]) -> Registration {
    let tasks = reported
        .iter()
        .map(|id| TaskReport {
            task: Some(task(id, agent, "cpus:1;mem:1GiB")),
            framework_id: fw.into(),
            latest: None,
        })
        .collect();
    let req = RegisterRequest {
        agent: Some(wasmesos_proto::v1::AgentInfo {
            id: agent.into(),
            resources: Some(resources("cpus:4;mem:4GiB")),
            ..Default::default()
        }),
        tasks,
        frameworks: vec![],
    };
    h.core.register_agent(req, h.now).expect("register call")
}

#[test]
fn reregistering_without_a_launched_task_makes_it_lost() {
    let mut h = Harness::new();
    let agent = h.register("cpus:4;mem:4GiB");
    let fw = h.subscribe("fw", &[]);
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let tasks = vec![
        task("kept", &agent, "cpus:1;mem:1GiB"),
        task("dropped", &agent, "cpus:1;mem:1GiB"),
    ];
    h.accept(&fw, &[&offer.id], tasks, Some(0.0));
    h.take();
    h.core.agent_disconnected(&agent, h.now);
    let registration = reregister(&mut h, &agent, &fw, &["kept"]);
    assert_eq!(
        registration,
        Registration::Accepted {
            agent_id: agent.clone()
        }
    );
    let out = h.take();
    let first = out.commands[&agent]
        .first()
        .and_then(|c| c.command.as_ref());
    assert!(matches!(first, Some(agent_command::Command::Registered(r)) if r.agent_id == agent));
    let lost = updates(&out, &fw);
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].task_id, "dropped");
    assert_eq!(lost[0].state, TaskState::TaskLost as i32);
    let (used, _) = h.agent_usage(&agent);
    assert_eq!(
        used.scalar("cpus"),
        1.0,
        "only the kept task holds resources"
    );
}

#[test]
fn an_unknown_agent_id_is_told_to_shut_down() {
    let mut h = Harness::new();
    let registration = reregister(&mut h, "m-A999", "fw", &[]);
    let Registration::Refused { commands } = registration else {
        panic!("accepted an unknown id: {registration:?}");
    };
    let kinds: Vec<_> = commands.iter().map(|c| c.command.clone()).collect();
    assert!(
        matches!(&kinds[..], [Some(agent_command::Command::Registered(r)), Some(agent_command::Command::Shutdown(_))] if r.agent_id == "m-A999"),
        "{kinds:?}"
    );
    assert!(h.cluster_state().agents.is_empty());
}

#[test]
fn bad_registrations_are_invalid_arguments() {
    let mut h = Harness::new();
    assert!(matches!(
        h.core.register_agent(RegisterRequest::default(), h.now),
        Err(crate::Error::InvalidArgument(_))
    ));
    let negative = RegisterRequest {
        agent: Some(wasmesos_proto::v1::AgentInfo {
            resources: Some(wasmesos_proto::v1::Resources {
                resources: vec![wasmesos_proto::v1::Resource {
                    name: "cpus".into(),
                    value: -4.0,
                    ..Default::default()
                }],
            }),
            ..Default::default()
        }),
        ..RegisterRequest::default()
    };
    let err = h
        .core
        .register_agent(negative, h.now)
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("agent.resources")));
}

#[test]
fn teardown_kills_tasks_rescinds_offers_and_frees_everything() {
    let mut h = Harness::new();
    let agent = h.register("cpus:4;mem:4GiB");
    let (fw, _offer) = running_with_offer(&mut h, &agent);
    h.core.teardown(&fw, h.now).expect("teardown");
    let out = h.take();
    assert!(commands(&out, &agent).any(
        |c| matches!(c, agent_command::Command::ShutdownFramework(s) if s.framework_id == fw)
    ));
    assert_eq!(out.close_frameworks, vec![fw.clone()]);
    let (used, offered) = h.agent_usage(&agent);
    assert!(used.resources.is_empty() && offered.resources.is_empty());
    assert!(h.core.offers.is_empty());
    assert!(h.cluster_state().frameworks.is_empty());
    assert!(matches!(
        h.core.teardown(&fw, h.now),
        Err(crate::Error::NotSubscribed(_))
    ));
    // The agent's KILLED update for the gone framework is acknowledged by the master.
    h.report(&agent, &fw, &[("t1", TaskState::TaskKilled, 9)]);
    let out = h.take();
    assert!(
        commands(&out, &agent).any(|c| matches!(c, agent_command::Command::Acknowledge(a)
        if a.acks.len() == 1 && a.acks[0].uuid == vec![9; 16]))
    );
    // And the id cannot come back.
    let again = SubscribeRequest {
        framework: Some(FrameworkInfo {
            id: fw.clone(),
            name: "fw".into(),
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    assert!(matches!(
        h.core.subscribe(again, h.now),
        Err(crate::Error::FrameworkRemoved(_))
    ));
}

#[test]
fn a_disconnected_framework_gets_no_offers_and_is_removed_after_failover() {
    let mut h = Harness::new();
    let agent = h.register("cpus:4;mem:4GiB");
    let req = SubscribeRequest {
        framework: Some(FrameworkInfo {
            name: "fw".into(),
            failover_timeout_seconds: 10.0,
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    let fw = h
        .core
        .subscribe(req.clone(), h.now)
        .expect("subscribe")
        .framework_id;
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    h.accept(
        &fw,
        &[&offer.id],
        vec![task("t1", &agent, "cpus:1;mem:1GiB")],
        Some(0.0),
    );
    h.take();
    h.core.framework_disconnected(&fw, h.now);
    let (_, offered) = h.agent_usage(&agent);
    assert!(offered.resources.is_empty(), "outstanding offers come back");
    h.advance(Duration::from_secs(5));
    assert!(offers(&h.take(), &fw).is_empty());
    assert!(matches!(
        h.core.kill(
            wasmesos_proto::v1::KillRequest {
                framework_id: fw.clone(),
                task_id: "t1".into(),
                kill_policy: None,
            },
            h.now
        ),
        Err(crate::Error::NotSubscribed(_))
    ));
    // Resubscribing within the timeout keeps the task and brings offers back.
    let mut again = req.clone();
    if let Some(info) = again.framework.as_mut() {
        info.id = fw.clone();
    }
    h.core.subscribe(again, h.now).expect("resubscribe");
    h.settle();
    let out = h.take();
    assert_eq!(offers(&out, &fw).len(), 1);
    assert_eq!(h.cluster_state().tasks.len(), 1);
    // Disconnect for good: after 10 s the framework and its task are gone.
    h.core.framework_disconnected(&fw, h.now);
    h.advance(Duration::from_secs(11));
    let out = h.take();
    assert!(
        commands(&out, &agent).any(|c| matches!(c, agent_command::Command::ShutdownFramework(_)))
    );
    assert!(h.cluster_state().frameworks.is_empty());
    let (used, _) = h.agent_usage(&agent);
    assert!(used.resources.is_empty());
}

#[test]
fn bad_subscriptions_are_invalid_arguments() {
    let mut h = Harness::new();
    let cases = [
        SubscribeRequest::default(),
        SubscribeRequest {
            framework: Some(FrameworkInfo::default()),
            heartbeat_interval_seconds: 0.0,
        },
        SubscribeRequest {
            framework: Some(FrameworkInfo {
                name: "x".into(),
                roles: vec!["../etc".into()],
                ..FrameworkInfo::default()
            }),
            heartbeat_interval_seconds: 0.0,
        },
        SubscribeRequest {
            framework: Some(FrameworkInfo {
                name: "x".into(),
                failover_timeout_seconds: -1.0,
                ..FrameworkInfo::default()
            }),
            heartbeat_interval_seconds: 0.0,
        },
        SubscribeRequest {
            framework: Some(FrameworkInfo {
                name: "x".into(),
                ..FrameworkInfo::default()
            }),
            heartbeat_interval_seconds: f64::NAN,
        },
    ];
    for req in cases {
        let result = h.core.subscribe(req.clone(), h.now);
        assert!(
            matches!(result, Err(crate::Error::InvalidArgument(_))),
            "{req:?}: {result:?}"
        );
    }
}

#[test]
fn heartbeat_intervals_are_kept_between_10_ms_and_an_hour() {
    let mut h = Harness::new();
    for (asked, given) in [(1e-9, 0.01), (5.0, 5.0), (7200.0, 3600.0), (1e19, 3600.0)] {
        let req = SubscribeRequest {
            framework: Some(FrameworkInfo {
                name: "x".into(),
                ..FrameworkInfo::default()
            }),
            heartbeat_interval_seconds: asked,
        };
        let subscription = h.core.subscribe(req, h.now).expect("subscribe");
        assert_eq!(
            subscription.heartbeat_interval.as_secs_f64(),
            given,
            "{asked}"
        );
    }
}

#[test]
fn subscribed_comes_first_and_names_the_master() {
    let mut h = Harness::new();
    let fw = h.subscribe("fw", &["eng/backend"]);
    let out = h.take();
    let first = out.events[&fw].first().and_then(|e| e.event.as_ref());
    match first {
        Some(wasmesos_proto::v1::event::Event::Subscribed(s)) => {
            assert_eq!(s.framework_id, fw);
            assert_eq!(s.heartbeat_interval_seconds, 15.0);
            assert!(s.master.as_ref().is_some_and(|m| m.id == "m"));
        }
        other => panic!("expected SUBSCRIBED first, got {other:?}"),
    }
}

#[test]
fn reregistering_with_tasks_of_a_removed_framework_shuts_them_down() {
    let mut h = Harness::new();
    let agent = h.register("cpus:4;mem:4GiB");
    let (fw, _) = running_with_offer(&mut h, &agent);
    // The agent's stream is down when the framework goes, so the shutdown never reaches it.
    h.core.agent_disconnected(&agent, h.now);
    h.core.teardown(&fw, h.now).expect("teardown");
    h.take();
    reregister(&mut h, &agent, &fw, &["t1"]);
    let out = h.take();
    let kinds: Vec<_> = commands(&out, &agent).collect();
    assert!(matches!(
        kinds.first(),
        Some(agent_command::Command::Registered(_))
    ));
    assert!(
        kinds.iter().any(
            |c| matches!(c, agent_command::Command::ShutdownFramework(s) if s.framework_id == fw)
        ),
        "{kinds:?}"
    );
}

#[test]
fn update_framework_rescinds_dropped_roles_offers_and_persists_the_new_info() {
    let mut h = Harness::new();
    h.register("cpus:4;mem:4GiB");
    let fw = h.subscribe("fw", &["blue"]);
    h.settle();
    let out = h.take();
    let offered = offers(&out, &fw);
    assert_eq!(offered[0].role, "blue");
    h.core.take_ops();
    let info = FrameworkInfo {
        id: fw.clone(),
        name: "renamed".into(),
        roles: vec!["green".into()],
        webui_url: "http://ui".into(),
        ..FrameworkInfo::default()
    };
    h.core
        .update_framework(info.clone(), &[], h.now)
        .expect("update");
    let ops = h.core.take_ops();
    assert!(ops.iter().any(|op| matches!(op,
        crate::registry::Op::PutFramework(r) if r.info.as_ref().is_some_and(|i|
            i.name == "renamed" && i.roles == ["green"] && i.webui_url == "http://ui"))));
    h.settle();
    let out = h.take();
    assert_eq!(rescinds(&out, &fw), vec![offered[0].id.clone()]);
    assert!(offers(&out, &fw).iter().all(|o| o.role == "green"));
    assert!(!offers(&out, &fw).is_empty());
    // A principal change is refused, and so is an unsubscribed framework.
    let mut other = info.clone();
    other.principal = "someone".into();
    assert!(matches!(
        h.core.update_framework(other, &[], h.now),
        Err(crate::Error::InvalidArgument(why)) if why.contains("principal")
    ));
    let mut unknown = info;
    unknown.id = "nope".into();
    assert!(matches!(
        h.core.update_framework(unknown, &[], h.now),
        Err(crate::Error::NotSubscribed(_))
    ));
}

fn subscribe_as(h: &mut Harness, principal: &str, id: &str) -> Result<String, Error> {
    let req = SubscribeRequest {
        framework: Some(FrameworkInfo {
            id: id.into(),
            name: "fw".into(),
            principal: principal.into(),
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    h.core.subscribe(req, h.now).map(|s| s.framework_id)
}

#[test]
fn a_framework_keeps_its_principal_and_a_principal_has_a_cap_on_frameworks() {
    let mut config = MasterConfig::default();
    config.security.max_frameworks_per_principal = 2;
    let mut h = Harness::with_config(config);
    let first = subscribe_as(&mut h, "web", "").expect("first");
    subscribe_as(&mut h, "web", "").expect("second");
    let third = subscribe_as(&mut h, "web", "");
    assert!(
        matches!(&third, Err(Error::Limit(why)) if why.contains("\"web\"") && why.contains('2')),
        "{third:?}"
    );
    // Another principal has a cap of its own; resubscribing is not a new framework.
    subscribe_as(&mut h, "batch", "").expect("batch");
    assert_eq!(
        subscribe_as(&mut h, "web", &first).ok(),
        Some(first.clone())
    );
    // Nobody takes web's framework over under another principal.
    let takeover = subscribe_as(&mut h, "batch", &first);
    assert!(matches!(takeover, Err(Error::Forbidden(_))), "{takeover:?}");
}

#[test]
fn a_removed_framework_is_forgotten_after_the_registry_age_and_its_id_is_free_again() {
    let config = MasterConfig {
        registry_max_removed_age: Duration::from_secs(3600),
        ..MasterConfig::default()
    };
    let mut h = Harness::with_config(config);
    let fw = h.subscribe("fw", &["*"]);
    h.core.teardown(&fw, h.now).expect("teardown");
    h.core.take_ops();
    let refused = subscribe_as(&mut h, "", &fw);
    assert!(
        matches!(refused, Err(Error::FrameworkRemoved(_))),
        "{refused:?}"
    );

    // Within the age the removal is kept.
    h.advance(Duration::from_secs(1800));
    assert!(
        h.core
            .take_ops()
            .iter()
            .all(|op| !matches!(op, crate::registry::Op::ForgetFramework(_)))
    );
    // Past it, the registry forgets it and the id may be used again.
    h.advance(Duration::from_secs(1900));
    let forgotten = h.core.take_ops();
    assert!(
        forgotten
            .iter()
            .any(|op| matches!(op, crate::registry::Op::ForgetFramework(id) if *id == fw)),
        "{forgotten:?}"
    );
    assert_eq!(subscribe_as(&mut h, "", &fw).ok(), Some(fw));
}
