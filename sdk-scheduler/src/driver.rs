//! The [`Driver`]: the framework's connection to the master and every call it can make.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::Instrument;
use wasmesos_detector::MasterService as Channel;
use wasmesos_proto::reconcile_request::ReconcileTask;
use wasmesos_proto::scheduler_client::SchedulerClient;
use wasmesos_proto::{
    AcceptRequest, CallResponse, DeclineRequest, Filters, FrameworkMessageRequest, KillPolicy,
    KillRequest, Operation, ReconcileRequest, ReviveRequest, SuppressRequest, TaskInfo, TaskStatus,
    TeardownRequest, operation,
};

use crate::acks::AckQueue;
use crate::config::DriverConfig;
use crate::error::Error;
use crate::link::MasterLink;
use crate::reconcile::Tracked;

/// A framework's handle on the master: subscribes and dispatches events to a
/// [`Scheduler`](crate::Scheduler) ([`Driver::run`]), and makes the calls (launch, decline,
/// kill, …). Cheap to clone; every clone talks for the same framework.
#[derive(Clone)]
pub struct Driver {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: DriverConfig,
    pub(crate) link: Arc<MasterLink>,
    pub(crate) acks: AckQueue,
    pub(crate) stop: watch::Sender<bool>,
    pub(crate) tracked: Tracked,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("master_url", &self.master_url())
            .field("framework_id", &self.framework_id())
            .finish()
    }
}

impl Driver {
    /// Connects to the master named in `config`; fails with [`Error::Unreachable`] when it
    /// cannot. Nothing is subscribed until [`Driver::run`]. Must be called inside a tokio
    /// runtime (it starts the task that sends acknowledgements).
    pub async fn connect(config: DriverConfig) -> Result<Driver, Error> {
        let link = Arc::new(MasterLink::connect(&config).await?);
        let acks = AckQueue::start(Arc::clone(&link));
        let (stop, _) = watch::channel(false);
        Ok(Driver {
            inner: Arc::new(Inner {
                config,
                link,
                acks,
                stop,
                tracked: Tracked::default(),
            }),
        })
    }

    /// The framework id the master assigned, once subscribed.
    pub fn framework_id(&self) -> Option<String> {
        self.inner.link.framework_id()
    }

    /// The master this driver talks to (changes when a standby redirects to the leader, or
    /// ZooKeeper names another).
    pub fn master_url(&self) -> String {
        self.inner.link.url()
    }

    /// The config this driver was made with.
    pub fn config(&self) -> &DriverConfig {
        &self.inner.config
    }

    /// The channel to the master, for clients of its other services (`Operator`, `Artifacts`);
    /// it follows the driver to a new leader.
    pub fn channel(&self) -> Channel {
        self.inner.link.channel()
    }

    /// Makes [`Driver::run`] return after the callback in progress (if any) finishes.
    pub fn stop(&self) {
        self.inner.stop.send_replace(true);
    }

    /// Whether [`Driver::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        *self.inner.stop.borrow()
    }

    /// Launches `tasks` on the given offers (all from one agent); the offers' unused resources
    /// return to the master with its default filter.
    pub async fn launch<I, S>(&self, offer_ids: I, tasks: Vec<TaskInfo>) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.accept(offer_ids, vec![launch_operation(tasks)], None)
            .await
    }

    /// Like [`Driver::launch`], with a filter for the unused resources (e.g.
    /// [`refuse_for`](crate::refuse_for)`(Duration::ZERO)` to have them offered again at once).
    pub async fn launch_with_filters<I, S>(
        &self,
        offer_ids: I,
        tasks: Vec<TaskInfo>,
        filters: Filters,
    ) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.accept(offer_ids, vec![launch_operation(tasks)], Some(filters))
            .await
    }

    /// Accepts offers with any operations. An invalid ACCEPT launches nothing; the master
    /// answers with an error status or TASK_ERROR updates naming the reason.
    pub async fn accept<I, S>(
        &self,
        offer_ids: I,
        operations: Vec<Operation>,
        filters: Option<Filters>,
    ) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let offer_ids = strings(offer_ids);
        let tracked = &self.inner.tracked;
        tracked.launching(&operations);
        let sent = operations.clone();
        let result = self
            .call("accept", |mut client, framework_id| async move {
                let request = AcceptRequest {
                    framework_id,
                    offer_ids,
                    operations,
                    filters,
                };
                client.accept(request).await
            })
            .await;
        if result.is_err() {
            tracked.refused(&sent);
        }
        result
    }

    /// Declines offers; `filters` says how long not to offer those resources again (the
    /// master's default, 5 s, when `None`).
    pub async fn decline<I, S>(&self, offer_ids: I, filters: Option<Filters>) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let offer_ids = strings(offer_ids);
        self.call("decline", |mut client, framework_id| async move {
            let request = DeclineRequest {
                framework_id,
                offer_ids,
                filters,
            };
            client.decline(request).await
        })
        .await
    }

    /// Clears this framework's filters and un-suppresses it for `roles` (empty: every role).
    pub async fn revive(&self, roles: Vec<String>) -> Result<(), Error> {
        self.call("revive", |mut client, framework_id| async move {
            client
                .revive(ReviveRequest {
                    framework_id,
                    roles,
                })
                .await
        })
        .await
    }

    /// Says that a task needing `resources` (on `agent_id`, if given) cannot be placed with
    /// what the framework is offered. The master frees them on one agent by preempting
    /// preemptible tasks of lower `priority` (unset: the framework's role's), if any; the
    /// freed resources then come in offers as usual. Ask again while still waiting.
    pub async fn request_resources(
        &self,
        resources: wasmesos_proto::Resources,
        agent_id: Option<String>,
        priority: Option<i32>,
    ) -> Result<(), Error> {
        self.call("request", |mut client, framework_id| async move {
            client
                .request(wasmesos_proto::ResourceRequest {
                    framework_id,
                    resources: Some(resources),
                    agent_id: agent_id.unwrap_or_default(),
                    priority,
                })
                .await
        })
        .await
    }

    /// Stops offers for `roles` (empty: every role) until [`Driver::revive`].
    pub async fn suppress(&self, roles: Vec<String>) -> Result<(), Error> {
        self.call("suppress", |mut client, framework_id| async move {
            client
                .suppress(SuppressRequest {
                    framework_id,
                    roles,
                })
                .await
        })
        .await
    }

    /// Asks the master to kill a task with the kill policy it was launched with; its KILLED
    /// (or latest) status arrives as an update.
    pub async fn kill(&self, task_id: &str) -> Result<(), Error> {
        self.kill_with(task_id, None).await
    }

    /// Like [`Driver::kill`], with a grace period for a service to finish the requests it
    /// is serving (zero: at once) in place of the task's own.
    pub async fn kill_with_grace(&self, task_id: &str, grace: Duration) -> Result<(), Error> {
        let policy = KillPolicy {
            grace_period_seconds: Some(grace.as_secs_f64()),
        };
        self.kill_with(task_id, Some(policy)).await
    }

    async fn kill_with(&self, task_id: &str, kill_policy: Option<KillPolicy>) -> Result<(), Error> {
        let task_id = task_id.to_string();
        self.call("kill", |mut client, framework_id| async move {
            client
                .kill(KillRequest {
                    framework_id,
                    task_id,
                    kill_policy,
                })
                .await
        })
        .await
    }

    /// Asks for the latest status of `tasks` (empty: every task of the framework); answers
    /// arrive as updates without a uuid (they need no acknowledgement).
    pub async fn reconcile(&self, tasks: Vec<ReconcileTask>) -> Result<(), Error> {
        self.call("reconcile", |mut client, framework_id| async move {
            client
                .reconcile(ReconcileRequest {
                    framework_id,
                    tasks,
                })
                .await
        })
        .await
    }

    /// Sends bytes to a running task's executor (its `receive-message`).
    pub async fn message(&self, agent_id: &str, task_id: &str, data: Vec<u8>) -> Result<(), Error> {
        let (agent_id, task_id) = (agent_id.to_string(), task_id.to_string());
        self.call("message", |mut client, framework_id| async move {
            let request = FrameworkMessageRequest {
                framework_id,
                agent_id,
                task_id,
                data,
            };
            client.message(request).await
        })
        .await
    }

    /// Kills every task of the framework, removes it from the master, and stops the driver.
    pub async fn teardown(&self) -> Result<(), Error> {
        let result = self
            .call("teardown", |mut client, framework_id| async move {
                client.teardown(TeardownRequest { framework_id }).await
            })
            .await;
        self.stop();
        result
    }

    /// Queues an acknowledgement of `status` (sent batched, in the background). Only needed
    /// with `auto_acknowledge` off; updates without a uuid need none and are skipped.
    pub fn acknowledge(&self, status: &TaskStatus) {
        self.inner.acks.push(status);
    }

    /// Waits until every acknowledgement queued so far has been sent to the master.
    pub async fn flush_acknowledgements(&self) {
        self.inner.acks.flush().await;
    }

    /// Runs one unary call for the framework inside a span naming it.
    pub(crate) async fn call<F, Fut>(&self, name: &'static str, send: F) -> Result<(), Error>
    where
        F: FnOnce(SchedulerClient<Channel>, String) -> Fut,
        Fut: Future<Output = Result<tonic::Response<CallResponse>, tonic::Status>>,
    {
        let framework_id = self.framework_id().ok_or(Error::NotSubscribed)?;
        self.inner
            .link
            .wait_subscribed(self.inner.config.connect_timeout)
            .await;
        let span = tracing::debug_span!("call", call = name, framework_id = %framework_id);
        send(self.inner.link.client(), framework_id)
            .instrument(span)
            .await
            .map(|_| ())
            .map_err(|status| Error::rpc(name, status))
    }
}

fn launch_operation(tasks: Vec<TaskInfo>) -> Operation {
    Operation {
        operation: Some(operation::Operation::Launch(operation::Launch { tasks })),
    }
}

pub(crate) fn strings<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    items.into_iter().map(Into::into).collect()
}
