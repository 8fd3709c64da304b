//! A real master on port 0 and clients built from the generated tonic stubs: a fake agent
//! and a fake scheduler speaking the wire protocol, so these tests check what peers see.

#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tempfile::TempDir;
use tokio_stream::{Stream, StreamExt};
use tonic::Streaming;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use wasmesos_master::{MasterConfig, MasterHandle};
use wasmesos_proto::v1::agent_channel_client::AgentChannelClient;
use wasmesos_proto::v1::artifacts_client::ArtifactsClient;
use wasmesos_proto::v1::operator_client::OperatorClient;
use wasmesos_proto::v1::scheduler_client::SchedulerClient;
use wasmesos_proto::v1::{
    AcceptRequest, AgentCommand, AgentInfo, ClusterState, Event, ExecutorInfo, Filters,
    FrameworkInfo, GetRolesRequest, GetStateRequest, Offer, Operation, RegisterRequest, Resources,
    RoleSummary, SubscribeRequest, TaskInfo, UploadChunk, UploadHeader, UploadResponse,
    agent_command, event, operation,
};
use wasmesos_test_support::scaled;

/// How long any single expected message may take before a test fails (scaled by
/// `WASMESOS_TEST_PATIENCE`).
pub const DEADLINE: Duration = Duration::from_secs(10);

pub struct Master {
    pub handle: MasterHandle,
    pub channel: Channel,
    /// The session stream id of each framework and agent this helper subscribed or
    /// registered, and of the latest one: what their calls must carry.
    sessions: Mutex<Sessions>,
    _dir: TempDir,
}

#[derive(Default)]
struct Sessions {
    by_id: HashMap<String, String>,
    last_framework: Option<String>,
    last_agent: Option<String>,
}

/// Adds a session's stream id to every call.
#[derive(Clone)]
pub struct StreamId(Option<String>);

impl tonic::service::Interceptor for StreamId {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(id) = &self.0 {
            request
                .metadata_mut()
                .insert("mesos-stream-id", id.parse().expect("ascii stream id"));
        }
        Ok(request)
    }
}

pub type SessionChannel = InterceptedService<Channel, StreamId>;

fn stream_id<T>(response: &tonic::Response<T>) -> String {
    response
        .metadata()
        .get("mesos-stream-id")
        .and_then(|v| v.to_str().ok())
        .expect("a session's response carries its stream id")
        .to_string()
}

/// Starts a master with `tune` applied to a test config.
pub async fn start(tune: impl FnOnce(&mut MasterConfig)) -> Master {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = MasterConfig::for_tests(dir.path());
    tune(&mut config);
    let handle = wasmesos_master::spawn(config).await.expect("master starts");
    let channel = Channel::from_shared(handle.url())
        .expect("url")
        .connect()
        .await
        .expect("connect to master");
    Master {
        handle,
        channel,
        sessions: Mutex::default(),
        _dir: dir,
    }
}

impl Master {
    /// A scheduler client in the session of the framework subscribed last.
    pub fn scheduler(&self) -> SchedulerClient<SessionChannel> {
        let last = self
            .sessions
            .lock()
            .expect("sessions")
            .last_framework
            .clone();
        self.client_for(last.as_deref())
    }

    /// A scheduler client in `framework_id`'s session.
    pub fn scheduler_for(&self, framework_id: &str) -> SchedulerClient<SessionChannel> {
        self.client_for(Some(framework_id))
    }

    fn client_for(&self, id: Option<&str>) -> SchedulerClient<SessionChannel> {
        SchedulerClient::new(self.session_channel(id))
    }

    fn session_channel(&self, id: Option<&str>) -> SessionChannel {
        let stream = id.and_then(|id| {
            self.sessions
                .lock()
                .expect("sessions")
                .by_id
                .get(id)
                .cloned()
        });
        InterceptedService::new(self.channel.clone(), StreamId(stream))
    }

    /// An agent channel client in the session of the agent registered last.
    pub fn agents(&self) -> AgentChannelClient<SessionChannel> {
        let last = self.sessions.lock().expect("sessions").last_agent.clone();
        AgentChannelClient::new(self.session_channel(last.as_deref()))
    }

    /// An agent channel client in `agent_id`'s session.
    pub fn agent(&self, agent_id: &str) -> AgentChannelClient<SessionChannel> {
        AgentChannelClient::new(self.session_channel(Some(agent_id)))
    }

    /// Records a framework's session from its SUBSCRIBE response.
    pub fn framework_session<T>(&self, framework_id: &str, response: &tonic::Response<T>) {
        let mut sessions = self.sessions.lock().expect("sessions");
        sessions
            .by_id
            .insert(framework_id.to_string(), stream_id(response));
        sessions.last_framework = Some(framework_id.to_string());
    }

    /// Records an agent's session from its registration response.
    pub fn agent_session<T>(&self, agent_id: &str, response: &tonic::Response<T>) {
        let mut sessions = self.sessions.lock().expect("sessions");
        sessions
            .by_id
            .insert(agent_id.to_string(), stream_id(response));
        sessions.last_agent = Some(agent_id.to_string());
    }

    pub fn artifacts(&self) -> ArtifactsClient<Channel> {
        ArtifactsClient::new(self.channel.clone()).max_decoding_message_size(usize::MAX)
    }

    pub fn operator(&self) -> OperatorClient<Channel> {
        OperatorClient::new(self.channel.clone())
    }

    /// The cluster state as the operator API reports it.
    pub async fn state(&self) -> ClusterState {
        self.operator()
            .get_state(GetStateRequest {})
            .await
            .expect("state")
            .into_inner()
    }

    /// The first `Operator.GetState` answer that `ready` accepts. GetState reads the state
    /// snapshot the master republishes at most every 100 ms after a change, so what a test
    /// just did may take another look to show.
    pub async fn state_where(&self, ready: impl Fn(&ClusterState) -> bool) -> ClusterState {
        within(async {
            loop {
                let state = self.state().await;
                if ready(&state) {
                    return state;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
    }

    /// One role as `Operator.GetRoles` reports it.
    pub async fn role(&self, name: &str) -> Option<RoleSummary> {
        self.operator()
            .get_roles(GetRolesRequest {})
            .await
            .expect("roles")
            .into_inner()
            .roles
            .into_iter()
            .find(|role| role.name == name)
    }

    /// Subscribes a framework; returns its id and its event stream past SUBSCRIBED.
    pub async fn subscribe(&self, name: &str, roles: &[&str]) -> (String, Streaming<Event>) {
        let req = SubscribeRequest {
            framework: Some(FrameworkInfo {
                name: name.into(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                ..FrameworkInfo::default()
            }),
            heartbeat_interval_seconds: 0.0,
        };
        let response = SchedulerClient::new(self.channel.clone())
            .subscribe(req)
            .await
            .expect("subscribe");
        let metadata = tonic::Response::new(());
        let mut with_id = metadata;
        *with_id.metadata_mut() = response.metadata().clone();
        let mut events = response.into_inner();
        let first = within(events.next()).await;
        match first.and_then(|e| e.ok()).and_then(|e| e.event) {
            Some(event::Event::Subscribed(s)) => {
                self.framework_session(&s.framework_id, &with_id);
                (s.framework_id, events)
            }
            other => panic!("expected SUBSCRIBED, got {other:?}"),
        }
    }

    /// Registers a fake agent with these resources; returns its id and command stream.
    pub async fn register(&self, resources: Resources, address: &str) -> FakeAgent {
        let req = RegisterRequest {
            agent: Some(AgentInfo {
                hostname: "fake".into(),
                address: address.into(),
                resources: Some(resources),
                ..AgentInfo::default()
            }),
            ..RegisterRequest::default()
        };
        let response = AgentChannelClient::new(self.channel.clone())
            .register(req)
            .await
            .expect("register");
        let mut with_id = tonic::Response::new(());
        *with_id.metadata_mut() = response.metadata().clone();
        let mut commands = response.into_inner();
        let first = within(commands.next()).await;
        match first.and_then(|c| c.ok()).and_then(|c| c.command) {
            Some(agent_command::Command::Registered(r)) => {
                self.agent_session(&r.agent_id, &with_id);
                FakeAgent {
                    id: r.agent_id,
                    commands,
                }
            }
            other => panic!("expected REGISTERED, got {other:?}"),
        }
    }

    /// Uploads `bytes` in 64 KiB chunks with the given header fields.
    pub async fn upload(
        &self,
        bytes: &[u8],
        size: u64,
        digest: &str,
    ) -> Result<UploadResponse, tonic::Status> {
        let mut chunks: Vec<UploadChunk> = bytes
            .chunks(64 * 1024)
            .map(|data| UploadChunk {
                header: None,
                data: data.to_vec().into(),
            })
            .collect();
        if chunks.is_empty() {
            chunks.push(UploadChunk::default());
        }
        chunks[0].header = Some(UploadHeader {
            size,
            digest: digest.into(),
            name: "test.wasm".into(),
        });
        self.artifacts()
            .upload(tokio_stream::iter(chunks))
            .await
            .map(tonic::Response::into_inner)
    }
}

pub struct FakeAgent {
    pub id: String,
    pub commands: Streaming<AgentCommand>,
}

impl FakeAgent {
    /// The next command, failing the test after [`DEADLINE`].
    pub async fn next(&mut self) -> Option<agent_command::Command> {
        within(self.commands.next())
            .await
            .and_then(|c| c.ok())
            .and_then(|c| c.command)
    }
}

/// Awaits `future`, failing the test if it takes longer than [`DEADLINE`].
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(scaled(DEADLINE), future)
        .await
        .expect("timed out waiting for the master")
}

/// Reads events until `pick` returns something, failing after [`DEADLINE`].
pub async fn wait_for<T, S>(events: &mut S, mut pick: impl FnMut(&event::Event) -> Option<T>) -> T
where
    S: Stream<Item = Result<Event, tonic::Status>> + Unpin,
{
    within(async {
        loop {
            let event = events
                .next()
                .await
                .expect("stream ended")
                .expect("stream error");
            if let Some(found) = event.event.as_ref().and_then(&mut pick) {
                return found;
            }
        }
    })
    .await
}

/// Resources in the agent syntax (`"cpus(ads):4;cpus:2;mem:1GiB"`), in wire form.
pub fn res(text: &str) -> Resources {
    let parsed: wasmesos_allocator::Resources = text
        .parse()
        .unwrap_or_else(|err| panic!("bad test resources {text:?}: {err}"));
    wasmesos_proto::resources_to_proto(&parsed)
}

/// Wire resources back in the agent syntax, for comparisons that read well.
pub fn text(resources: Option<&Resources>) -> String {
    wasmesos_proto::resources_from_proto(resources, wasmesos_proto::Amounts::NonNegative)
        .expect("valid resources on the wire")
        .to_string()
}

/// The amount of `name` reserved for `role` (empty: unreserved).
pub fn amount(resources: Option<&Resources>, name: &str, role: &str) -> f64 {
    resources
        .map(|r| r.resources.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|r| r.name == name && r.role == role)
        .map(|r| r.value)
        .sum()
}

/// The offers of the next OFFERS event (on one stream, or on several merged).
pub async fn next_offers<S>(events: &mut S) -> Vec<Offer>
where
    S: Stream<Item = Result<Event, tonic::Status>> + Unpin,
{
    wait_for(events, |e| match e {
        event::Event::Offers(o) => Some(o.offers.clone()),
        _ => None,
    })
    .await
}

/// Reads OFFERS events until `count` offers have arrived.
pub async fn offers_until<S>(events: &mut S, count: usize) -> Vec<Offer>
where
    S: Stream<Item = Result<Event, tonic::Status>> + Unpin,
{
    let mut all = Vec::new();
    while all.len() < count {
        all.extend(next_offers(events).await);
    }
    all
}

pub fn cpus_mem(cpus: f64, mem_bytes: f64) -> Resources {
    Resources::from_scalars([("cpus", cpus), ("mem", mem_bytes)])
}

pub fn read_guest(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|err| panic!("guest {path} not built: {err}"))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    wasmesos_master::artifacts::sha256_hex(bytes)
}

/// Uploads the hello guest; its digest.
pub async fn upload_hello(master: &Master) -> String {
    let bytes = read_guest(wasmesos_guest_artifacts::HELLO);
    master
        .upload(&bytes, bytes.len() as u64, "")
        .await
        .expect("upload")
        .digest
}

/// A task running the component `digest` with `resources`.
pub fn task_with(id: &str, digest: &str, resources: Resources) -> TaskInfo {
    TaskInfo {
        task_id: id.into(),
        name: id.into(),
        executor: Some(ExecutorInfo {
            digest: digest.into(),
            ..ExecutorInfo::default()
        }),
        resources: Some(resources),
        ..TaskInfo::default()
    }
}

/// A hello task of 1 cpu and 64 MiB.
pub fn hello_task(id: &str, digest: &str) -> TaskInfo {
    task_with(id, digest, cpus_mem(1.0, 64.0 * 1024.0 * 1024.0))
}

/// ACCEPT launching `tasks` on `offer`, refusing nothing afterwards.
pub fn launch(framework_id: &str, offer: &Offer, tasks: Vec<TaskInfo>) -> AcceptRequest {
    AcceptRequest {
        framework_id: framework_id.into(),
        offer_ids: vec![offer.id.clone()],
        operations: vec![Operation {
            operation: Some(operation::Operation::Launch(operation::Launch { tasks })),
        }],
        filters: Some(Filters {
            refuse_seconds: Some(0.0),
        }),
    }
}
