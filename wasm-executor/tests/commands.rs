//! Plain `wasi:cli/command` components: args, env, exit codes, output files.

mod common;

use common::{Sandbox, assert_failed, load, run};
use wasmesos_guest_artifacts as guests;
use wasmesos_wasm_executor::{FailureReason, Outcome, ProgramKind};

#[tokio::test]
async fn hello_prints_its_args_and_env_to_the_stdout_file() {
    let hello = load(guests::HELLO).await;
    assert_eq!(hello.kind(), ProgramKind::Command);
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("hello-1");
    spec.name = "hello".into();
    spec.args = vec!["one".into(), "two words".into()];
    spec.env = vec![("GREETING".into(), "hi".into())];
    let report = run(&hello, spec).await;
    assert_eq!(
        report.outcome,
        Outcome::Finished {
            exit_code: 0,
            data: Vec::new()
        }
    );
    let stdout = sandbox.read("stdout");
    assert_eq!(
        stdout,
        "hello from wasmesos\narg[0]=hello\narg[1]=one\narg[2]=two words\nGREETING=hi\n"
    );
    assert!(report.peak_memory_bytes > 0);
    assert_eq!(report.fuel_consumed, None);
}

#[tokio::test]
async fn a_non_zero_exit_is_a_failure_with_the_code() {
    let hello = load(guests::HELLO).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("hello-exit");
    spec.args = vec!["--exit".into(), "7".into(), "--stderr".into(), "bye".into()];
    let report = run(&hello, spec).await;
    assert_eq!(report.outcome, Outcome::Failed(FailureReason::ExitCode(7)));
    assert_eq!(report.outcome.exit_code(), Some(7));
    assert_eq!(sandbox.read("stderr"), "bye\n");
}

#[tokio::test]
async fn a_trap_is_reported_with_wasmtime_s_message() {
    let trap = load(guests::TRAP).await;
    let sandbox = Sandbox::new();
    let report = run(&trap, sandbox.spec("trap")).await;
    match report.outcome {
        Outcome::Failed(FailureReason::Trap(message)) => {
            assert!(message.contains("unreachable"), "{message}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[tokio::test]
async fn fuel_is_metered_and_reported_when_granted() {
    let spin = load(guests::SPIN).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("spin-fuel");
    spec.args = vec!["1000".into()];
    spec.limits.fuel = Some(100_000_000);
    let report = run(&spin, spec).await;
    assert_eq!(
        report.outcome.reason_code(),
        "finished",
        "{:?}",
        report.outcome
    );
    let consumed = report.fuel_consumed.expect("fuel is reported");
    assert!(consumed > 1000 && consumed < 100_000_000, "{consumed}");
    assert!(sandbox.read("stdout").starts_with("spin N=1000 state="));
    assert_failed(
        &run(&spin, {
            let mut spec = Sandbox::new().spec("spin-little-fuel");
            spec.args = vec!["100000000".into()];
            spec.limits.fuel = Some(consumed);
            spec
        })
        .await,
        &FailureReason::FuelExhausted,
    );
}
