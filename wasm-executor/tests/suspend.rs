//! Suspension: a suspended guest uses no CPU, keeps its work, and runs on from where it
//! stopped once resumed; time suspended does not count toward its wall-clock limit, and a kill
//! still ends it at once. How fast suspend and resume take effect is measured by
//! `benches/suspend.rs`.
//!
//! The tests run on two worker threads: a spinning guest yields to its runtime only now and
//! then, so on one thread the test would see it only between its long polls.

mod common;

use std::time::Duration;

use common::{Sandbox, executor, load, run};
use wasmesos_guest_artifacts as guests;
use wasmesos_test_support::{assert_eventually, scaled};
use wasmesos_wasm_executor::{FailureReason, Outcome};

/// How long a suspended guest is watched for CPU use.
const WINDOW: Duration = Duration::from_millis(300);

/// CPU a suspended task may still be charged in [`WINDOW`]: at most the poll that was running
/// when it was asked to stop, which ends at its next epoch check.
const SLACK: Duration = Duration::from_millis(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_spin_uses_no_cpu_and_finishes_its_work_once_resumed() {
    let spin = load(guests::SPIN).await;
    // The same work run straight through: the suspended run must print the same state.
    let rounds = "300000000".to_string();
    let straight = Sandbox::new();
    let mut spec = straight.spec("spin-straight");
    spec.args = vec![rounds.clone()];
    let report = run(&spin, spec).await;
    assert!(
        matches!(report.outcome, Outcome::Finished { exit_code: 0, .. }),
        "{report:?}"
    );
    let expected = straight.read("stdout");
    assert!(expected.starts_with("spin N="), "{expected}");

    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("spin-suspended");
    spec.args = vec![rounds];
    let task = executor().launch(&spin, spec).expect("launches");
    let handle = task.kill_handle();
    assert_eventually!(
        "the guest to run",
        Duration::from_secs(30),
        !task.cpu_time().is_zero()
    );
    assert!(handle.suspend(), "it was running");
    assert_eventually!(
        "the guest to pause",
        scaled(Duration::from_secs(5)),
        handle.suspension().last_suspend_latency.is_some()
    );
    let before = task.cpu_time();
    tokio::time::sleep(WINDOW).await;
    let during = task.cpu_time() - before;
    assert!(during <= SLACK, "{during:?} of CPU while suspended");
    assert!(handle.suspension().suspended);

    assert!(handle.resume(), "it was suspended");
    let report = tokio::time::timeout(scaled(Duration::from_secs(60)), task.wait())
        .await
        .expect("the resumed spin finishes");
    assert!(
        matches!(report.outcome, Outcome::Finished { exit_code: 0, .. }),
        "{report:?}"
    );
    assert_eq!(
        sandbox.read("stdout"),
        expected,
        "the same work, not restarted"
    );
    let stats = handle.suspension();
    assert!(stats.total >= WINDOW, "{stats:?}");
    assert!(stats.last_resume_latency.is_some(), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_suspended_does_not_count_toward_the_timeout() {
    let spin = load(guests::SPIN).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("spin-timeout");
    let timeout = Duration::from_millis(400);
    spec.limits.timeout = Some(timeout);
    let task = executor().launch(&spin, spec).expect("launches");
    let handle = task.kill_handle();
    handle.suspend();
    let waited = tokio::spawn(task.wait());
    // Twice the timeout, suspended: still not timed out.
    tokio::time::sleep(timeout * 2).await;
    assert!(!waited.is_finished(), "timed out while suspended");
    handle.resume();
    let report = tokio::time::timeout(scaled(Duration::from_secs(30)), waited)
        .await
        .expect("the timeout ends the resumed spin")
        .expect("the runner");
    assert!(
        matches!(report.outcome, Outcome::Failed(FailureReason::Timeout)),
        "{:?}",
        report.outcome
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_ends_a_suspended_task() {
    let spin = load(guests::SPIN).await;
    let sandbox = Sandbox::new();
    let task = executor()
        .launch(&spin, sandbox.spec("spin-killed"))
        .expect("launches");
    let handle = task.kill_handle();
    assert_eventually!(
        "the guest to run",
        Duration::from_secs(30),
        !task.cpu_time().is_zero()
    );
    handle.suspend();
    assert_eventually!(
        "the guest to pause",
        scaled(Duration::from_secs(5)),
        handle.suspension().last_suspend_latency.is_some()
    );
    handle.kill();
    let report = tokio::time::timeout(scaled(Duration::from_secs(10)), task.wait())
        .await
        .expect("the kill ends it");
    assert_eq!(report.outcome, Outcome::Killed);
}
