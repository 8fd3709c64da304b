//! Preemption for a quota guarantee, in virtual time: a role below its guarantee on a full
//! cluster takes CPU back by suspending preemptible tasks (resumed once the CPU is free
//! again), or by killing them when memory is missing too; the tasks of frameworks that did
//! not opt in, and the operator's `off`, are never touched.

use wasmesos_proto::v1::{Reason, SetQuotaRequest};

use super::*;
use crate::config::PreemptionMode;

/// One agent (4 cpus, 4 GiB) full of `batch`'s four 1-cpu, 512 MiB tasks.
fn full_cluster(preemptible: bool, mode: PreemptionMode) -> (Harness, String, String) {
    let config = MasterConfig {
        preemption: mode,
        ..MasterConfig::default()
    };
    let mut h = Harness::with_config(config);
    let agent = h.register("cpus:4;mem:4GiB");
    let req = SubscribeRequest {
        framework: Some(FrameworkInfo {
            name: "batch".into(),
            roles: vec!["batch".into()],
            preemptible,
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    let batch = h
        .core
        .subscribe(req, h.now)
        .expect("subscribe")
        .framework_id;
    h.settle();
    let offer = only_offer(&h.take(), &batch);
    let tasks = (0..4)
        .map(|i| task(&format!("b{i}"), &agent, "cpus:1;mem:512MiB"))
        .collect();
    h.accept(&batch, &[&offer.id], tasks, Some(3600.0));
    let running: Vec<(String, TaskState, u8)> = (0..4)
        .map(|i| (format!("b{i}"), TaskState::TaskRunning, i))
        .collect();
    let running: Vec<(&str, TaskState, u8)> = running
        .iter()
        .map(|(id, s, u)| (id.as_str(), *s, *u))
        .collect();
    h.report(&agent, &batch, &running);
    h.settle();
    h.take();
    (h, batch, agent)
}

fn guarantee(h: &mut Harness, role: &str, text: &str) {
    let req = SetQuotaRequest {
        role: role.into(),
        quota: Some(proto::Quota {
            guarantee: Some(resources(text)),
            limit: None,
        }),
    };
    h.core.set_quota(req, h.now).expect("set quota");
}

fn suspends(out: &Outbox, agent: &str) -> Vec<agent_command::Suspend> {
    commands(out, agent)
        .filter_map(|c| match c {
            agent_command::Command::Suspend(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn kills(out: &Outbox, agent: &str) -> Vec<agent_command::Kill> {
    commands(out, agent)
        .filter_map(|c| match c {
            agent_command::Command::Kill(k) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

fn cpus_offered(out: &Outbox, framework: &str) -> f64 {
    offers(out, framework)
        .iter()
        .map(|o| o.resources.as_ref().map_or(0.0, |r| r.scalar("cpus")))
        .sum()
}

/// A subscription in a role its free resources cannot satisfy is preempted for right after
/// its allocation round, not at the next periodic check.
#[test]
fn a_subscription_short_of_its_guarantee_is_preempted_for_at_once() {
    let (mut h, _batch, agent) = full_cluster(true, PreemptionMode::Suspend);
    guarantee(&mut h, "gold", "cpus:1");
    // Let the periodic check pass with no one in gold: nothing to do.
    h.advance(Duration::from_millis(150));
    assert!(suspends(&h.take(), &agent).is_empty());
    let gold = h.subscribe("gold", &["gold"]);
    let subscribed = h.now;
    h.settle();
    let suspended = suspends(&h.take(), &agent);
    assert_eq!(suspended.len(), 1, "{suspended:?}");
    assert!(
        h.now - subscribed < Duration::from_millis(50),
        "preempted after {:?}",
        h.now - subscribed
    );
    h.settle();
    assert!((cpus_offered(&h.take(), &gold) - 1.0).abs() < 1e-9);
}

#[test]
fn a_guaranteed_role_gets_its_cpu_by_suspending_preemptible_tasks_which_resume_later() {
    let (mut h, batch, agent) = full_cluster(true, PreemptionMode::Suspend);
    guarantee(&mut h, "gold", "cpus:2");
    let gold = h.subscribe("gold", &["gold"]);
    h.advance(Duration::from_millis(300));
    h.settle();
    let out = h.take();
    let suspended = suspends(&out, &agent);
    assert_eq!(
        suspended.len(),
        2,
        "two 1-cpu tasks give way: {suspended:?}"
    );
    assert!(
        suspended
            .iter()
            .all(|s| s.suspended && s.framework_id == batch)
    );
    assert!(
        suspended[0].message.contains("'gold'"),
        "{:?}",
        suspended[0]
    );
    assert!(
        kills(&out, &agent).is_empty(),
        "CPU alone is missing: nothing is killed"
    );
    assert!(
        (cpus_offered(&out, &gold) - 2.0).abs() < 1e-9,
        "gold is offered its 2 cpus: {:?}",
        offers(&out, &gold)
    );
    // Nothing more is taken while the guarantee is met (the offer counts).
    h.advance(Duration::from_secs(1));
    assert!(suspends(&h.take(), &agent).is_empty());

    // Gold gives its CPU back and wants no more: the suspended tasks resume.
    h.core
        .suppress(
            proto::SuppressRequest {
                framework_id: gold.clone(),
                roles: vec![],
            },
            h.now,
        )
        .expect("suppress");
    for offer in offers(&out, &gold) {
        h.decline(&gold, &offer.id, 3600.0);
    }
    h.advance(Duration::from_millis(300));
    h.settle();
    let resumed = suspends(&h.take(), &agent);
    assert_eq!(resumed.len(), 2, "{resumed:?}");
    assert!(resumed.iter().all(|s| !s.suspended));
    assert_eq!(h.core.metrics().tasks_suspended.get(), 2);
    assert_eq!(h.core.metrics().tasks_resumed.get(), 2);
}

#[test]
fn when_memory_is_missing_too_victims_are_killed_and_told_why() {
    let (mut h, batch, agent) = full_cluster(true, PreemptionMode::Suspend);
    guarantee(&mut h, "gold", "cpus:1;mem:3GiB");
    let _gold = h.subscribe("gold", &["gold"]);
    h.advance(Duration::from_millis(300));
    h.settle();
    let out = h.take();
    assert!(suspends(&out, &agent).is_empty());
    let killed = kills(&out, &agent);
    assert_eq!(
        killed.len(),
        2,
        "1 GiB of memory is missing: two tasks go {killed:?}"
    );
    assert!(
        killed
            .iter()
            .all(|k| k.reason == Reason::TaskPreempted as i32)
    );
    // No more victims while those are on their way out.
    h.advance(Duration::from_secs(1));
    assert!(kills(&h.take(), &agent).is_empty());
    // The agent reports them killed: the framework learns why.
    let statuses = killed
        .iter()
        .map(|k| TaskStatus {
            task_id: k.task_id.clone(),
            framework_id: batch.clone(),
            state: TaskState::TaskKilled as i32,
            reason: Reason::TaskPreempted as i32,
            message: "killed: preempted by the master".into(),
            uuid: vec![7; 16],
            ..TaskStatus::default()
        })
        .collect();
    h.core
        .status_updates(
            StatusUpdates {
                agent_id: agent.clone(),
                statuses,
            },
            h.now,
        )
        .expect("updates");
    let relayed = updates(&h.take(), &batch);
    assert_eq!(relayed.len(), 2);
    assert!(
        relayed.iter().all(|u| u
            .message
            .contains("role 'gold' is below its quota guarantee")),
        "{relayed:?}"
    );
    assert_eq!(h.core.metrics().tasks_preempted.get(), 2);
}

#[test]
fn tasks_of_frameworks_that_did_not_opt_in_and_a_master_with_preemption_off_are_left_alone() {
    for (preemptible, mode) in [
        (false, PreemptionMode::Suspend),
        (true, PreemptionMode::Off),
    ] {
        let (mut h, _batch, agent) = full_cluster(preemptible, mode);
        guarantee(&mut h, "gold", "cpus:2");
        let _gold = h.subscribe("gold", &["gold"]);
        h.advance(Duration::from_secs(1));
        let out = h.take();
        assert!(suspends(&out, &agent).is_empty(), "{preemptible} {mode:?}");
        assert!(kills(&out, &agent).is_empty(), "{preemptible} {mode:?}");
    }
}

#[test]
fn kill_mode_kills_even_when_cpu_alone_is_missing() {
    let (mut h, _batch, agent) = full_cluster(true, PreemptionMode::Kill);
    guarantee(&mut h, "gold", "cpus:2");
    let _gold = h.subscribe("gold", &["gold"]);
    h.advance(Duration::from_millis(300));
    h.settle();
    let out = h.take();
    assert!(suspends(&out, &agent).is_empty());
    assert_eq!(kills(&out, &agent).len(), 2);
}

fn request(h: &mut Harness, framework: &str, text: &str, priority: Option<i32>) {
    let req = proto::ResourceRequest {
        framework_id: framework.into(),
        resources: Some(resources(text)),
        agent_id: String::new(),
        priority,
    };
    h.core.request_resources(req, h.now).expect("request");
}

#[test]
fn a_task_of_higher_priority_that_cannot_be_placed_frees_its_resources_from_lower_ones() {
    let (mut h, batch, agent) = full_cluster(true, PreemptionMode::Suspend);
    let urgent = h.subscribe("urgent", &["urgent"]);
    h.settle();
    h.take();
    // Priority 0 against batch's 0: nobody gives way.
    request(&mut h, &urgent, "cpus:1;mem:1GiB", None);
    h.advance(Duration::from_millis(200));
    h.settle();
    let out = h.take();
    assert!(kills(&out, &agent).is_empty() && suspends(&out, &agent).is_empty());
    // Priority 5: one batch task is suspended (memory is free, CPU is not).
    request(&mut h, &urgent, "cpus:1;mem:1GiB", Some(5));
    h.advance(Duration::from_millis(200));
    h.settle();
    let out = h.take();
    let suspended = suspends(&out, &agent);
    assert_eq!(suspended.len(), 1, "{suspended:?}");
    assert!(suspended[0].message.contains("priority 5"), "{suspended:?}");
    assert!(
        cpus_offered(&out, &urgent) >= 1.0,
        "{:?}",
        offers(&out, &urgent)
    );
    // Answered once: no more victims for the same request.
    h.advance(Duration::from_secs(1));
    let out = h.take();
    assert!(kills(&out, &agent).is_empty() && suspends(&out, &agent).is_empty());
    let _ = batch;
}

#[test]
fn a_request_covered_by_free_resources_takes_no_victim_and_a_malformed_one_is_refused() {
    let (mut h, _batch, agent) = full_cluster(true, PreemptionMode::Suspend);
    let urgent = h.subscribe("urgent", &["urgent"]);
    request(&mut h, &urgent, "mem:1GiB", Some(100));
    h.advance(Duration::from_millis(200));
    h.settle();
    let out = h.take();
    assert!(kills(&out, &agent).is_empty() && suspends(&out, &agent).is_empty());
    let bad = proto::ResourceRequest {
        framework_id: urgent.clone(),
        resources: Some(proto::Resources {
            resources: vec![proto::Resource {
                name: "cpus".into(),
                value: -1.0,
                r#type: proto::ValueType::Scalar as i32,
                ..proto::Resource::default()
            }],
        }),
        agent_id: String::new(),
        priority: None,
    };
    assert!(h.core.request_resources(bad, h.now).is_err());
    let empty = proto::ResourceRequest {
        framework_id: urgent,
        resources: None,
        agent_id: String::new(),
        priority: None,
    };
    assert!(h.core.request_resources(empty, h.now).is_err());
}
