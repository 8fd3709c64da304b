//! Guest stdout and stderr, streamed to capped files in the sandbox.
//!
//! A write never fails and never waits from the guest's point of view: the stream always
//! grants a large write permit, and an I/O error on the host side drops the bytes instead of
//! trapping the guest (wasmtime-wasi's `MemoryOutputPipe` traps when full). The file keeps the
//! tail: once it grows a slack past the cap, it is rewritten with only its last `cap` bytes, so
//! compaction costs O(1) per byte written. The file is created on the first write, which keeps
//! launches of quiet tasks free of file I/O.
//!
//! With an [`OutputMemory`] a stream is first held in memory, and moves to its file only when it
//! outgrows the memory limit: a task that writes a few lines creates no file at all. Creating
//! and later deleting a file per task is, on some filesystems, the dearest part of a short
//! task.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// The write permit granted to the guest; any size works, this just bounds one copy.
const WRITE_PERMIT: usize = 1024 * 1024;
/// Compaction waits until the file is this much past the cap (or the cap itself if larger).
const MIN_SLACK: u64 = 64 * 1024;

/// Which host stream a tee copies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostStream {
    Stdout,
    Stderr,
}

/// One guest output stream, shared by all the handles the guest opens to it.
#[derive(Clone)]
pub(crate) struct CappedOutput {
    inner: Arc<Mutex<CappedFile>>,
}

/// Where a stream's file goes: joined only when the file is first needed, since most
/// streams never get one and a path join is a dear part of a short launch.
#[derive(Debug, Clone)]
pub(crate) struct OutputPath {
    pub(crate) dir: Arc<Path>,
    pub(crate) name: &'static str,
}

impl OutputPath {
    fn join(&self) -> PathBuf {
        self.dir.join(self.name)
    }
}

struct CappedFile {
    path: OutputPath,
    /// The stream while it is held in memory; `None` once it lives in its file.
    memory: Option<Vec<u8>>,
    memory_limit: u64,
    file: Option<File>,
    cap: u64,
    len: u64,
    dropped: u64,
    broken: bool,
    tee: Option<HostStream>,
}

impl CappedOutput {
    /// A stream kept in the file at `path`, after the first `memory_limit` bytes (0: none)
    /// were held in memory.
    pub(crate) fn new(
        path: OutputPath,
        cap: u64,
        tee: Option<HostStream>,
        memory_limit: u64,
    ) -> Self {
        CappedOutput {
            inner: Arc::new(Mutex::new(CappedFile {
                path,
                memory: (memory_limit > 0).then(Vec::new),
                memory_limit: memory_limit.min(cap),
                file: None,
                cap,
                len: 0,
                dropped: 0,
                broken: false,
                tee,
            })),
        }
    }

    /// Trims the file to exactly its last `cap` bytes; returns how many bytes were dropped in
    /// total.
    pub(crate) fn finish(&self) -> u64 {
        let mut file = self.lock();
        if file.len > file.cap {
            let keep = file.cap;
            if let Err(err) = file.keep_tail(keep, &[]) {
                file.fail(&err);
            }
        }
        file.dropped
    }

    fn write(&self, bytes: &[u8]) {
        self.lock().write(bytes);
    }

    /// A copy of what the stream holds in memory, or `None` once it has moved to its file.
    fn held(&self) -> Option<Vec<u8>> {
        self.lock().memory.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CappedFile> {
        // A panic mid-write leaves at worst a short file; keep writing.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One of a task's two captured output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStream {
    /// The guest's stdout (the sandbox file [`STDOUT_FILE`](crate::STDOUT_FILE)).
    Stdout,
    /// The guest's stderr (the sandbox file [`STDERR_FILE`](crate::STDERR_FILE)).
    Stderr,
}

/// Holds one task's stdout and stderr in memory while each is at most `limit_bytes` (and
/// within the output cap), so that a task writing a few lines creates no file in its
/// sandbox. A stream that outgrows the limit moves to its sandbox file for good.
///
/// Make one per task, put it in [`OutputConfig::memory`](crate::OutputConfig::memory), and
/// read the streams through it while the task runs and after it ended; a clone reads the
/// same streams. Memory is released when the last clone is dropped.
#[derive(Clone)]
pub struct OutputMemory {
    inner: Arc<MemoryShared>,
}

struct MemoryShared {
    limit_bytes: u64,
    streams: OnceLock<[CappedOutput; 2]>,
}

impl OutputMemory {
    /// A handle whose streams are held in memory up to `limit_bytes` each (0: never).
    pub fn new(limit_bytes: u64) -> Self {
        OutputMemory {
            inner: Arc::new(MemoryShared {
                limit_bytes,
                streams: OnceLock::new(),
            }),
        }
    }

    /// The most bytes a stream is held in memory.
    pub fn limit_bytes(&self) -> u64 {
        self.inner.limit_bytes
    }

    /// A copy of what `stream` holds in memory: `Some` (maybe empty) while it has not moved
    /// to its sandbox file; `None` once it has (read the file then), or when no task was
    /// launched with this handle.
    pub fn held(&self, stream: TaskStream) -> Option<Vec<u8>> {
        let streams = self.inner.streams.get()?;
        match stream {
            TaskStream::Stdout => streams[0].held(),
            TaskStream::Stderr => streams[1].held(),
        }
    }

    /// Binds the handle to a task's streams; false if another task already uses it.
    pub(crate) fn attach(&self, stdout: &CappedOutput, stderr: &CappedOutput) -> bool {
        self.inner
            .streams
            .set([stdout.clone(), stderr.clone()])
            .is_ok()
    }
}

impl std::fmt::Debug for OutputMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputMemory")
            .field("limit_bytes", &self.inner.limit_bytes)
            .field("attached", &self.inner.streams.get().is_some())
            .finish()
    }
}

/// Two handles are equal when they read the same streams.
impl PartialEq for OutputMemory {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for OutputMemory {}

impl CappedFile {
    fn write(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.tee(bytes);
        if self.hold(bytes) {
            return;
        }
        if self.broken {
            self.dropped += bytes.len() as u64;
            return;
        }
        let slack = self.cap.max(MIN_SLACK);
        let result = if self.len + bytes.len() as u64 > self.cap + slack {
            let keep = self.cap;
            self.keep_tail(keep, bytes)
        } else {
            self.append(bytes)
        };
        if let Err(err) = result {
            self.dropped += bytes.len() as u64;
            self.fail(&err);
        }
    }

    /// Keeps `bytes` in memory while the stream fits its memory limit. Once it does not, the
    /// file takes over, starting with what was held, and this returns false from then on.
    fn hold(&mut self, bytes: &[u8]) -> bool {
        let Some(held) = &mut self.memory else {
            return false;
        };
        if (held.len() + bytes.len()) as u64 <= self.memory_limit {
            held.extend_from_slice(bytes);
            return true;
        }
        let held = std::mem::take(held);
        self.memory = None;
        if let Err(err) = self.append(&held) {
            self.dropped += held.len() as u64;
            self.fail(&err);
        }
        false
    }

    fn tee(&self, bytes: &[u8]) {
        // The terminal is best effort: a closed pipe must not affect the task.
        let _ = match self.tee {
            Some(HostStream::Stdout) => io::stdout().lock().write_all(bytes),
            Some(HostStream::Stderr) => io::stderr().lock().write_all(bytes),
            None => Ok(()),
        };
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file()?.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Rewrites the file as its last bytes followed by `bytes`, `keep` bytes in all.
    fn keep_tail(&mut self, keep: u64, bytes: &[u8]) -> io::Result<()> {
        let from_new = (bytes.len() as u64).min(keep);
        let from_file = (keep - from_new).min(self.len);
        let total = self.len + bytes.len() as u64;
        let old_len = self.len;
        let file = self.file()?;
        let mut tail = vec![0; from_file as usize];
        file.seek(SeekFrom::Start(old_len - from_file))?;
        file.read_exact(&mut tail)?;
        tail.extend_from_slice(&bytes[bytes.len() - from_new as usize..]);
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&tail)?;
        self.len = tail.len() as u64;
        self.dropped += total - self.len;
        Ok(())
    }

    fn file(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(self.path.join())?;
            self.file = Some(file);
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("output file vanished"))
    }

    fn fail(&mut self, err: &io::Error) {
        tracing::warn!(path = %self.path.join().display(), %err, "task output file failed; dropping further output");
        self.broken = true;
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for CappedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        CappedOutput::write(self, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

impl tokio::io::AsyncWrite for CappedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        CappedOutput::write(&self, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(dir: &Path, name: &'static str) -> OutputPath {
        OutputPath {
            dir: Arc::from(dir),
            name,
        }
    }

    fn written(cap: u64, chunks: &[&[u8]]) -> (Vec<u8>, u64) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stdout");
        let output = CappedOutput::new(at(dir.path(), "stdout"), cap, None, 0);
        for chunk in chunks {
            output.write(chunk);
        }
        let dropped = output.finish();
        let contents = std::fs::read(&path).unwrap_or_default();
        (contents, dropped)
    }

    #[test]
    fn keeps_everything_under_the_cap() {
        let (contents, dropped) = written(100, &[b"hello ", b"world"]);
        assert_eq!(contents, b"hello world");
        assert_eq!(dropped, 0);
    }

    #[test]
    fn keeps_the_tail_over_the_cap() {
        let line = [b'x'; 1000];
        let mut chunks: Vec<&[u8]> = vec![&line; 300];
        chunks.push(b"THE END");
        let (contents, dropped) = written(10, &chunks);
        assert_eq!(contents, b"xxxTHE END");
        assert_eq!(dropped, 300_000 + 7 - 10);
    }

    #[test]
    fn a_single_write_larger_than_the_cap_keeps_its_tail() {
        let mut big = vec![b'a'; 200_000];
        big.extend_from_slice(b"tail");
        let (contents, _) = written(4, &[&big]);
        assert_eq!(contents, b"tail");
    }

    #[test]
    fn quiet_streams_create_no_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stdout");
        let output = CappedOutput::new(at(dir.path(), "stdout"), 10, None, 0);
        output.finish();
        assert!(!path.exists());
    }

    fn attached(limit: u64, cap: u64) -> (tempfile::TempDir, OutputMemory, CappedOutput) {
        let dir = tempfile::tempdir().expect("temp dir");
        let memory = OutputMemory::new(limit);
        let stdout = CappedOutput::new(at(dir.path(), "stdout"), cap, None, limit);
        let stderr = CappedOutput::new(at(dir.path(), "stderr"), cap, None, limit);
        assert!(memory.attach(&stdout, &stderr));
        (dir, memory, stdout)
    }

    #[test]
    fn small_output_stays_in_memory_and_creates_no_file() {
        let (dir, memory, stdout) = attached(16, 100);
        stdout.write(b"hello ");
        stdout.write(b"world");
        assert_eq!(stdout.finish(), 0);
        assert_eq!(
            memory.held(TaskStream::Stdout).as_deref(),
            Some(&b"hello world"[..])
        );
        assert_eq!(memory.held(TaskStream::Stderr).as_deref(), Some(&b""[..]));
        assert!(!dir.path().join("stdout").exists());
        assert!(!dir.path().join("stderr").exists());
    }

    #[test]
    fn output_outgrowing_memory_moves_to_its_file_whole() {
        let (dir, memory, stdout) = attached(8, 100);
        stdout.write(b"12345");
        stdout.write(b"6789");
        stdout.write(b"!");
        stdout.finish();
        assert_eq!(memory.held(TaskStream::Stdout), None);
        let contents = std::fs::read(dir.path().join("stdout")).expect("the file");
        assert_eq!(contents, b"123456789!");
    }

    #[test]
    fn the_cap_applies_before_the_memory_limit() {
        let (dir, memory, stdout) = attached(1024, 4);
        stdout.write(b"abcdef");
        let dropped = stdout.finish();
        assert_eq!(memory.held(TaskStream::Stdout), None);
        let contents = std::fs::read(dir.path().join("stdout")).expect("the file");
        assert_eq!((contents.as_slice(), dropped), (&b"cdef"[..], 2));
    }

    #[test]
    fn a_memory_handle_serves_one_task() {
        let (_dir, memory, stdout) = attached(8, 100);
        assert!(!memory.attach(&stdout, &stdout));
        assert_eq!(OutputMemory::new(8).held(TaskStream::Stdout), None);
        assert_eq!(memory.clone(), memory);
        assert_ne!(OutputMemory::new(8), memory);
    }
}
