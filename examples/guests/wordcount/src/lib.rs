//! `wordcount`: an executor that counts whitespace-separated words.
//!
//! Counts the words in the task's `data`, or, when `args[0]` is given, in that file inside the
//! task's sandbox (relative paths start at the sandbox root). Sets the status `counting` first.
//! Returns the count as ASCII decimal bytes (`b"42"`), and fails with an error naming the file
//! when it cannot be read.

use wasmesos_sdk_guest::{Executor, Task, host};

struct WordCount;

impl Executor for WordCount {
    fn run(task: Task) -> Result<Vec<u8>, String> {
        host::set_status("counting");
        let words = match task.args.first() {
            Some(path) => count_in_file(path)?,
            None => count_words(&task.data),
        };
        wasmesos_sdk_guest::info!("task {}: {words} words", task.task_id);
        Ok(words.to_string().into_bytes())
    }
}

wasmesos_sdk_guest::export_executor!(WordCount);

fn count_in_file(path: &str) -> Result<usize, String> {
    let bytes = std::fs::read(path).map_err(|err| format!("cannot read {path}: {err}"))?;
    Ok(count_words(&bytes))
}

/// Words are runs of non-whitespace bytes, so invalid UTF-8 still counts.
fn count_words(bytes: &[u8]) -> usize {
    bytes
        .split(|byte| byte.is_ascii_whitespace())
        .filter(|word| !word.is_empty())
        .count()
}
