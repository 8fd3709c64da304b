//! The gRPC shell: one module per service, each a thin layer that checks the request's
//! shape and calls the matching named operation on the actor (`crate::actor`), which runs it
//! on the core; no handler reaches the core itself.

mod agent_channel;
mod artifacts;
pub(crate) mod maintenance;
pub(crate) mod operator;
pub(crate) mod queue;
mod scheduler;
pub(crate) mod sessions;
pub(crate) mod stream;

use tonic::service::Routes;
use wasmesos_proto::limits::{MAX_CALL_BYTES, MAX_PUSH_BYTES, MAX_STATE_BYTES};
use wasmesos_proto::v1::agent_channel_server::AgentChannelServer;
use wasmesos_proto::v1::artifacts_server::ArtifactsServer;
use wasmesos_proto::v1::operator_server::OperatorServer;
use wasmesos_proto::v1::scheduler_server::SchedulerServer;

use wasmesos_detector::ClientConfig;

use crate::actor::Actor;
use crate::artifacts::ArtifactStore;

/// Every service the master serves, as tonic routes (which convert into an axum router).
/// Each sets its message limits (`wasmesos_proto::limits`): calls decode up to
/// `MAX_CALL_BYTES`, events, commands and answers encode up to what clients decode.
pub(crate) fn routes(actor: Actor, store: ArtifactStore, agent_tls: ClientConfig) -> Routes {
    let max_message = usize::try_from(store.max_size())
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024);
    let artifacts = ArtifactsServer::new(artifacts::ArtifactsService {
        actor: actor.clone(),
        store,
        uploaded: Default::default(),
    })
    .max_decoding_message_size(max_message)
    .max_encoding_message_size(MAX_PUSH_BYTES);
    let scheduler = SchedulerServer::new(scheduler::SchedulerService::new(actor.clone()))
        .max_decoding_message_size(MAX_CALL_BYTES)
        .max_encoding_message_size(MAX_PUSH_BYTES);
    let agents = AgentChannelServer::new(agent_channel::AgentChannelService::new(actor.clone()))
        .max_decoding_message_size(MAX_CALL_BYTES)
        .max_encoding_message_size(MAX_PUSH_BYTES);
    // `GetState` answers with the whole cluster.
    let operator = OperatorServer::new(operator::OperatorService::new(actor, agent_tls))
        .max_decoding_message_size(MAX_CALL_BYTES)
        .max_encoding_message_size(MAX_STATE_BYTES);
    Routes::new(scheduler)
        .add_service(agents)
        .add_service(artifacts)
        .add_service(operator)
}
