//! Executor components by digest: downloaded from the master's `Artifacts` service once,
//! verified, kept under `work_dir/artifacts/<digest>.wasm`, and loaded through the executor.
//!
//! Each digest is fetched and loaded at most once at a time however many tasks ask for it
//! concurrently (a per-digest `OnceCell`); a failure is not remembered, so a later task tries
//! again. Bytes are always checked against their sha256 before use, whether they come from the
//! network or from the local copy. The agent never accepts precompiled code from anyone: the
//! executor compiles the component itself and keeps its own compile cache.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use tonic::Code;
use tracing::{debug, info, warn};
use wasmesos_detector::Backoff;
use wasmesos_detector::MasterService as Channel;
use wasmesos_proto::DownloadRequest;
use wasmesos_proto::artifacts_client::ArtifactsClient;
use wasmesos_wasm_executor::{Executor, Program};

use crate::Error;
use crate::ids::check_digest;

/// The largest message of an artifact download the agent decodes: tonic's default, sixteen
/// times the chunk the master sends.
const MAX_DOWNLOAD_MESSAGE: usize = 4 * 1024 * 1024;

pub(crate) struct ArtifactCache {
    dir: PathBuf,
    max_bytes: u64,
    patience: Duration,
    executor: Executor,
    client: ArtifactsClient<Channel>,
    programs: Mutex<HashMap<String, Arc<OnceCell<Program>>>>,
}

impl ArtifactCache {
    pub(crate) fn new(
        dir: PathBuf,
        max_bytes: u64,
        patience: Duration,
        executor: Executor,
        channel: Channel,
    ) -> Self {
        // The master sends an artifact in 256 KiB messages; a bigger one is refused
        // rather than buffered whole, whatever size its sender claims.
        let client = ArtifactsClient::new(channel)
            .max_decoding_message_size(MAX_DOWNLOAD_MESSAGE)
            .max_encoding_message_size(wasmesos_proto::limits::MAX_CALL_BYTES);
        ArtifactCache {
            dir,
            max_bytes,
            patience,
            executor,
            client,
            programs: Mutex::new(HashMap::new()),
        }
    }

    /// The loaded program for `digest`, fetching and compiling it if this agent has not yet.
    pub(crate) async fn program(&self, digest: &str) -> Result<Program, Error> {
        check_digest(digest)?;
        let cell = self.cell(digest);
        cell.get_or_try_init(|| self.fetch_and_load(digest))
            .await
            .cloned()
    }

    fn cell(&self, digest: &str) -> Arc<OnceCell<Program>> {
        let mut programs = self
            .programs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(cell) = programs.get(digest) {
            return Arc::clone(cell);
        }
        let cell = Arc::new(OnceCell::new());
        programs.insert(digest.to_string(), Arc::clone(&cell));
        cell
    }

    async fn fetch_and_load(&self, digest: &str) -> Result<Program, Error> {
        let bytes = self.bytes(digest).await?;
        Ok(self.executor.load(&bytes).await?)
    }

    /// The verified bytes of the component `digest`: the local copy, or else downloaded
    /// from the master and kept. The fetcher's `wasmesos://sha256:` uris come here.
    pub(crate) async fn bytes(&self, digest: &str) -> Result<Vec<u8>, Error> {
        check_digest(digest)?;
        let path = self.dir.join(format!("{digest}.wasm"));
        if let Some(bytes) = read_verified(&path, digest).await {
            return Ok(bytes);
        }
        let bytes = self.download(digest).await?;
        store(&self.dir, &path, bytes).await
    }

    /// Downloads `digest`, trying again with backoff for as long as the master's failure
    /// is transient (it restarts, or a new leader is being elected) and `patience` lasts.
    async fn download(&self, digest: &str) -> Result<Vec<u8>, Error> {
        let started = tokio::time::Instant::now();
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut attempt = 1u32;
        loop {
            match self.download_once(digest).await {
                Err(Error::Rpc(status))
                    if retryable(status.code()) && started.elapsed() < self.patience =>
                {
                    warn!(%digest, attempt, err = %status.message(), "executor download failed; retrying");
                    let left = self.patience.saturating_sub(started.elapsed());
                    tokio::time::sleep(backoff.next_delay().min(left)).await;
                    attempt = attempt.saturating_add(1);
                }
                result => return result,
            }
        }
    }

    async fn download_once(&self, digest: &str) -> Result<Vec<u8>, Error> {
        let request = DownloadRequest {
            digest: digest.to_string(),
        };
        let mut stream = match self.client.clone().download(request).await {
            Ok(response) => response.into_inner(),
            Err(status) if status.code() == Code::NotFound => {
                return Err(Error::ArtifactNotFound(digest.to_string()));
            }
            Err(status) => return Err(status.into()),
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.message().await? {
            let received = bytes.len().saturating_add(chunk.data.len());
            let announced = chunk
                .total_size
                .max(u64::try_from(received).unwrap_or(u64::MAX));
            if announced > self.max_bytes {
                return Err(Error::ArtifactTooLarge {
                    size: announced,
                    limit: self.max_bytes,
                });
            }
            // At most `max_bytes` (checked above), which may still not fit a small usize.
            if bytes.is_empty()
                && chunk.total_size > 0
                && let Ok(total_size) = usize::try_from(chunk.total_size)
            {
                bytes.reserve_exact(total_size);
            }
            bytes.extend_from_slice(&chunk.data);
        }
        let (bytes, actual) = hash_off_thread(bytes).await?;
        if actual != digest {
            return Err(Error::DigestMismatch {
                expected: digest.to_string(),
                actual,
            });
        }
        info!(%digest, size = bytes.len(), "fetched executor");
        Ok(bytes)
    }
}

fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::Unknown | Code::DeadlineExceeded | Code::Aborted | Code::Internal
    )
}

async fn hash_off_thread(bytes: Vec<u8>) -> Result<(Vec<u8>, String), Error> {
    tokio::task::spawn_blocking(move || {
        let digest = hex::encode(Sha256::digest(&bytes));
        (bytes, digest)
    })
    .await
    .map_err(|err| Error::Internal(format!("hashing worker: {err}")))
}

/// The local copy of an artifact, if there is one and it still matches its digest.
async fn read_verified(path: &Path, digest: &str) -> Option<Vec<u8>> {
    let bytes = tokio::fs::read(path).await.ok()?;
    let (bytes, actual) = hash_off_thread(bytes).await.ok()?;
    if actual == digest {
        debug!(%digest, "executor found in the local artifact cache");
        return Some(bytes);
    }
    warn!(%digest, %actual, path = %path.display(), "local artifact is corrupt; fetching it again");
    let _ = tokio::fs::remove_file(path).await;
    None
}

/// Writes `bytes` to `path` atomically (a temp file renamed into place) and hands them back.
async fn store(dir: &Path, path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, Error> {
    let dir = dir.to_path_buf();
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let temp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
        std::fs::write(&temp, &bytes).map_err(|err| Error::io("writing", &temp, err))?;
        if let Err(err) = std::fs::rename(&temp, &path) {
            let _ = std::fs::remove_file(&temp);
            return Err(Error::io("renaming into", &path, err));
        }
        Ok(bytes)
    })
    .await
    .map_err(|err| Error::Internal(format!("artifact writer: {err}")))?
}
