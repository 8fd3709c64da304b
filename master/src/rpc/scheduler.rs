//! `Scheduler`: what framework schedulers call. Each handler hands the request to the
//! actor's operation of the same name.

use tonic::{Request, Response, Status};
use wasmesos_proto::v1::scheduler_server::Scheduler;
use wasmesos_proto::v1::{
    AcceptRequest, AcknowledgeRequest, CallResponse, DeclineRequest, Event,
    FrameworkMessageRequest, KillRequest, ReconcileRequest, ReviveRequest, SubscribeRequest,
    SuppressRequest, TeardownRequest, event,
};

use super::stream::PushStream;
use crate::actor::Actor;

/// The scheduler API service.
pub(crate) struct SchedulerService {
    pub(crate) actor: Actor,
}

fn heartbeat() -> Event {
    Event {
        event: Some(event::Event::Heartbeat(event::Heartbeat {})),
    }
}

fn done(result: Result<(), crate::Error>) -> Result<Response<CallResponse>, Status> {
    result?;
    Ok(Response::new(CallResponse {}))
}

#[tonic::async_trait]
impl Scheduler for SchedulerService {
    type SubscribeStream = PushStream<Event>;

    #[tracing::instrument(name = "Scheduler.Subscribe", skip_all, fields(framework_id = tracing::field::Empty))]
    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let req = request.into_inner();
        let (tx, rx) = super::queue::channel(super::queue::FRAMEWORK_EVENT_QUEUE);
        let (subscription, stream) = self.actor.subscribe(req, tx).await?;
        tracing::Span::current().record("framework_id", subscription.framework_id.as_str());
        let actor = self.actor.clone();
        let framework_id = subscription.framework_id.clone();
        let on_close = Box::new(move || actor.framework_stream_closed(framework_id, stream));
        let stream = PushStream::new(rx, on_close)
            .with_heartbeat(subscription.heartbeat_interval, heartbeat);
        Ok(Response::new(stream))
    }

    #[tracing::instrument(name = "Scheduler.Accept", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn accept(
        &self,
        request: Request<AcceptRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let req = request.into_inner();
        done(self.actor.accept(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Decline", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn decline(
        &self,
        request: Request<DeclineRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let req = request.into_inner();
        done(self.actor.decline(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Revive", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn revive(
        &self,
        request: Request<ReviveRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let req = request.into_inner();
        done(self.actor.revive(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Suppress", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn suppress(
        &self,
        request: Request<SuppressRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let req = request.into_inner();
        done(self.actor.suppress(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Kill", skip_all,
        fields(framework_id = %request.get_ref().framework_id, task_id = %request.get_ref().task_id))]
    async fn kill(&self, request: Request<KillRequest>) -> Result<Response<CallResponse>, Status> {
        let req = request.into_inner();
        done(self.actor.kill(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Acknowledge", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn acknowledge(
        &self,
        request: Request<AcknowledgeRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let req = request.into_inner();
        done(self.actor.acknowledge(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Reconcile", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn reconcile(
        &self,
        request: Request<ReconcileRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let req = request.into_inner();
        done(self.actor.reconcile(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Message", skip_all,
        fields(framework_id = %request.get_ref().framework_id, task_id = %request.get_ref().task_id))]
    async fn message(
        &self,
        request: Request<FrameworkMessageRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let req = request.into_inner();
        done(self.actor.message(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Teardown", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn teardown(
        &self,
        request: Request<TeardownRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let req = request.into_inner();
        done(self.actor.teardown(req.framework_id).await)
    }
}
