//! A framework for tests: every scheduler event lands in a channel that the test reads, and
//! the test makes calls through the driver.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wasmesos_proto::{InverseOffer, Offer, TaskState, TaskStatus, event};
use wasmesos_sdk_scheduler::{Capacity, Driver, DriverConfig, Scheduler, TaskBuilder, refuse_for};
use wasmesos_test_support::scaled;

use crate::Error;

/// One thing the driver delivered, in the order it was delivered.
#[derive(Debug, Clone, PartialEq)]
pub enum SchedulerEvent {
    Subscribed(event::Subscribed),
    Offers(Vec<Offer>),
    Rescinded(String),
    Update(TaskStatus),
    Message(event::Message),
    Failure(String),
    Error(String),
    Disconnected,
    /// Inverse offers: the master asks for resources on agents under maintenance.
    InverseOffers(Vec<InverseOffer>),
    /// An inverse offer withdrawn, by id.
    InverseOfferRescinded(String),
}

struct Forwarder(mpsc::UnboundedSender<SchedulerEvent>);

impl Forwarder {
    fn send(&self, event: SchedulerEvent) {
        // The test may have stopped listening; that is its business.
        let _ = self.0.send(event);
    }
}

impl Scheduler for Forwarder {
    async fn subscribed(&mut self, _: &Driver, subscribed: &event::Subscribed) {
        self.send(SchedulerEvent::Subscribed(subscribed.clone()));
    }
    async fn offers(&mut self, _: &Driver, offers: Vec<Offer>) {
        self.send(SchedulerEvent::Offers(offers));
    }
    async fn rescinded(&mut self, _: &Driver, offer_id: &str) {
        self.send(SchedulerEvent::Rescinded(offer_id.to_string()));
    }
    async fn update(&mut self, _: &Driver, status: &TaskStatus) {
        self.send(SchedulerEvent::Update(status.clone()));
    }
    async fn message(&mut self, _: &Driver, message: &event::Message) {
        self.send(SchedulerEvent::Message(message.clone()));
    }
    async fn failure(&mut self, _: &Driver, agent_id: &str) {
        self.send(SchedulerEvent::Failure(agent_id.to_string()));
    }
    async fn error(&mut self, _: &Driver, message: &str) {
        self.send(SchedulerEvent::Error(message.to_string()));
    }
    async fn inverse_offers(&mut self, _: &Driver, inverse_offers: Vec<InverseOffer>) {
        self.send(SchedulerEvent::InverseOffers(inverse_offers));
    }
    async fn inverse_offer_rescinded(&mut self, _: &Driver, inverse_offer_id: &str) {
        self.send(SchedulerEvent::InverseOfferRescinded(
            inverse_offer_id.to_string(),
        ));
    }
    async fn disconnected(&mut self, _: &Driver) {
        self.send(SchedulerEvent::Disconnected);
    }
}

/// A subscribed framework whose events a test reads with [`TestFramework::wait_for`].
/// Every event read is also kept in [`TestFramework::history`].
pub struct TestFramework {
    pub driver: Driver,
    pub framework_id: String,
    events: mpsc::UnboundedReceiver<SchedulerEvent>,
    history: Vec<SchedulerEvent>,
    /// Offers delivered and neither taken by the test nor rescinded.
    unanswered: Vec<Offer>,
    running: JoinHandle<Result<(), wasmesos_sdk_scheduler::Error>>,
    /// How long [`TestFramework::wait_for`] waits, before scaling by `WASMESOS_TEST_PATIENCE`.
    pub timeout: Duration,
}

impl std::fmt::Debug for TestFramework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestFramework")
            .field("framework_id", &self.framework_id)
            .finish()
    }
}

impl TestFramework {
    /// Subscribes a framework named `name` in `role` (or `*`) to the master at `master_url`.
    pub async fn start(master_url: &str, name: &str, role: Option<&str>) -> Result<Self, Error> {
        let mut config = DriverConfig::new(master_url, name);
        if let Some(role) = role {
            config = config.role(role);
        }
        Self::with_config(config).await
    }

    /// Subscribes with a full driver config (e.g. `auto_acknowledge: false`).
    pub async fn with_config(config: DriverConfig) -> Result<Self, Error> {
        let driver = Driver::connect(config).await?;
        #[allow(
            clippy::disallowed_methods,
            reason = "test harness: the test reading the events bounds them"
        )]
        let (sender, events) = mpsc::unbounded_channel();
        let mut forwarder = Forwarder(sender);
        let runner = driver.clone();
        let running = tokio::spawn(async move { runner.run(&mut forwarder).await });
        let mut framework = TestFramework {
            driver,
            framework_id: String::new(),
            events,
            history: Vec::new(),
            unanswered: Vec::new(),
            running,
            timeout: Duration::from_secs(30),
        };
        framework.framework_id = framework
            .wait_for("SUBSCRIBED", |event| match event {
                SchedulerEvent::Subscribed(subscribed) => Some(subscribed.framework_id.clone()),
                _ => None,
            })
            .await?;
        Ok(framework)
    }

    /// Reads events until `pick` returns something, within [`TestFramework::timeout`] (scaled
    /// by patience).
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(&SchedulerEvent) -> Option<T>,
    ) -> Result<T, Error> {
        let timeout = scaled(self.timeout);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, self.events.recv()).await;
            let event = match next {
                Ok(Some(event)) => event,
                Ok(None) => {
                    return Err(Error::Process {
                        name: "framework".into(),
                        message: format!("driver stopped while waiting for {what}"),
                    });
                }
                Err(_elapsed) => {
                    return Err(Error::Timeout {
                        what: format!("{what} (saw {:?})", self.history.last()),
                        after: timeout,
                    });
                }
            };
            let picked = pick(&event);
            self.record(event);
            if let Some(value) = picked {
                return Ok(value);
            }
        }
    }

    fn record(&mut self, event: SchedulerEvent) {
        match &event {
            SchedulerEvent::Offers(offers) => self.unanswered.extend(offers.iter().cloned()),
            SchedulerEvent::Rescinded(id) => self.unanswered.retain(|offer| offer.id != *id),
            _ => {}
        }
        self.history.push(event);
    }

    /// Reads the events already delivered, without waiting; returns them (also kept in the
    /// history).
    pub fn drain(&mut self) -> Vec<SchedulerEvent> {
        let mut drained = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            drained.push(event.clone());
            self.record(event);
        }
        drained
    }

    /// Every offer delivered and not yet taken, waiting for new ones if there are none. The
    /// caller owns them: launch on them or decline them.
    pub async fn next_offers(&mut self) -> Result<Vec<Offer>, Error> {
        self.drain();
        if self.unanswered.is_empty() {
            self.wait_for("offers", |event| {
                matches!(event, SchedulerEvent::Offers(_)).then_some(())
            })
            .await?;
        }
        Ok(std::mem::take(&mut self.unanswered))
    }

    /// Launches `task` on the first offer it fits in, declining the others; the unused part
    /// of that offer and the declined ones come back at once (refuse 0 s). Returns the offer.
    pub async fn launch_one(&mut self, task: TaskBuilder) -> Result<Offer, Error> {
        loop {
            let offers = self.next_offers().await?;
            // `place` also chooses the ports of `TaskBuilder::ports(n)` from the offer.
            let fitting = offers.iter().enumerate().find_map(|(index, offer)| {
                Capacity::of(offer)
                    .place(task.clone())
                    .map(|placed| (index, placed))
            });
            let (chosen, others, placed): (Vec<Offer>, Vec<Offer>, Option<TaskBuilder>) =
                match fitting {
                    Some((index, placed)) => {
                        let mut others = offers;
                        let chosen = others.remove(index);
                        (vec![chosen], others, Some(placed))
                    }
                    None => (Vec::new(), offers, None),
                };
            if !others.is_empty() {
                let ids = others.into_iter().map(|offer| offer.id);
                self.driver
                    .decline(ids, Some(refuse_for(Duration::ZERO)))
                    .await?;
            }
            if let (Some(offer), Some(placed)) = (chosen.into_iter().next(), placed) {
                let info = placed.build_for(&offer);
                self.driver
                    .launch_with_filters([offer.id.clone()], vec![info], refuse_for(Duration::ZERO))
                    .await?;
                return Ok(offer);
            }
        }
    }

    /// The next update of `task_id` whose state satisfies `wanted`.
    pub async fn wait_for_status(
        &mut self,
        task_id: &str,
        wanted: impl Fn(TaskState) -> bool,
    ) -> Result<TaskStatus, Error> {
        let what = format!("a matching update of {task_id}");
        self.wait_for(&what, |event| match event {
            SchedulerEvent::Update(status)
                if status.task_id == task_id && wanted(status.state()) =>
            {
                Some(status.clone())
            }
            _ => None,
        })
        .await
    }

    /// The terminal update of `task_id`.
    pub async fn wait_for_terminal(&mut self, task_id: &str) -> Result<TaskStatus, Error> {
        self.wait_for_status(task_id, TaskState::is_terminal).await
    }

    /// Every event read so far.
    pub fn history(&self) -> &[SchedulerEvent] {
        &self.history
    }

    /// States seen for `task_id` so far, in order (duplicates included).
    pub fn states_of(&self, task_id: &str) -> Vec<TaskState> {
        self.history
            .iter()
            .filter_map(|event| match event {
                SchedulerEvent::Update(status) if status.task_id == task_id => Some(status.state()),
                _ => None,
            })
            .collect()
    }

    /// Uploads the component at `path` to the master through a short-lived framework;
    /// returns its digest (for `wasmesos://sha256:<digest>` in Marathon and Chronos jobs).
    pub async fn upload_component(master_url: &str, path: &str) -> Result<String, Error> {
        let uploader = TestFramework::start(master_url, "uploader", None).await?;
        let uploaded = uploader
            .driver
            .upload_executor(std::path::Path::new(path), None)
            .await;
        uploader.teardown().await?;
        Ok(uploaded?.digest)
    }

    /// Tears the framework down and waits for its driver to stop.
    pub async fn teardown(self) -> Result<(), Error> {
        self.driver.teardown().await?;
        self.finish().await
    }

    /// Stops the driver without tearing down (the master keeps the framework).
    pub async fn stop(self) -> Result<(), Error> {
        self.driver.stop();
        self.finish().await
    }

    async fn finish(self) -> Result<(), Error> {
        match self.running.await {
            Ok(result) => Ok(result?),
            Err(join) => Err(Error::Process {
                name: "framework".into(),
                message: join.to_string(),
            }),
        }
    }
}
