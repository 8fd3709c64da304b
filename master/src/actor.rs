//! The single owner of the master's state: a task that runs jobs sent by RPC handlers against
//! the [`Core`], delivers what the core queued, and wakes up for timers.
//!
//! Handlers never lock anything: they send a closure over an unbounded channel and await its
//! answer on a oneshot. The actor drains every queued job before flushing, so bursts of calls
//! share one flush (natural batching, no timers in the hot path).
//!
//! Write before acknowledge: a flush hands the batch's registry ops, its outbox and its RPC
//! answers to the registry [`Committer`], which delivers them only once the ops are durable,
//! in batch order. The actor does not wait for the disk; batches that queue behind a commit
//! share the next one (group commit).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use wasmesos_proto::v1::{AgentCommand, Event};

use crate::Error;
use crate::core::{Core, Outbox, StateSnapshot};
use crate::http::snapshots::Publisher;
use crate::metrics::Metrics;
use crate::registry::{Committer, RegistryStore, Release};

/// Jobs handled between two flushes at most; bounds the latency a burst can add.
const MAX_JOBS_PER_FLUSH: usize = 4096;

type Job = Box<dyn FnOnce(&mut Shell) + Send>;

/// A sender into one framework's or agent's stream, tagged so a replaced stream's late close
/// notice is told apart from the current one.
struct Conn<T> {
    id: u64,
    tx: mpsc::UnboundedSender<T>,
}

/// The core plus the open streams the actor delivers into.
pub(crate) struct Shell {
    pub(crate) core: Core,
    origin: Instant,
    framework_streams: HashMap<String, Conn<Event>>,
    agent_streams: HashMap<String, Conn<AgentCommand>>,
    next_conn: u64,
    publisher: Publisher,
    committer: Committer,
    /// RPC answers of this batch, released with its outbox after its commit.
    answers: Vec<Release>,
}

impl Shell {
    /// Time as the core measures it: since the actor started.
    pub(crate) fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Registers a framework's new event stream, replacing (and so ending) an older one.
    pub(crate) fn open_framework_stream(
        &mut self,
        framework_id: &str,
        tx: mpsc::UnboundedSender<Event>,
    ) -> u64 {
        let id = self.next_conn_id();
        self.framework_streams
            .insert(framework_id.to_string(), Conn { id, tx });
        id
    }

    /// Registers an agent's new command stream, replacing (and so ending) an older one.
    pub(crate) fn open_agent_stream(
        &mut self,
        agent_id: &str,
        tx: mpsc::UnboundedSender<AgentCommand>,
    ) -> u64 {
        let id = self.next_conn_id();
        self.agent_streams
            .insert(agent_id.to_string(), Conn { id, tx });
        id
    }

    /// A framework's stream ended (client gone); only the current stream's end counts.
    pub(crate) fn framework_stream_closed(&mut self, framework_id: &str, conn: u64) {
        if self
            .framework_streams
            .get(framework_id)
            .is_some_and(|c| c.id == conn)
        {
            self.framework_streams.remove(framework_id);
            let now = self.now();
            self.core.framework_disconnected(framework_id, now);
        }
    }

    /// An agent's command stream ended; only the current stream's end counts.
    pub(crate) fn agent_stream_closed(&mut self, agent_id: &str, conn: u64) {
        if self
            .agent_streams
            .get(agent_id)
            .is_some_and(|c| c.id == conn)
        {
            self.agent_streams.remove(agent_id);
            let now = self.now();
            self.core.agent_disconnected(agent_id, now);
        }
    }

    fn next_conn_id(&mut self) -> u64 {
        self.next_conn += 1;
        self.next_conn
    }

    /// Hands what the core queued, with this batch's registry ops and RPC answers, to the
    /// committer. Deliveries go to the streams open now; a send into a stream whose client
    /// is gone fails quietly: that stream's close notice is already on its way to the actor.
    fn flush(&mut self) -> Result<(), Error> {
        let ops = self.core.take_ops();
        let outbox = self.core.take_outbox();
        if ops.is_empty() && outbox.is_empty() && self.answers.is_empty() {
            return Ok(());
        }
        let deliveries = self.route(outbox);
        let answers = std::mem::take(&mut self.answers);
        self.committer.submit(
            ops,
            Box::new(move || {
                deliveries.send();
                for answer in answers {
                    answer();
                }
            }),
        )
    }

    /// Resolves the outbox to the senders of the streams open now, and forgets the streams
    /// it closes (they end once their last messages are delivered).
    fn route(&mut self, outbox: Outbox) -> Deliveries {
        let Outbox {
            events,
            commands,
            close_frameworks,
            close_agents,
        } = outbox;
        let mut deliveries = Deliveries::default();
        for (framework_id, events) in events {
            if let Some(conn) = self.framework_streams.get(&framework_id) {
                deliveries.events.push((conn.tx.clone(), events));
            }
        }
        for (agent_id, commands) in commands {
            if let Some(conn) = self.agent_streams.get(&agent_id) {
                deliveries.commands.push((conn.tx.clone(), commands));
            }
        }
        for framework_id in close_frameworks {
            self.framework_streams.remove(&framework_id);
        }
        for agent_id in close_agents {
            self.agent_streams.remove(&agent_id);
        }
        deliveries
    }
}

/// A batch's messages, bound to the streams they go to.
#[derive(Default)]
struct Deliveries {
    events: Vec<(mpsc::UnboundedSender<Event>, Vec<Event>)>,
    commands: Vec<(mpsc::UnboundedSender<AgentCommand>, Vec<AgentCommand>)>,
}

impl Deliveries {
    fn send(self) {
        for (tx, events) in self.events {
            for event in events {
                let _ = tx.send(event);
            }
        }
        for (tx, commands) in self.commands {
            for command in commands {
                let _ = tx.send(command);
            }
        }
    }
}

/// A cheap handle RPC handlers use to reach the actor.
#[derive(Clone)]
pub(crate) struct Actor {
    tx: mpsc::UnboundedSender<Job>,
    snapshots: watch::Receiver<Arc<StateSnapshot>>,
    metrics: Arc<Metrics>,
}

impl Actor {
    /// Starts the actor task around `core`; it stops when `shutdown` completes or every
    /// handle is dropped.
    pub(crate) fn spawn(
        core: Core,
        registry: Arc<dyn RegistryStore>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> (Self, tokio::task::JoinHandle<Result<(), Error>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (committer, committer_task) = Committer::spawn(registry);
        let (publisher, snapshots) = Publisher::new(&core, Duration::ZERO);
        let metrics = Arc::clone(core.metrics());
        let shell = Shell {
            core,
            origin: Instant::now(),
            framework_streams: HashMap::new(),
            agent_streams: HashMap::new(),
            next_conn: 0,
            publisher,
            committer,
            answers: Vec::new(),
        };
        let task = tokio::spawn(run(shell, rx, committer_task, shutdown));
        let actor = Self {
            tx,
            snapshots,
            metrics,
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

    /// Runs `job` on the actor and returns its result.
    pub(crate) async fn call<T, F>(&self, job: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Shell) -> T + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.cast(move |shell| {
            let out = job(shell);
            shell.answers.push(Box::new(move || {
                let _ = reply.send(out);
            }));
        })?;
        answer.await.map_err(|_| Error::ShuttingDown)
    }

    /// Runs `job` on the actor against the core and the current time.
    pub(crate) async fn core<T, F>(&self, job: F) -> Result<T, Error>
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
    pub(crate) fn cast<F>(&self, job: F) -> Result<(), Error>
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
            .map(|at| shell.origin + at);
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
        let now = shell.now();
        if core_wake.is_some_and(|at| at <= now) {
            shell.publisher.mark_dirty();
        }
        tick_timed(&mut shell.core, now);
        if let Err(err) = shell.flush() {
            drop(shell);
            return Err(committed(committer_task.await).err().unwrap_or(err));
        }
        shell.publisher.publish_if_due(&shell.core, shell.now());
    }
    tracing::debug!("master actor stopped");
    drop(shell);
    committed(committer_task.await)
}

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
