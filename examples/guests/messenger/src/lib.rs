//! `messenger`: an executor that echoes framework messages back to its scheduler.
//!
//! Sets the status `ready`, then loops: waits for a message from the scheduler; on `stop`
//! returns the number of messages it echoed (ASCII decimal, `stop` not counted); otherwise
//! sends back `echo:` followed by the message and logs it at info level. Fails with `timeout`
//! when no message arrives in time.
//!
//! Args: `[WAIT_MS]`, the wait for each message in milliseconds (default 5000). A malformed
//! `WAIT_MS` fails the task with an error naming it.

use std::time::Duration;

use wasmesos_sdk_guest::{Executor, Task, host};

const DEFAULT_WAIT: Duration = Duration::from_secs(5);

struct Messenger;

impl Executor for Messenger {
    fn run(task: Task) -> Result<Vec<u8>, String> {
        let wait = wait_per_message(&task)?;
        host::set_status("ready");
        let mut echoed: u64 = 0;
        loop {
            let message = host::receive_message(wait).ok_or_else(|| "timeout".to_owned())?;
            if message == b"stop" {
                return Ok(echoed.to_string().into_bytes());
            }
            host::send_message(&[b"echo:".as_slice(), &message].concat());
            echoed += 1;
            wasmesos_sdk_guest::info!("echoed message {echoed} ({} bytes)", message.len());
        }
    }
}

wasmesos_sdk_guest::export_executor!(Messenger);

fn wait_per_message(task: &Task) -> Result<Duration, String> {
    match task.args.first() {
        None => Ok(DEFAULT_WAIT),
        Some(arg) => arg
            .parse()
            .map(Duration::from_millis)
            .map_err(|err| format!("WAIT_MS {arg:?} is not a number of milliseconds: {err}")),
    }
}
