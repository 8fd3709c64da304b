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
use crate::actor::Actor;
use crate::core::Registration;

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
        let (tx, rx) = mpsc::unbounded_channel();
        let registration = self
            .actor
            .call(move |shell| {
                let now = shell.now();
                match shell.core.register_agent(req, now)? {
                    Registration::Accepted { agent_id } => {
                        let conn = shell.open_agent_stream(&agent_id, tx);
                        Ok::<_, crate::Error>(Ok((agent_id, conn)))
                    }
                    Registration::Refused { commands } => {
                        for command in commands {
                            let _ = tx.send(command);
                        }
                        Ok(Err(()))
                    }
                }
            })
            .await??;
        let on_close: Box<dyn FnOnce() + Send> = match registration {
            Ok((agent_id, conn)) => {
                tracing::Span::current().record("agent_id", agent_id.as_str());
                let actor = self.actor.clone();
                Box::new(move || {
                    let _ = actor.cast(move |shell| shell.agent_stream_closed(&agent_id, conn));
                })
            }
            Err(()) => Box::new(|| {}),
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
        self.actor
            .core(move |core, now| core.agent_heartbeat(&agent_id, now))
            .await??;
        Ok(Response::new(HeartbeatResponse {}))
    }

    #[tracing::instrument(name = "AgentChannel.UpdateStatus", skip_all,
        fields(agent_id = %request.get_ref().agent_id, updates = request.get_ref().statuses.len()))]
    async fn update_status(
        &self,
        request: Request<StatusUpdates>,
    ) -> Result<Response<StatusUpdatesResponse>, Status> {
        let req = request.into_inner();
        self.actor
            .core(move |core, now| core.status_updates(req, now))
            .await??;
        Ok(Response::new(StatusUpdatesResponse {}))
    }

    #[tracing::instrument(name = "AgentChannel.ExecutorMessage", skip_all,
        fields(agent_id = %request.get_ref().agent_id, task_id = %request.get_ref().task_id))]
    async fn executor_message(
        &self,
        request: Request<ExecutorMessageRequest>,
    ) -> Result<Response<ExecutorMessageResponse>, Status> {
        let req = request.into_inner();
        self.actor
            .core(move |core, now| core.executor_message(req, now))
            .await??;
        Ok(Response::new(ExecutorMessageResponse {}))
    }
}
