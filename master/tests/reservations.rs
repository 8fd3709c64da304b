//! Reservations end to end: static ones from an agent's `--resources`, dynamic ones from
//! RESERVE / UNRESERVE offer operations and from the operator API. Reserved resources are
//! offered only to their role and its descendants.

mod common;

use common::*;
use tonic::Code;
use wasmesos_proto::v1::{
    AcceptRequest, DeclineRequest, ExecutorInfo, Filters, Offer, Operation,
    ReserveResourcesRequest, ReviveRequest, TaskInfo, UnreserveResourcesRequest, agent_command,
    event, operation,
};

fn no_reservation_for(offer: &Offer, role: &str) -> bool {
    let resources = offer.resources.as_ref().map(|r| r.resources.as_slice());
    resources.unwrap_or_default().iter().all(|r| r.role != role)
}

fn reserve(text: &str) -> Operation {
    Operation {
        operation: Some(operation::Operation::Reserve(operation::Reserve {
            resources: Some(res(text)),
            agent_id: String::new(),
        })),
    }
}

fn unreserve(text: &str) -> Operation {
    Operation {
        operation: Some(operation::Operation::Unreserve(operation::Unreserve {
            resources: Some(res(text)),
            agent_id: String::new(),
        })),
    }
}

fn launch(task_id: &str, digest: &str, resources: &str) -> Operation {
    let task = TaskInfo {
        task_id: task_id.into(),
        executor: Some(ExecutorInfo {
            digest: digest.into(),
            ..ExecutorInfo::default()
        }),
        resources: Some(res(resources)),
        ..TaskInfo::default()
    };
    Operation {
        operation: Some(operation::Operation::Launch(operation::Launch {
            tasks: vec![task],
        })),
    }
}

fn accept(framework_id: &str, offer: &Offer, operations: Vec<Operation>) -> AcceptRequest {
    AcceptRequest {
        framework_id: framework_id.into(),
        offer_ids: vec![offer.id.clone()],
        operations,
        filters: Some(Filters {
            refuse_seconds: Some(0.0),
        }),
    }
}

#[tokio::test]
async fn a_real_agents_static_reservation_is_offered_only_to_its_role() {
    let master = start(|_| {}).await;
    let (other, mut other_events) = master.subscribe("other", &["other"]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let resources = wasmesos_agent::parse_resources("cpus(ads):4;cpus:2;mem:1GiB;disk:1GiB")
        .expect("agent resources");
    let config = wasmesos_agent::AgentConfig {
        master_url: master.handle.url(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        resources: Some(resources),
        work_dir: dir.path().to_path_buf(),
        ..wasmesos_agent::AgentConfig::default()
    };
    let mut agent = wasmesos_agent::spawn(config).await.expect("agent starts");
    let agent_id = agent.registered(DEADLINE).await.expect("agent registers");

    let state = master.state_where(|s| !s.agents.is_empty()).await;
    let total = state.agents[0].total.as_ref();
    assert_eq!(amount(total, "cpus", "ads"), 4.0, "{}", text(total));
    assert_eq!(amount(total, "cpus", ""), 2.0);

    // Alone in the cluster, `other` is still offered only the unreserved part.
    let unreserved = next_offers(&mut other_events).await.remove(0);
    assert_eq!(unreserved.agent_id, agent_id);
    assert_eq!(unreserved.role, "other");
    assert_eq!(
        text(unreserved.resources.as_ref()),
        "cpus:2;disk:1GiB;mem:1GiB;ports:[31000-32000]",
        "the agent's default ports come with the unreserved part"
    );

    let (_, mut ads_events) = master.subscribe("ads", &["ads"]).await;
    let offer = next_offers(&mut ads_events).await.remove(0);
    assert_eq!(offer.role, "ads");
    assert_eq!(text(offer.resources.as_ref()), "cpus(ads):4");

    // Declined by `other` for an hour, the unreserved part goes to `ads` as well.
    let decline = DeclineRequest {
        framework_id: other.clone(),
        offer_ids: vec![unreserved.id],
        filters: Some(Filters {
            refuse_seconds: Some(3600.0),
        }),
    };
    master
        .scheduler_for(&other)
        .decline(decline)
        .await
        .expect("decline");
    let offer = next_offers(&mut ads_events).await.remove(0);
    assert_eq!(
        text(offer.resources.as_ref()),
        "cpus:2;disk:1GiB;mem:1GiB;ports:[31000-32000]"
    );
    agent.shutdown().await.expect("agent stops");
}

#[tokio::test]
async fn a_reservation_is_offered_to_descendant_roles_and_never_to_others() {
    let master = start(|_| {}).await;
    let (_, mut outsider) = master.subscribe("outsider", &["engineering"]).await;
    let agent = master
        .register(res("cpus(eng):2;cpus:1;mem:1GiB"), "")
        .await;
    let offer = next_offers(&mut outsider).await.remove(0);
    assert_eq!(offer.agent_id, agent.id);
    assert_eq!(text(offer.resources.as_ref()), "cpus:1;mem:1GiB");

    let (_, mut backend) = master.subscribe("backend", &["eng/backend"]).await;
    let offer = next_offers(&mut backend).await.remove(0);
    assert_eq!(offer.role, "eng/backend");
    assert_eq!(text(offer.resources.as_ref()), "cpus(eng):2");
}

#[tokio::test]
async fn reserve_and_unreserve_offer_operations_change_what_is_offered_to_whom() {
    let master = start(|_| {}).await;
    let digest = master
        .upload(&read_guest(wasmesos_guest_artifacts::HELLO), 0, "")
        .await
        .expect("upload")
        .digest;
    let (ads, mut ads_events) = master.subscribe("ads", &["ads"]).await;
    let mut agent = master.register(res("cpus:4;mem:4GiB"), "").await;
    let offer = next_offers(&mut ads_events).await.remove(0);

    // RESERVE, then LAUNCH on what was just reserved, in one ACCEPT.
    let ops = vec![
        reserve("cpus(ads):2;mem(ads):1GiB"),
        launch("t1", &digest, "cpus(ads):1;mem(ads):512MiB"),
    ];
    let call = accept(&ads, &offer, ops);
    master.scheduler().accept(call).await.expect("accept");
    let Some(agent_command::Command::Launch(launched)) = agent.next().await else {
        panic!("expected a launch");
    };
    let task_resources = launched.tasks[0].resources.as_ref();
    assert_eq!(text(task_resources), "cpus(ads):1;mem(ads):512MiB");
    let state = master
        .state_where(|s| {
            s.agents.first().is_some_and(|a| {
                text(a.total.as_ref()) == "cpus:2;cpus(ads):2;mem:3GiB;mem(ads):1GiB"
            })
        })
        .await;
    let total = state.agents[0].total.as_ref();
    assert_eq!(text(total), "cpus:2;cpus(ads):2;mem:3GiB;mem(ads):1GiB");
    let role = master.role("ads").await.expect("role ads");
    assert_eq!(amount(role.reserved.as_ref(), "cpus", ""), 2.0);

    // The rest comes back to `ads` at once (refuse 0), reserved part included.
    let rest = next_offers(&mut ads_events).await.remove(0);
    assert_eq!(
        text(rest.resources.as_ref()),
        "cpus:2;cpus(ads):1;mem:3GiB;mem(ads):512MiB"
    );

    // Another role sees only the unreserved part once `ads` lets go of it for an hour.
    let (_, mut web_events) = master.subscribe("web", &["web"]).await;
    let decline = DeclineRequest {
        framework_id: ads.clone(),
        offer_ids: vec![rest.id],
        filters: Some(Filters {
            refuse_seconds: Some(3600.0),
        }),
    };
    master
        .scheduler_for(&ads)
        .decline(decline)
        .await
        .expect("decline");
    let web_offer = next_offers(&mut web_events).await.remove(0);
    assert!(no_reservation_for(&web_offer, "ads"), "{web_offer:?}");
    assert_eq!(text(web_offer.resources.as_ref()), "cpus:2;mem:3GiB");

    // UNRESERVE what the task does not use: it is unreserved in the state at once.
    let revive = ReviveRequest {
        framework_id: ads.clone(),
        roles: vec![],
    };
    let mut ads_calls = master.scheduler_for(&ads);
    ads_calls.revive(revive).await.expect("revive");
    let reserved = next_offers(&mut ads_events).await.remove(0);
    assert_eq!(
        text(reserved.resources.as_ref()),
        "cpus(ads):1;mem(ads):512MiB"
    );
    let call = accept(
        &ads,
        &reserved,
        vec![unreserve("cpus(ads):1;mem(ads):512MiB")],
    );
    ads_calls.accept(call).await.expect("accept");
    let state = master
        .state_where(|s| {
            s.agents.first().is_some_and(|a| {
                text(a.total.as_ref()) == "cpus:3;cpus(ads):1;mem:3584MiB;mem(ads):512MiB"
            })
        })
        .await;
    let total = state.agents[0].total.as_ref();
    assert_eq!(
        text(total),
        "cpus:3;cpus(ads):1;mem:3584MiB;mem(ads):512MiB"
    );
}

#[tokio::test]
async fn an_offer_operation_that_does_not_fit_changes_nothing() {
    let master = start(|_| {}).await;
    let (ads, mut events) = master.subscribe("ads", &["ads"]).await;
    let _agent = master.register(res("cpus:4;mem:4GiB"), "").await;
    let offer = next_offers(&mut events).await.remove(0);

    // Malformed: a RESERVE entry without a role is refused whole, the offer stays.
    let call = accept(&ads, &offer, vec![reserve("cpus:1")]);
    let err = master.scheduler().accept(call).await.err();
    assert_eq!(err.map(|s| s.code()), Some(Code::InvalidArgument));

    // Another role's reservation, and more than the offer holds: an ERROR event, the
    // offer's resources return unchanged and are offered again.
    for bad in ["cpus(web):1", "cpus(ads):5"] {
        let offer = if bad == "cpus(web):1" {
            offer.clone()
        } else {
            next_offers(&mut events).await.remove(0)
        };
        let call = accept(&ads, &offer, vec![reserve(bad)]);
        master
            .scheduler()
            .accept(call)
            .await
            .expect("accept answers");
        let message = wait_for(&mut events, |e| match e {
            event::Event::Error(err) => Some(err.message.clone()),
            _ => None,
        })
        .await;
        assert!(message.contains("RESERVE"), "{message}");
        // Nothing was reserved: the state shows the agent as it registered.
        let state = master.state_where(|s| !s.agents.is_empty()).await;
        assert_eq!(text(state.agents[0].total.as_ref()), "cpus:4;mem:4GiB");
    }
    let again = next_offers(&mut events).await.remove(0);
    assert_eq!(text(again.resources.as_ref()), "cpus:4;mem:4GiB");
}

#[tokio::test]
async fn the_operator_reserves_and_unreserves_rescinding_offers_in_the_way() {
    let master = start(|_| {}).await;
    let (_, mut web_events) = master.subscribe("web", &["web"]).await;
    let agent = master.register(res("cpus:4;mem:4GiB"), "").await;
    let held = next_offers(&mut web_events).await.remove(0);

    let request = ReserveResourcesRequest {
        agent_id: agent.id.clone(),
        resources: Some(res("cpus:2;mem:1GiB")),
        role: "ads".into(),
    };
    master
        .operator()
        .reserve_resources(request)
        .await
        .expect("reserve");
    let rescinded = wait_for(&mut web_events, |e| match e {
        event::Event::Rescind(r) => Some(r.offer_id.clone()),
        _ => None,
    })
    .await;
    assert_eq!(rescinded, held.id);
    let state = master
        .state_where(|s| {
            s.agents.first().is_some_and(|a| {
                text(a.total.as_ref()) == "cpus:2;cpus(ads):2;mem:3GiB;mem(ads):1GiB"
            })
        })
        .await;
    assert_eq!(
        text(state.agents[0].total.as_ref()),
        "cpus:2;cpus(ads):2;mem:3GiB;mem(ads):1GiB"
    );
    let again = next_offers(&mut web_events).await.remove(0);
    assert_eq!(text(again.resources.as_ref()), "cpus:2;mem:3GiB");

    let (_, mut ads_events) = master.subscribe("ads", &["ads"]).await;
    let reserved = next_offers(&mut ads_events).await.remove(0);
    assert_eq!(
        text(reserved.resources.as_ref()),
        "cpus(ads):2;mem(ads):1GiB"
    );

    // Unreserving what `ads` is offered rescinds that offer first.
    let request = UnreserveResourcesRequest {
        agent_id: agent.id.clone(),
        resources: Some(res("cpus(ads):2;mem(ads):1GiB")),
        role: String::new(),
    };
    master
        .operator()
        .unreserve_resources(request)
        .await
        .expect("unreserve");
    let rescinded = wait_for(&mut ads_events, |e| match e {
        event::Event::Rescind(r) => Some(r.offer_id.clone()),
        _ => None,
    })
    .await;
    assert_eq!(rescinded, reserved.id);
    let state = master
        .state_where(|s| {
            s.agents
                .first()
                .is_some_and(|a| text(a.total.as_ref()) == "cpus:4;mem:4GiB")
        })
        .await;
    assert_eq!(text(state.agents[0].total.as_ref()), "cpus:4;mem:4GiB");
}

#[tokio::test]
async fn operator_reservations_are_checked() {
    let master = start(|_| {}).await;
    let agent = master.register(res("cpus:4;mem:4GiB"), "").await;
    let reserve = |agent_id: &str, resources: &str, role: &str| ReserveResourcesRequest {
        agent_id: agent_id.into(),
        resources: Some(res(resources)),
        role: role.into(),
    };
    let mut operator = master.operator();
    let cases = [
        (reserve("nope", "cpus:1", "ads"), Code::NotFound),
        (reserve("", "cpus:1", "ads"), Code::InvalidArgument),
        (reserve(&agent.id, "cpus:1", "*"), Code::InvalidArgument),
        (reserve(&agent.id, "cpus:1", ""), Code::InvalidArgument),
        (
            reserve(&agent.id, "cpus(web):1", "ads"),
            Code::InvalidArgument,
        ),
        (reserve(&agent.id, "cpus:1", "a b"), Code::InvalidArgument),
        (
            reserve(&agent.id, "cpus:5", "ads"),
            Code::FailedPrecondition,
        ),
    ];
    for (request, expected) in cases {
        let shown = format!("{request:?}");
        assert_eq!(
            code(operator.reserve_resources(request).await),
            expected,
            "{shown}"
        );
    }
    let unreserve = UnreserveResourcesRequest {
        agent_id: agent.id.clone(),
        resources: Some(res("cpus:1")),
        role: "ads".into(),
    };
    let result = operator.unreserve_resources(unreserve).await;
    assert_eq!(code(result), Code::FailedPrecondition);
    // Nothing was reserved: the state shows the agent as it registered.
    let state = master.state_where(|s| !s.agents.is_empty()).await;
    assert_eq!(text(state.agents[0].total.as_ref()), "cpus:4;mem:4GiB");
}

fn code<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Code {
    result.err().map_or(Code::Ok, |status| status.code())
}
