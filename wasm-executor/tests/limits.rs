//! Each limit, enforced against a guest that would escape it otherwise, with its own reason.

mod common;

use std::time::Duration;

use common::{Sandbox, assert_failed, assert_host_healthy, executor, load, run};
use wasmesos_guest_artifacts as guests;
use wasmesos_test_support::{assert_eventually, scaled};
use wasmesos_wasm_executor::{FailureReason, Outcome};

const MIB: u64 = 1 << 20;

#[tokio::test]
async fn memory_bomb_stops_at_the_memory_limit() {
    let bomb = load(guests::MEMORY_BOMB).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("memory-bomb");
    spec.limits.mem_bytes = 32 * MIB;
    let report = run(&bomb, spec).await;
    assert_failed(&report, &FailureReason::MemoryLimit);
    assert!(
        report.peak_memory_bytes <= 32 * MIB,
        "{}",
        report.peak_memory_bytes
    );
    assert!(
        report.peak_memory_bytes > 16 * MIB,
        "{}",
        report.peak_memory_bytes
    );
    assert!(sandbox.read("stdout").contains("allocated 16 MiB"));
    assert_host_healthy().await;
}

/// A component with two memories that each grow by 3 pages: 8 pages in all.
const TWO_MEMORIES: &str = r#"
(component
  (core module $m
    (memory $a 1)
    (memory $b 1)
    (func (export "run") (result i32)
      (if (i32.eq (memory.grow $a (i32.const 3)) (i32.const -1)) (then unreachable))
      (if (i32.eq (memory.grow $b (i32.const 3)) (i32.const -1)) (then unreachable))
      (i32.const 0)))
  (core instance $i (instantiate $m))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli_run (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli_run)))
"#;

#[tokio::test]
async fn the_memory_limit_is_a_total_across_memories() {
    let bytes = wat::parse_str(TWO_MEMORIES).expect("valid WAT");
    let program = executor().load(&bytes).await.expect("loads");
    const PAGE: u64 = 64 * 1024;
    let sandbox = Sandbox::new();

    let mut roomy = sandbox.spec("two-memories-roomy");
    roomy.limits.mem_bytes = 8 * PAGE;
    let report = run(&program, roomy).await;
    assert_eq!(
        report.outcome.reason_code(),
        "finished",
        "{:?}",
        report.outcome
    );
    assert_eq!(report.peak_memory_bytes, 8 * PAGE);

    // Each memory alone stays under 6 pages; only their sum exceeds it.
    let mut tight = sandbox.spec("two-memories-tight");
    tight.limits.mem_bytes = 6 * PAGE;
    let report = run(&program, tight).await;
    assert_failed(&report, &FailureReason::MemoryLimit);
}

#[tokio::test]
async fn a_guest_too_big_to_instantiate_fails_with_the_memory_limit() {
    let hello = load(guests::HELLO).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("hello-tiny-mem");
    spec.limits.mem_bytes = 64 * 1024;
    assert_failed(&run(&hello, spec).await, &FailureReason::MemoryLimit);
}

#[tokio::test]
async fn fuel_bomb_exhausts_its_fuel() {
    let bomb = load(guests::FUEL_BOMB).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("fuel-bomb");
    spec.limits.fuel = Some(50_000_000);
    let report = run(&bomb, spec).await;
    assert_failed(&report, &FailureReason::FuelExhausted);
    assert_eq!(report.fuel_consumed, Some(50_000_000));
    assert_host_healthy().await;
}

#[tokio::test]
async fn a_tight_loop_times_out() {
    let spin = load(guests::SPIN).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("spin-timeout");
    spec.limits.timeout = Some(Duration::from_millis(200));
    let report = run(&spin, spec).await;
    assert_failed(&report, &FailureReason::Timeout);
    assert!(
        report.duration >= Duration::from_millis(200),
        "{:?}",
        report.duration
    );
    assert!(
        report.duration < scaled(Duration::from_secs(5)),
        "{:?}",
        report.duration
    );
}

#[tokio::test]
async fn a_guest_sleeping_in_a_host_call_times_out() {
    let sleepy = load(guests::SLEEPY).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("sleepy-timeout");
    spec.args = vec!["60000".into()];
    spec.limits.timeout = Some(Duration::from_millis(200));
    let report = run(&sleepy, spec).await;
    assert_failed(&report, &FailureReason::Timeout);
    assert!(
        report.duration < scaled(Duration::from_secs(5)),
        "{:?}",
        report.duration
    );
    assert!(!sandbox.read("stdout").contains("awake"));
}

#[tokio::test]
async fn a_timeout_does_not_fire_for_a_task_that_ends_in_time() {
    let sleepy = load(guests::SLEEPY).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("sleepy-in-time");
    spec.args = vec!["10".into()];
    spec.limits.timeout = Some(Duration::from_secs(30));
    let report = run(&sleepy, spec).await;
    assert_eq!(
        report.outcome.reason_code(),
        "finished",
        "{:?}",
        report.outcome
    );
    assert_eq!(sandbox.read("stdout"), "awake\n");
}

#[tokio::test]
async fn disk_filler_is_stopped_at_its_quota() {
    let filler = load(guests::DISK_FILLER).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("disk-filler");
    spec.limits.disk_bytes = Some(8 * MIB);
    spec.limits.timeout = Some(Duration::from_secs(60));
    let report = run(&filler, spec).await;
    assert_failed(&report, &FailureReason::DiskLimit);
    assert_host_healthy().await;
}

#[tokio::test]
async fn a_task_that_ends_over_its_quota_fails_with_the_disk_limit() {
    let filler = load(guests::DISK_FILLER).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("disk-filler-short");
    spec.args = vec!["3".into()];
    spec.limits.disk_bytes = Some(MIB);
    let report = run(&filler, spec).await;
    assert_failed(&report, &FailureReason::DiskLimit);
}

#[tokio::test]
async fn a_task_within_its_quota_finishes() {
    let filler = load(guests::DISK_FILLER).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("disk-filler-small");
    spec.args = vec!["2".into()];
    spec.limits.disk_bytes = Some(16 * MIB);
    let report = run(&filler, spec).await;
    assert_eq!(
        report.outcome.reason_code(),
        "finished",
        "{:?}",
        report.outcome
    );
}

#[tokio::test]
async fn stdout_flood_is_capped_to_its_tail_without_failing_the_guest() {
    let flood = load(guests::STDOUT_FLOOD).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("stdout-flood");
    spec.args = vec!["32".into()];
    spec.output.cap_bytes = 256 * 1024;
    let report = run(&flood, spec).await;
    assert_eq!(
        report.outcome.reason_code(),
        "finished",
        "{:?}",
        report.outcome
    );
    let stdout = std::fs::read(sandbox.path().join("stdout")).expect("stdout file");
    assert_eq!(stdout.len(), 256 * 1024);
    // 32 MiB of 64-byte lines: the last line is number 524287.
    let tail = String::from_utf8_lossy(&stdout[stdout.len() - 64..]).into_owned();
    assert!(
        tail.starts_with("flood line 00000000000000524287"),
        "{tail}"
    );
    assert_host_healthy().await;
}

#[tokio::test]
async fn an_endless_flood_stays_capped_until_its_timeout() {
    let flood = load(guests::STDOUT_FLOOD).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("stdout-flood-endless");
    spec.output.cap_bytes = 64 * 1024;
    spec.limits.timeout = Some(Duration::from_millis(500));
    let report = run(&flood, spec).await;
    assert_failed(&report, &FailureReason::Timeout);
    let size = std::fs::metadata(sandbox.path().join("stdout")).map_or(0, |m| m.len());
    assert_eq!(size, 64 * 1024);
}

#[tokio::test]
async fn deep_recursion_is_a_stack_overflow() {
    let recursion = load(guests::DEEP_RECURSION).await;
    let sandbox = Sandbox::new();
    let report = run(&recursion, sandbox.spec("deep-recursion")).await;
    assert_failed(&report, &FailureReason::StackOverflow);
    assert_host_healthy().await;
}

#[tokio::test]
async fn kill_stops_a_tight_loop_and_a_sleeper() {
    for (path, args) in [
        (guests::SPIN, vec![]),
        (guests::SLEEPY, vec!["60000".to_string()]),
    ] {
        let program = load(path).await;
        let sandbox = Sandbox::new();
        let mut spec = sandbox.spec("kill-me");
        spec.args = args;
        let task = executor().launch(&program, spec).expect("launches");
        let killer = task.kill_handle();
        killer.kill();
        let report = task.wait().await;
        assert_eq!(report.outcome, Outcome::Killed, "{path}");
    }
    assert_host_healthy().await;
}

/// A kill stops a guest deep in a tight loop, where only the epoch callback can reach it: were
/// the kill not checked there, `wait` would never return. How fast it stops (the bound is
/// 10 ms) is measured by `benches/kill.rs`, not here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_stops_a_tight_loop_that_is_already_spinning() {
    let spin = load(guests::SPIN).await;
    let sandbox = Sandbox::new();
    let task = executor()
        .launch(&spin, sandbox.spec("kill-spinning"))
        .expect("launches");
    assert_eventually!(
        "the guest to spin",
        Duration::from_secs(10),
        task.cpu_time() >= Duration::from_millis(20)
    );
    task.kill_handle().kill();
    let report = tokio::time::timeout(scaled(Duration::from_secs(10)), task.wait())
        .await
        .expect("the kill ends the spinning task");
    assert_eq!(report.outcome, Outcome::Killed);
    assert_host_healthy().await;
}
