//! RESERVE and UNRESERVE offer operations in ACCEPT: order, agents, atomicity.

use wasmesos_proto::v1::{ReviveRequest, SetQuotaRequest};

use super::*;

fn reserve_op(text: &str, agent_id: &str) -> Operation {
    Operation {
        operation: Some(operation::Operation::Reserve(operation::Reserve {
            resources: Some(resources(text)),
            agent_id: agent_id.into(),
        })),
    }
}

fn launch_op(tasks: Vec<TaskInfo>) -> Operation {
    Operation {
        operation: Some(operation::Operation::Launch(operation::Launch { tasks })),
    }
}

fn accept_ops(h: &mut Harness, fw: &str, offers: &[&str], operations: Vec<Operation>) {
    let req = AcceptRequest {
        framework_id: fw.into(),
        offer_ids: offers.iter().map(|o| o.to_string()).collect(),
        operations,
        filters: Some(Filters {
            refuse_seconds: Some(0.0),
        }),
    };
    h.core.accept(req, h.now).expect("accept call");
}

fn total_of(h: &Harness, agent_id: &str) -> String {
    let state = h.cluster_state();
    let agent = state
        .agents
        .into_iter()
        .find(|a| a.agent.as_ref().is_some_and(|i| i.id == agent_id))
        .expect("agent in state");
    let parsed = super::super::convert::resources_from_proto(
        agent.total.as_ref(),
        super::super::convert::Amounts::NonNegative,
    )
    .expect("valid total");
    parsed.to_string()
}

#[test]
fn a_launch_before_the_reserve_cannot_use_what_it_reserves() {
    let mut h = Harness::new();
    let fw = h.subscribe("ads", &["ads"]);
    let agent = h.register("cpus:4;mem:4GiB");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let ops = vec![
        launch_op(vec![task("t1", &agent, "cpus(ads):1;mem(ads):1GiB")]),
        reserve_op("cpus(ads):1;mem(ads):1GiB", ""),
    ];
    accept_ops(&mut h, &fw, &[&offer.id], ops);
    let out = h.take();
    let refused = updates(&out, &fw);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].state(), TaskState::TaskError);
    assert!(launches(&out, &agent).is_empty());
    assert_eq!(total_of(&h, &agent), "cpus:4;mem:4GiB", "nothing reserved");

    // In the other order the same ACCEPT launches on the fresh reservation.
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let ops = vec![
        reserve_op("cpus(ads):1;mem(ads):1GiB", ""),
        launch_op(vec![task("t1", &agent, "cpus(ads):1;mem(ads):1GiB")]),
    ];
    accept_ops(&mut h, &fw, &[&offer.id], ops);
    assert_eq!(launches(&h.take(), &agent).len(), 1);
    assert_eq!(
        total_of(&h, &agent),
        "cpus:3;cpus(ads):1;mem:3GiB;mem(ads):1GiB"
    );

    // The task ends: its resources return still reserved, offered to `ads` again.
    h.report(&agent, &fw, &[("t1", TaskState::TaskFinished, 1)]);
    let revive = ReviveRequest {
        framework_id: fw.clone(),
        roles: vec![],
    };
    h.core.revive(revive, h.now).expect("revive");
    h.settle();
    let again = offers(&h.take(), &fw);
    let reserved: f64 = again
        .iter()
        .flat_map(|o| o.resources.iter().flat_map(|r| r.resources.iter()))
        .filter(|r| r.name == "cpus" && r.role == "ads")
        .map(|r| r.value)
        .sum();
    assert_eq!(reserved, 1.0, "{again:?}");
}

#[test]
fn offers_on_several_agents_need_the_reserves_agent_id() {
    let mut h = Harness::new();
    let fw = h.subscribe("ads", &["ads"]);
    let a1 = h.register("cpus:2;mem:2GiB");
    let a2 = h.register("cpus:2;mem:2GiB");
    h.settle();
    let ids: Vec<String> = offers(&h.take(), &fw).into_iter().map(|o| o.id).collect();
    assert_eq!(ids.len(), 2);
    let both: Vec<&str> = ids.iter().map(String::as_str).collect();
    accept_ops(&mut h, &fw, &both, vec![reserve_op("cpus(ads):1", "")]);
    let out = h.take();
    assert!(
        errors(&out, &fw)
            .iter()
            .any(|e| e.contains("agent_id is required")),
        "{:?}",
        errors(&out, &fw)
    );
    h.settle();
    let ids: Vec<String> = offers(&h.take(), &fw).into_iter().map(|o| o.id).collect();
    let both: Vec<&str> = ids.iter().map(String::as_str).collect();
    accept_ops(&mut h, &fw, &both, vec![reserve_op("cpus(ads):1", &a2)]);
    assert!(errors(&h.take(), &fw).is_empty());
    assert_eq!(total_of(&h, &a1), "cpus:2;mem:2GiB");
    assert_eq!(total_of(&h, &a2), "cpus:1;cpus(ads):1;mem:2GiB");
}

#[test]
fn an_accept_whose_reservations_the_allocator_refuses_changes_nothing() {
    // `ads` may hold at most 2 cpus; the offer already holds 2, and the allocator counts a
    // new reservation on top of what is offered, so the second RESERVE is refused after
    // the first was applied: the first must be undone.
    let mut h = Harness::new();
    let quota = SetQuotaRequest {
        role: "ads".into(),
        quota: Some(proto::Quota {
            guarantee: None,
            limit: Some(resources("cpus:2")),
        }),
    };
    h.core.set_quota(quota, h.now).expect("quota");
    let fw = h.subscribe("ads", &["ads"]);
    let agent = h.register("cpus:2;mem:2GiB");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let ops = vec![
        reserve_op("mem(ads):1GiB", ""),
        reserve_op("cpus(ads):1", ""),
    ];
    accept_ops(&mut h, &fw, &[&offer.id], ops);
    let out = h.take();
    let total = total_of(&h, &agent);
    let applied = total == "cpus(ads):1;mem:1GiB;mem(ads):1GiB";
    let untouched = total == "cpus:2;mem:2GiB";
    assert!(applied || untouched, "partly applied: {total}");
    if untouched {
        assert!(
            errors(&out, &fw).iter().any(|e| e.contains("RESERVE")),
            "a refusal is reported"
        );
        h.settle();
        let again = only_offer(&h.take(), &fw);
        let cpus: f64 = again
            .resources
            .iter()
            .flat_map(|r| r.resources.iter())
            .filter(|r| r.name == "cpus" && r.role.is_empty())
            .map(|r| r.value)
            .sum();
        assert_eq!(cpus, 2.0, "the offer comes back unreserved");
    }
}

#[test]
fn ports_are_reserved_and_launched_on_by_value() {
    let mut h = Harness::new();
    let fw = h.subscribe("web", &["web"]);
    let agent = h.register("cpus:4;mem:4GiB;ports:[31000-31009]");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let ops = vec![
        reserve_op("cpus(web):1;ports(web):[31000-31001]", ""),
        launch_op(vec![task(
            "t1",
            &agent,
            "cpus(web):1;ports(web):[31001-31001]",
        )]),
    ];
    accept_ops(&mut h, &fw, &[&offer.id], ops);
    assert_eq!(launches(&h.take(), &agent).len(), 1);
    assert_eq!(
        total_of(&h, &agent),
        "cpus:3;cpus(web):1;mem:4GiB;ports:[31002-31009];ports(web):[31000-31001]"
    );
    // A port outside the reservation cannot be reserved twice.
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    accept_ops(
        &mut h,
        &fw,
        &[&offer.id],
        vec![reserve_op("ports(web):[31001-31001]", "")],
    );
    assert!(
        total_of(&h, &agent).contains("ports(web):[31000-31001]"),
        "31001 is in use: nothing changed"
    );
}
