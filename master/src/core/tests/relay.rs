//! Status relay, acknowledgements, kill, reconcile and messages.

use wasmesos_proto::v1::{
    AcknowledgeRequest, Acknowledgement, ExecutorMessageRequest, FrameworkMessageRequest,
    KillRequest, Reason, ReconcileRequest, StatusUpdates, TaskState, TaskStatus, agent_command,
    event, reconcile_request,
};

use super::*;

/// One agent with two running tasks (`t1`, `t2`, one cpu each) of one framework.
fn two_running() -> (Harness, String, String) {
    let mut h = Harness::new();
    let agent = h.register("cpus:4;mem:4GiB");
    let fw = h.subscribe("fw", &[]);
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
            ("t1", TaskState::TaskStarting, 1),
            ("t1", TaskState::TaskRunning, 2),
            ("t2", TaskState::TaskRunning, 3),
        ],
    );
    h.take();
    (h, fw, agent)
}

#[test]
fn updates_are_relayed_in_order_in_one_event() {
    let mut h = Harness::new();
    let agent = h.register("cpus:4;mem:4GiB");
    let fw = h.subscribe("fw", &[]);
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    h.accept(
        &fw,
        &[&offer.id],
        vec![task("t1", &agent, "cpus:1;mem:1GiB")],
        None,
    );
    h.take();
    h.report(
        &agent,
        &fw,
        &[
            ("t1", TaskState::TaskStarting, 1),
            ("t1", TaskState::TaskRunning, 2),
            ("t1", TaskState::TaskFinished, 3),
        ],
    );
    let out = h.take();
    assert_eq!(out.events[&fw].len(), 1, "coalesced into one UPDATE");
    let states: Vec<i32> = updates(&out, &fw).iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        vec![
            TaskState::TaskStarting as i32,
            TaskState::TaskRunning as i32,
            TaskState::TaskFinished as i32
        ]
    );
    let relayed = &updates(&out, &fw)[2];
    assert_eq!(relayed.agent_id, agent);
    assert_eq!(relayed.uuid, vec![3; 16]);
    let state = h.cluster_state();
    assert_eq!(state.tasks[0].state, TaskState::TaskFinished as i32);
}

#[test]
fn a_duplicated_terminal_update_frees_resources_once_and_is_relayed_again() {
    let (mut h, fw, agent) = two_running();
    assert_eq!(h.agent_usage(&agent).0.scalar("cpus"), 2.0);
    h.report(&agent, &fw, &[("t1", TaskState::TaskFinished, 7)]);
    h.report(&agent, &fw, &[("t1", TaskState::TaskFinished, 8)]);
    let out = h.take();
    assert_eq!(
        updates(&out, &fw).len(),
        2,
        "duplicates are relayed: an ack may have been lost"
    );
    // Freed once: t2 still holds its cpu.
    assert_eq!(h.agent_usage(&agent).0.scalar("cpus"), 1.0);
    // A late non-terminal duplicate does not rewrite history.
    h.report(&agent, &fw, &[("t1", TaskState::TaskRunning, 2)]);
    let state = h.cluster_state();
    let t1 = state.tasks.iter().find(|t| t.task_id == "t1").expect("t1");
    assert_eq!(t1.state, TaskState::TaskFinished as i32);
    assert_eq!(h.agent_usage(&agent).0.scalar("cpus"), 1.0);
}

#[test]
fn a_retried_earlier_update_is_relayed_but_never_moves_the_task_back() {
    let (mut h, fw, agent) = two_running();
    // The framework has not acknowledged t1's STARTING, so the agent resends it after
    // RUNNING: the framework gets it again, and the task stays RUNNING.
    h.report(&agent, &fw, &[("t1", TaskState::TaskStarting, 1)]);
    let out = h.take();
    let relayed: Vec<i32> = updates(&out, &fw).iter().map(|s| s.state).collect();
    assert_eq!(relayed, vec![TaskState::TaskStarting as i32]);
    let state = h.cluster_state();
    let t1 = state.tasks.iter().find(|t| t.task_id == "t1").expect("t1");
    assert_eq!(t1.state, TaskState::TaskRunning as i32, "{t1:?}");
    // A newer RUNNING (a health change) is still recorded.
    h.report(&agent, &fw, &[("t1", TaskState::TaskRunning, 9)]);
    let state = h.cluster_state();
    let t1 = state.tasks.iter().find(|t| t.task_id == "t1").expect("t1");
    assert_eq!(t1.state, TaskState::TaskRunning as i32);
}

#[test]
fn a_terminal_update_offers_the_freed_resources_again() {
    let (mut h, fw, agent) = two_running();
    let other = h.subscribe("other", &[]);
    h.settle();
    let first = only_offer(&h.take(), &other);
    assert_eq!(first.resources.unwrap_or_default().scalar("cpus"), 2.0);
    h.report(&agent, &fw, &[("t2", TaskState::TaskFailed, 4)]);
    h.settle();
    let freed = only_offer(&h.take(), &other);
    assert_eq!(freed.resources.unwrap_or_default().scalar("cpus"), 1.0);
}

#[test]
fn acknowledgements_go_to_the_agent_batched() {
    let (mut h, fw, agent) = two_running();
    let ack = |task: &str, uuid: u8, agent_id: &str| Acknowledgement {
        agent_id: agent_id.into(),
        task_id: task.into(),
        uuid: vec![uuid; 16],
    };
    let req = AcknowledgeRequest {
        framework_id: fw.clone(),
        acks: vec![ack("t1", 1, &agent), ack("t1", 2, ""), ack("t2", 3, &agent)],
    };
    h.core.acknowledge(req, h.now).expect("ack");
    let out = h.take();
    let acks: Vec<&agent_command::Acknowledge> = commands(&out, &agent)
        .filter_map(|c| match c {
            agent_command::Command::Acknowledge(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(acks.len(), 1, "one command carries the batch");
    assert_eq!(acks[0].acks.len(), 3);
    assert!(acks[0].acks.iter().all(|a| a.framework_id == fw));
    let bad = AcknowledgeRequest {
        framework_id: fw.clone(),
        acks: vec![ack("", 1, &agent)],
    };
    assert!(matches!(
        h.core.acknowledge(bad, h.now),
        Err(crate::Error::InvalidArgument(_))
    ));
}

#[test]
fn kill_reaches_the_agent_and_unknown_or_finished_tasks_get_a_status() {
    let (mut h, fw, agent) = two_running();
    let kill = |task: &str| KillRequest {
        framework_id: fw.clone(),
        task_id: task.into(),
        kill_policy: None,
    };
    h.core.kill(kill("t1"), h.now).expect("kill");
    let out = h.take();
    assert!(
        commands(&out, &agent)
            .any(|c| matches!(c, agent_command::Command::Kill(k) if k.task_id == "t1"))
    );
    assert!(updates(&out, &fw).is_empty());

    h.core.kill(kill("ghost"), h.now).expect("kill unknown");
    let lost = updates(&h.take(), &fw);
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].state, TaskState::TaskLost as i32);
    assert_eq!(lost[0].reason, Reason::TaskUnknown as i32);

    h.report(&agent, &fw, &[("t2", TaskState::TaskFinished, 5)]);
    h.take();
    h.core.kill(kill("t2"), h.now).expect("kill finished");
    let out = h.take();
    let latest = updates(&out, &fw);
    assert_eq!(latest[0].state, TaskState::TaskFinished as i32);
    assert!(latest[0].uuid.is_empty(), "answers need no ack");
    assert!(!commands(&out, &agent).any(|c| matches!(c, agent_command::Command::Kill(_))));
}

#[test]
fn operator_kill_and_locate_find_tasks_by_id() {
    let (mut h, _fw, agent) = two_running();
    h.core
        .operator_kill(None, "t1", h.now)
        .expect("operator kill");
    assert!(commands(&h.take(), &agent).any(|c| matches!(c, agent_command::Command::Kill(_))));
    assert!(matches!(
        h.core.operator_kill(None, "nope", h.now),
        Err(crate::Error::NotFound(_))
    ));
    let location = h.snapshot().locate_task("t2").expect("located");
    assert_eq!(location.agent_id, agent);
    assert_eq!(location.address, "http://127.0.0.1:5051");
    assert!(matches!(
        h.snapshot().locate_task("nope"),
        Err(crate::Error::NotFound(_))
    ));
}

#[test]
fn messages_flow_both_ways() {
    let (mut h, fw, agent) = two_running();
    let to_task = FrameworkMessageRequest {
        framework_id: fw.clone(),
        agent_id: String::new(),
        task_id: "t1".into(),
        data: b"ping".to_vec(),
    };
    h.core.message(to_task.clone(), h.now).expect("message");
    let out = h.take();
    assert!(commands(&out, &agent).any(|c| matches!(c,
        agent_command::Command::Message(m) if m.task_id == "t1" && m.data == b"ping" && m.framework_id == fw)));
    let wrong_task = FrameworkMessageRequest {
        task_id: "ghost".into(),
        ..to_task
    };
    assert!(matches!(
        h.core.message(wrong_task, h.now),
        Err(crate::Error::NotFound(_))
    ));

    let from_task = ExecutorMessageRequest {
        agent_id: agent.clone(),
        framework_id: fw.clone(),
        task_id: "t1".into(),
        data: b"echo:ping".to_vec(),
    };
    h.core
        .executor_message(from_task.clone(), h.now)
        .expect("executor message");
    let out = h.take();
    let got = out.events[&fw].iter().find_map(|e| match e.event.as_ref() {
        Some(event::Event::Message(m)) => Some(m.clone()),
        _ => None,
    });
    assert!(
        got.is_some_and(|m| m.data == b"echo:ping" && m.agent_id == agent && m.task_id == "t1")
    );
    let stranger = ExecutorMessageRequest {
        agent_id: "m-A404".into(),
        ..from_task.clone()
    };
    assert!(matches!(
        h.core.executor_message(stranger, h.now),
        Err(crate::Error::NotRegistered(_))
    ));
    // A registered agent speaks only for the tasks it runs: not for another agent's, nor
    // for a task id the framework never launched.
    let other = h.register("cpus:1;mem:1GiB");
    h.take();
    for (agent_id, task_id) in [(other.as_str(), "t1"), (agent.as_str(), "never-launched")] {
        let forged = ExecutorMessageRequest {
            agent_id: agent_id.into(),
            task_id: task_id.into(),
            ..from_task.clone()
        };
        assert!(matches!(
            h.core.executor_message(forged, h.now),
            Err(crate::Error::NotFound(_))
        ));
        assert!(
            h.take()
                .events
                .get(&fw)
                .is_none_or(|events| events.is_empty())
        );
    }
}

#[test]
fn reconcile_answers_with_latest_states_and_lost_for_unknown() {
    let (mut h, fw, agent) = two_running();
    h.report(&agent, &fw, &[("t2", TaskState::TaskFinished, 5)]);
    h.take();
    let implicit = ReconcileRequest {
        framework_id: fw.clone(),
        tasks: vec![],
    };
    h.core.reconcile(implicit, h.now).expect("reconcile");
    let answers = updates(&h.take(), &fw);
    assert_eq!(answers.len(), 1, "implicit covers active tasks only");
    assert_eq!(answers[0].task_id, "t1");
    assert_eq!(answers[0].state, TaskState::TaskRunning as i32);
    assert!(answers[0].uuid.is_empty());
    let explicit = ReconcileRequest {
        framework_id: fw.clone(),
        tasks: ["t2", "ghost"]
            .iter()
            .map(|id| reconcile_request::ReconcileTask {
                task_id: id.to_string(),
                agent_id: String::new(),
            })
            .collect(),
    };
    h.core.reconcile(explicit, h.now).expect("reconcile");
    let answers = updates(&h.take(), &fw);
    assert_eq!(answers[0].state, TaskState::TaskFinished as i32);
    assert_eq!(answers[1].state, TaskState::TaskLost as i32);
}

#[test]
fn malformed_status_batches_are_refused_whole() {
    let (mut h, fw, agent) = two_running();
    let batch = |statuses: Vec<TaskStatus>| StatusUpdates {
        agent_id: agent.clone(),
        statuses,
    };
    let good = TaskStatus {
        task_id: "t1".into(),
        framework_id: fw.clone(),
        state: TaskState::TaskFinished as i32,
        ..TaskStatus::default()
    };
    let no_id = TaskStatus {
        task_id: String::new(),
        ..good.clone()
    };
    let bad_state = TaskStatus {
        state: 999,
        ..good.clone()
    };
    for bad in [no_id, bad_state] {
        let result = h.core.status_updates(batch(vec![good.clone(), bad]), h.now);
        assert!(matches!(result, Err(crate::Error::InvalidArgument(_))));
    }
    let state = h.cluster_state();
    let t1 = state.tasks.iter().find(|t| t.task_id == "t1").expect("t1");
    assert_eq!(t1.state, TaskState::TaskRunning as i32, "nothing applied");
    let stranger = StatusUpdates {
        agent_id: "m-A404".into(),
        statuses: vec![good],
    };
    assert!(matches!(
        h.core.status_updates(stranger, h.now),
        Err(crate::Error::NotRegistered(_))
    ));
}

#[test]
fn updates_for_a_disconnected_framework_are_held_back_by_the_agent() {
    let (mut h, fw, agent) = two_running();
    h.core.framework_disconnected(&fw, h.now);
    h.report(&agent, &fw, &[("t1", TaskState::TaskFinished, 6)]);
    let out = h.take();
    assert!(updates(&out, &fw).is_empty());
    assert!(
        !commands(&out, &agent).any(|c| matches!(c, agent_command::Command::Acknowledge(_))),
        "no ack: the agent must resend once the framework is back"
    );
}

#[test]
fn a_status_from_another_agent_or_for_an_unknown_task_is_dropped_and_acknowledged() {
    let (mut h, fw, agent) = two_running();
    let forger = h.register("cpus:1;mem:1GiB");
    h.settle();
    h.take();
    // Another agent claims t1 finished, and reports a task nobody launched.
    h.report(
        &forger,
        &fw,
        &[
            ("t1", TaskState::TaskFinished, 9),
            ("ghost", TaskState::TaskFinished, 10),
        ],
    );
    let out = h.take();
    assert!(
        updates(&out, &fw).is_empty(),
        "a framework never sees another agent's claim about its task"
    );
    let acked: Vec<Vec<u8>> = commands(&out, &forger)
        .filter_map(|c| match c {
            agent_command::Command::Acknowledge(a) => Some(a.acks.clone()),
            _ => None,
        })
        .flatten()
        .map(|a| a.uuid)
        .collect();
    assert_eq!(
        acked,
        vec![vec![9; 16], vec![10; 16]],
        "acknowledged for the framework, so an honest agent stops resending"
    );
    assert_eq!(h.core.metrics().invalid_status_updates.get(), 2);
    let state = h.cluster_state();
    let t1 = state.tasks.iter().find(|t| t.task_id == "t1").expect("t1");
    assert_eq!(t1.state, TaskState::TaskRunning as i32, "t1 still runs");
    assert_eq!(h.agent_usage(&agent).0.scalar("cpus"), 2.0, "nothing freed");
    // The agent the task runs on is still heard.
    h.report(&agent, &fw, &[("t1", TaskState::TaskFinished, 11)]);
    assert_eq!(updates(&h.take(), &fw).len(), 1);
}

#[test]
fn an_operator_kill_of_a_task_id_two_frameworks_run_names_the_framework() {
    let mut h = Harness::new();
    let agent = h.register("cpus:4;mem:4GiB");
    let mut frameworks = Vec::new();
    for name in ["a", "b"] {
        // Each subscribes alone, so the agent's rest is offered to it.
        let fw = h.subscribe(name, &[]);
        h.settle();
        let offer = only_offer(&h.take(), &fw);
        h.accept(
            &fw,
            &[&offer.id],
            vec![task("same", &agent, "cpus:1;mem:1GiB")],
            Some(3600.0),
        );
        h.report(&agent, &fw, &[("same", TaskState::TaskRunning, 1)]);
        h.take();
        frameworks.push(fw);
    }
    let (a, b) = (frameworks[0].clone(), frameworks[1].clone());
    let refused = h.core.operator_kill(None, "same", h.now);
    let Err(crate::Error::Conflict(why)) = refused else {
        panic!("an ambiguous kill went through: {refused:?}");
    };
    let mut names = [a.as_str(), b.as_str()];
    names.sort_unstable();
    assert!(why.contains(&names.join(", ")), "{why}");
    assert!(
        !commands(&h.take(), &agent).any(|c| matches!(c, agent_command::Command::Kill(_))),
        "nothing killed"
    );
    h.core
        .operator_kill(Some(&b), "same", h.now)
        .expect("named");
    let kills: Vec<String> = commands(&h.take(), &agent)
        .filter_map(|c| match c {
            agent_command::Command::Kill(k) => Some(k.framework_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(kills, vec![b.clone()], "only b's task");
    assert!(matches!(
        h.core.operator_kill(Some("nobody"), "same", h.now),
        Err(crate::Error::NotFound(_))
    ));
}
