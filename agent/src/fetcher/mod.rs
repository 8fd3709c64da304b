//! The fetcher: the files a task names in `ExecutorInfo.uris` (Mesos's `CommandInfo.uris`),
//! downloaded into its sandbox before it starts.
//!
//! Every uri is parsed again with the rules the master applied (`wasmesos_proto::fetch`),
//! then read from its source: `http(s)://` (`http.rs`), `file://` under the operator's allowed
//! directories (`local.rs`) or `wasmesos://sha256:` (the master's uploaded components, through
//! the agent's artifact cache). Each file streams into a temp file in the sandbox, opened
//! through cap-std, and is renamed to its output name once complete; a size cap
//! (`fetch_max_bytes`, and what is left of the task's disk) is enforced while streaming,
//! whatever the source announced, and a fetch that takes longer than `fetch_timeout` stops.
//! `cache: true` keeps a copy in the fetcher cache (`cache.rs`). At most
//! [`AgentConfig::max_concurrent_fetches`](crate::AgentConfig) fetches run at once.
//!
//! A failure is [`Error::Fetch`]: the task fails with REASON_CONTAINER_LAUNCH_FAILED and
//! `Failed to fetch 'URI': <cause>`.

mod cache;
mod http;
mod local;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tracing::{debug, info};
use wasmesos_proto::fetch::{Fetch, FetchPlan, Source};

use crate::Error;
use crate::artifacts::ArtifactCache;
use crate::config::AgentConfig;

pub(crate) use cache::FetchCache;

/// Bytes read from a source per write into the sandbox.
const CHUNK: usize = 64 * 1024;

/// The agent's fetcher, shared by every task runner.
pub(crate) struct Fetcher {
    client: reqwest::Client,
    max_bytes: u64,
    timeout: Duration,
    /// Canonical forms of the operator's `fetch_allowed_dirs`.
    allowed_dirs: Vec<PathBuf>,
    cache: FetchCache,
    permits: Arc<Semaphore>,
}

/// Why one uri could not be fetched, before the uri is attached ([`Error::Fetch`]).
#[derive(Debug)]
pub(crate) struct Cause(pub(crate) String);

impl Cause {
    fn new(message: impl Into<String>) -> Self {
        Cause(message.into())
    }
}

impl Fetcher {
    /// Builds the fetcher of an agent whose fetcher cache lives in `cache_dir`. Blocking (it
    /// resolves the allowed directories and empties the cache directory).
    pub(crate) fn new(config: &AgentConfig, cache_dir: PathBuf) -> Result<Self, Error> {
        let allowed_dirs = config
            .fetch_allowed_dirs
            .iter()
            .map(|dir| {
                dir.canonicalize()
                    .map_err(|err| Error::io("resolving the fetch-allowed dir", dir, err))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Fetcher {
            client: http::client(config.fetch_timeout)?,
            max_bytes: config.fetch_max_bytes,
            timeout: config.fetch_timeout,
            allowed_dirs,
            cache: FetchCache::open(cache_dir, config.fetcher_cache_bytes)?,
            permits: Arc::new(Semaphore::new(config.max_concurrent_fetches.max(1))),
        })
    }

    /// Fetches every file of `plan` into `sandbox`, in order, counting them against
    /// `disk_budget` (the task's disk limit, if it has one). Stops at the first failure.
    pub(crate) async fn fetch_all(
        &self,
        artifacts: &ArtifactCache,
        plan: &FetchPlan,
        sandbox: &Path,
        disk_budget: Option<u64>,
    ) -> Result<(), Error> {
        let mut left = disk_budget;
        for fetch in &plan.fetches {
            let limit = Limit {
                bytes: left.map_or(self.max_bytes, |left| left.min(self.max_bytes)),
                by_disk: left.is_some_and(|left| left < self.max_bytes),
            };
            let written = self
                .fetch_one(artifacts, fetch, sandbox, limit)
                .await
                .map_err(|cause| Error::Fetch {
                    uri: fetch.uri.clone(),
                    cause: cause.0,
                })?;
            left = left.map(|left| left.saturating_sub(written));
        }
        Ok(())
    }

    /// One uri within the time limit and a fetch permit; the bytes written.
    async fn fetch_one(
        &self,
        artifacts: &ArtifactCache,
        fetch: &Fetch,
        sandbox: &Path,
        limit: Limit,
    ) -> Result<u64, Cause> {
        let _permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| Cause::new("the fetcher is shut down"))?;
        let target = Target::open(sandbox, &fetch.output_file).await?;
        let work = self.fetch_into(artifacts, fetch, &target, limit);
        let result = match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(Cause::new(format!(
                "timed out after {:?} (the agent's --fetch-timeout)",
                self.timeout
            ))),
        };
        match result {
            Ok(written) => {
                target.commit().await?;
                info!(uri = %fetch.uri, file = %fetch.output_file, bytes = written, "fetched");
                Ok(written)
            }
            Err(cause) => {
                target.discard().await;
                Err(cause)
            }
        }
    }

    async fn fetch_into(
        &self,
        artifacts: &ArtifactCache,
        fetch: &Fetch,
        target: &Target,
        limit: Limit,
    ) -> Result<u64, Cause> {
        match &fetch.source {
            Source::Artifact(digest) => {
                let bytes = artifacts
                    .bytes(digest)
                    .await
                    .map_err(|err| Cause::new(err.to_string()))?;
                limit.check(u64::try_from(bytes.len()).unwrap_or(u64::MAX))?;
                let mut file = target.file().await?;
                write_all(&mut file, &bytes, &target.temp).await?;
                finish(file, &target.temp).await?;
                Ok(u64::try_from(bytes.len()).unwrap_or(u64::MAX))
            }
            source if fetch.cache => {
                let key = cache::key(&fetch.uri);
                let _turn = self.cache.turn(&key).await;
                if let Some(written) = self.cache.copy_out(&key, target, limit).await? {
                    debug!(uri = %fetch.uri, "fetcher cache hit");
                    return Ok(written);
                }
                let written = self.download(source, target, limit).await?;
                self.cache.insert(&key, target, written).await;
                Ok(written)
            }
            source => self.download(source, target, limit).await,
        }
    }

    /// Downloads an http(s) or file source into `target`'s temp file.
    async fn download(&self, source: &Source, target: &Target, limit: Limit) -> Result<u64, Cause> {
        let file = target.file().await?;
        match source {
            Source::Http(url) => http::download(&self.client, url, file, &target.temp, limit).await,
            Source::File(path) => {
                let path = local::resolve(&self.allowed_dirs, path).await?;
                local::copy(&path, file, &target.temp, limit).await
            }
            Source::Artifact(_) => Err(Cause::new("an uploaded component is not downloaded")),
        }
    }
}

/// The most bytes one fetch may write, and whether the task's disk (not the agent's
/// `fetch_max_bytes`) is what sets it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub(crate) bytes: u64,
    pub(crate) by_disk: bool,
}

impl Limit {
    /// Fails when `size` bytes do not fit.
    pub(crate) fn check(self, size: u64) -> Result<(), Cause> {
        if size <= self.bytes {
            return Ok(());
        }
        let what = if self.by_disk {
            "what is left of the task's disk"
        } else {
            "the agent's --fetch-max-size"
        };
        Err(Cause::new(format!(
            "the file is more than {} bytes, {what}",
            self.bytes
        )))
    }
}

/// A file being fetched into a sandbox: a temp name while it streams, its output name once
/// complete.
pub(crate) struct Target {
    dir: Arc<Dir>,
    /// The temp file's name in the sandbox.
    temp: String,
    output: String,
}

impl Target {
    async fn open(sandbox: &Path, output: &str) -> Result<Self, Cause> {
        let sandbox = sandbox.to_path_buf();
        let dir = blocking(move || Dir::open_ambient_dir(&sandbox, ambient_authority())).await?;
        Ok(Target {
            dir: Arc::new(dir),
            temp: format!(".fetch-{}.part", uuid::Uuid::new_v4().simple()),
            output: output.to_string(),
        })
    }

    /// Creates the temp file, for writing.
    async fn file(&self) -> Result<tokio::fs::File, Cause> {
        let dir = Arc::clone(&self.dir);
        let temp = self.temp.clone();
        let file = blocking(move || dir.create(&temp)).await?;
        Ok(tokio::fs::File::from_std(file.into_std()))
    }

    /// Opens the temp file for reading (to copy it into the cache).
    pub(crate) async fn read_temp(&self) -> Result<std::fs::File, Cause> {
        let dir = Arc::clone(&self.dir);
        let temp = self.temp.clone();
        Ok(blocking(move || dir.open(&temp)).await?.into_std())
    }

    async fn commit(&self) -> Result<(), Cause> {
        let dir = Arc::clone(&self.dir);
        let (temp, output) = (self.temp.clone(), self.output.clone());
        blocking(move || dir.rename(&temp, &dir, &output)).await
    }

    async fn discard(&self) {
        let dir = Arc::clone(&self.dir);
        let temp = self.temp.clone();
        let _ = blocking(move || dir.remove_file(&temp)).await;
    }
}

/// Runs a blocking sandbox call off the async threads.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, Cause> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|err| Cause::new(format!("sandbox worker: {err}")))?
        .map_err(|err| Cause::new(format!("writing into the sandbox: {err}")))
}

async fn write_all(file: &mut tokio::fs::File, bytes: &[u8], name: &str) -> Result<(), Cause> {
    file.write_all(bytes)
        .await
        .map_err(|err| Cause::new(format!("writing {name} in the sandbox: {err}")))
}

async fn finish(mut file: tokio::fs::File, name: &str) -> Result<(), Cause> {
    file.flush()
        .await
        .map_err(|err| Cause::new(format!("writing {name} in the sandbox: {err}")))
}

/// Copies `source` into `file` within `limit`, reading at most one byte past it to tell a
/// source that is too large; the bytes copied.
pub(crate) async fn copy_capped(
    mut source: impl AsyncRead + Unpin,
    mut file: tokio::fs::File,
    name: &str,
    limit: Limit,
) -> Result<u64, Cause> {
    let mut buffer = vec![0; CHUNK];
    let mut written: u64 = 0;
    loop {
        let read = source
            .read(&mut buffer)
            .await
            .map_err(|err| Cause::new(format!("reading: {err}")))?;
        if read == 0 {
            break;
        }
        written = written.saturating_add(u64::try_from(read).unwrap_or(u64::MAX));
        limit.check(written)?;
        write_all(&mut file, buffer.get(..read).unwrap_or_default(), name).await?;
    }
    finish(file, name).await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_names_what_set_it() {
        let cap = Limit {
            bytes: 10,
            by_disk: false,
        };
        assert!(cap.check(10).is_ok());
        assert!(
            cap.check(11)
                .expect_err("over")
                .0
                .contains("--fetch-max-size")
        );
        let disk = Limit {
            bytes: 10,
            by_disk: true,
        };
        assert!(disk.check(11).expect_err("over").0.contains("task's disk"));
    }
}
