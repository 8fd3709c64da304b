//! `AgentChannel`: what agents call: register (and keep a command stream), heartbeat,
//! status updates, executor messages.

use tonic::{Request, Response, Status};
use wasmesos_proto::v1::agent_channel_server::AgentChannel;
use wasmesos_proto::v1::{
    AgentCommand, ExecutorMessageRequest, ExecutorMessageResponse, HeartbeatRequest,
    HeartbeatResponse, RegisterRequest, StatusUpdates, StatusUpdatesResponse,
    UpdateOversubscribedRequest, UpdateOversubscribedResponse,
};

use std::sync::Arc;

use super::sessions::{Sessions, send_stream_id};
use super::stream::PushStream;
use crate::actor::{Actor, AgentStream};
use crate::auth::Caller;

/// How many entries an agent's oversubscribed resources may have (it estimates a few
/// names: each is one entry).
const MAX_OVERSUBSCRIBED_ENTRIES: usize = 64;

/// The agents' channel service.
pub(crate) struct AgentChannelService {
    actor: Actor,
    sessions: Arc<Sessions>,
}

impl AgentChannelService {
    pub(crate) fn new(actor: Actor) -> Self {
        Self {
            actor,
            sessions: Arc::new(Sessions::new("agent")),
        }
    }

    /// Checks that `request` comes from `agent_id`'s current registration.
    fn session<T>(
        &self,
        agent_id: impl FnOnce(&T) -> &str,
        request: Request<T>,
    ) -> Result<T, Status> {
        let caller = Caller::of(&request);
        self.sessions
            .check(agent_id(request.get_ref()), request.metadata(), &caller)?;
        Ok(request.into_inner())
    }
}

#[tonic::async_trait]
impl AgentChannel for AgentChannelService {
    type RegisterStream = PushStream<AgentCommand>;

    #[tracing::instrument(name = "AgentChannel.Register", skip_all, fields(agent_id = tracing::field::Empty))]
    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<Self::RegisterStream>, Status> {
        let caller = Caller::of(&request);
        let req = request.into_inner();
        if let Some(id) = req
            .agent
            .as_ref()
            .map(|a| a.id.as_str())
            .filter(|id| !id.is_empty())
        {
            self.sessions.may_take_over(id, &caller)?;
        }
        // Bounded: an agent that stops reading has its stream ended (see `rpc::queue`).
        let (tx, rx) = super::queue::agent_channel(super::queue::AGENT_COMMAND_QUEUE);
        let mut session = None;
        let on_close: Box<dyn FnOnce() + Send> = match self.actor.register_agent(req, tx).await? {
            AgentStream::Opened { agent_id, stream } => {
                tracing::Span::current().record("agent_id", agent_id.as_str());
                let started = self.sessions.start(&agent_id, &caller, "");
                session = Some(started);
                let actor = self.actor.clone();
                let sessions = Arc::clone(&self.sessions);
                Box::new(move || {
                    sessions.end(&agent_id, started);
                    actor.agent_stream_closed(agent_id, stream);
                })
            }
            AgentStream::Refused => Box::new(|| {}),
        };
        let mut response = Response::new(PushStream::new(rx, on_close));
        if let Some(session) = session {
            send_stream_id(&mut response, session);
        }
        Ok(response)
    }

    #[tracing::instrument(name = "AgentChannel.Heartbeat", skip_all,
        fields(agent_id = %request.get_ref().agent_id))]
    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let agent_id = self
            .session(|r: &HeartbeatRequest| &r.agent_id, request)?
            .agent_id;
        self.actor.agent_heartbeat(agent_id).await?;
        Ok(Response::new(HeartbeatResponse {}))
    }

    #[tracing::instrument(name = "AgentChannel.UpdateStatus", skip_all,
        fields(agent_id = %request.get_ref().agent_id, updates = request.get_ref().statuses.len()))]
    async fn update_status(
        &self,
        request: Request<StatusUpdates>,
    ) -> Result<Response<StatusUpdatesResponse>, Status> {
        let req = self.session(|r: &StatusUpdates| &r.agent_id, request)?;
        self.actor.status_updates(req).await?;
        Ok(Response::new(StatusUpdatesResponse {}))
    }

    #[tracing::instrument(name = "AgentChannel.UpdateOversubscribed", skip_all,
        fields(agent_id = %request.get_ref().agent_id))]
    async fn update_oversubscribed(
        &self,
        request: Request<UpdateOversubscribedRequest>,
    ) -> Result<Response<UpdateOversubscribedResponse>, Status> {
        let req = self.session(|r: &UpdateOversubscribedRequest| &r.agent_id, request)?;
        let count = req.resources.as_ref().map_or(0, |r| r.resources.len());
        if count > MAX_OVERSUBSCRIBED_ENTRIES {
            return Err(Status::invalid_argument(format!(
                "{count} oversubscribed resources, at most {MAX_OVERSUBSCRIBED_ENTRIES}"
            )));
        }
        self.actor.update_oversubscribed(req).await?;
        Ok(Response::new(UpdateOversubscribedResponse {}))
    }

    #[tracing::instrument(name = "AgentChannel.ExecutorMessage", skip_all,
        fields(agent_id = %request.get_ref().agent_id, task_id = %request.get_ref().task_id))]
    async fn executor_message(
        &self,
        request: Request<ExecutorMessageRequest>,
    ) -> Result<Response<ExecutorMessageResponse>, Status> {
        let req = self.session(|r: &ExecutorMessageRequest| &r.agent_id, request)?;
        self.actor.executor_message(req).await?;
        Ok(Response::new(ExecutorMessageResponse {}))
    }
}
