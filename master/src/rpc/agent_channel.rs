//! `AgentChannel`: what agents call: register (and keep a command stream), heartbeat,
//! status updates, executor messages.

use tokio::sync::mpsc;
use tonic::{Request, Response, Status};
use wasmesos_proto::v1::agent_channel_server::AgentChannel;
use wasmesos_proto::v1::{
    AgentCommand, ExecutorMessageRequest, ExecutorMessageResponse, HeartbeatRequest,
    HeartbeatResponse, RegisterRequest, StatusUpdates, StatusUpdatesResponse,
};

use super::stream::PushStream;
use crate::actor::{Actor, AgentStream};

/// The agents' channel service.
pub(crate) struct AgentChannelService {
    pub(crate) actor: Actor,
}

#[tonic::async_trait]
impl AgentChannel for AgentChannelService {
    type RegisterStream = PushStream<AgentCommand>;

    #[tracing::instrument(name = "AgentChannel.Register", skip_all, fields(agent_id = tracing::field::Empty))]
    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<Self::RegisterStream>, Status> {
        let req = request.into_inner();
        #[allow(
            clippy::disallowed_methods,
            reason = "an agent's command stream; not bounded yet: disconnecting an agent that stops reading is the control-plane hardening work"
        )]
        let (tx, rx) = mpsc::unbounded_channel();
        let on_close: Box<dyn FnOnce() + Send> = match self.actor.register_agent(req, tx).await? {
            AgentStream::Opened { agent_id, stream } => {
                tracing::Span::current().record("agent_id", agent_id.as_str());
                let actor = self.actor.clone();
                Box::new(move || actor.agent_stream_closed(agent_id, stream))
            }
            AgentStream::Refused => Box::new(|| {}),
        };
        Ok(Response::new(PushStream::new(rx, on_close)))
    }

    #[tracing::instrument(name = "AgentChannel.Heartbeat", skip_all,
        fields(agent_id = %request.get_ref().agent_id))]
    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let agent_id = request.into_inner().agent_id;
        self.actor.agent_heartbeat(agent_id).await?;
        Ok(Response::new(HeartbeatResponse {}))
    }

    #[tracing::instrument(name = "AgentChannel.UpdateStatus", skip_all,
        fields(agent_id = %request.get_ref().agent_id, updates = request.get_ref().statuses.len()))]
    async fn update_status(
        &self,
        request: Request<StatusUpdates>,
    ) -> Result<Response<StatusUpdatesResponse>, Status> {
        let req = request.into_inner();
        self.actor.status_updates(req).await?;
        Ok(Response::new(StatusUpdatesResponse {}))
    }

    #[tracing::instrument(name = "AgentChannel.ExecutorMessage", skip_all,
        fields(agent_id = %request.get_ref().agent_id, task_id = %request.get_ref().task_id))]
    async fn executor_message(
        &self,
        request: Request<ExecutorMessageRequest>,
    ) -> Result<Response<ExecutorMessageResponse>, Status> {
        let req = request.into_inner();
        self.actor.executor_message(req).await?;
        Ok(Response::new(ExecutorMessageResponse {}))
    }
}
