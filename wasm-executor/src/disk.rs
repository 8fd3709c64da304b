//! The disk quota: periodic accounting of the sandbox dir, like Mesos's `disk/du` isolator.
//!
//! A guest can overshoot the quota by what it writes in one period; it is then stopped with
//! `DiskLimit`. The walk never follows symlinks and uses an explicit stack, so a guest's deep
//! or looping tree cannot exhaust the host's stack.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::control::{Control, StopReason};

/// How often the sandbox is measured while the task runs.
pub(crate) const PERIOD: Duration = Duration::from_millis(50);

/// What one entry costs when the platform cannot say how many blocks it holds.
const BLOCK: u64 = 4096;

/// Bytes the tree under `root` occupies.
pub(crate) fn usage(root: &Path) -> u64 {
    let mut total = 0u64;
    let mut pending: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            total = total.saturating_add(occupied(&metadata));
            if metadata.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    total
}

#[cfg(unix)]
fn occupied(metadata: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    // Allocated blocks, as `du` counts: a sparse file costs what it really holds.
    (metadata.blocks() * 512).max(metadata.len().min(BLOCK))
}

#[cfg(not(unix))]
fn occupied(metadata: &std::fs::Metadata) -> u64 {
    metadata.len().div_ceil(BLOCK).max(1) * BLOCK
}

/// Watches the sandbox until the quota is exceeded (then stops the task) or the returned
/// handle is aborted.
pub(crate) fn watch(
    root: PathBuf,
    quota: u64,
    control: Arc<Control>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(PERIOD);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if over_quota(&root, quota).await {
                control.stop(StopReason::DiskLimit);
                return;
            }
        }
    })
}

/// Measures off the async threads: a big tree takes a while to walk.
pub(crate) async fn over_quota(root: &Path, quota: u64) -> bool {
    let root = root.to_path_buf();
    let used = tokio::task::spawn_blocking(move || usage(&root)).await;
    matches!(used, Ok(used) if used > quota)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_nested_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let nested = dir.path().join("a").join("b");
        std::fs::create_dir_all(&nested).expect("mkdir");
        std::fs::write(nested.join("f"), vec![1u8; 100_000]).expect("write");
        let used = usage(dir.path());
        assert!(used >= 100_000, "{used}");
        assert!(used < 200_000, "{used}");
    }
}
