//! Revocable resources: an agent's estimate reaches only frameworks with
//! REVOCABLE_RESOURCES, a new estimate rescinds the revocable offers, and a task takes one
//! kind of each resource.

use wasmesos_proto::v1::{FrameworkCapability, FrameworkInfo, Reason, SubscribeRequest, TaskState};

use super::*;

fn subscribe_revocable(h: &mut Harness, name: &str) -> String {
    let req = SubscribeRequest {
        framework: Some(FrameworkInfo {
            name: name.into(),
            roles: vec!["*".into()],
            capabilities: vec![FrameworkCapability::RevocableResources as i32],
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    h.core
        .subscribe(req, h.now)
        .expect("subscribe")
        .framework_id
}

fn oversubscribe(h: &mut Harness, agent: &str, text: &str) {
    h.core
        .update_oversubscribed(agent, Some(&resources(text)), h.now)
        .expect("update oversubscribed");
}

/// A 1-cpu agent with `estimate` revocable, and the first offer of it to a framework that
/// takes revocable resources: the harness, the agent's and framework's ids, and the offer.
fn revocable_offer(estimate: &str) -> (Harness, String, String, Offer) {
    let mut h = Harness::new();
    let agent = h.register("cpus:1;mem:1GiB");
    oversubscribe(&mut h, &agent, estimate);
    let fw = subscribe_revocable(&mut h, "best-effort");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    (h, agent, fw, offer)
}

fn model(offer: &Offer) -> Resources {
    super::super::convert::resources_from_proto(
        offer.resources.as_ref(),
        super::super::convert::Amounts::Positive,
    )
    .expect("offered resources")
}

#[test]
fn revocable_cpus_are_offered_only_to_frameworks_that_take_them() {
    let mut h = Harness::new();
    let agent = h.register("cpus:2;mem:2GiB");
    let plain = h.subscribe("plain", &["*"]);
    h.settle();
    let first = only_offer(&h.take(), &plain);
    assert!(model(&first).revocable().is_empty());

    oversubscribe(&mut h, &agent, "cpus{REV}:1.5");
    let best_effort = subscribe_revocable(&mut h, "best-effort");
    h.settle();
    let out = h.take();
    assert!(
        offers(&out, &plain).is_empty(),
        "never revocable for 'plain'"
    );
    let offer = only_offer(&out, &best_effort);
    assert_eq!(model(&offer), "cpus{REV}:1.5".parse::<Resources>().unwrap());
    assert!(
        offer.resources.as_ref().unwrap().resources[0].revocable,
        "marked revocable on the wire"
    );

    // A smaller estimate rescinds the revocable offer, and the new amount is offered.
    oversubscribe(&mut h, &agent, "cpus{REV}:0.5");
    h.settle();
    let out = h.take();
    assert_eq!(rescinds(&out, &best_effort), vec![offer.id.clone()]);
    let again = only_offer(&out, &best_effort);
    assert_eq!(model(&again), "cpus{REV}:0.5".parse::<Resources>().unwrap());
}

#[test]
fn a_revocable_task_runs_and_holds_its_cpus_across_a_smaller_estimate() {
    let (mut h, agent, fw, offer) = revocable_offer("cpus{REV}:2");
    h.accept(
        &fw,
        &[&offer.id],
        vec![task("t", &agent, "cpus{REV}:2;mem:128MiB")],
        None,
    );
    let out = h.take();
    let launched = launches(&out, &agent);
    assert_eq!(launched.len(), 1);
    let sent = &launched[0].tasks[0];
    assert!(
        sent.resources
            .as_ref()
            .unwrap()
            .resources
            .iter()
            .any(|r| r.revocable)
    );
    oversubscribe(&mut h, &agent, "");
    let (used, _) = h.agent_usage(&agent);
    assert!(
        used.resources.iter().any(|r| r.revocable && r.value == 2.0),
        "{used:?}"
    );
}

#[test]
fn a_task_may_not_mix_revocable_and_regular_cpus() {
    let (mut h, agent, fw, offer) = revocable_offer("cpus{REV}:1");
    h.accept(
        &fw,
        &[&offer.id],
        vec![task("t", &agent, "cpus:0.5;cpus{REV}:0.5;mem:128MiB")],
        None,
    );
    let out = h.take();
    let statuses = updates(&out, &fw);
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(statuses[0].state(), TaskState::TaskError);
    assert_eq!(statuses[0].reason(), Reason::InvalidTask);
    assert!(
        statuses[0].message.contains("both revocable and not"),
        "{}",
        statuses[0].message
    );
}

#[test]
fn an_estimate_must_be_revocable_and_come_from_a_registered_agent() {
    let mut h = Harness::new();
    let agent = h.register("cpus:1;mem:1GiB");
    let regular = h
        .core
        .update_oversubscribed(&agent, Some(&resources("cpus:1")), h.now)
        .unwrap_err();
    assert!(
        regular.to_string().contains("must be revocable"),
        "{regular}"
    );
    let unknown = h
        .core
        .update_oversubscribed("nobody", Some(&resources("cpus{REV}:1")), h.now)
        .unwrap_err();
    assert!(
        matches!(unknown, crate::Error::NotRegistered(_)),
        "{unknown}"
    );
}

#[test]
fn a_framework_that_drops_the_capability_loses_its_revocable_offers() {
    let (mut h, _agent, fw, offer) = revocable_offer("cpus{REV}:1");
    assert!(!model(&offer).revocable().is_empty());
    let info = FrameworkInfo {
        id: fw.clone(),
        name: "best-effort".into(),
        roles: vec!["*".into()],
        ..FrameworkInfo::default()
    };
    h.core
        .update_framework(info, &[], h.now)
        .expect("update framework");
    h.settle();
    let out = h.take();
    assert_eq!(rescinds(&out, &fw), vec![offer.id.clone()]);
    let again = only_offer(&out, &fw);
    assert!(model(&again).revocable().is_empty(), "{again:?}");
}

#[test]
fn a_revocable_task_back_from_a_partition_holds_its_revocable_cpus_again() {
    let mut h = Harness::with_config(MasterConfig {
        agent_heartbeat_interval: Duration::from_millis(100),
        agent_ping_timeout: Duration::from_millis(500),
        agent_unreachable_timeout: Duration::from_secs(60),
        ..MasterConfig::default()
    });
    let agent = h.register("cpus:1;mem:1GiB");
    oversubscribe(&mut h, &agent, "cpus{REV}:2");
    let req = SubscribeRequest {
        framework: Some(FrameworkInfo {
            name: "best-effort".into(),
            roles: vec!["*".into()],
            capabilities: vec![
                FrameworkCapability::RevocableResources as i32,
                FrameworkCapability::PartitionAware as i32,
            ],
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
    let on_revocable = "cpus{REV}:2;mem:128MiB";
    h.accept(
        &fw,
        &[&offer.id],
        vec![task("t", &agent, on_revocable)],
        None,
    );
    h.report(&agent, &fw, &[("t", TaskState::TaskRunning, 1)]);
    h.agents_alive = false;
    h.advance(Duration::from_millis(700));
    let out = h.take();
    assert!(
        updates(&out, &fw)
            .iter()
            .any(|s| s.state() == TaskState::TaskUnreachable),
        "{:?}",
        updates(&out, &fw)
    );

    // Back with the task: its revocable cpus are in use again, on a pool the agent's next
    // estimate has not filled yet.
    let report = proto::TaskReport {
        task: Some(task("t", &agent, on_revocable)),
        framework_id: fw.clone(),
        latest: Some(TaskStatus {
            task_id: "t".into(),
            state: TaskState::TaskRunning as i32,
            ..TaskStatus::default()
        }),
    };
    let req = RegisterRequest {
        agent: Some(AgentInfo {
            id: agent.clone(),
            hostname: "host".into(),
            resources: Some(resources("cpus:1;mem:1GiB")),
            ..AgentInfo::default()
        }),
        tasks: vec![report],
        ..RegisterRequest::default()
    };
    h.core.register_agent(req, h.now).expect("re-register");
    h.agents_alive = true;
    let (used, _) = h.agent_usage(&agent);
    assert!(
        used.resources.iter().any(|r| r.revocable && r.value == 2.0),
        "{used:?}"
    );
    let state = h.snapshot();
    let task = state
        .tasks
        .iter()
        .find(|t| t.task_id == "t")
        .expect("the task");
    assert_eq!(task.state, "RUNNING");
}
