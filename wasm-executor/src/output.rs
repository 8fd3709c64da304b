//! Guest stdout and stderr, streamed to capped files in the sandbox.
//!
//! A write never fails and never waits from the guest's point of view: the stream always
//! grants a large write permit, and an I/O error on the host side drops the bytes instead of
//! trapping the guest (wasmtime-wasi's `MemoryOutputPipe` traps when full). The file keeps the
//! tail: once it grows a slack past the cap, it is rewritten with only its last `cap` bytes, so
//! compaction costs O(1) per byte written. The file is created on the first write, which keeps
//! launches of quiet tasks free of file I/O.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
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

struct CappedFile {
    path: PathBuf,
    file: Option<File>,
    cap: u64,
    len: u64,
    dropped: u64,
    broken: bool,
    tee: Option<HostStream>,
}

impl CappedOutput {
    pub(crate) fn new(path: PathBuf, cap: u64, tee: Option<HostStream>) -> Self {
        CappedOutput {
            inner: Arc::new(Mutex::new(CappedFile {
                path,
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

    fn lock(&self) -> std::sync::MutexGuard<'_, CappedFile> {
        // A panic mid-write leaves at worst a short file; keep writing.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl CappedFile {
    fn write(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.tee(bytes);
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
                .open(&self.path)?;
            self.file = Some(file);
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("output file vanished"))
    }

    fn fail(&mut self, err: &io::Error) {
        tracing::warn!(path = %self.path.display(), %err, "task output file failed; dropping further output");
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

    fn written(cap: u64, chunks: &[&[u8]]) -> (Vec<u8>, u64) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stdout");
        let output = CappedOutput::new(path.clone(), cap, None);
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
        let output = CappedOutput::new(path.clone(), 10, None);
        output.finish();
        assert!(!path.exists());
    }
}
