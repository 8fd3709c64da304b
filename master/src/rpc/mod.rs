//! The gRPC shell: one module per service, each a thin layer that checks the request's
//! shape and calls the matching named operation on the actor (`crate::actor`), which runs it
//! on the core; no handler reaches the core itself.

mod agent_channel;
mod artifacts;
pub(crate) mod operator;
pub(crate) mod queue;
mod scheduler;
pub(crate) mod sessions;
pub(crate) mod stream;

use tonic::service::Routes;
use wasmesos_proto::v1::agent_channel_server::AgentChannelServer;
use wasmesos_proto::v1::artifacts_server::ArtifactsServer;
use wasmesos_proto::v1::operator_server::OperatorServer;
use wasmesos_proto::v1::scheduler_server::SchedulerServer;

use wasmesos_detector::ClientConfig;

use crate::actor::Actor;
use crate::artifacts::ArtifactStore;

/// Every service the master serves, as tonic routes (which convert into an axum router).
pub(crate) fn routes(actor: Actor, store: ArtifactStore, agent_tls: ClientConfig) -> Routes {
    let max_message = usize::try_from(store.max_size())
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024);
    let artifacts = ArtifactsServer::new(artifacts::ArtifactsService {
        actor: actor.clone(),
        store,
        uploaded: Default::default(),
    })
    .max_decoding_message_size(max_message);
    Routes::new(SchedulerServer::new(scheduler::SchedulerService::new(
        actor.clone(),
    )))
    .add_service(AgentChannelServer::new(
        agent_channel::AgentChannelService::new(actor.clone()),
    ))
    .add_service(artifacts)
    .add_service(OperatorServer::new(operator::OperatorService::new(
        actor, agent_tls,
    )))
}
