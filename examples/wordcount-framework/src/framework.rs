//! The word-count scheduler: packs chunk tasks into offers, relaunches failures, tears itself
//! down when every chunk is counted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmesos_proto::{Offer, TaskInfo, TaskStatus};
use wasmesos_sdk_scheduler::{Capacity, Driver, DriverConfig, Scheduler, TaskBuilder, refuse_for};

use crate::chunks::split_into_chunks;
use crate::error::Error;
use crate::job::{Job, Progress};
use crate::report::Report;

/// How a word count runs; [`WordCountConfig::new`] takes the `wordcount` component, and
/// `Default` (feature `bundled-guest`) is a local cluster and the guest built from
/// `examples/guests`.
#[derive(Debug, Clone)]
pub struct WordCountConfig {
    pub master_url: String,
    /// The `wordcount` executor component to upload.
    pub executor: PathBuf,
    pub lines_per_chunk: usize,
    pub cpus_per_task: f64,
    pub mem_per_task: u64,
    /// Launches per chunk before the whole count fails.
    pub max_attempts: u32,
    /// The count fails if it has not finished by then.
    pub deadline: Duration,
    /// Receive offers for this role instead of `*`.
    pub role: Option<String>,
}

impl WordCountConfig {
    /// The master at `master_url` and the `wordcount` component at `executor`, with 100 lines,
    /// 0.1 cpus and 64 MiB per task, 4 attempts per chunk and a 300 s deadline.
    pub fn new(master_url: &str, executor: PathBuf) -> Self {
        WordCountConfig {
            master_url: master_url.to_string(),
            executor,
            lines_per_chunk: 100,
            cpus_per_task: 0.1,
            mem_per_task: 64 << 20,
            max_attempts: 4,
            deadline: Duration::from_secs(300),
            role: None,
        }
    }
}

#[cfg(feature = "bundled-guest")]
impl Default for WordCountConfig {
    fn default() -> Self {
        let executor = PathBuf::from(wasmesos_guest_artifacts::WORDCOUNT);
        WordCountConfig::new(wasmesos_sdk_scheduler::DEFAULT_MASTER_URL, executor)
    }
}

/// Counts the words of the file at `path` on the cluster.
pub async fn count_file(config: &WordCountConfig, path: &Path) -> Result<Report, Error> {
    let text = tokio::fs::read(path)
        .await
        .map_err(|source| Error::ReadText {
            path: path.to_path_buf(),
            source,
        })?;
    count_text(config, &text).await
}

/// Counts the words of `text` on the cluster: one `wordcount` task per chunk of lines.
pub async fn count_text(config: &WordCountConfig, text: &[u8]) -> Result<Report, Error> {
    if config.lines_per_chunk == 0 {
        return Err(Error::ZeroLines);
    }
    let chunks = split_into_chunks(text, config.lines_per_chunk);
    if chunks.is_empty() {
        return Ok(Report::new(Vec::new(), 0));
    }
    let mut driver_config = DriverConfig::new(&config.master_url, "wordcount");
    if let Some(role) = &config.role {
        driver_config = driver_config.role(role);
    }
    let driver = Driver::connect(driver_config).await?;
    let uploaded = driver.upload_executor(&config.executor, None).await?;
    tracing::info!(digest = %uploaded.digest, chunks = chunks.len(), "counting");
    let mut scheduler = WordCount {
        job: Job::new(chunks, config.max_attempts),
        digest: uploaded.digest,
        config: config.clone(),
    };
    match tokio::time::timeout(config.deadline, driver.run(&mut scheduler)).await {
        Ok(result) => result?,
        Err(_elapsed) => {
            let _ = driver.teardown().await;
            return Err(Error::TimedOut(config.deadline));
        }
    }
    if let Some(failure) = scheduler.job.take_failure() {
        return Err(failure);
    }
    scheduler.job.report().ok_or(Error::Incomplete)
}

struct WordCount {
    job: Job,
    digest: String,
    config: WordCountConfig,
}

impl WordCount {
    /// As many waiting chunks as fit in the offer, as tasks on its agent.
    fn pack(&mut self, offer: &Offer) -> Vec<TaskInfo> {
        let mut left = Capacity::of(offer);
        let template = TaskBuilder::new("", "")
            .cpus(self.config.cpus_per_task)
            .mem(self.config.mem_per_task);
        let mut tasks = Vec::new();
        while self.job.has_pending_for(&offer.agent_id) && left.take(template.resources()) {
            let Some((task_id, chunk)) = self.job.start_next(&offer.agent_id) else {
                break;
            };
            let name = format!("wordcount lines {}+{}", chunk.first_line, chunk.line_count);
            let task = TaskBuilder::new(task_id, &self.digest)
                .name(name)
                .cpus(self.config.cpus_per_task)
                .mem(self.config.mem_per_task)
                .data(chunk.bytes.clone())
                .build_for(offer);
            tasks.push(task);
        }
        tasks
    }
}

impl Scheduler for WordCount {
    async fn offers(&mut self, driver: &Driver, offers: Vec<Offer>) {
        for offer in offers {
            let tasks = self.pack(&offer);
            if tasks.is_empty() {
                let _ = driver.decline([offer.id], None).await;
                continue;
            }
            // While chunks still wait, have the offer's unused part offered again at once.
            let filters = refuse_for(if self.job.has_pending() {
                Duration::ZERO
            } else {
                Duration::from_secs(5)
            });
            let task_ids: Vec<String> = tasks.iter().map(|task| task.task_id.clone()).collect();
            tracing::debug!(agent_id = %offer.agent_id, tasks = tasks.len(), "launching");
            if let Err(err) = driver.launch_with_filters([offer.id], tasks, filters).await {
                tracing::warn!(%err, "launch failed; the chunks wait for another offer");
                task_ids
                    .iter()
                    .for_each(|task_id| self.job.unlaunch(task_id));
            }
        }
    }

    async fn update(&mut self, driver: &Driver, status: &TaskStatus) {
        match self.job.on_status(status) {
            Progress::Counted if self.job.is_done() => {
                let _ = driver.teardown().await;
            }
            Progress::Requeued => {
                // Declined offers may be filtered: ask for them again.
                let _ = driver.revive(Vec::new()).await;
            }
            Progress::GaveUp => {
                let _ = driver.teardown().await;
            }
            Progress::Counted | Progress::Running | Progress::Ignored => {}
        }
    }

    async fn error(&mut self, _driver: &Driver, message: &str) {
        tracing::warn!(%message, "the master reported an error");
    }
}
