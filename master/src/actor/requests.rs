//! The named operations handlers call on the [`Actor`], one per request kind, grouped by the
//! service that sends them. Each runs as one job: it batches with the jobs queued beside it,
//! and its answer is released after that batch's registry commit. Handlers get answers,
//! never the core.

use wasmesos_proto::v1::{
    AcceptRequest, AcknowledgeRequest, AgentCommand, DeclineRequest, Event, ExecutorMessageRequest,
    FrameworkInfo, FrameworkMessageRequest, KillRequest, ReconcileRequest, RegisterRequest,
    ReserveResourcesRequest, ReviveRequest, RoleSummary, SetQuotaRequest, StatusUpdates,
    SubscribeRequest, SuppressRequest, UnreserveResourcesRequest, UpdateWeightsRequest,
};

use super::{Actor, AgentStream, StreamId};
use crate::Error;
use crate::core::Subscription;
use crate::rpc::queue::EventSender;

/// `Scheduler`: what framework schedulers ask.
impl Actor {
    /// SUBSCRIBE: admits the framework; once answered, its events go into `events`.
    pub(crate) async fn subscribe(
        &self,
        req: SubscribeRequest,
        events: EventSender<Event>,
    ) -> Result<(Subscription, StreamId), Error> {
        self.call(move |shell| shell.subscribe(req, events)).await?
    }

    /// The framework's event stream `stream` ended.
    pub(crate) fn framework_stream_closed(&self, framework_id: String, stream: StreamId) {
        // Fails only once the actor has stopped, and then there is no stream left to forget.
        let _ = self.cast(move |shell| shell.framework_stream_closed(&framework_id, stream));
    }

    pub(crate) async fn accept(&self, req: AcceptRequest) -> Result<(), Error> {
        self.core(move |core, now| core.accept(req, now)).await?
    }

    pub(crate) async fn decline(&self, req: DeclineRequest) -> Result<(), Error> {
        self.core(move |core, now| core.decline(req, now)).await?
    }

    pub(crate) async fn revive(&self, req: ReviveRequest) -> Result<(), Error> {
        self.core(move |core, now| core.revive(req, now)).await?
    }

    pub(crate) async fn request_resources(
        &self,
        req: wasmesos_proto::v1::ResourceRequest,
    ) -> Result<(), Error> {
        self.core(move |core, now| core.request_resources(req, now))
            .await?
    }

    pub(crate) async fn suppress(&self, req: SuppressRequest) -> Result<(), Error> {
        self.core(move |core, now| core.suppress(req, now)).await?
    }

    pub(crate) async fn kill(&self, req: KillRequest) -> Result<(), Error> {
        self.core(move |core, now| core.kill(req, now)).await?
    }

    pub(crate) async fn acknowledge(&self, req: AcknowledgeRequest) -> Result<(), Error> {
        self.core(move |core, now| core.acknowledge(req, now))
            .await?
    }

    pub(crate) async fn reconcile(&self, req: ReconcileRequest) -> Result<(), Error> {
        self.core(move |core, now| core.reconcile(req, now)).await?
    }

    pub(crate) async fn message(&self, req: FrameworkMessageRequest) -> Result<(), Error> {
        self.core(move |core, now| core.message(req, now)).await?
    }

    /// UPDATE_FRAMEWORK: replaces a subscribed framework's info, suppressed in exactly
    /// `suppressed_roles`.
    pub(crate) async fn update_framework(
        &self,
        info: FrameworkInfo,
        suppressed_roles: Vec<String>,
    ) -> Result<(), Error> {
        self.core(move |core, now| core.update_framework(info, &suppressed_roles, now))
            .await?
    }

    pub(crate) async fn teardown(&self, framework_id: String) -> Result<(), Error> {
        self.core(move |core, now| core.teardown(&framework_id, now))
            .await?
    }

    /// An operator removes a framework, connected or not.
    pub(crate) async fn operator_teardown(&self, framework_id: String) -> Result<(), Error> {
        self.core(move |core, now| core.operator_teardown(&framework_id, now))
            .await?
    }
}

/// `AgentChannel`: what agents report.
impl Actor {
    /// REGISTER: admits or refuses the agent; admitted, its commands go into `commands`.
    pub(crate) async fn register_agent(
        &self,
        req: RegisterRequest,
        commands: EventSender<AgentCommand>,
    ) -> Result<AgentStream, Error> {
        self.call(move |shell| shell.register_agent(req, commands))
            .await?
    }

    /// The agent's command stream `stream` ended.
    pub(crate) fn agent_stream_closed(&self, agent_id: String, stream: StreamId) {
        // Fails only once the actor has stopped, and then there is no stream left to forget.
        let _ = self.cast(move |shell| shell.agent_stream_closed(&agent_id, stream));
    }

    pub(crate) async fn agent_heartbeat(&self, agent_id: String) -> Result<(), Error> {
        self.core(move |core, now| core.agent_heartbeat(&agent_id, now))
            .await?
    }

    pub(crate) async fn update_oversubscribed(
        &self,
        req: wasmesos_proto::v1::UpdateOversubscribedRequest,
    ) -> Result<(), Error> {
        self.core(move |core, now| {
            core.update_oversubscribed(&req.agent_id, req.resources.as_ref(), now)
        })
        .await?
    }

    pub(crate) async fn status_updates(&self, req: StatusUpdates) -> Result<(), Error> {
        self.core(move |core, now| core.status_updates(req, now))
            .await?
    }

    pub(crate) async fn executor_message(&self, req: ExecutorMessageRequest) -> Result<(), Error> {
        self.core(move |core, now| core.executor_message(req, now))
            .await?
    }
}

/// `Artifacts`: what the artifact store tells the core.
impl Actor {
    /// A component with `digest` is now in the store, so launches may name it.
    pub(crate) async fn artifact_stored(&self, digest: String) -> Result<(), Error> {
        self.core(move |core, _| core.artifact_stored(&digest))
            .await
    }
}

/// `Operator`: what the cluster's operator asks.
impl Actor {
    pub(crate) async fn operator_kill(
        &self,
        framework_id: Option<String>,
        task_id: String,
    ) -> Result<(), Error> {
        self.core(move |core, now| core.operator_kill(framework_id.as_deref(), &task_id, now))
            .await?
    }

    pub(crate) async fn mark_agent_gone(&self, agent_id: String) -> Result<(), Error> {
        self.core(move |core, now| core.mark_agent_gone(&agent_id, now))
            .await?
    }

    pub(crate) async fn drain_agent(
        &self,
        agent_id: String,
        max_grace: Option<f64>,
        mark_gone: bool,
    ) -> Result<(), Error> {
        self.core(move |core, now| core.drain_agent(&agent_id, max_grace, mark_gone, now))
            .await?
    }

    pub(crate) async fn deactivate_agent(&self, agent_id: String) -> Result<(), Error> {
        self.core(move |core, now| core.deactivate_agent(&agent_id, now))
            .await?
    }

    pub(crate) async fn reactivate_agent(&self, agent_id: String) -> Result<(), Error> {
        self.core(move |core, now| core.reactivate_agent(&agent_id, now))
            .await?
    }

    pub(crate) async fn roles(&self) -> Result<Vec<RoleSummary>, Error> {
        self.core(|core, _| core.roles()).await
    }

    pub(crate) async fn update_weights(&self, req: UpdateWeightsRequest) -> Result<(), Error> {
        self.core(move |core, now| core.update_weights(req, now))
            .await?
    }

    pub(crate) async fn set_quota(&self, req: SetQuotaRequest) -> Result<(), Error> {
        self.core(move |core, now| core.set_quota(req, now)).await?
    }

    pub(crate) async fn reserve_resources(
        &self,
        req: ReserveResourcesRequest,
    ) -> Result<(), Error> {
        self.core(move |core, now| core.reserve_resources(req, now))
            .await?
    }

    pub(crate) async fn unreserve_resources(
        &self,
        req: UnreserveResourcesRequest,
    ) -> Result<(), Error> {
        self.core(move |core, now| core.unreserve_resources(req, now))
            .await?
    }
}
