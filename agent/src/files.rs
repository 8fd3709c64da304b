//! Reading ranges of a task's `stdout` and `stderr` for `Agent.ReadFile`.
//!
//! Paths are built only from ids that passed [`check_path_id`](crate::ids::check_path_id)
//! and from the fixed names `stdout` and `stderr`, so a request can never name a file
//! outside a sandbox.

use std::io::{ErrorKind, SeekFrom};
use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Bytes read from a file, where they start, and the file's size when read.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) data: Vec<u8>,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

/// Reads up to `length` bytes (0 or more than `cap` means `cap`) at `offset`; a negative
/// offset counts from the end. A file the guest never wrote reads as empty.
pub(crate) async fn read_range(
    path: &Path,
    offset: i64,
    length: u64,
    cap: u64,
) -> std::io::Result<Chunk> {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Chunk::default()),
        Err(err) => return Err(err),
    };
    let size = file.metadata().await?.len();
    let (start, count) = range(size, offset, length, cap);
    file.seek(SeekFrom::Start(start)).await?;
    // The file may shrink under us (the output cap keeps only its tail): read what is there.
    // The capacity is a hint: a count beyond a usize reserves nothing up front.
    let mut data = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    file.take(count).read_to_end(&mut data).await?;
    Ok(Chunk {
        data,
        offset: start,
        size,
    })
}

/// The same range as [`read_range`], of output held in memory.
pub(crate) fn slice_range(bytes: &[u8], offset: i64, length: u64, cap: u64) -> Chunk {
    let size = bytes.len() as u64;
    let (start, count) = range(size, offset, length, cap);
    // Both are at most `size`, which came from a length, so they fit a usize.
    let start_at = usize::try_from(start).unwrap_or(usize::MAX);
    let end_at = start_at.saturating_add(usize::try_from(count).unwrap_or(usize::MAX));
    Chunk {
        data: bytes.get(start_at..end_at).unwrap_or_default().to_vec(),
        offset: start,
        size,
    }
}

/// Where a read of `length` bytes at `offset` starts in `size` bytes, and how many it takes.
fn range(size: u64, offset: i64, length: u64, cap: u64) -> (u64, u64) {
    let start = if offset < 0 {
        size.saturating_sub(offset.unsigned_abs())
    } else {
        offset.unsigned_abs().min(size)
    };
    let wanted = if length == 0 { cap } else { length.min(cap) };
    (start, wanted.min(size.saturating_sub(start)))
}

/// Finds `sandboxes/<any framework>/<task_id>` on disk, for tasks the registry no longer
/// remembers. The newest such directory wins when several frameworks used the id.
pub(crate) fn find_sandbox(sandboxes: &Path, task_id: &str) -> Option<PathBuf> {
    let frameworks = std::fs::read_dir(sandboxes).ok()?;
    frameworks
        .filter_map(Result::ok)
        .map(|framework| framework.path().join(task_id))
        .filter_map(|dir| {
            let modified = std::fs::metadata(&dir).ok()?.modified().ok()?;
            Some((modified, dir))
        })
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, dir)| dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn file_with(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stdout");
        tokio::fs::write(&path, bytes).await.expect("write");
        (dir, path)
    }

    #[tokio::test]
    async fn offsets_lengths_and_caps_bound_the_read() {
        let (_dir, path) = file_with(b"0123456789").await;
        let read = |offset, length, cap| {
            let path = path.clone();
            async move { read_range(&path, offset, length, cap).await.expect("read") }
        };
        let all = read(0, 0, 100).await;
        assert_eq!(
            (all.data.as_slice(), all.offset, all.size),
            (&b"0123456789"[..], 0, 10)
        );
        assert_eq!(read(2, 3, 100).await.data, b"234");
        assert_eq!(read(0, 0, 4).await.data, b"0123", "length 0 means the cap");
        assert_eq!(read(0, 50, 4).await.data, b"0123", "length is capped");
        let tail = read(-3, 0, 100).await;
        assert_eq!((tail.data.as_slice(), tail.offset), (&b"789"[..], 7));
        let before_start = read(-50, 2, 100).await;
        assert_eq!(
            (before_start.data.as_slice(), before_start.offset),
            (&b"01"[..], 0)
        );
        let past_end = read(50, 0, 100).await;
        assert_eq!(
            (past_end.data.len(), past_end.offset, past_end.size),
            (0, 10, 10)
        );
        assert_eq!(read(i64::MIN, 1, 100).await.data, b"0");
        assert_eq!(read(i64::MAX, 1, 100).await.offset, 10);
    }

    #[tokio::test]
    async fn memory_reads_the_same_ranges_as_files() {
        let bytes = b"0123456789";
        let (_dir, path) = file_with(bytes).await;
        let cases = [
            (0, 0, 100),
            (2, 3, 100),
            (0, 0, 4),
            (-3, 0, 100),
            (-50, 2, 100),
            (50, 0, 100),
            (i64::MIN, 1, 100),
            (i64::MAX, 1, 100),
        ];
        for (offset, length, cap) in cases {
            let file = read_range(&path, offset, length, cap).await.expect("read");
            assert_eq!(
                slice_range(bytes, offset, length, cap),
                file,
                "{offset} {length} {cap}"
            );
        }
        assert_eq!(slice_range(b"", 5, 5, 5), Chunk::default());
    }

    #[tokio::test]
    async fn a_file_never_written_reads_empty() {
        let dir = tempfile::tempdir().expect("temp dir");
        let chunk = read_range(&dir.path().join("stdout"), 0, 0, 10)
            .await
            .expect("read");
        assert_eq!(chunk, Chunk::default());
    }

    #[test]
    fn sandboxes_are_found_on_disk_by_task_id() {
        let root = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(root.path().join("fw1").join("t1")).expect("mkdir");
        assert_eq!(
            find_sandbox(root.path(), "t1"),
            Some(root.path().join("fw1").join("t1"))
        );
        assert_eq!(find_sandbox(root.path(), "t2"), None);
    }
}
