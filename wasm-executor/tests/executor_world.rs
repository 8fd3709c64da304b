//! Components of the `wasmesos:executor` world: task info in, result data out, and the `host`
//! interface (status, messages both ways, log lines).

mod common;

use std::time::Duration;

use common::{Sandbox, executor, load, run};
use wasmesos_guest_artifacts as guests;
use wasmesos_test_support::scaled;
use wasmesos_wasm_executor::{FailureReason, GuestEvent, LogLevel, Outcome};

#[tokio::test]
async fn wordcount_counts_its_data_and_reports_status_and_log() {
    let wordcount = load(guests::WORDCOUNT).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("wc-1");
    spec.data = b"the quick  brown\nfox".to_vec();
    let mut task = executor().launch(&wordcount, spec).expect("launches");
    let mut events = Vec::new();
    while let Some(event) = task.events().recv().await {
        events.push(event);
    }
    let report = task.wait().await;
    assert_eq!(
        report.outcome,
        Outcome::Finished {
            exit_code: 0,
            data: b"4".to_vec()
        }
    );
    assert_eq!(events.first(), Some(&GuestEvent::Status("counting".into())));
    assert!(
        events.iter().any(|event| matches!(
            event,
            GuestEvent::Log { level: LogLevel::Info, message } if message.contains("wc-1: 4 words")
        )),
        "{events:?}"
    );
}

#[tokio::test]
async fn wordcount_reads_a_file_in_its_sandbox() {
    let wordcount = load(guests::WORDCOUNT).await;
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.path()).expect("sandbox");
    std::fs::write(sandbox.path().join("words.txt"), "a b c d e f").expect("write");
    let mut spec = sandbox.spec("wc-file");
    spec.args = vec!["words.txt".into()];
    let report = run(&wordcount, spec).await;
    assert_eq!(
        report.outcome,
        Outcome::Finished {
            exit_code: 0,
            data: b"6".to_vec()
        }
    );
}

#[tokio::test]
async fn an_executor_error_is_a_guest_error() {
    let wordcount = load(guests::WORDCOUNT).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("wc-missing");
    spec.args = vec!["missing.txt".into()];
    match run(&wordcount, spec).await.outcome {
        Outcome::Failed(FailureReason::GuestError(message)) => {
            assert!(message.contains("missing.txt"), "{message}");
        }
        other => panic!("expected a guest error, got {other:?}"),
    }
}

#[tokio::test]
async fn messenger_echoes_scheduler_messages() {
    let messenger = load(guests::MESSENGER).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("messenger");
    spec.args = vec!["10000".into()];
    let mut task = executor().launch(&messenger, spec).expect("launches");
    let inbox = task.messages_to_guest();
    assert_eq!(
        next_event(&mut task).await,
        GuestEvent::Status("ready".into())
    );
    for message in ["one", "two"] {
        assert!(inbox.send(message.as_bytes().to_vec()));
        let echo = loop {
            if let GuestEvent::Message(data) = next_event(&mut task).await {
                break data;
            }
        };
        assert_eq!(echo, format!("echo:{message}").into_bytes());
    }
    assert!(inbox.send(b"stop".to_vec()));
    let report = task.wait().await;
    assert_eq!(
        report.outcome,
        Outcome::Finished {
            exit_code: 0,
            data: b"2".to_vec()
        }
    );
    assert!(!inbox.send(b"late".to_vec()), "the task has ended");
}

#[tokio::test]
async fn receive_message_times_out_with_none() {
    let messenger = load(guests::MESSENGER).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("messenger-quiet");
    spec.args = vec!["50".into()];
    let report = run(&messenger, spec).await;
    assert_eq!(
        report.outcome,
        Outcome::Failed(FailureReason::GuestError("timeout".into()))
    );
}

#[tokio::test]
async fn kill_interrupts_a_guest_waiting_for_a_message() {
    let messenger = load(guests::MESSENGER).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("messenger-killed");
    spec.args = vec!["600000".into()];
    let mut task = executor().launch(&messenger, spec).expect("launches");
    assert_eq!(
        next_event(&mut task).await,
        GuestEvent::Status("ready".into())
    );
    task.kill_handle().kill();
    let report = tokio::time::timeout(scaled(Duration::from_secs(10)), task.wait())
        .await
        .expect("the kill ends the wait");
    assert_eq!(report.outcome, Outcome::Killed);
}

async fn next_event(task: &mut wasmesos_wasm_executor::RunningTask) -> GuestEvent {
    tokio::time::timeout(scaled(Duration::from_secs(30)), task.events().recv())
        .await
        .expect("an event arrives")
        .expect("the channel is open")
}
