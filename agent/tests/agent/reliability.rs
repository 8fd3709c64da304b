//! At-least-once status updates: resent until acknowledged, in order, and then no more.

use std::time::Duration;

use wasmesos_guest_artifacts::HELLO;
use wasmesos_proto::{GetAgentStateRequest, TaskState};
use wasmesos_test_support::assert_eventually;

use crate::fake_master::AckPolicy;
use crate::support::{Cluster, task};

async fn unacknowledged(cluster: &Cluster) -> u64 {
    let mut client = cluster.client().await;
    client
        .get_agent_state(GetAgentStateRequest {})
        .await
        .expect("agent state")
        .into_inner()
        .unacknowledged_updates
}

#[tokio::test]
async fn an_update_is_resent_until_its_ack_gets_through() {
    // The master drops the acks of the first two deliveries of every update.
    let cluster = Cluster::start_with(AckPolicy::OnReceipt(3), |config| {
        config.status_update_retry = Duration::from_millis(20);
        config.status_update_retry_max = Duration::from_millis(100);
    })
    .await;
    let master = &cluster.master;
    let hello = master.upload_file(HELLO);
    master.launch("fw-1", vec![task("retried", &hello)]).await;
    let finished = master.terminal("retried").await;
    assert_eq!(finished.state(), TaskState::TaskFinished);
    master
        .until("the third delivery of the terminal update", |m| {
            let receipts = m
                .recorded()
                .receipts
                .get(&finished.uuid)
                .copied()
                .unwrap_or(0);
            (receipts >= 3).then_some(())
        })
        .await;
    wait_until_all_acknowledged(&cluster).await;
    // Once acknowledged, nothing is sent again: let a call already in flight land (one
    // heartbeat), then wait longer than the largest retry delay (4 heartbeats of 50 ms >
    // 100 ms) and compare.
    let heartbeats = master.heartbeats();
    master
        .until("a heartbeat", |m| {
            (m.heartbeats() > heartbeats).then_some(())
        })
        .await;
    let receipts_then = master.recorded().receipts.clone();
    let heartbeats = master.heartbeats();
    master
        .until("four more heartbeats", |m| {
            (m.heartbeats() >= heartbeats + 4).then_some(())
        })
        .await;
    assert_eq!(
        master.recorded().receipts,
        receipts_then,
        "acknowledged updates were resent"
    );
    let recorded = master.recorded();
    let first_seen: Vec<TaskState> = {
        let mut seen = std::collections::HashSet::new();
        recorded
            .updates
            .iter()
            .filter(|u| seen.insert(u.uuid.clone()))
            .map(|u| u.state())
            .collect()
    };
    assert_eq!(first_seen.first(), Some(&TaskState::TaskStarting));
    assert_eq!(first_seen.last(), Some(&TaskState::TaskFinished));
    for (uuid, receipts) in &recorded.receipts {
        assert!(
            *receipts >= 3,
            "update {uuid:?} acknowledged before its third delivery"
        );
    }
}

#[tokio::test]
async fn updates_wait_for_manual_acks_and_survive_a_dropped_stream() {
    let cluster = Cluster::start_with(AckPolicy::Manual, |config| {
        config.status_update_retry = Duration::from_secs(3600);
    })
    .await;
    let master = &cluster.master;
    let hello = master.upload_file(HELLO);
    master.launch("fw-1", vec![task("held", &hello)]).await;
    let finished = master.terminal("held").await;
    let before = master.updates_of("held").len();
    assert_eq!(unacknowledged(&cluster).await, before as u64);

    // Without an ack and with an hour-long retry, only a re-registration resends them.
    master.drop_stream();
    master.registrations(2).await;
    master
        .until("the resend after re-registering", |m| {
            let again = m
                .recorded()
                .receipts
                .get(&finished.uuid)
                .copied()
                .unwrap_or(0);
            (again >= 2).then_some(())
        })
        .await;
    let registrations = master.registrations(2).await;
    let report = &registrations[1].tasks;
    assert_eq!(
        report.len(),
        1,
        "an unacknowledged finished task is still reported"
    );
    assert_eq!(
        report[0].latest.as_ref().map(|s| s.state()),
        Some(TaskState::TaskFinished)
    );

    for update in master.updates_of("held") {
        master.ack(&update).await;
    }
    wait_until_all_acknowledged(&cluster).await;
}

/// Polls the agent's state until no update waits for an ack.
async fn wait_until_all_acknowledged(cluster: &Cluster) {
    assert_eventually!(
        "every update acknowledged",
        Duration::from_secs(30),
        unacknowledged(cluster).await == 0
    );
}
