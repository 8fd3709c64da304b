//! ACCEPT: a valid launch, and every invalid case launching nothing and returning resources.

use wasmesos_proto::v1::{
    AcceptRequest, FrameworkInfo, Operation, Reason, SubscribeRequest, TaskState, operation,
};

use super::*;

/// One agent (cpus:4;mem:4GiB), one framework holding its offer.
fn offered() -> (Harness, String, String, String) {
    let mut h = Harness::new();
    let fw = h.subscribe("fw", &[]);
    let agent = h.register("cpus:4;mem:4GiB");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    (h, fw, agent, offer.id)
}

/// Asserts the ACCEPT launched nothing, each listed task got TASK_ERROR with `reason`, and
/// the agent's resources are free again and re-offered at the next round.
fn assert_refused(h: &mut Harness, fw: &str, agent: &str, tasks: &[(&str, Reason)]) -> Vec<String> {
    let out = h.take();
    assert!(launches(&out, agent).is_empty(), "something launched");
    let errors = updates(&out, fw);
    assert_eq!(errors.len(), tasks.len(), "{errors:?}");
    for (status, (task_id, reason)) in errors.iter().zip(tasks) {
        assert_eq!(status.task_id, *task_id);
        assert_eq!(status.state, TaskState::TaskError as i32);
        assert_eq!(status.reason, *reason as i32, "{}", status.message);
        assert!(!status.message.is_empty());
        assert!(status.uuid.is_empty(), "master updates need no ack");
    }
    let (used, _) = h.agent_usage(agent);
    assert!(used.resources.is_empty(), "resources still used: {used:?}");
    h.settle();
    let again = only_offer(&h.take(), fw);
    assert_eq!(again.resources.unwrap_or_default().scalar("cpus"), 4.0);
    errors.into_iter().map(|s| s.message).collect()
}

#[test]
fn a_valid_accept_sends_one_launch_per_agent_and_records_staging() {
    let (mut h, fw, agent, offer) = offered();
    let mut with_data = task("t1", "", "cpus:1;mem:1GiB");
    with_data.data = b"some words to count".to_vec();
    let tasks = vec![with_data, task("t2", &agent, "cpus:2;mem:1GiB")];
    h.accept(&fw, &[&offer], tasks, Some(0.0));
    let out = h.take();
    let sent = launches(&out, &agent);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].tasks.len(), 2);
    assert_eq!(sent[0].tasks[0].data, b"some words to count");
    assert!(sent[0].tasks.iter().all(|t| t.agent_id == agent));
    assert_eq!(
        sent[0].framework.as_ref().map(|f| f.id.as_str()),
        Some(fw.as_str())
    );
    assert!(updates(&out, &fw).is_empty(), "STAGING is not sent");
    let state = h.cluster_state();
    assert_eq!(state.tasks.len(), 2);
    assert!(
        state
            .tasks
            .iter()
            .all(|t| t.state == TaskState::TaskStaging as i32)
    );
    let (used, offered) = h.agent_usage(&agent);
    assert_eq!(used.scalar("cpus"), 3.0);
    assert_eq!(offered.scalar("cpus"), 0.0);
    // refuse_seconds 0: the unused cpu comes straight back.
    h.settle();
    let rest = only_offer(&h.take(), &fw);
    assert_eq!(rest.resources.unwrap_or_default().scalar("cpus"), 1.0);
}

#[test]
fn unused_resources_are_filtered_for_the_default_five_seconds() {
    let (mut h, fw, agent, offer) = offered();
    h.accept(
        &fw,
        &[&offer],
        vec![task("t1", &agent, "cpus:1;mem:1GiB")],
        None,
    );
    h.take();
    h.advance(std::time::Duration::from_millis(4900));
    assert!(offers(&h.take(), &fw).is_empty());
    h.advance(std::time::Duration::from_millis(200));
    assert_eq!(
        only_offer(&h.take(), &fw)
            .resources
            .unwrap_or_default()
            .scalar("cpus"),
        3.0
    );
}

#[test]
fn resources_exceeding_the_offer_launch_nothing() {
    let (mut h, fw, agent, offer) = offered();
    let tasks = vec![
        task("small", &agent, "cpus:1;mem:1GiB"),
        task("big", &agent, "cpus:3.5;mem:1GiB"),
    ];
    h.accept(&fw, &[&offer], tasks, Some(60.0));
    let messages = assert_refused(
        &mut h,
        &fw,
        &agent,
        &[("small", Reason::InvalidTask), ("big", Reason::InvalidTask)],
    );
    assert!(messages[1].contains("exceed"), "{}", messages[1]);
    assert!(messages[0].contains("big"), "{}", messages[0]);
}

#[test]
fn an_offer_used_twice_is_refused_the_second_time() {
    let (mut h, fw, agent, offer) = offered();
    h.accept(
        &fw,
        &[&offer],
        vec![task("t1", &agent, "cpus:1;mem:1GiB")],
        Some(0.0),
    );
    h.take();
    h.accept(
        &fw,
        &[&offer],
        vec![task("t2", &agent, "cpus:1;mem:1GiB")],
        Some(0.0),
    );
    let out = h.take();
    assert!(launches(&out, &agent).is_empty());
    let errors = updates(&out, &fw);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].reason, Reason::InvalidOffers as i32);
    assert!(
        errors[0].message.contains("not outstanding"),
        "{}",
        errors[0].message
    );
    assert_eq!(
        super::errors(&out, &fw).len(),
        1,
        "an ERROR event explains it"
    );
}

#[test]
fn an_offer_listed_twice_in_one_accept_is_refused() {
    let (mut h, fw, agent, offer) = offered();
    h.accept(
        &fw,
        &[&offer, &offer],
        vec![task("t1", &agent, "cpus:1;mem:1GiB")],
        None,
    );
    let messages = assert_refused(&mut h, &fw, &agent, &[("t1", Reason::InvalidOffers)]);
    assert!(messages[0].contains("more than once"), "{}", messages[0]);
}

#[test]
fn someone_elses_offer_is_refused_and_stays_theirs() {
    let mut h = Harness::new();
    let owner = h.subscribe("owner", &[]);
    let agent = h.register("cpus:4;mem:4GiB");
    h.settle();
    let offer = only_offer(&h.take(), &owner);
    let thief = h.subscribe("thief", &[]);
    h.take();
    h.accept(
        &thief,
        &[&offer.id],
        vec![task("t1", &agent, "cpus:1;mem:1GiB")],
        None,
    );
    let out = h.take();
    assert!(launches(&out, &agent).is_empty());
    let errors = updates(&out, &thief);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].reason, Reason::InvalidOffers as i32);
    assert!(errors[0].message.contains("another framework"));
    // The owner can still use it.
    h.accept(
        &owner,
        &[&offer.id],
        vec![task("t1", &agent, "cpus:1;mem:1GiB")],
        None,
    );
    assert_eq!(launches(&h.take(), &agent).len(), 1);
}

#[test]
fn an_unknown_offer_is_refused() {
    let (mut h, fw, agent, offer) = offered();
    h.accept(
        &fw,
        &[&offer, "no-such-offer"],
        vec![task("t1", &agent, "cpus:1;mem:1GiB")],
        None,
    );
    let messages = assert_refused(&mut h, &fw, &agent, &[("t1", Reason::InvalidOffers)]);
    assert!(messages[0].contains("no-such-offer"));
}

#[test]
fn duplicate_task_ids_are_refused_within_an_accept_and_against_known_tasks() {
    let (mut h, fw, agent, offer) = offered();
    let tasks = vec![
        task("same", &agent, "cpus:1;mem:1GiB"),
        task("same", &agent, "cpus:1;mem:1GiB"),
    ];
    h.accept(&fw, &[&offer], tasks, None);
    let messages = assert_refused(
        &mut h,
        &fw,
        &agent,
        &[("same", Reason::InvalidTask), ("same", Reason::InvalidTask)],
    );
    assert!(messages[1].contains("already used"), "{}", messages[1]);

    // Launch "t1" for real, then try to reuse the id, even after it finished.
    let offer = h.core.offers.keys().next().cloned().expect("re-offered");
    h.accept(
        &fw,
        &[&offer],
        vec![task("t1", &agent, "cpus:1;mem:1GiB")],
        Some(0.0),
    );
    h.take();
    h.report(&agent, &fw, &[("t1", TaskState::TaskFinished, 1)]);
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    h.accept(
        &fw,
        &[&offer.id],
        vec![task("t1", &agent, "cpus:1;mem:1GiB")],
        None,
    );
    assert_refused(&mut h, &fw, &agent, &[("t1", Reason::InvalidTask)]);
}

#[test]
fn an_executor_that_was_never_uploaded_is_refused() {
    let (mut h, fw, agent, offer) = offered();
    let mut missing = task("t1", &agent, "cpus:1;mem:1GiB");
    if let Some(executor) = missing.executor.as_mut() {
        executor.digest = "cd".repeat(32);
    }
    h.accept(&fw, &[&offer], vec![missing], None);
    let messages = assert_refused(&mut h, &fw, &agent, &[("t1", Reason::ExecutorNotFound)]);
    assert!(messages[0].contains("not been uploaded"));
}

#[test]
fn non_positive_and_missing_resources_are_refused() {
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let (mut h, fw, agent, offer) = offered();
        let mut t = task("t1", &agent, "mem:1GiB");
        if let Some(r) = t.resources.as_mut() {
            r.resources.push(wasmesos_proto::v1::Resource {
                name: "cpus".into(),
                value: bad,
                ..Default::default()
            });
        }
        h.accept(&fw, &[&offer], vec![t], None);
        let messages = assert_refused(&mut h, &fw, &agent, &[("t1", Reason::InvalidTask)]);
        assert!(messages[0].contains("cpus"), "{bad}: {}", messages[0]);
    }
    let (mut h, fw, agent, offer) = offered();
    let mut empty = task("t1", &agent, "cpus:1");
    empty.resources = None;
    h.accept(&fw, &[&offer], vec![empty], None);
    assert_refused(&mut h, &fw, &agent, &[("t1", Reason::InvalidTask)]);
}

#[test]
fn task_ids_that_could_escape_a_sandbox_are_refused() {
    for bad in ["", "..", "a/b", "a\\b", "x y"] {
        let (mut h, fw, agent, offer) = offered();
        h.accept(
            &fw,
            &[&offer],
            vec![task(bad, &agent, "cpus:1;mem:1GiB")],
            None,
        );
        assert_refused(&mut h, &fw, &agent, &[(bad, Reason::InvalidTask)]);
    }
}

#[test]
fn malformed_accepts_are_invalid_arguments_and_leave_the_offer_outstanding() {
    let (mut h, fw, _agent, offer) = offered();
    let no_offers = AcceptRequest {
        framework_id: fw.clone(),
        ..AcceptRequest::default()
    };
    assert!(matches!(
        h.core.accept(no_offers, h.now),
        Err(crate::Error::InvalidArgument(_))
    ));
    let empty_op = AcceptRequest {
        framework_id: fw.clone(),
        offer_ids: vec![offer.clone()],
        operations: vec![Operation { operation: None }],
        filters: None,
    };
    assert!(matches!(
        h.core.accept(empty_op, h.now),
        Err(crate::Error::InvalidArgument(_))
    ));
    let negative_filter = AcceptRequest {
        framework_id: fw.clone(),
        offer_ids: vec![offer.clone()],
        operations: vec![],
        filters: Some(wasmesos_proto::v1::Filters {
            refuse_seconds: Some(-1.0),
        }),
    };
    assert!(matches!(
        h.core.accept(negative_filter, h.now),
        Err(crate::Error::InvalidArgument(_))
    ));
    let unsubscribed = AcceptRequest {
        framework_id: "nobody".into(),
        offer_ids: vec![offer.clone()],
        operations: vec![Operation {
            operation: Some(operation::Operation::Launch(operation::Launch::default())),
        }],
        filters: None,
    };
    assert!(matches!(
        h.core.accept(unsubscribed, h.now),
        Err(crate::Error::NotSubscribed(_))
    ));
    assert!(h.core.offers.contains_key(&offer));
}

#[test]
fn tasks_spanning_two_agents_need_agent_ids_and_launch_once_per_agent() {
    let mut h = Harness::new();
    let a1 = h.register("cpus:2;mem:2GiB");
    let a2 = h.register("cpus:2;mem:2GiB");
    let fw = h.subscribe("fw", &[]);
    h.settle();
    let ids: Vec<String> = offers(&h.take(), &fw).into_iter().map(|o| o.id).collect();
    assert_eq!(ids.len(), 2);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    h.accept(
        &fw,
        &refs,
        vec![task("anywhere", "", "cpus:1;mem:1GiB")],
        Some(0.0),
    );
    let out = h.take();
    assert!(launches(&out, &a1).is_empty() && launches(&out, &a2).is_empty());
    assert_eq!(updates(&out, &fw)[0].reason, Reason::InvalidTask as i32);
    h.settle();
    let ids: Vec<String> = offers(&h.take(), &fw).into_iter().map(|o| o.id).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let tasks = vec![
        task("a", &a1, "cpus:1;mem:1GiB"),
        task("b", &a2, "cpus:1;mem:1GiB"),
        task("c", &a2, "cpus:1;mem:1GiB"),
    ];
    h.accept(&fw, &refs, tasks, Some(0.0));
    let out = h.take();
    assert_eq!(launches(&out, &a1).len(), 1);
    assert_eq!(launches(&out, &a2).len(), 1);
    assert_eq!(launches(&out, &a2)[0].tasks.len(), 2);
}

#[test]
fn a_port_outside_the_offer_is_refused_with_the_ports_named() {
    let mut h = Harness::new();
    let fw = h.subscribe("fw", &[]);
    let agent = h.register("cpus:4;mem:4GiB;ports:[31000-31009]");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    assert_eq!(
        offer
            .resources
            .clone()
            .unwrap_or_default()
            .ranges("ports")
            .to_string(),
        "[31000-31009]",
        "the offer holds the agent's ports exactly"
    );
    let outside = task("t1", &agent, "cpus:1;ports:[31005-31005,40000-40000]");
    h.accept(&fw, &[&offer.id], vec![outside], None);
    let messages = assert_refused(&mut h, &fw, &agent, &[("t1", Reason::InvalidTask)]);
    assert!(
        messages[0].contains("ports [40000-40000] are not in the offers on agent")
            && messages[0].contains("[31000-31009] left"),
        "{}",
        messages[0]
    );
}

#[test]
fn two_tasks_of_one_accept_cannot_share_a_port() {
    let mut h = Harness::new();
    let fw = h.subscribe("fw", &[]);
    let agent = h.register("cpus:4;mem:4GiB;ports:[31000-31009]");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let tasks = vec![
        task("t1", &agent, "cpus:1;ports:[31000-31001]"),
        task("t2", &agent, "cpus:1;ports:[31001-31001]"),
    ];
    h.accept(&fw, &[&offer.id], tasks, None);
    let out = h.take();
    assert!(launches(&out, &agent).is_empty(), "nothing launched");
    let errors = updates(&out, &fw);
    let t2 = errors
        .iter()
        .find(|s| s.task_id == "t2")
        .expect("t2 refused");
    assert!(
        t2.message.contains("taken by another task of this ACCEPT"),
        "{}",
        t2.message
    );
}

#[test]
fn launched_ports_are_used_and_the_rest_offered_again() {
    let mut h = Harness::new();
    let fw = h.subscribe("fw", &[]);
    let agent = h.register("cpus:4;mem:4GiB;ports:[31000-31009]");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let tasks = vec![task("t1", &agent, "cpus:1;ports:[31003-31004]")];
    h.accept(&fw, &[&offer.id], tasks, Some(0.0));
    let sent = launches(&h.take(), &agent);
    assert_eq!(
        sent[0].tasks[0]
            .resources
            .clone()
            .unwrap_or_default()
            .ranges("ports")
            .count(),
        2
    );
    let (used, _) = h.agent_usage(&agent);
    assert_eq!(used.ranges("ports").to_string(), "[31003-31004]");
    h.settle();
    let rest = only_offer(&h.take(), &fw);
    assert_eq!(
        rest.resources
            .unwrap_or_default()
            .ranges("ports")
            .to_string(),
        "[31000-31002, 31005-31009]"
    );
}

#[test]
fn a_task_or_framework_too_large_for_a_registry_record_is_refused() {
    let mut h = Harness::new();
    let agent = h.register("cpus:4;mem:4GiB");
    let fw = h.subscribe("fw", &[]);
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let mut big = task("big", &agent, "cpus:1");
    big.data = vec![7; super::super::accept::MAX_TASK_INFO_BYTES];
    h.accept(&fw, &[&offer.id], vec![big], None);
    let update = updates(&h.take(), &fw).remove(0);
    assert_eq!(update.state(), TaskState::TaskError);
    assert!(update.message.contains("bytes encoded"), "{update:?}");

    let huge = SubscribeRequest {
        framework: Some(FrameworkInfo {
            name: "x".repeat(super::super::frameworks::MAX_FRAMEWORK_INFO_BYTES),
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    let refused = h.core.subscribe(huge, h.now);
    assert!(
        matches!(&refused, Err(crate::Error::InvalidArgument(why)) if why.contains("bytes encoded")),
        "{refused:?}"
    );
}
