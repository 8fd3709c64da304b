//! `status-flood`: an executor that sets its status in a tight loop.
//!
//! Args: `[COUNT] [PAUSE_EVERY]` (default 10000 and 0). Calls `host::set_status` COUNT
//! times, each with a new message (`step 1` … `step COUNT`), sleeping 1 ms after every
//! PAUSE_EVERY calls (never when 0), so the host reads the statuses while the loop runs;
//! then returns COUNT (ASCII decimal). The agent must not turn each call into a status
//! update: while one RUNNING update of the task waits for its acknowledgement, a newer
//! status replaces the one held back, and the last one still reaches the framework. A
//! malformed number fails the task with an error naming it.

use std::time::Duration;

use wasmesos_sdk_guest::{Executor, Task, host};

struct StatusFlood;

impl Executor for StatusFlood {
    fn run(task: Task) -> Result<Vec<u8>, String> {
        let count = number(&task, 0, "COUNT", 10_000)?;
        let pause_every = number(&task, 1, "PAUSE_EVERY", 0)?;
        for step in 1..=count {
            host::set_status(&format!("step {step}"));
            if pause_every > 0 && step % pause_every == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(count.to_string().into_bytes())
    }
}

wasmesos_sdk_guest::export_executor!(StatusFlood);

fn number(task: &Task, index: usize, name: &str, default: u64) -> Result<u64, String> {
    match task.args.get(index) {
        None => Ok(default),
        Some(arg) => arg
            .parse()
            .map_err(|err| format!("{name} {arg:?} is not a number: {err}")),
    }
}
