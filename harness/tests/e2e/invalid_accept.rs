//! Every invalid ACCEPT: nothing launches, each task gets TASK_ERROR with the reason, and the
//! offer's resources come straight back (the next offer is the whole agent again).

use wasmesos_guest_artifacts::HELLO;
use wasmesos_harness::{Cluster, ClusterConfig, SchedulerEvent, TestFramework};
use wasmesos_proto::{Offer, Reason, TaskInfo, TaskState, TaskSummary};
use wasmesos_sdk_scheduler::{TaskBuilder, refuse_for};

use crate::common::{MIB, small_task, tracing, upload};

const AGENT_CPUS: f64 = 4.0;

/// Declines partial offers until one holds the whole agent; returns it.
async fn whole_agent_offer(framework: &mut TestFramework) -> Offer {
    loop {
        let mut offers = framework.next_offers().await.expect("offers");
        let whole = offers.iter().position(|offer| {
            offer.resources.as_ref().map(|r| r.scalar("cpus")) == Some(AGENT_CPUS)
        });
        let chosen = whole.map(|index| offers.remove(index));
        if !offers.is_empty() {
            let ids = offers.into_iter().map(|offer| offer.id);
            let refuse = Some(refuse_for(std::time::Duration::ZERO));
            framework
                .driver
                .decline(ids, refuse)
                .await
                .expect("decline");
        }
        if let Some(offer) = chosen {
            return offer;
        }
    }
}

/// The master's records of these task ids.
async fn records_of(cluster: &Cluster, task_ids: &[String]) -> Vec<TaskSummary> {
    let state = cluster.state().await.expect("state");
    state
        .tasks
        .into_iter()
        .filter(|task| task_ids.contains(&task.task_id))
        .collect()
}

/// The records of these task ids once every one of them is terminal. The master's state is
/// a published snapshot that may trail the update stream a framework reads by a moment.
async fn settled_records_of(cluster: &Cluster, task_ids: &[String]) -> Vec<TaskSummary> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let records = records_of(cluster, task_ids).await;
        if records.iter().all(is_terminal) || tokio::time::Instant::now() > deadline {
            return records;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn is_terminal(record: &TaskSummary) -> bool {
    !matches!(
        record.state(),
        TaskState::TaskStaging | TaskState::TaskStarting | TaskState::TaskRunning
    )
}

/// Sends the ACCEPT and checks that each task ends in TASK_ERROR with `reason`, that none of
/// them runs, and that the whole agent is offered again.
async fn expect_refused(
    framework: &mut TestFramework,
    cluster: &Cluster,
    offer_ids: Vec<String>,
    tasks: Vec<TaskInfo>,
    reason: Reason,
    case: &str,
) {
    let mut task_ids: Vec<String> = tasks.iter().map(|task| task.task_id.clone()).collect();
    // One terminal state per task id: an id given twice ends once for the framework.
    task_ids.dedup();
    let before = settled_records_of(cluster, &task_ids).await;
    framework
        .driver
        .launch_with_filters(offer_ids, tasks, refuse_for(std::time::Duration::ZERO))
        .await
        .unwrap_or_else(|err| panic!("{case}: the call itself is well formed: {err}"));
    for task_id in &task_ids {
        let status = framework
            .wait_for_terminal(task_id)
            .await
            .unwrap_or_else(|err| panic!("{case}: {err}"));
        assert_eq!(status.state(), TaskState::TaskError, "{case}: {status:?}");
        assert_eq!(status.reason(), reason, "{case}: {status:?}");
        assert!(!status.message.is_empty(), "{case}: the update says why");
    }
    // The master records refused tasks as TASK_ERROR; a record that existed before (an
    // earlier task with the same id) must still be that earlier run, in its final state.
    for record in records_of(cluster, &task_ids).await {
        let untouched = before.iter().any(|earlier| {
            earlier.task_id == record.task_id
                && earlier.started_time == record.started_time
                && earlier.state() == record.state()
        });
        assert!(
            untouched || record.state() == TaskState::TaskError,
            "{case}: nothing may launch, yet {record:?}"
        );
    }
    let again = whole_agent_offer(framework).await;
    framework
        .driver
        .decline([again.id], Some(refuse_for(std::time::Duration::ZERO)))
        .await
        .expect("decline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_accept_launches_nothing_and_returns_the_resources() {
    tracing();
    let cluster = Cluster::start(ClusterConfig::new(1))
        .await
        .expect("cluster");
    let url = cluster.master_url();
    let mut framework = TestFramework::start(&url, "invalid", None)
        .await
        .expect("subscribe");
    let digest = upload(&framework, HELLO).await;
    let task = |id: &str| small_task(id, &digest);

    let offer = whole_agent_offer(&mut framework).await;
    let too_big = task("too-big").cpus(AGENT_CPUS + 1.0).build_for(&offer);
    expect_refused(
        &mut framework,
        &cluster,
        vec![offer.id.clone()],
        vec![too_big],
        Reason::InvalidTask,
        "resources exceed the offer",
    )
    .await;

    let offer = whole_agent_offer(&mut framework).await;
    let ids = vec![offer.id.clone(), offer.id.clone()];
    expect_refused(
        &mut framework,
        &cluster,
        ids,
        vec![task("twice").build_for(&offer)],
        Reason::InvalidOffers,
        "an offer listed twice",
    )
    .await;
    let error = framework
        .history()
        .iter()
        .rev()
        .find_map(|event| match event {
            SchedulerEvent::Error(message) => Some(message.clone()),
            _ => None,
        });
    assert!(
        error.is_some_and(|m| m.contains(&offer.id)),
        "an ERROR event names the offer"
    );

    let offer = whole_agent_offer(&mut framework).await;
    let unknown = vec!["no-such-offer".to_string()];
    let info = task("unknown-offer").build_for(&offer);
    framework
        .driver
        .decline([offer.id], Some(refuse_for(std::time::Duration::ZERO)))
        .await
        .expect("decline");
    expect_refused(
        &mut framework,
        &cluster,
        unknown,
        vec![info],
        Reason::InvalidOffers,
        "an unknown offer",
    )
    .await;

    let offer = whole_agent_offer(&mut framework).await;
    let pair = vec![task("dup").build_for(&offer), task("dup").build_for(&offer)];
    expect_refused(
        &mut framework,
        &cluster,
        vec![offer.id.clone()],
        pair,
        Reason::InvalidTask,
        "a task id twice in one ACCEPT",
    )
    .await;

    let offer = whole_agent_offer(&mut framework).await;
    let missing = TaskBuilder::new("no-executor", "0".repeat(64))
        .cpus(0.1)
        .mem(64 * MIB);
    expect_refused(
        &mut framework,
        &cluster,
        vec![offer.id.clone()],
        vec![missing.build_for(&offer)],
        Reason::ExecutorNotFound,
        "an executor never uploaded",
    )
    .await;

    for (case, builder) in [
        ("zero cpus", task("zero-cpus").cpus(0.0)),
        ("negative mem", task("negative-mem").resource("mem", -1.0)),
        (
            "no resources at all",
            TaskBuilder::new("no-resources", &digest),
        ),
    ] {
        let offer = whole_agent_offer(&mut framework).await;
        expect_refused(
            &mut framework,
            &cluster,
            vec![offer.id.clone()],
            vec![builder.build_for(&offer)],
            Reason::InvalidTask,
            case,
        )
        .await;
    }

    // A task id that an earlier, valid launch already used.
    let offer = whole_agent_offer(&mut framework).await;
    framework
        .driver
        .launch([offer.id.clone()], vec![task("used-id").build_for(&offer)])
        .await
        .expect("valid launch");
    let finished = framework
        .wait_for_terminal("used-id")
        .await
        .expect("terminal");
    assert_eq!(finished.state(), TaskState::TaskFinished, "{finished:?}");
    // …and the offer it used, which is gone now.
    expect_refused(
        &mut framework,
        &cluster,
        vec![offer.id.clone()],
        vec![task("reuse-offer").build_for(&offer)],
        Reason::InvalidOffers,
        "an offer already used",
    )
    .await;
    let offer = whole_agent_offer(&mut framework).await;
    expect_refused(
        &mut framework,
        &cluster,
        vec![offer.id.clone()],
        vec![task("used-id").build_for(&offer)],
        Reason::InvalidTask,
        "a task id already used",
    )
    .await;

    // Another framework's offer: refused for the thief, still good for its owner.
    let offer = whole_agent_offer(&mut framework).await;
    let mut thief = TestFramework::start(&url, "thief", None)
        .await
        .expect("subscribe");
    let stolen = task("stolen").build_for(&offer);
    thief
        .driver
        .launch([offer.id.clone()], vec![stolen])
        .await
        .expect("call");
    let status = thief.wait_for_terminal("stolen").await.expect("terminal");
    assert_eq!(
        (status.state(), status.reason()),
        (TaskState::TaskError, Reason::InvalidOffers),
        "{status:?}"
    );
    framework
        .driver
        .launch([offer.id.clone()], vec![task("owner").build_for(&offer)])
        .await
        .expect("owner launch");
    let owner = framework
        .wait_for_terminal("owner")
        .await
        .expect("terminal");
    assert_eq!(
        owner.state(),
        TaskState::TaskFinished,
        "the owner's offer survived: {owner:?}"
    );

    thief.teardown().await.expect("teardown");
    framework.teardown().await.expect("teardown");
}
