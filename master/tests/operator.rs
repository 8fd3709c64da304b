//! The operator API: ReadTaskFile is proxied to the agent that ran the task.

mod common;

use common::*;
use tokio::net::TcpListener;
use tonic::{Code, Request, Response, Status};
use wasmesos_proto::v1::agent_server::{Agent, AgentServer};
use wasmesos_proto::v1::{
    AcceptRequest, AgentState, ExecutorInfo, GetAgentStateRequest, KillTaskRequest, Operation,
    ReadFileRequest, ReadFileResponse, SandboxFile, TaskInfo, agent_command, event, operation,
};

/// An agent API that answers reads with a description of what was asked.
struct EchoAgent;

#[tonic::async_trait]
impl Agent for EchoAgent {
    async fn read_file(
        &self,
        request: Request<ReadFileRequest>,
    ) -> Result<Response<ReadFileResponse>, Status> {
        let req = request.into_inner();
        if req.task_id == "refused" {
            return Err(Status::permission_denied("no"));
        }
        let data = format!(
            "{} {:?} {} {}",
            req.task_id,
            req.file(),
            req.offset,
            req.length
        );
        Ok(Response::new(ReadFileResponse {
            size: data.len() as u64,
            data: data.into_bytes(),
            offset: 0,
            growing: true,
        }))
    }

    async fn get_agent_state(
        &self,
        _: Request<GetAgentStateRequest>,
    ) -> Result<Response<AgentState>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
}

async fn serve_echo_agent() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(AgentServer::new(EchoAgent))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    format!("http://{addr}")
}

async fn launch_one(master: &Master, task_ids: &[&str], address: &str) -> FakeAgent {
    let bytes = read_guest(wasmesos_guest_artifacts::HELLO);
    let digest = master.upload(&bytes, 0, "").await.expect("upload").digest;
    let mut agent = master.register(cpus_mem(4.0, 4e9), address).await;
    let (fw, mut events) = master.subscribe("fw", &[]).await;
    let offer = wait_for(&mut events, |e| match e {
        event::Event::Offers(o) => o.offers.first().cloned(),
        _ => None,
    })
    .await;
    let tasks = task_ids
        .iter()
        .map(|id| TaskInfo {
            task_id: id.to_string(),
            executor: Some(ExecutorInfo {
                digest: digest.clone(),
                ..ExecutorInfo::default()
            }),
            resources: Some(cpus_mem(0.5, 1e6)),
            ..TaskInfo::default()
        })
        .collect();
    let accept = AcceptRequest {
        framework_id: fw,
        offer_ids: vec![offer.id],
        operations: vec![Operation {
            operation: Some(operation::Operation::Launch(operation::Launch { tasks })),
        }],
        filters: None,
    };
    master.scheduler().accept(accept).await.expect("accept");
    assert!(matches!(
        agent.next().await,
        Some(agent_command::Command::Launch(_))
    ));
    agent
}

#[tokio::test]
async fn read_task_file_is_proxied_to_the_agent() {
    let address = serve_echo_agent().await;
    let master = start(|_| {}).await;
    let _agent = launch_one(&master, &["t1", "refused"], &address).await;
    let read = ReadFileRequest {
        task_id: "t1".into(),
        file: SandboxFile::Stderr as i32,
        offset: -10,
        length: 5,
    };
    let response = master
        .operator()
        .read_task_file(read)
        .await
        .expect("read")
        .into_inner();
    assert_eq!(String::from_utf8_lossy(&response.data), "t1 Stderr -10 5");
    assert!(response.growing);
    let refused = ReadFileRequest {
        task_id: "refused".into(),
        ..ReadFileRequest::default()
    };
    let result = master.operator().read_task_file(refused).await;
    assert_eq!(result.err().map(|s| s.code()), Some(Code::PermissionDenied));
}

#[tokio::test]
async fn an_unreachable_agent_is_unavailable_and_no_address_a_failed_precondition() {
    let master = start(|_| {}).await;
    let _agent = launch_one(&master, &["t1"], "").await;
    let read = ReadFileRequest {
        task_id: "t1".into(),
        ..ReadFileRequest::default()
    };
    let result = master.operator().read_task_file(read).await;
    assert_eq!(
        result.err().map(|s| s.code()),
        Some(Code::FailedPrecondition)
    );

    // An address nobody listens on: bind a port, then free it.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let master = start(|_| {}).await;
    let _agent = launch_one(&master, &["t1"], &dead).await;
    let read = ReadFileRequest {
        task_id: "t1".into(),
        ..ReadFileRequest::default()
    };
    let result = master.operator().read_task_file(read).await;
    assert_eq!(result.err().map(|s| s.code()), Some(Code::Unavailable));
}

#[tokio::test]
async fn operator_kill_reaches_the_agent_and_state_lists_everything() {
    let master = start(|_| {}).await;
    let mut agent = launch_one(&master, &["t1"], "").await;
    let kill = KillTaskRequest {
        task_id: "t1".into(),
        ..Default::default()
    };
    master.operator().kill_task(kill).await.expect("kill");
    assert!(
        matches!(agent.next().await, Some(agent_command::Command::Kill(k)) if k.task_id == "t1")
    );
    // The state is published up to 100 ms after the launch.
    let state = master.state_where(|s| !s.tasks.is_empty()).await;
    assert_eq!(state.agents.len(), 1);
    assert_eq!(state.frameworks.len(), 1);
    assert_eq!(state.tasks.len(), 1);
    assert_eq!(state.frameworks[0].active_tasks, 1);
    assert!(state.roles.iter().any(|r| r.name == "*" && r.weight == 1.0));
    let master_info = state.master.expect("master info");
    assert_eq!(master_info.address, master.handle.url());
    assert_eq!(state.leader, master.handle.url());
}
