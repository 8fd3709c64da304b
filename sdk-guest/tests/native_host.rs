//! An executor exported from another crate, with the `host` calls served by the native
//! stand-in in `wasmesos_sdk_guest::testing`.

#![deny(unsafe_code)]

use std::time::Duration;

use wasmesos_sdk_guest::{Executor, Level, Resources, Task, host, testing};

/// Replies to each queued message until `stop`, then returns how many it answered.
struct Echo;

impl Executor for Echo {
    fn run(task: Task) -> Result<Vec<u8>, String> {
        host::set_status(&format!("echoing for {}", task.task_id));
        let mut answered = 0;
        while let Some(message) = host::receive_message(Duration::from_millis(1)) {
            if message == b"stop" {
                wasmesos_sdk_guest::info!("answered {answered}");
                return Ok(answered.to_string().into_bytes());
            }
            host::send_message(&[b"re:".as_slice(), &message].concat());
            answered += 1;
        }
        wasmesos_sdk_guest::warn!("no stop after {answered}");
        Err("inbox ran dry".to_owned())
    }
}

wasmesos_sdk_guest::export_executor!(Echo);

fn task() -> Task {
    Task {
        task_id: "t-7".into(),
        name: "echo".into(),
        args: Vec::new(),
        env: Vec::new(),
        data: Vec::new(),
        resources: Resources {
            cpus: 0.5,
            mem_bytes: 16 << 20,
            disk_bytes: 0,
            fuel: None,
            timeout: None,
        },
    }
}

#[test]
fn host_calls_reach_the_stand_in() {
    testing::reset();
    testing::queue_message(b"a".to_vec());
    testing::queue_message(b"bc".to_vec());
    testing::queue_message(b"stop".to_vec());

    assert_eq!(Echo::run(task()), Ok(b"2".to_vec()));
    assert_eq!(testing::status().as_deref(), Some("echoing for t-7"));
    assert_eq!(
        testing::take_sent_messages(),
        [b"re:a".to_vec(), b"re:bc".to_vec()]
    );
    assert_eq!(
        testing::take_logs(),
        [(Level::Info, "answered 2".to_owned())]
    );
}

#[test]
fn an_empty_inbox_times_out_at_once() {
    testing::reset();
    assert_eq!(Echo::run(task()), Err("inbox ran dry".to_owned()));
    assert_eq!(
        testing::take_logs(),
        [(Level::Warn, "no stop after 0".to_owned())]
    );
    assert!(testing::take_sent_messages().is_empty());
}

#[test]
fn reset_forgets_everything() {
    host::set_status("old");
    host::send_message(b"old");
    wasmesos_sdk_guest::error!("old");
    testing::queue_message(b"old".to_vec());
    testing::reset();
    assert_eq!(testing::status(), None);
    assert!(testing::take_sent_messages().is_empty());
    assert!(testing::take_logs().is_empty());
    assert_eq!(host::receive_message(Duration::ZERO), None);
}

#[test]
fn every_level_macro_logs_at_its_level() {
    testing::reset();
    wasmesos_sdk_guest::trace!("t{}", 1);
    wasmesos_sdk_guest::debug!("d{}", 2);
    wasmesos_sdk_guest::info!("i{}", 3);
    wasmesos_sdk_guest::warn!("w{}", 4);
    wasmesos_sdk_guest::error!("e{}", 5);
    let levels: Vec<(Level, String)> = testing::take_logs();
    assert_eq!(
        levels,
        [
            (Level::Trace, "t1".to_owned()),
            (Level::Debug, "d2".to_owned()),
            (Level::Info, "i3".to_owned()),
            (Level::Warn, "w4".to_owned()),
            (Level::Error, "e5".to_owned()),
        ]
    );
}
