//! `Scheduler`: what framework schedulers call. Each handler checks the caller (the
//! session's stream id and principal, see [`super::sessions`], and the ACLs) and hands the
//! request to the actor's operation of the same name.

use tonic::{Request, Response, Status};
use wasmesos_proto::v1::scheduler_server::Scheduler;
use wasmesos_proto::v1::{
    AcceptRequest, AcknowledgeRequest, CallResponse, DeclineRequest, Event,
    FrameworkMessageRequest, InverseOffersAnswer, KillRequest, ReconcileRequest, ResourceRequest,
    ReviveRequest, SubscribeRequest, SuppressRequest, TeardownRequest, event,
};

use std::sync::Arc;

use super::sessions::{Sessions, send_stream_id};
use super::stream::PushStream;
use crate::actor::Actor;
use crate::auth::Caller;

/// The scheduler API service.
pub(crate) struct SchedulerService {
    actor: Actor,
    sessions: Arc<Sessions>,
}

impl SchedulerService {
    pub(crate) fn new(actor: Actor) -> Self {
        Self {
            actor,
            sessions: Arc::new(Sessions::new("framework")),
        }
    }

    /// Checks that `request` comes from `framework_id`'s current session; returns the
    /// request and the framework's user.
    fn session<T>(
        &self,
        framework_id: impl FnOnce(&T) -> &str,
        request: Request<T>,
    ) -> Result<(T, Caller, Arc<str>), Status> {
        let caller = Caller::of(&request);
        let user =
            self.sessions
                .check(framework_id(request.get_ref()), request.metadata(), &caller)?;
        Ok((request.into_inner(), caller, user))
    }
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
        let caller = Caller::of(&request);
        let mut req = request.into_inner();
        let user = match req.framework.as_mut() {
            Some(info) => {
                self.actor.security().admit_framework(&caller, info)?;
                if !info.id.is_empty() {
                    self.sessions.may_take_over(&info.id, &caller)?;
                }
                info.user.clone()
            }
            None => String::new(),
        };
        let (tx, rx) = super::queue::channel(super::queue::FRAMEWORK_EVENT_QUEUE);
        let (subscription, stream) = self.actor.subscribe(req, tx).await?;
        tracing::Span::current().record("framework_id", subscription.framework_id.as_str());
        let session = self
            .sessions
            .start(&subscription.framework_id, &caller, &user);
        let actor = self.actor.clone();
        let sessions = Arc::clone(&self.sessions);
        let framework_id = subscription.framework_id.clone();
        let on_close = Box::new(move || {
            sessions.end(&framework_id, session);
            actor.framework_stream_closed(framework_id, stream);
        });
        let stream = PushStream::new(rx, on_close)
            .with_heartbeat(subscription.heartbeat_interval, heartbeat);
        let mut response = Response::new(stream);
        send_stream_id(&mut response, session);
        Ok(response)
    }

    #[tracing::instrument(name = "Scheduler.Accept", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn accept(
        &self,
        request: Request<AcceptRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let (req, caller, user) = self.session(|r: &AcceptRequest| &r.framework_id, request)?;
        self.actor
            .security()
            .admit_operations(&caller, &user, &req.operations)?;
        done(self.actor.accept(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Decline", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn decline(
        &self,
        request: Request<DeclineRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let (req, _, _) = self.session(|r: &DeclineRequest| &r.framework_id, request)?;
        done(self.actor.decline(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Revive", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn revive(
        &self,
        request: Request<ReviveRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let (req, _, _) = self.session(|r: &ReviveRequest| &r.framework_id, request)?;
        done(self.actor.revive(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Request", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn request(
        &self,
        request: Request<ResourceRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let (req, _, _) = self.session(|r: &ResourceRequest| &r.framework_id, request)?;
        done(self.actor.request_resources(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Suppress", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn suppress(
        &self,
        request: Request<SuppressRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let (req, _, _) = self.session(|r: &SuppressRequest| &r.framework_id, request)?;
        done(self.actor.suppress(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Kill", skip_all,
        fields(framework_id = %request.get_ref().framework_id, task_id = %request.get_ref().task_id))]
    async fn kill(&self, request: Request<KillRequest>) -> Result<Response<CallResponse>, Status> {
        let (req, _, _) = self.session(|r: &KillRequest| &r.framework_id, request)?;
        done(self.actor.kill(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Acknowledge", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn acknowledge(
        &self,
        request: Request<AcknowledgeRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let (req, _, _) = self.session(|r: &AcknowledgeRequest| &r.framework_id, request)?;
        done(self.actor.acknowledge(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Reconcile", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn reconcile(
        &self,
        request: Request<ReconcileRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let (req, _, _) = self.session(|r: &ReconcileRequest| &r.framework_id, request)?;
        done(self.actor.reconcile(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Message", skip_all,
        fields(framework_id = %request.get_ref().framework_id, task_id = %request.get_ref().task_id))]
    async fn message(
        &self,
        request: Request<FrameworkMessageRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let (req, _, _) = self.session(|r: &FrameworkMessageRequest| &r.framework_id, request)?;
        done(self.actor.message(req).await)
    }

    #[tracing::instrument(name = "Scheduler.Teardown", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn teardown(
        &self,
        request: Request<TeardownRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        let (req, _, _) = self.session(|r: &TeardownRequest| &r.framework_id, request)?;
        done(self.actor.teardown(req.framework_id).await)
    }

    #[tracing::instrument(name = "Scheduler.AcceptInverseOffers", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn accept_inverse_offers(
        &self,
        request: Request<InverseOffersAnswer>,
    ) -> Result<Response<CallResponse>, Status> {
        let (req, _, _) = self.session(|r: &InverseOffersAnswer| &r.framework_id, request)?;
        let answer = wasmesos_allocator::InverseOfferAnswer::Accept;
        done(self.actor.answer_inverse_offers(req, answer).await)
    }

    #[tracing::instrument(name = "Scheduler.DeclineInverseOffers", skip_all,
        fields(framework_id = %request.get_ref().framework_id))]
    async fn decline_inverse_offers(
        &self,
        request: Request<InverseOffersAnswer>,
    ) -> Result<Response<CallResponse>, Status> {
        let (req, _, _) = self.session(|r: &InverseOffersAnswer| &r.framework_id, request)?;
        let answer = wasmesos_allocator::InverseOfferAnswer::Decline;
        done(self.actor.answer_inverse_offers(req, answer).await)
    }
}
