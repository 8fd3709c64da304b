//! The agent's own gRPC API (`wasmesos.v1.Agent`): sandbox files and agent state.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use tracing::{Instrument, info_span, warn};
use wasmesos_proto::agent_server;
use wasmesos_proto::{
    AgentState, GetAgentStateRequest, ReadFileRequest, ReadFileResponse, SandboxFile,
};
use wasmesos_wasm_executor::{STDERR_FILE, STDOUT_FILE, TaskStream};

use crate::agent::Agent;
use crate::files::{Chunk, find_sandbox, read_range, slice_range};
use crate::ids::check_path_id;
use crate::registry::{Located, Place};

pub(crate) struct AgentService {
    agent: Arc<Agent>,
}

impl AgentService {
    pub(crate) fn new(agent: Arc<Agent>) -> Self {
        AgentService { agent }
    }

    async fn locate(&self, task_id: &str) -> Result<Located, Status> {
        if let Some(located) = self.agent.registry.locate(task_id) {
            return Ok(located);
        }
        let sandboxes = self.agent.sandboxes.root().to_path_buf();
        let id = task_id.to_string();
        let on_disk = tokio::task::spawn_blocking(move || find_sandbox(&sandboxes, &id))
            .await
            .map_err(|err| Status::internal(format!("sandbox lookup failed: {err}")))?;
        on_disk
            .map(|sandbox| Located {
                place: Place {
                    sandbox: Some(sandbox),
                    output: None,
                },
                growing: false,
            })
            .ok_or_else(|| Status::not_found(format!("no task `{task_id}` on this agent")))
    }
}

/// Reads from memory while the task holds the stream there, else from its sandbox file.
async fn read_output(
    place: &Place,
    stream: TaskStream,
    request: &ReadFileRequest,
    cap: u64,
) -> Result<Chunk, Status> {
    let held = place.output.as_ref().and_then(|output| output.held(stream));
    if let Some(held) = held {
        return Ok(slice_range(&held, request.offset, request.length, cap));
    }
    let Some(sandbox) = &place.sandbox else {
        return Ok(Chunk::default());
    };
    let name = match stream {
        TaskStream::Stdout => STDOUT_FILE,
        TaskStream::Stderr => STDERR_FILE,
    };
    let path = sandbox.join(name);
    read_range(&path, request.offset, request.length, cap)
        .await
        .map_err(|err| {
            warn!(path = %path.display(), err = %err, "cannot read a sandbox file");
            Status::internal(format!("cannot read {name}: {err}"))
        })
}

#[tonic::async_trait]
impl agent_server::Agent for AgentService {
    async fn read_file(
        &self,
        request: Request<ReadFileRequest>,
    ) -> Result<Response<ReadFileResponse>, Status> {
        let request = request.into_inner();
        let span = info_span!(
            "read_file",
            task_id = %request.task_id.escape_debug(),
            agent_id = %self.agent.current_id()
        );
        async move {
            check_path_id("task_id", &request.task_id)
                .map_err(|err| Status::invalid_argument(err.to_string()))?;
            let stream = match request.file() {
                SandboxFile::Stdout => TaskStream::Stdout,
                SandboxFile::Stderr => TaskStream::Stderr,
                SandboxFile::Unspecified => {
                    return Err(Status::invalid_argument("file: must be STDOUT or STDERR"));
                }
            };
            let located = self.locate(&request.task_id).await?;
            let cap = self.agent.config.read_file_max_bytes;
            let chunk = read_output(&located.place, stream, &request, cap).await?;
            Ok(Response::new(ReadFileResponse {
                data: chunk.data,
                offset: chunk.offset,
                size: chunk.size,
                growing: located.growing,
            }))
        }
        .instrument(span)
        .await
    }

    async fn get_agent_state(
        &self,
        _request: Request<GetAgentStateRequest>,
    ) -> Result<Response<AgentState>, Status> {
        let _span = info_span!("get_agent_state", agent_id = %self.agent.current_id()).entered();
        Ok(Response::new(AgentState {
            agent: Some(self.agent.info()),
            tasks: self.agent.registry.all_reports(),
            unacknowledged_updates: self.agent.status.unacknowledged(),
        }))
    }
}
