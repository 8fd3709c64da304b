//! A small master for driving one agent through the real wire protocol: it serves
//! `AgentChannel` and `Artifacts` on a random port, records everything the agent sends, lets a
//! test push commands down the command stream, and acknowledges updates by a chosen policy.
//! It checks the agent's protocol handling; it has none of the master's bookkeeping.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status, Streaming};
use wasmesos_proto::agent_channel_server::{AgentChannel, AgentChannelServer};
use wasmesos_proto::agent_command::{self, Acknowledge, Acknowledgement, Command};
use wasmesos_proto::artifacts_server::{Artifacts, ArtifactsServer};
use wasmesos_proto::*;
use wasmesos_test_support::scaled;

/// How the fake master acknowledges status updates.
#[derive(Debug, Clone, Copy)]
pub enum AckPolicy {
    /// Acknowledge an update the `n`th time it arrives (1 = at once).
    OnReceipt(usize),
    /// Never acknowledge on its own; the test sends acks.
    Manual,
}

#[derive(Default)]
pub struct Recorded {
    pub registrations: Vec<RegisterRequest>,
    pub updates: Vec<TaskStatus>,
    /// When each of `updates` arrived.
    pub arrivals: Vec<std::time::Instant>,
    /// Distinct terminal updates received.
    pub terminals: usize,
    pub messages: Vec<ExecutorMessageRequest>,
    pub receipts: HashMap<Vec<u8>, usize>,
    pub downloads: HashMap<String, usize>,
    /// Every estimate of revocable resources the agent sent.
    pub oversubscribed: Vec<UpdateOversubscribedRequest>,
}

struct Shared {
    recorded: Mutex<Recorded>,
    artifacts: Mutex<HashMap<String, Vec<u8>>>,
    stream: Mutex<Option<mpsc::Sender<Result<AgentCommand, Status>>>>,
    changed: Notify,
    heartbeats: AtomicUsize,
    next_agent: AtomicUsize,
    heartbeat_seconds: f64,
    acks: AckPolicy,
    /// Registrations still to be left unanswered (the stream stays open, silent).
    mute_registrations: AtomicUsize,
    muted_streams: Mutex<Vec<mpsc::Sender<Result<AgentCommand, Status>>>>,
    /// Bytes per message of an artifact download (the real master's 256 KiB by default).
    download_chunk: AtomicUsize,
    /// Downloads still to be refused as UNAVAILABLE, as by a master that is restarting.
    failing_downloads: AtomicUsize,
}

pub struct FakeMaster {
    pub url: String,
    shared: Arc<Shared>,
    _stop: oneshot::Sender<()>,
}

/// The longest [`FakeMaster::until`] waits, before scaling by `WASMESOS_TEST_PATIENCE`.
const WAIT: Duration = Duration::from_secs(60);

impl FakeMaster {
    pub async fn start(acks: AckPolicy) -> FakeMaster {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        FakeMaster::start_on(listener, acks).await
    }

    pub async fn start_on(listener: TcpListener, acks: AckPolicy) -> FakeMaster {
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let shared = Arc::new(Shared {
            recorded: Mutex::new(Recorded::default()),
            artifacts: Mutex::new(HashMap::new()),
            stream: Mutex::new(None),
            changed: Notify::new(),
            heartbeats: AtomicUsize::new(0),
            next_agent: AtomicUsize::new(1),
            heartbeat_seconds: 0.05,
            acks,
            mute_registrations: AtomicUsize::new(0),
            muted_streams: Mutex::new(Vec::new()),
            download_chunk: AtomicUsize::new(256 * 1024),
            failing_downloads: AtomicUsize::new(0),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let service = Service(Arc::clone(&shared));
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        tokio::spawn(
            Server::builder()
                .add_service(AgentChannelServer::new(service.clone()))
                .add_service(ArtifactsServer::new(service))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                }),
        );
        FakeMaster {
            url,
            shared,
            _stop: stop,
        }
    }

    /// Refuses the next `count` artifact downloads as UNAVAILABLE, as a master that is down.
    pub fn fail_downloads(&self, count: usize) {
        self.shared.failing_downloads.store(count, Ordering::SeqCst);
    }

    /// Sends artifact downloads in messages of `bytes`, as a master the agent should not
    /// trust might.
    pub fn send_downloads_in_chunks_of(&self, bytes: usize) {
        self.shared.download_chunk.store(bytes, Ordering::SeqCst);
    }

    /// Stores a component as if a framework had uploaded it; returns its digest.
    pub fn upload(&self, bytes: Vec<u8>) -> String {
        let digest = hex::encode(Sha256::digest(&bytes));
        lock(&self.shared.artifacts).insert(digest.clone(), bytes);
        digest
    }

    pub fn upload_file(&self, path: &str) -> String {
        self.upload(std::fs::read(path).expect("guest artifact"))
    }

    pub fn recorded(&self) -> MutexGuard<'_, Recorded> {
        lock(&self.shared.recorded)
    }

    /// Leaves the next `count` registrations without a `registered` answer.
    pub fn mute_registrations(&self, count: usize) {
        self.shared
            .mute_registrations
            .store(count, Ordering::SeqCst);
    }

    pub fn heartbeats(&self) -> usize {
        self.shared.heartbeats.load(Ordering::SeqCst)
    }

    /// Sends a command down the current command stream.
    pub async fn send(&self, command: Command) {
        self.send_raw(AgentCommand {
            command: Some(command),
        })
        .await;
    }

    /// Sends any message down the command stream, even an empty one.
    pub async fn send_raw(&self, command: AgentCommand) {
        let sender = lock(&self.shared.stream)
            .clone()
            .expect("an agent is connected");
        sender.send(Ok(command)).await.expect("command stream open");
    }

    pub async fn launch(&self, framework_id: &str, tasks: Vec<TaskInfo>) {
        let framework = FrameworkInfo {
            id: framework_id.into(),
            name: "test".into(),
            ..Default::default()
        };
        self.launch_for(framework, tasks).await;
    }

    /// Launches `tasks` for a framework described by `framework` (capabilities and all).
    pub async fn launch_for(&self, framework: FrameworkInfo, tasks: Vec<TaskInfo>) {
        self.send(Command::Launch(agent_command::Launch {
            framework: Some(framework),
            tasks,
        }))
        .await;
    }

    pub async fn ack(&self, status: &TaskStatus) {
        self.send(Command::Acknowledge(Acknowledge {
            acks: vec![ack_for(status)],
        }))
        .await;
    }

    /// Ends the current command stream, as a master restart would.
    pub fn drop_stream(&self) {
        lock(&self.shared.stream).take();
    }

    /// Waits until `check` sees what it wants in the recorded traffic, or fails the test.
    pub async fn until<T>(&self, what: &str, mut check: impl FnMut(&FakeMaster) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + scaled(WAIT);
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(found) = check(self) {
                return found;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!("timed out waiting for {what}");
            }
        }
    }

    /// The updates of one task, in arrival order.
    pub fn updates_of(&self, task_id: &str) -> Vec<TaskStatus> {
        self.recorded()
            .updates
            .iter()
            .filter(|s| s.task_id == task_id)
            .cloned()
            .collect()
    }

    /// Waits for the task's first terminal update.
    pub async fn terminal(&self, task_id: &str) -> TaskStatus {
        self.until(&format!("a terminal update of {task_id}"), |m| {
            m.updates_of(task_id)
                .into_iter()
                .find(|s| s.state().is_terminal())
        })
        .await
    }

    /// Waits for the task to reach `state`.
    pub async fn state(&self, task_id: &str, state: TaskState) -> TaskStatus {
        self.until(&format!("{task_id} in {state:?}"), |m| {
            m.updates_of(task_id)
                .into_iter()
                .find(|s| s.state() == state)
        })
        .await
    }

    pub async fn registrations(&self, count: usize) -> Vec<RegisterRequest> {
        self.until(&format!("{count} registrations"), |m| {
            let recorded = m.recorded();
            (recorded.registrations.len() >= count).then(|| recorded.registrations.clone())
        })
        .await
    }
}

pub fn ack_for(status: &TaskStatus) -> Acknowledgement {
    Acknowledgement {
        framework_id: status.framework_id.clone(),
        task_id: status.task_id.clone(),
        uuid: status.uuid.clone(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Clone)]
struct Service(Arc<Shared>);

impl Service {
    fn changed(&self) {
        self.0.changed.notify_waiters();
    }
}

#[tonic::async_trait]
impl AgentChannel for Service {
    type RegisterStream = ReceiverStream<Result<AgentCommand, Status>>;

    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<Self::RegisterStream>, Status> {
        let request = request.into_inner();
        let muted = self
            .0
            .mute_registrations
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if muted {
            let (sender, receiver) = mpsc::channel(1);
            lock(&self.0.recorded).registrations.push(request);
            self.changed();
            // Keep the stream open and silent for as long as the master runs.
            lock(&self.0.muted_streams).push(sender);
            return Ok(Response::new(ReceiverStream::new(receiver)));
        }
        let mut agent_id = request
            .agent
            .as_ref()
            .map(|a| a.id.clone())
            .unwrap_or_default();
        if agent_id.is_empty() {
            agent_id = format!("agent-{}", self.0.next_agent.fetch_add(1, Ordering::SeqCst));
        }
        let (sender, receiver) = mpsc::channel(1024);
        let registered = Command::Registered(agent_command::Registered {
            agent_id,
            heartbeat_interval_seconds: self.0.heartbeat_seconds,
            master: None,
        });
        sender
            .send(Ok(AgentCommand {
                command: Some(registered),
            }))
            .await
            .map_err(|_| Status::internal("stream closed"))?;
        *lock(&self.0.stream) = Some(sender);
        lock(&self.0.recorded).registrations.push(request);
        self.changed();
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    async fn update_oversubscribed(
        &self,
        request: Request<UpdateOversubscribedRequest>,
    ) -> Result<Response<UpdateOversubscribedResponse>, Status> {
        lock(&self.0.recorded)
            .oversubscribed
            .push(request.into_inner());
        self.changed();
        Ok(Response::new(UpdateOversubscribedResponse {}))
    }

    async fn heartbeat(
        &self,
        _request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        self.0.heartbeats.fetch_add(1, Ordering::SeqCst);
        self.changed();
        Ok(Response::new(HeartbeatResponse {}))
    }

    async fn update_status(
        &self,
        request: Request<StatusUpdates>,
    ) -> Result<Response<StatusUpdatesResponse>, Status> {
        let statuses = request.into_inner().statuses;
        let mut acks = Vec::new();
        {
            let mut recorded = lock(&self.0.recorded);
            let now = std::time::Instant::now();
            for status in statuses {
                if !status.uuid.is_empty() {
                    let receipts = recorded.receipts.entry(status.uuid.clone()).or_default();
                    *receipts += 1;
                    let first = *receipts == 1;
                    if let AckPolicy::OnReceipt(n) = self.0.acks
                        && *receipts == n
                    {
                        acks.push(ack_for(&status));
                    }
                    if first && status.state().is_terminal() {
                        recorded.terminals += 1;
                    }
                }
                recorded.arrivals.push(now);
                recorded.updates.push(status);
            }
        }
        if !acks.is_empty() {
            let sender = lock(&self.0.stream).clone();
            if let Some(sender) = sender {
                let ack = Command::Acknowledge(Acknowledge { acks });
                let _ = sender.send(Ok(AgentCommand { command: Some(ack) })).await;
            }
        }
        self.changed();
        Ok(Response::new(StatusUpdatesResponse {}))
    }

    async fn executor_message(
        &self,
        request: Request<ExecutorMessageRequest>,
    ) -> Result<Response<ExecutorMessageResponse>, Status> {
        lock(&self.0.recorded).messages.push(request.into_inner());
        self.changed();
        Ok(Response::new(ExecutorMessageResponse {}))
    }
}

#[tonic::async_trait]
impl Artifacts for Service {
    type DownloadStream = ReceiverStream<Result<DownloadChunk, Status>>;

    async fn upload(
        &self,
        _request: Request<Streaming<UploadChunk>>,
    ) -> Result<Response<UploadResponse>, Status> {
        Err(Status::unimplemented("tests store artifacts directly"))
    }

    async fn download(
        &self,
        request: Request<DownloadRequest>,
    ) -> Result<Response<Self::DownloadStream>, Status> {
        let digest = request.into_inner().digest;
        *lock(&self.0.recorded)
            .downloads
            .entry(digest.clone())
            .or_default() += 1;
        self.changed();
        let failing =
            self.0
                .failing_downloads
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if failing.is_ok() {
            return Err(Status::unavailable("the master is restarting"));
        }
        let bytes = lock(&self.0.artifacts)
            .get(&digest)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("no artifact {digest}")))?;
        let (sender, receiver) = mpsc::channel(16);
        let chunk_size = self.0.download_chunk.load(Ordering::SeqCst);
        tokio::spawn(async move {
            let total_size = bytes.len() as u64;
            for (n, chunk) in bytes.chunks(chunk_size).enumerate() {
                let chunk = DownloadChunk {
                    data: chunk.to_vec().into(),
                    total_size: if n == 0 { total_size } else { 0 },
                };
                if sender.send(Ok(chunk)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    async fn stat(&self, request: Request<StatRequest>) -> Result<Response<StatResponse>, Status> {
        let digest = request.into_inner().digest;
        let size = lock(&self.0.artifacts).get(&digest).map(|b| b.len() as u64);
        Ok(Response::new(StatResponse {
            exists: size.is_some(),
            size: size.unwrap_or(0),
        }))
    }
}
