//! The single owner of the master's state: a task that runs jobs against the [`Core`],
//! delivers what the core queued, and wakes up for timers.
//!
//! RPC and HTTP handlers call the named operations on [`Actor`] (`requests.rs`: one per
//! request kind) and never get the core itself. Each operation is a job, a closure sent over
//! an unbounded channel, whose answer comes back on a oneshot. The actor drains every queued
//! job before flushing, so bursts of calls share one flush (natural batching, no timers in
//! the hot path). The [`Shell`](shell::Shell) is what a job runs against: the core and the
//! open framework and agent streams.
//!
//! Write before acknowledge: a flush hands the batch's registry ops, its outbox and its RPC
//! answers to the registry [`Committer`], which delivers them only once the ops are durable,
//! in batch order. The actor does not wait for the disk; batches that queue behind a commit
//! share the next one (group commit).

mod maintenance;
mod requests;
mod shell;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use crate::Error;
use crate::auth::Security;
use crate::core::{Core, StateSnapshot};
use crate::http::snapshots::Publisher;
use crate::metrics::Metrics;
use crate::registry::{Committer, RegistryStore};
use shell::Shell;

pub(crate) use shell::{AgentStream, StreamId};

/// Jobs handled between two flushes at most; bounds the latency a burst can add.
const MAX_JOBS_PER_FLUSH: usize = 4096;

/// Calls waiting on the actor at most (queued, or run and waiting for their commit): a
/// flood of calls beyond it is refused with [`Error::Overloaded`] instead of growing the
/// queue without bound. Per-principal rate limits keep one tenant from using it all.
pub(crate) const MAX_CALLS_IN_FLIGHT: usize = 65_536;

type Job = Box<dyn FnOnce(&mut Shell) + Send>;

/// Where a call's job stands. The actor starts a job only while its caller still waits, so
/// a caller that gave up (its deadline passed, or its client went away) knows whether its
/// call was applied.
struct Claim(AtomicU8);

impl Claim {
    const QUEUED: u8 = 0;
    const STARTED: u8 = 1;
    const ABANDONED: u8 = 2;

    fn new() -> Arc<Self> {
        Arc::new(Self(AtomicU8::new(Self::QUEUED)))
    }

    /// The actor's side: true if the job may run (its caller has not given up).
    fn start(&self) -> bool {
        self.swap_from_queued(Self::STARTED)
    }

    /// The caller's side: true if the job had started, so its change was applied (and may
    /// still become durable); false if it never will run.
    fn abandon(&self) -> bool {
        !self.swap_from_queued(Self::ABANDONED)
    }

    fn swap_from_queued(&self, to: u8) -> bool {
        self.0
            .compare_exchange(Self::QUEUED, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Abandons a call's job when the call's future is dropped before the actor started it:
/// a client that went away leaves nothing behind to run.
struct AbandonOnDrop(Arc<Claim>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

/// A cheap handle RPC handlers use to reach the actor.
#[derive(Clone)]
pub(crate) struct Actor {
    tx: mpsc::UnboundedSender<Job>,
    snapshots: watch::Receiver<Arc<StateSnapshot>>,
    metrics: Arc<Metrics>,
    security: Arc<Security>,
    /// Calls waiting on the actor now (see [`MAX_CALLS_IN_FLIGHT`]).
    in_flight: Arc<AtomicUsize>,
    /// How long a call waits for its job and its commit (`MasterConfig::call_timeout`).
    call_timeout: Duration,
}

/// One call's place among [`MAX_CALLS_IN_FLIGHT`], given back when the call ends.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Actor {
    /// Starts the actor task around `core`; it stops when `shutdown` completes or every
    /// handle is dropped.
    pub(crate) fn spawn(
        core: Core,
        registry: Arc<dyn RegistryStore>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> (Self, tokio::task::JoinHandle<Result<(), Error>>) {
        #[allow(
            clippy::disallowed_methods,
            reason = "the actor's job queue; RPC handlers await their answers, so it holds at most one job per in-flight call (server concurrency limits are the hardening work)"
        )]
        let (tx, rx) = mpsc::unbounded_channel();
        let (committer, committer_task) = Committer::spawn(registry);
        let (publisher, snapshots) = Publisher::new(&core, Duration::ZERO);
        let metrics = Arc::clone(core.metrics());
        let security = Arc::new(core.security().clone());
        let call_timeout = core.call_timeout();
        let shell = Shell::new(core, publisher, committer);
        let task = tokio::spawn(run(shell, rx, committer_task, shutdown));
        let actor = Self {
            tx,
            snapshots,
            metrics,
            security,
            in_flight: Arc::default(),
            call_timeout,
        };
        (actor, task)
    }

    /// The operator's state as the actor last published it; see `crate::http`.
    pub(crate) fn snapshots(&self) -> watch::Receiver<Arc<StateSnapshot>> {
        self.snapshots.clone()
    }

    /// The master's counters.
    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Authentication and ACLs, as configured.
    pub(crate) fn security(&self) -> &Arc<Security> {
        &self.security
    }

    /// Runs `job` on the actor and returns its result, released after the batch's registry
    /// commit. A call not answered within the call timeout gives up: if the actor had not
    /// started the job, it never will ([`Error::CallTimeout`] with `applied: false`);
    /// otherwise the change was made and waits for the registry (`applied: true`).
    async fn call<T, F>(&self, job: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Shell) -> T + Send + 'static,
    {
        let waiting = self.in_flight.fetch_add(1, Ordering::Relaxed);
        let _place = InFlight(Arc::clone(&self.in_flight));
        if waiting >= MAX_CALLS_IN_FLIGHT {
            return Err(Error::Overloaded(MAX_CALLS_IN_FLIGHT));
        }
        let (reply, answer) = oneshot::channel();
        let claim = Claim::new();
        let job_claim = Arc::clone(&claim);
        self.cast(move |shell| {
            if !job_claim.start() {
                return;
            }
            let out = job(shell);
            shell.answers.push(Box::new(move || {
                let _ = reply.send(out);
            }));
        })?;
        let _abandon = AbandonOnDrop(Arc::clone(&claim));
        match tokio::time::timeout(self.call_timeout, answer).await {
            Ok(answer) => answer.map_err(|_| Error::ShuttingDown),
            Err(_) => Err(Error::CallTimeout {
                applied: claim.abandon(),
                after: self.call_timeout,
            }),
        }
    }

    /// Runs `job` on the actor against the core and the current time.
    async fn core<T, F>(&self, job: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Core, Duration) -> T + Send + 'static,
    {
        self.call(move |shell| {
            let now = shell.now();
            job(&mut shell.core, now)
        })
        .await
    }

    /// Queues `job` without waiting for it.
    fn cast<F>(&self, job: F) -> Result<(), Error>
    where
        F: FnOnce(&mut Shell) + Send + 'static,
    {
        self.tx.send(Box::new(job)).map_err(|_| Error::ShuttingDown)
    }
}

/// The actor loop. Ends when `shutdown` completes or every handle is gone (`Ok`, once the
/// committer has released everything), or when a registry commit fails (that error).
async fn run(
    mut shell: Shell,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    mut committer_task: tokio::task::JoinHandle<Result<(), Error>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    tokio::pin!(shutdown);
    loop {
        let core_wake = shell.core.next_wakeup();
        let wake = [core_wake, shell.publisher.due()]
            .into_iter()
            .flatten()
            .min()
            // A wakeup past what an `Instant` holds is never.
            .and_then(|at| shell.origin.checked_add(at));
        let sleep = async move {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            failed = &mut committer_task => return Err(committed(failed).err()
                .unwrap_or_else(|| Error::Registry("the registry committer stopped".into()))),
            job = jobs.recv() => {
                let Some(job) = job else { break };
                job(&mut shell);
                shell.publisher.mark_dirty();
                for _ in 1..MAX_JOBS_PER_FLUSH {
                    match jobs.try_recv() {
                        Ok(job) => job(&mut shell),
                        Err(_) => break,
                    }
                }
            }
            () = sleep => {}
        }
        // What the jobs did goes to the committer before the timers run, and the actor
        // yields so that the committer (woken on this thread) takes it at once: an
        // allocation round, which an ACCEPT usually makes due, must not hold back that
        // ACCEPT's launch and answer. What the tick does follows in a batch of its own,
        // committed in order.
        let mut flushed = shell.flush();
        if matches!(flushed, Ok(true)) {
            tokio::task::yield_now().await;
        }
        if flushed.is_ok() {
            let now = shell.now();
            if core_wake.is_some_and(|at| at <= now) {
                shell.publisher.mark_dirty();
            }
            tick_timed(&mut shell.core, now);
            flushed = shell.flush();
        }
        if let Err(err) = flushed {
            drop(shell);
            return Err(committed(committer_task.await).err().unwrap_or(err));
        }
        shell.publisher.publish_if_due(&shell.core, shell.now());
    }
    tracing::debug!("master actor stopped");
    drop(shell);
    committed(committer_task.await)
}

#[cfg(test)]
mod tests;

fn committed(joined: Result<Result<(), Error>, tokio::task::JoinError>) -> Result<(), Error> {
    joined.map_err(|err| Error::Registry(format!("the registry committer failed: {err}")))?
}

/// Runs the core's timers, timing the tick when it ran an allocation round.
fn tick_timed(core: &mut Core, now: Duration) {
    let rounds = core.metrics().allocation_rounds.get();
    let started = Instant::now();
    core.tick(now);
    if core.metrics().allocation_rounds.get() != rounds {
        core.metrics().allocation_round.observe(started.elapsed());
    }
}
