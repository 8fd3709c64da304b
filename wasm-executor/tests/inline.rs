//! `Executor::launch_inline`: the task runs inside `RunningTask::wait`, and a handle dropped
//! unwaited still runs its task to the end.

mod common;

use std::time::Duration;

use common::{Sandbox, assert_failed, executor, load};
use wasmesos_guest_artifacts as guests;
use wasmesos_test_support::{assert_eventually, scaled};
use wasmesos_wasm_executor::{FailureReason, Outcome};

#[tokio::test(flavor = "current_thread")]
async fn an_inline_task_runs_only_inside_wait() {
    let hello = load(guests::HELLO).await;
    let sandbox = Sandbox::new();
    let task = executor()
        .launch_inline(&hello, sandbox.spec("inline"))
        .expect("launches");
    // A spawned task would run during these yields on this single-threaded runtime.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(task.cpu_time().is_zero());
    assert_eq!(sandbox.read("stdout"), "");
    let report = task.wait().await;
    assert_eq!(
        report.outcome.reason_code(),
        "finished",
        "{:?}",
        report.outcome
    );
    assert!(sandbox.read("stdout").contains("hello from wasmesos"));
}

#[tokio::test(flavor = "current_thread")]
async fn an_inline_task_dropped_unwaited_still_runs_to_its_end() {
    let hello = load(guests::HELLO).await;
    let sandbox = Sandbox::new();
    let task = executor()
        .launch_inline(&hello, sandbox.spec("detached"))
        .expect("launches");
    drop(task);
    assert_eventually!(
        "the detached task to write its output",
        Duration::from_secs(60),
        sandbox.read("stdout").contains("hello from wasmesos")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_inline_task_killed_before_it_is_waited_for_ends_killed() {
    let spin = load(guests::SPIN).await;
    let sandbox = Sandbox::new();
    let task = executor()
        .launch_inline(&spin, sandbox.spec("killed-early"))
        .expect("launches");
    task.kill_handle().kill();
    let report = tokio::time::timeout(scaled(Duration::from_secs(30)), task.wait())
        .await
        .expect("a killed task ends");
    assert_eq!(report.outcome, Outcome::Killed);
}

#[tokio::test(flavor = "current_thread")]
async fn an_inline_task_in_a_tight_loop_hits_its_timeout() {
    let spin = load(guests::SPIN).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("inline-timeout");
    spec.limits.timeout = Some(Duration::from_millis(200));
    let task = executor().launch_inline(&spin, spec).expect("launches");
    let report = tokio::time::timeout(scaled(Duration::from_secs(30)), task.wait())
        .await
        .expect("the timeout ends the task");
    assert_failed(&report, &FailureReason::Timeout);
    assert!(
        report.duration >= Duration::from_millis(200),
        "{:?}",
        report.duration
    );
}
