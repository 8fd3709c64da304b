//! Maintenance in virtual time: a schedule makes offers carry the unavailability and sends
//! inverse offers to the frameworks holding resources on the machine; their answers show in
//! the status; START_MAINTENANCE removes the machine's agents and refuses them;
//! STOP_MAINTENANCE lets them back; the schedule and modes survive a restart.

use wasmesos_allocator::InverseOfferAnswer;
use wasmesos_proto::v1::{
    InverseOffer, InverseOffersAnswer, MachineId, MachineMode, MaintenanceSchedule,
    MaintenanceWindow, Reason, Unavailability, inverse_offer_status,
};

use super::*;
use crate::Error;
use crate::registry::{Op, Snapshot};

const START: i64 = 1_900_000_000_000_000_000;
const HOUR: i64 = 3_600_000_000_000;

fn machine(hostname: &str) -> MachineId {
    MachineId {
        hostname: hostname.into(),
        ip: String::new(),
    }
}

fn window(hostnames: &[&str], start: i64) -> MaintenanceWindow {
    MaintenanceWindow {
        machine_ids: hostnames.iter().map(|h| machine(h)).collect(),
        unavailability: Some(Unavailability {
            start_nanos: start,
            duration_nanos: Some(HOUR),
        }),
    }
}

fn schedule(windows: Vec<MaintenanceWindow>) -> MaintenanceSchedule {
    MaintenanceSchedule { windows }
}

/// Registers an agent on `hostname` (an id to re-register with, or a new one).
fn register_on(h: &mut Harness, hostname: &str, id: &str) -> Result<Registration, crate::Error> {
    let req = RegisterRequest {
        agent: Some(AgentInfo {
            id: id.into(),
            hostname: hostname.into(),
            address: "http://10.0.0.7:5051".into(),
            resources: Some(resources("cpus:4;mem:4GiB")),
            ..AgentInfo::default()
        }),
        ..RegisterRequest::default()
    };
    h.core.register_agent(req, h.now)
}

fn agent_on(h: &mut Harness, hostname: &str) -> String {
    match register_on(h, hostname, "").expect("register") {
        Registration::Accepted { agent_id } => agent_id,
        Registration::Refused { commands } => panic!("refused: {commands:?}"),
    }
}

fn inverse_offers(out: &Outbox, framework_id: &str) -> Vec<InverseOffer> {
    out.events
        .get(framework_id)
        .into_iter()
        .flatten()
        .filter_map(|e| match e.event.as_ref() {
            Some(event::Event::InverseOffers(o)) => Some(o.inverse_offers.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn rescinded_inverse_offers(out: &Outbox, framework_id: &str) -> Vec<String> {
    out.events
        .get(framework_id)
        .into_iter()
        .flatten()
        .filter_map(|e| match e.event.as_ref() {
            Some(event::Event::RescindInverseOffer(r)) => Some(r.inverse_offer_id.clone()),
            _ => None,
        })
        .collect()
}

fn answer(
    h: &mut Harness,
    framework_id: &str,
    ids: &[&str],
    answer: InverseOfferAnswer,
    refuse_seconds: f64,
) {
    let req = InverseOffersAnswer {
        framework_id: framework_id.into(),
        inverse_offer_ids: ids.iter().map(|id| id.to_string()).collect(),
        filters: Some(Filters {
            refuse_seconds: Some(refuse_seconds),
        }),
    };
    h.core
        .answer_inverse_offers(req, answer, h.now)
        .expect("answer");
}

/// Two agents, on `db1` and `db2`, and a framework running t1 on the first.
fn cluster() -> (Harness, String, String, String) {
    let mut h = Harness::new();
    let db1 = agent_on(&mut h, "db1");
    let db2 = agent_on(&mut h, "db2");
    let fw = h.subscribe("fw", &[]);
    h.settle();
    let out = h.take();
    let offer = offers(&out, &fw)
        .into_iter()
        .find(|o| o.agent_id == db1)
        .expect("an offer on db1");
    h.accept(
        &fw,
        &[&offer.id],
        vec![task("t1", &db1, "cpus:1;mem:1GiB")],
        Some(3600.0),
    );
    h.report(&db1, &fw, &[("t1", TaskState::TaskRunning, 1)]);
    h.settle();
    h.take();
    (h, fw, db1, db2)
}

#[test]
fn a_schedule_tags_offers_and_asks_the_holders_for_their_resources() {
    let (mut h, fw, db1, db2) = cluster();
    h.core
        .update_maintenance_schedule(schedule(vec![window(&["DB1"], START)]), h.now)
        .expect("schedule");
    h.settle();
    let out = h.take();
    let inverse = inverse_offers(&out, &fw);
    assert_eq!(inverse.len(), 1, "one inverse offer, for db1: {inverse:?}");
    assert_eq!(inverse[0].agent_id, db1);
    assert_eq!(inverse[0].hostname, "db1");
    assert_eq!(
        inverse[0].unavailability,
        Some(Unavailability {
            start_nanos: START,
            duration_nanos: Some(HOUR)
        })
    );
    // db2's outstanding offer is untouched; nothing new on db1 is free to offer yet, and a
    // later offer of db1 carries the window.
    assert!(rescinds(&out, &fw).is_empty());
    h.core
        .update_maintenance_schedule(schedule(vec![window(&["db1", "db2"], START)]), h.now)
        .expect("schedule");
    let out = h.take();
    assert_eq!(rescinds(&out, &fw).len(), 1, "db2's offer is rescinded");
    h.settle();
    let out = h.take();
    let offer = offers(&out, &fw)
        .into_iter()
        .find(|o| o.agent_id == db2)
        .expect("db2 offered again");
    assert_eq!(offer.unavailability.map(|u| u.start_nanos), Some(START));
    let again: Vec<String> = inverse_offers(&out, &fw)
        .into_iter()
        .map(|o| o.agent_id)
        .collect();
    assert_eq!(
        again,
        vec![db2.clone()],
        "the holder of db2's offer is asked too; db1's inverse offer is still out"
    );
    let status = h.core.maintenance_status();
    assert_eq!(status.draining_machines.len(), 2);
    assert!(status.down_machines.is_empty());
    assert!(
        status
            .draining_machines
            .iter()
            .all(|m| m.statuses.is_empty()),
        "no answer yet"
    );
    assert_eq!(
        h.core.maintenance_schedule().windows[0].machine_ids,
        vec![machine("db1"), machine("db2")]
    );
}

#[test]
fn answers_show_in_the_status_and_filters_hold_back_the_next_inverse_offer() {
    let (mut h, fw, db1, _) = cluster();
    h.core
        .update_maintenance_schedule(schedule(vec![window(&["db1"], START)]), h.now)
        .expect("schedule");
    h.settle();
    let first = inverse_offers(&h.take(), &fw).remove(0);
    answer(&mut h, &fw, &[&first.id], InverseOfferAnswer::Decline, 10.0);
    let status = h.core.maintenance_status();
    let statuses = &status.draining_machines[0].statuses;
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].framework_id, fw);
    assert_eq!(statuses[0].status(), inverse_offer_status::Status::Decline);
    assert!(statuses[0].timestamp >= 1_000_000.0, "Unix seconds");
    h.advance(Duration::from_secs(5));
    assert!(
        inverse_offers(&h.take(), &fw).is_empty(),
        "filtered for 10 s"
    );
    h.advance(Duration::from_secs(6));
    let second = inverse_offers(&h.take(), &fw);
    assert_eq!(second.len(), 1, "asked again once the filter expires");
    assert_eq!(second[0].agent_id, db1);
    answer(
        &mut h,
        &fw,
        &[&second[0].id, "unknown"],
        InverseOfferAnswer::Accept,
        3600.0,
    );
    let status = h.core.maintenance_status();
    assert_eq!(
        status.draining_machines[0].statuses[0].status(),
        inverse_offer_status::Status::Accept,
        "the latest answer counts"
    );
    // Answering an inverse offer twice changes nothing.
    answer(
        &mut h,
        &fw,
        &[&second[0].id],
        InverseOfferAnswer::Decline,
        0.0,
    );
    assert_eq!(
        h.core.maintenance_status().draining_machines[0].statuses[0].status(),
        inverse_offer_status::Status::Accept
    );
}

#[test]
fn a_new_window_rescinds_inverse_offers_and_starts_afresh() {
    let (mut h, fw, _, _) = cluster();
    h.core
        .update_maintenance_schedule(schedule(vec![window(&["db1"], START)]), h.now)
        .expect("schedule");
    h.settle();
    let first = inverse_offers(&h.take(), &fw).remove(0);
    h.core
        .update_maintenance_schedule(schedule(vec![window(&["db1"], START + HOUR)]), h.now)
        .expect("moved");
    let out = h.take();
    assert_eq!(rescinded_inverse_offers(&out, &fw), vec![first.id.clone()]);
    h.settle();
    let second = inverse_offers(&h.take(), &fw);
    assert_eq!(
        second[0].unavailability.map(|u| u.start_nanos),
        Some(START + HOUR)
    );
    // Posting the same schedule again changes nothing.
    h.core
        .update_maintenance_schedule(schedule(vec![window(&["db1"], START + HOUR)]), h.now)
        .expect("same");
    h.settle();
    let out = h.take();
    assert!(rescinded_inverse_offers(&out, &fw).is_empty());
    assert!(inverse_offers(&out, &fw).is_empty());
    // Leaving db1 out brings it up: its inverse offer goes, and nothing replaces it.
    h.core
        .update_maintenance_schedule(schedule(vec![]), h.now)
        .expect("empty");
    h.settle();
    let out = h.take();
    assert_eq!(
        rescinded_inverse_offers(&out, &fw),
        vec![second[0].id.clone()]
    );
    assert!(inverse_offers(&out, &fw).is_empty());
    assert!(h.core.maintenance_status().draining_machines.is_empty());
}

#[test]
fn a_disconnected_framework_loses_its_inverse_offers_and_gets_new_ones_back() {
    let (mut h, fw, _, _) = cluster();
    h.core
        .update_maintenance_schedule(schedule(vec![window(&["db1"], START)]), h.now)
        .expect("schedule");
    h.settle();
    assert_eq!(inverse_offers(&h.take(), &fw).len(), 1);
    h.core.framework_disconnected(&fw, h.now);
    h.settle();
    assert!(inverse_offers(&h.take(), &fw).is_empty());
    let req = SubscribeRequest {
        framework: Some(FrameworkInfo {
            id: fw.clone(),
            name: "fw".into(),
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    h.core.subscribe(req, h.now).expect("resubscribe");
    h.settle();
    assert_eq!(
        inverse_offers(&h.take(), &fw).len(),
        1,
        "a resubscribed framework is asked again"
    );
}

#[test]
fn machine_down_removes_its_agents_and_refuses_them_until_it_is_up() {
    let (mut h, fw, db1, db2) = cluster();
    let err = h
        .core
        .start_maintenance(&[machine("db1")], h.now)
        .expect_err("not scheduled");
    assert_eq!(
        err.to_string(),
        "Machine '{\"hostname\":\"db1\"}' is not part of a maintenance schedule"
    );
    h.core
        .update_maintenance_schedule(schedule(vec![window(&["db1"], START)]), h.now)
        .expect("schedule");
    h.settle();
    h.take();
    let err = h
        .core
        .stop_maintenance(&[machine("db1")], h.now)
        .expect_err("draining");
    assert_eq!(
        err.to_string(),
        "Machine '{\"hostname\":\"db1\"}' is not in DOWN mode and cannot be brought up"
    );
    // The state views show the machine DRAINING, and its agent with the window.
    let modes = |h: &Harness| -> Vec<(String, &'static str)> {
        let snapshot = h.snapshot();
        snapshot
            .maintenance
            .iter()
            .map(|m| (m.hostname.clone(), m.mode))
            .collect()
    };
    assert_eq!(modes(&h), vec![("db1".to_string(), "DRAINING")]);
    let snapshot = h.snapshot();
    let window_of = |id: &str| {
        snapshot
            .agents
            .iter()
            .find(|a| a.id == id)
            .and_then(|a| a.unavailability)
    };
    let window = window_of(&db1).expect("db1's agent shows its window");
    assert_eq!(window.start, START as f64 / 1e9);
    assert_eq!(window.duration_seconds, Some(3600.0));
    assert_eq!(window_of(&db2), None, "db2 is UP");
    h.core
        .start_maintenance(&[machine("db1")], h.now)
        .expect("down");
    let out = h.take();
    let lost = updates(&out, &fw);
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].task_id, "t1");
    assert_eq!(lost[0].state(), TaskState::TaskLost);
    assert_eq!(lost[0].reason(), Reason::AgentLost);
    assert!(has_failure(&out, &fw, &db1));
    assert!(
        commands(&out, &db1).any(|c| matches!(c, agent_command::Command::Shutdown(_))),
        "the agent is told to shut down"
    );
    assert!(out.close_agents.contains(&db1), "and its stream is closed");
    let status = h.core.maintenance_status();
    assert!(status.draining_machines.is_empty());
    assert_eq!(status.down_machines, vec![machine("db1")]);
    assert_eq!(modes(&h), vec![("db1".to_string(), "DOWN")]);
    let err = h
        .core
        .start_maintenance(&[machine("db1")], h.now)
        .expect_err("down already");
    assert_eq!(
        err.to_string(),
        "Machine '{\"hostname\":\"db1\"}' is not in DRAINING mode and cannot be brought down"
    );
    // The agent comes back with its id, then as a new agent: both refused.
    match register_on(&mut h, "db1", &db1).expect("answered") {
        Registration::Refused { commands } => assert!(commands.iter().any(|c| matches!(
            &c.command,
            Some(agent_command::Command::Shutdown(s)) if s.message == "Machine is `DOWN`"
        ))),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let refused = register_on(&mut h, "DB1", "").expect_err("a new agent is refused too");
    assert!(matches!(refused, Error::Conflict(ref m) if m == "Machine is `DOWN`"));
    // A DOWN machine cannot leave the schedule; db2 is untouched.
    let err = h
        .core
        .update_maintenance_schedule(schedule(vec![]), h.now)
        .expect_err("down machine left out");
    assert_eq!(
        err.to_string(),
        "Machine '{\"hostname\":\"db1\"}' is deactivated and cannot be removed from the schedule"
    );
    assert!(h.core.agents.contains_key(db2.as_str()));
    // Up again: out of the schedule, and a new agent on db1 registers and is offered.
    h.core
        .stop_maintenance(&[machine("db1")], h.now)
        .expect("up");
    assert!(h.core.maintenance_schedule().windows.is_empty());
    let status = h.core.maintenance_status();
    assert!(status.down_machines.is_empty() && status.draining_machines.is_empty());
    assert!(modes(&h).is_empty(), "every machine UP");
    let back = agent_on(&mut h, "db1");
    h.settle();
    let offer = offers(&h.take(), &fw)
        .into_iter()
        .find(|o| o.agent_id == back)
        .expect("the new agent is offered");
    assert_eq!(offer.unavailability, None);
}

#[test]
fn partition_aware_frameworks_see_their_tasks_gone_by_operator() {
    let mut h = Harness::new();
    let db1 = agent_on(&mut h, "db1");
    let req = SubscribeRequest {
        framework: Some(FrameworkInfo {
            name: "aware".into(),
            capabilities: vec![proto::FrameworkCapability::PartitionAware as i32],
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    let fw = h
        .core
        .subscribe(req, h.now)
        .expect("subscribe")
        .framework_id;
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    h.accept(
        &fw,
        &[&offer.id],
        vec![task("t1", &db1, "cpus:1;mem:1GiB")],
        None,
    );
    h.report(&db1, &fw, &[("t1", TaskState::TaskRunning, 1)]);
    h.core
        .update_maintenance_schedule(schedule(vec![window(&["db1"], START)]), h.now)
        .expect("schedule");
    h.take();
    h.core
        .start_maintenance(&[machine("db1")], h.now)
        .expect("down");
    let gone = updates(&h.take(), &fw);
    assert_eq!(gone[0].state(), TaskState::TaskGoneByOperator);
    assert_eq!(gone[0].reason(), Reason::AgentRemovedByOperator);
}

#[test]
fn the_schedule_and_machine_modes_survive_a_restart() {
    let (mut h, _, _, _) = cluster();
    h.core
        .update_maintenance_schedule(
            schedule(vec![
                window(&["db1"], START),
                window(&["db2", "db3"], START + HOUR),
            ]),
            h.now,
        )
        .expect("schedule");
    h.core
        .start_maintenance(&[machine("db1")], h.now)
        .expect("down");
    let mut registry = Snapshot::default();
    let ops = h.core.take_ops();
    assert!(ops.iter().any(|op| matches!(op, Op::PutMaintenance(_))));
    for op in ops {
        registry.apply(op);
    }
    let record = registry.maintenance.clone().expect("a maintenance record");
    let modes: Vec<(String, MachineMode)> = record
        .machines
        .iter()
        .map(|m| (m.id.clone().unwrap_or_default().hostname, m.mode()))
        .collect();
    assert_eq!(
        modes,
        vec![
            ("db1".into(), MachineMode::MachineDown),
            ("db2".into(), MachineMode::MachineDraining),
            ("db3".into(), MachineMode::MachineDraining),
        ]
    );
    let master = MasterInfo {
        id: "m2".into(),
        ..MasterInfo::default()
    };
    let mut core = Core::recover(h.config.clone(), master, 2_000_000.0, registry).expect("recover");
    assert_eq!(core.maintenance_schedule().windows.len(), 2);
    let status = core.maintenance_status();
    assert_eq!(status.down_machines, vec![machine("db1")]);
    assert_eq!(status.draining_machines.len(), 2);
    // An agent of the DOWN machine is still refused by the new master.
    let req = RegisterRequest {
        agent: Some(AgentInfo {
            hostname: "db1".into(),
            address: "http://10.0.0.7:5051".into(),
            resources: Some(resources("cpus:1;mem:1GiB")),
            ..AgentInfo::default()
        }),
        ..RegisterRequest::default()
    };
    assert!(core.register_agent(req, Duration::ZERO).is_err());
}

#[test]
fn oversized_schedules_are_refused() {
    let mut h = Harness::new();
    let hostname = "h".repeat(250);
    let ids: Vec<String> = (0..3000).map(|i| format!("{hostname}{i}")).collect();
    let names: Vec<&str> = ids.iter().map(String::as_str).collect();
    let err = h
        .core
        .update_maintenance_schedule(schedule(vec![window(&names, START)]), h.now)
        .expect_err("too large");
    assert!(
        err.to_string().contains("more than the 524288 allowed"),
        "{err}"
    );
    assert!(h.core.maintenance_schedule().windows.is_empty());
}
