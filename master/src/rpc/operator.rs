//! `Operator`: cluster state, kill by task id, task sandbox reads proxied to the agent, and
//! the allocator's roles, weights, quota and operator reservations.
//!
//! `GetState` and the agent lookup of `ReadTaskFile` read the published state snapshot, as
//! the HTTP API does, and never wait on the actor; the calls that change something, and
//! `GetRoles` (read right after the weights and quota it shows are set), go through it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};
use wasmesos_detector::CallHeaders;
use wasmesos_detector::ClientConfig;
use wasmesos_proto::v1::agent_client::AgentClient;
use wasmesos_proto::v1::operator_server::Operator;
use wasmesos_proto::v1::{
    ClusterState, DeactivateAgentRequest, DeactivateAgentResponse, DrainAgentRequest,
    DrainAgentResponse, GetMaintenanceScheduleRequest, GetMaintenanceStatusRequest,
    GetRolesRequest, GetRolesResponse, GetStateRequest, KillTaskRequest, KillTaskResponse,
    MachinesRequest, MaintenanceSchedule, MaintenanceStatus, MarkAgentGoneRequest,
    MarkAgentGoneResponse, ReactivateAgentRequest, ReactivateAgentResponse, ReadFileRequest,
    ReadFileResponse, ReserveResourcesRequest, ReserveResourcesResponse, SetQuotaRequest,
    SetQuotaResponse, StartMaintenanceResponse, StopMaintenanceResponse, UnreserveResourcesRequest,
    UnreserveResourcesResponse, UpdateMaintenanceScheduleRequest,
    UpdateMaintenanceScheduleResponse, UpdateWeightsRequest, UpdateWeightsResponse,
};

use crate::Error;
use crate::actor::Actor;
use crate::auth::{Action, Caller, framework_objects};
use crate::core::{StateSnapshot, TaskLocation};
use crate::error::invalid;
use crate::http::snapshots::PUBLISH_INTERVAL;

/// How long a file read of a task missing from the published state waits for the next
/// snapshot: two publish intervals, so a task launched just before the read is found.
const NEXT_SNAPSHOT_WAIT: std::time::Duration = PUBLISH_INTERVAL.saturating_mul(2);

/// A channel to an agent, with the master's credential on every call.
pub(crate) type AgentService = InterceptedService<Channel, CallHeaders>;

/// The operator service.
pub(crate) struct OperatorService {
    pub(crate) actor: Actor,
    /// The latest published operator state.
    snapshots: watch::Receiver<Arc<StateSnapshot>>,
    /// One lazily connected channel per agent address, reused across reads; its calls
    /// carry the master's own credential, for agents that require one.
    pub(crate) channels: Mutex<HashMap<String, AgentService>>,
    /// TLS for `https://` agents.
    agent_tls: ClientConfig,
}

impl OperatorService {
    pub(crate) fn new(actor: Actor, agent_tls: ClientConfig) -> Self {
        Self {
            snapshots: actor.snapshots(),
            actor,
            channels: Mutex::new(HashMap::new()),
            agent_tls,
        }
    }

    fn security(&self) -> &crate::auth::Security {
        self.actor.security()
    }

    /// An agent call's checks: an agent id, and the caller's ACL for `action` (Mesos's agent
    /// actions name their object implicitly: a rule's `agents` is ANY or NONE).
    fn check_agent_action(
        &self,
        caller: &Caller,
        action: Action,
        agent_id: &str,
    ) -> Result<(), Status> {
        if agent_id.is_empty() {
            return Err(invalid("agent_id", "is required").into());
        }
        self.security()
            .check(caller, action, &[("agents", agent_id)])?;
        Ok(())
    }

    /// The latest snapshot (a cheap `Arc` clone; the borrow ends here, before any await).
    fn snapshot(&self) -> Arc<StateSnapshot> {
        Arc::clone(&self.snapshots.borrow())
    }

    /// Where a task's sandbox lives, from the published state. A task launched within the
    /// last publish interval is not in it yet, so a miss looks once more in the next
    /// snapshot, waiting at most [`NEXT_SNAPSHOT_WAIT`], before it is not found.
    async fn locate(&self, task_id: &str) -> Result<TaskLocation, Error> {
        let mut snapshots = self.snapshots.clone();
        let current = Arc::clone(&snapshots.borrow_and_update());
        let miss = match current.locate_task(task_id) {
            Err(Error::NotFound(why)) => why,
            found => return found,
        };
        drop(current);
        match tokio::time::timeout(NEXT_SNAPSHOT_WAIT, snapshots.changed()).await {
            Ok(Ok(())) => {
                let next = Arc::clone(&snapshots.borrow());
                next.locate_task(task_id)
            }
            _ => Err(Error::NotFound(miss)),
        }
    }

    fn channel(&self, agent_id: &str, address: &str) -> Result<AgentService, Error> {
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(channel) = channels.get(address) {
            return Ok(channel.clone());
        }
        let bad_address = |err: tonic::transport::Error| Error::Agent {
            agent_id: agent_id.to_string(),
            status: Status::failed_precondition(format!("bad agent address {address:?}: {err}")),
        };
        let endpoint = Endpoint::from_shared(address.to_string()).map_err(bad_address)?;
        let endpoint = self.agent_tls.endpoint(endpoint).map_err(bad_address)?;
        let channel = InterceptedService::new(
            endpoint.tcp_nodelay(true).connect_lazy(),
            CallHeaders::new(self.security().agent_credential.as_ref()),
        );
        channels.insert(address.to_string(), channel.clone());
        Ok(channel)
    }
}

#[tonic::async_trait]
impl Operator for OperatorService {
    #[tracing::instrument(name = "Operator.GetState", skip_all)]
    async fn get_state(
        &self,
        request: Request<GetStateRequest>,
    ) -> Result<Response<ClusterState>, Status> {
        let snapshot = self.security().view(&Caller::of(&request), self.snapshot());
        // Converting 10,000 tasks takes milliseconds: keep it off the runtime's workers,
        // which the actor shares.
        let state = tokio::task::spawn_blocking(move || snapshot.cluster_state())
            .await
            .map_err(|err| Status::internal(format!("building the state failed: {err}")))?;
        Ok(Response::new(state))
    }

    #[tracing::instrument(name = "Operator.KillTask", skip_all, fields(task_id = %request.get_ref().task_id))]
    async fn kill_task(
        &self,
        request: Request<KillTaskRequest>,
    ) -> Result<Response<KillTaskResponse>, Status> {
        let caller = Caller::of(&request);
        let request = request.into_inner();
        if self.security().acls.restricts(Action::KillTasks) {
            let snapshot = self.snapshot();
            let owners: Vec<_> = snapshot
                .tasks
                .iter()
                .filter(|t| t.task_id == request.task_id && !t.terminal)
                .filter(|t| {
                    request.framework_id.is_empty() || t.framework_id == request.framework_id
                })
                .filter_map(|t| snapshot.frameworks.iter().find(|f| f.id == t.framework_id))
                .collect();
            for owner in owners {
                self.security().check(
                    &caller,
                    Action::KillTasks,
                    &framework_objects(&owner.info)[..1],
                )?;
            }
        }
        let framework_id = Some(request.framework_id).filter(|id| !id.is_empty());
        self.actor
            .operator_kill(framework_id, request.task_id)
            .await?;
        Ok(Response::new(KillTaskResponse {}))
    }

    #[tracing::instrument(name = "Operator.ReadTaskFile", skip_all,
        fields(task_id = %request.get_ref().task_id, agent_id = tracing::field::Empty))]
    async fn read_task_file(
        &self,
        request: Request<ReadFileRequest>,
    ) -> Result<Response<ReadFileResponse>, Status> {
        let caller = Caller::of(&request);
        let req = request.into_inner();
        if req.task_id.is_empty() {
            return Err(invalid("task_id", "is required").into());
        }
        let location = self.locate(&req.task_id).await?;
        self.security()
            .check_sandbox(&caller, &self.snapshot(), &location.framework_id)?;
        tracing::Span::current().record("agent_id", location.agent_id.as_str());
        if location.address.is_empty() {
            return Err(Error::Agent {
                agent_id: location.agent_id,
                status: Status::failed_precondition("the agent registered no address"),
            }
            .into());
        }
        let channel = self.channel(&location.agent_id, &location.address)?;
        let response = AgentClient::new(channel)
            .max_decoding_message_size(wasmesos_proto::limits::MAX_PUSH_BYTES)
            .read_file(req)
            .await
            .map_err(|status| Error::Agent {
                agent_id: location.agent_id,
                status,
            })?;
        Ok(response)
    }

    #[tracing::instrument(name = "Operator.GetRoles", skip_all)]
    async fn get_roles(
        &self,
        _request: Request<GetRolesRequest>,
    ) -> Result<Response<GetRolesResponse>, Status> {
        let roles = self.actor.roles().await?;
        Ok(Response::new(GetRolesResponse { roles }))
    }

    #[tracing::instrument(name = "Operator.UpdateWeights", skip_all)]
    async fn update_weights(
        &self,
        request: Request<UpdateWeightsRequest>,
    ) -> Result<Response<UpdateWeightsResponse>, Status> {
        let caller = Caller::of(&request);
        let req = request.into_inner();
        for weight in &req.weights {
            self.security()
                .check(&caller, Action::UpdateWeights, &[("roles", &weight.role)])?;
        }
        self.actor.update_weights(req).await?;
        Ok(Response::new(UpdateWeightsResponse {}))
    }

    #[tracing::instrument(name = "Operator.SetQuota", skip_all, fields(role = %request.get_ref().role))]
    async fn set_quota(
        &self,
        request: Request<SetQuotaRequest>,
    ) -> Result<Response<SetQuotaResponse>, Status> {
        let caller = Caller::of(&request);
        let req = request.into_inner();
        self.security()
            .check(&caller, Action::SetQuotas, &[("roles", &req.role)])?;
        self.actor.set_quota(req).await?;
        Ok(Response::new(SetQuotaResponse {}))
    }

    #[tracing::instrument(name = "Operator.ReserveResources", skip_all,
        fields(agent_id = %request.get_ref().agent_id, role = %request.get_ref().role))]
    async fn reserve_resources(
        &self,
        request: Request<ReserveResourcesRequest>,
    ) -> Result<Response<ReserveResourcesResponse>, Status> {
        let caller = Caller::of(&request);
        let req = request.into_inner();
        self.security()
            .check(&caller, Action::ReserveResources, &[("roles", &req.role)])?;
        self.actor.reserve_resources(req).await?;
        Ok(Response::new(ReserveResourcesResponse {}))
    }

    #[tracing::instrument(name = "Operator.UnreserveResources", skip_all,
        fields(agent_id = %request.get_ref().agent_id, role = %request.get_ref().role))]
    async fn unreserve_resources(
        &self,
        request: Request<UnreserveResourcesRequest>,
    ) -> Result<Response<UnreserveResourcesResponse>, Status> {
        let caller = Caller::of(&request);
        let req = request.into_inner();
        self.security()
            .check(&caller, Action::UnreserveResources, &[])?;
        self.actor.unreserve_resources(req).await?;
        Ok(Response::new(UnreserveResourcesResponse {}))
    }

    #[tracing::instrument(name = "Operator.MarkAgentGone", skip_all,
        fields(agent_id = %request.get_ref().agent_id))]
    async fn mark_agent_gone(
        &self,
        request: Request<MarkAgentGoneRequest>,
    ) -> Result<Response<MarkAgentGoneResponse>, Status> {
        let caller = Caller::of(&request);
        let req = request.into_inner();
        self.check_agent_action(&caller, Action::MarkAgentsGone, &req.agent_id)?;
        self.actor.mark_agent_gone(req.agent_id).await?;
        Ok(Response::new(MarkAgentGoneResponse {}))
    }

    #[tracing::instrument(name = "Operator.DrainAgent", skip_all,
        fields(agent_id = %request.get_ref().agent_id))]
    async fn drain_agent(
        &self,
        request: Request<DrainAgentRequest>,
    ) -> Result<Response<DrainAgentResponse>, Status> {
        let caller = Caller::of(&request);
        let req = request.into_inner();
        self.check_agent_action(&caller, Action::DrainAgents, &req.agent_id)?;
        if req.mark_gone {
            self.check_agent_action(&caller, Action::MarkAgentsGone, &req.agent_id)?;
        }
        self.actor
            .drain_agent(req.agent_id, req.max_grace_period_seconds, req.mark_gone)
            .await?;
        Ok(Response::new(DrainAgentResponse {}))
    }

    #[tracing::instrument(name = "Operator.DeactivateAgent", skip_all,
        fields(agent_id = %request.get_ref().agent_id))]
    async fn deactivate_agent(
        &self,
        request: Request<DeactivateAgentRequest>,
    ) -> Result<Response<DeactivateAgentResponse>, Status> {
        let caller = Caller::of(&request);
        let req = request.into_inner();
        self.check_agent_action(&caller, Action::DeactivateAgents, &req.agent_id)?;
        self.actor.deactivate_agent(req.agent_id).await?;
        Ok(Response::new(DeactivateAgentResponse {}))
    }

    #[tracing::instrument(name = "Operator.ReactivateAgent", skip_all,
        fields(agent_id = %request.get_ref().agent_id))]
    async fn reactivate_agent(
        &self,
        request: Request<ReactivateAgentRequest>,
    ) -> Result<Response<ReactivateAgentResponse>, Status> {
        let caller = Caller::of(&request);
        let req = request.into_inner();
        self.check_agent_action(&caller, Action::ReactivateAgents, &req.agent_id)?;
        self.actor.reactivate_agent(req.agent_id).await?;
        Ok(Response::new(ReactivateAgentResponse {}))
    }

    #[tracing::instrument(name = "Operator.GetMaintenanceSchedule", skip_all)]
    async fn get_maintenance_schedule(
        &self,
        request: Request<GetMaintenanceScheduleRequest>,
    ) -> Result<Response<MaintenanceSchedule>, Status> {
        self.get_schedule(request).await
    }

    #[tracing::instrument(name = "Operator.UpdateMaintenanceSchedule", skip_all)]
    async fn update_maintenance_schedule(
        &self,
        request: Request<UpdateMaintenanceScheduleRequest>,
    ) -> Result<Response<UpdateMaintenanceScheduleResponse>, Status> {
        self.update_schedule(request).await
    }

    #[tracing::instrument(name = "Operator.GetMaintenanceStatus", skip_all)]
    async fn get_maintenance_status(
        &self,
        request: Request<GetMaintenanceStatusRequest>,
    ) -> Result<Response<MaintenanceStatus>, Status> {
        self.get_status(request).await
    }

    #[tracing::instrument(name = "Operator.StartMaintenance", skip_all)]
    async fn start_maintenance(
        &self,
        request: Request<MachinesRequest>,
    ) -> Result<Response<StartMaintenanceResponse>, Status> {
        self.start(request).await
    }

    #[tracing::instrument(name = "Operator.StopMaintenance", skip_all)]
    async fn stop_maintenance(
        &self,
        request: Request<MachinesRequest>,
    ) -> Result<Response<StopMaintenanceResponse>, Status> {
        self.stop(request).await
    }
}
