//! The driver against a small fake master written with the generated tonic server traits:
//! re-subscription keeping the framework id, missed heartbeats, batched acknowledgements,
//! uploads that skip known digests, and refusals that end `run`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::{TcpListenerStream, UnboundedReceiverStream};
use tonic::{Code, Request, Response, Status, Streaming};
use wasmesos_proto::artifacts_server::{Artifacts, ArtifactsServer};
use wasmesos_proto::scheduler_server::{Scheduler as SchedulerService, SchedulerServer};
use wasmesos_proto::*;
use wasmesos_sdk_scheduler::{Driver, DriverConfig, Error, Scheduler, digest_of};
use wasmesos_test_support::assert_eventually;

/// How long a test waits for the driver to react (scaled by `WASMESOS_TEST_PATIENCE`).
const WAIT: Duration = Duration::from_secs(10);

type EventSender = mpsc::UnboundedSender<Result<Event, Status>>;

#[derive(Default)]
struct FakeState {
    subscribes: Vec<SubscribeRequest>,
    streams: Vec<EventSender>,
    acks: Vec<AcknowledgeRequest>,
    reconciles: Vec<ReconcileRequest>,
    refuse_with: Option<Code>,
    heartbeat_seconds: f64,
    stored: Vec<String>,
    uploaded: Vec<UploadChunk>,
    /// ACCEPT_INVERSE_OFFERS (`true`) and DECLINE_INVERSE_OFFERS calls, in order.
    inverse_answers: Vec<(bool, InverseOffersAnswer)>,
}

#[derive(Clone, Default)]
struct FakeMaster(Arc<Mutex<FakeState>>);

impl FakeMaster {
    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[tonic::async_trait]
impl SchedulerService for FakeMaster {
    type SubscribeStream = UnboundedReceiverStream<Result<Event, Status>>;

    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let mut state = self.state();
        if let Some(code) = state.refuse_with {
            return Err(Status::new(code, "refused by the fake master"));
        }
        state.subscribes.push(request.into_inner());
        #[allow(
            clippy::disallowed_methods,
            reason = "a test recorder drained by the test"
        )]
        let (sender, receiver) = mpsc::unbounded_channel();
        let subscribed = event::Subscribed {
            framework_id: "fw-1".into(),
            heartbeat_interval_seconds: state.heartbeat_seconds,
            master: None,
        };
        let _ = sender.send(Ok(Event {
            event: Some(event::Event::Subscribed(subscribed)),
        }));
        state.streams.push(sender);
        Ok(Response::new(UnboundedReceiverStream::new(receiver)))
    }

    async fn accept(&self, _: Request<AcceptRequest>) -> Result<Response<CallResponse>, Status> {
        Ok(Response::new(CallResponse {}))
    }
    async fn decline(&self, _: Request<DeclineRequest>) -> Result<Response<CallResponse>, Status> {
        Ok(Response::new(CallResponse {}))
    }
    async fn revive(&self, _: Request<ReviveRequest>) -> Result<Response<CallResponse>, Status> {
        Ok(Response::new(CallResponse {}))
    }
    async fn request(
        &self,
        _: Request<wasmesos_proto::ResourceRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        Ok(Response::new(CallResponse {}))
    }
    async fn suppress(
        &self,
        _: Request<SuppressRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        Ok(Response::new(CallResponse {}))
    }
    async fn kill(&self, _: Request<KillRequest>) -> Result<Response<CallResponse>, Status> {
        Ok(Response::new(CallResponse {}))
    }
    async fn acknowledge(
        &self,
        request: Request<AcknowledgeRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        self.state().acks.push(request.into_inner());
        Ok(Response::new(CallResponse {}))
    }
    async fn reconcile(
        &self,
        request: Request<ReconcileRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        self.state().reconciles.push(request.into_inner());
        Ok(Response::new(CallResponse {}))
    }
    async fn message(
        &self,
        _: Request<FrameworkMessageRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        Ok(Response::new(CallResponse {}))
    }
    async fn teardown(
        &self,
        _: Request<TeardownRequest>,
    ) -> Result<Response<CallResponse>, Status> {
        Ok(Response::new(CallResponse {}))
    }
    async fn accept_inverse_offers(
        &self,
        request: Request<InverseOffersAnswer>,
    ) -> Result<Response<CallResponse>, Status> {
        self.state()
            .inverse_answers
            .push((true, request.into_inner()));
        Ok(Response::new(CallResponse {}))
    }
    async fn decline_inverse_offers(
        &self,
        request: Request<InverseOffersAnswer>,
    ) -> Result<Response<CallResponse>, Status> {
        self.state()
            .inverse_answers
            .push((false, request.into_inner()));
        Ok(Response::new(CallResponse {}))
    }
}

#[tonic::async_trait]
impl Artifacts for FakeMaster {
    type DownloadStream = UnboundedReceiverStream<Result<DownloadChunk, Status>>;

    async fn upload(
        &self,
        request: Request<Streaming<UploadChunk>>,
    ) -> Result<Response<UploadResponse>, Status> {
        let mut stream = request.into_inner();
        let mut chunks = Vec::new();
        while let Some(chunk) = stream.message().await? {
            chunks.push(chunk);
        }
        let bytes: Vec<u8> = chunks
            .iter()
            .flat_map(|chunk| chunk.data.to_vec())
            .collect();
        let digest = digest_of(&bytes);
        let mut state = self.state();
        state.stored.push(digest.clone());
        state.uploaded = chunks;
        Ok(Response::new(UploadResponse {
            digest,
            size: bytes.len() as u64,
            created: true,
        }))
    }

    async fn download(
        &self,
        _: Request<DownloadRequest>,
    ) -> Result<Response<Self::DownloadStream>, Status> {
        Err(Status::unimplemented("not in the fake"))
    }

    async fn stat(&self, request: Request<StatRequest>) -> Result<Response<StatResponse>, Status> {
        let exists = self.state().stored.contains(&request.into_inner().digest);
        Ok(Response::new(StatResponse { exists, size: 0 }))
    }
}

async fn start_fake(fake: &FakeMaster) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("local address");
    let server = tonic::transport::Server::builder()
        .add_service(SchedulerServer::new(fake.clone()))
        .add_service(ArtifactsServer::new(fake.clone()))
        .serve_with_incoming(TcpListenerStream::new(listener));
    tokio::spawn(server);
    format!("http://{address}")
}

fn fast_config(url: &str) -> DriverConfig {
    DriverConfig {
        backoff_min: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        ..DriverConfig::new(url, "test-framework")
    }
}

/// Records what the driver delivered, by name.
#[derive(Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<String>>>,
}

impl Scheduler for Recorder {
    async fn subscribed(&mut self, _: &Driver, subscribed: &event::Subscribed) {
        self.note(format!("subscribed {}", subscribed.framework_id));
    }
    async fn update(&mut self, _: &Driver, status: &TaskStatus) {
        self.note(format!("update {}", status.task_id));
    }
    async fn disconnected(&mut self, _: &Driver) {
        self.note("disconnected".into());
    }
}

impl Recorder {
    fn note(&self, what: String) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(what);
        }
    }
}

fn run_in_background(
    driver: &Driver,
    mut recorder: Recorder,
) -> tokio::task::JoinHandle<Result<(), Error>> {
    let driver = driver.clone();
    tokio::spawn(async move { driver.run(&mut recorder).await })
}

#[tokio::test]
async fn a_dropped_stream_is_resubscribed_under_the_same_framework_id() {
    let fake = FakeMaster::default();
    let url = start_fake(&fake).await;
    let driver = Driver::connect(fast_config(&url)).await.expect("connect");
    let recorder = Recorder::default();
    let seen = Arc::clone(&recorder.seen);
    let running = run_in_background(&driver, recorder);

    assert_eventually!(
        "the first subscription",
        WAIT,
        driver.framework_id().is_some()
    );
    assert_eq!(
        fake.state().subscribes[0]
            .framework
            .as_ref()
            .map(|f| f.id.as_str()),
        Some("")
    );
    fake.state().streams.clear(); // the master drops the stream

    assert_eventually!("a second subscription", WAIT, {
        fake.state().subscribes.len() >= 2
    });
    let second = fake.state().subscribes[1].clone();
    let framework = second.framework.unwrap_or_default();
    assert_eq!(framework.id, "fw-1");
    assert_eq!(framework.name, "test-framework");
    assert_eventually!("disconnected then subscribed again", WAIT, {
        let seen = seen.lock().map(|seen| seen.clone()).unwrap_or_default();
        seen == ["subscribed fw-1", "disconnected", "subscribed fw-1"]
    });

    driver.stop();
    let result = running.await.expect("run task");
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn missed_heartbeats_count_as_a_lost_subscription() {
    let fake = FakeMaster::default();
    fake.state().heartbeat_seconds = 0.02;
    let url = start_fake(&fake).await;
    let driver = Driver::connect(fast_config(&url)).await.expect("connect");
    let running = run_in_background(&driver, Recorder::default());

    // The fake keeps every stream open but never heartbeats: only the driver's own detection
    // can make it subscribe again.
    assert_eventually!("re-subscription after silence", WAIT, {
        fake.state().subscribes.len() >= 3
    });
    let (streams, subscribes) = {
        let state = fake.state();
        (state.streams.len(), state.subscribes.len())
    };
    assert_eq!(streams, subscribes);
    driver.stop();
    assert!(running.await.expect("run task").is_ok());
}

#[tokio::test]
async fn updates_are_acknowledged_in_batches_and_only_with_a_uuid() {
    let fake = FakeMaster::default();
    let url = start_fake(&fake).await;
    let driver = Driver::connect(fast_config(&url)).await.expect("connect");
    let running = run_in_background(&driver, Recorder::default());
    assert_eventually!("subscription", WAIT, driver.framework_id().is_some());

    let status = |task: &str, uuid: &[u8]| TaskStatus {
        task_id: task.into(),
        agent_id: "agent-1".into(),
        uuid: uuid.to_vec(),
        state: TaskState::TaskFinished as i32,
        ..TaskStatus::default()
    };
    let update = event::Update {
        statuses: vec![
            status("a", b"uuid-a"),
            status("b", b""),
            status("c", b"uuid-c"),
        ],
    };
    let sender = fake.state().streams[0].clone();
    for _ in 0..50 {
        let _ = sender.send(Ok(Event {
            event: Some(event::Event::Update(update.clone())),
        }));
    }
    assert_eventually!("100 acknowledgements", WAIT, {
        fake.state()
            .acks
            .iter()
            .map(|r| r.acks.len())
            .sum::<usize>()
            == 100
    });
    driver.flush_acknowledgements().await;
    let requests = fake.state().acks.clone();
    assert!(requests.len() < 100, "one call per ack: {}", requests.len());
    let all: Vec<&Acknowledgement> = requests.iter().flat_map(|r| &r.acks).collect();
    assert!(
        all.iter()
            .all(|ack| ack.task_id != "b" && ack.agent_id == "agent-1")
    );
    assert!(
        all.iter()
            .all(|ack| ack.uuid == format!("uuid-{}", ack.task_id).as_bytes())
    );
    assert!(requests.iter().all(|r| r.framework_id == "fw-1"));
    driver.stop();
    assert!(running.await.expect("run task").is_ok());
}

#[tokio::test]
async fn a_refused_subscription_ends_run_with_the_status() {
    let fake = FakeMaster::default();
    fake.state().refuse_with = Some(Code::InvalidArgument);
    let url = start_fake(&fake).await;
    let driver = Driver::connect(fast_config(&url)).await.expect("connect");
    let result = driver.run(&mut Recorder::default()).await;
    let code = result
        .as_ref()
        .err()
        .and_then(Error::status)
        .map(Status::code);
    assert_eq!(code, Some(Code::InvalidArgument), "{result:?}");
}

#[tokio::test]
async fn an_unavailable_master_is_retried_until_it_answers() {
    let fake = FakeMaster::default();
    fake.state().refuse_with = Some(Code::Unavailable);
    let url = start_fake(&fake).await;
    let driver = Driver::connect(fast_config(&url)).await.expect("connect");
    let running = run_in_background(&driver, Recorder::default());
    fake.state().refuse_with = None;
    assert_eventually!("subscription once the master answers", WAIT, {
        driver.framework_id().is_some()
    });
    driver.stop();
    assert!(running.await.expect("run task").is_ok());
}

#[tokio::test]
async fn calls_before_subscribing_fail_without_reaching_the_master() {
    let fake = FakeMaster::default();
    let url = start_fake(&fake).await;
    let driver = Driver::connect(fast_config(&url)).await.expect("connect");
    let result = driver.kill("task").await;
    assert!(matches!(result, Err(Error::NotSubscribed)), "{result:?}");
}

#[tokio::test]
async fn an_unreachable_master_is_named_in_the_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener); // nothing listens there any more
    let error = Driver::connect(fast_config(&url))
        .await
        .expect_err("must fail");
    assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
    assert!(error.to_string().contains(&url), "{error}");
}

#[tokio::test]
async fn uploads_stream_chunks_and_skip_digests_the_master_has() {
    let fake = FakeMaster::default();
    let url = start_fake(&fake).await;
    let driver = Driver::connect(fast_config(&url)).await.expect("connect");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&reports);
    let progress = Box::new(move |sent: u64, total: u64| {
        if let Ok(mut reports) = sink.lock() {
            reports.push((sent, total));
        }
    });

    let first = driver
        .upload_executor_bytes("big.wasm", bytes.clone(), Some(progress))
        .await
        .expect("upload");
    assert!(first.created);
    assert_eq!(first.digest, digest_of(&bytes));
    let chunks = fake.state().uploaded.clone();
    assert!(chunks.len() > 1, "streamed in several chunks");
    let header = chunks[0].header.clone().unwrap_or_default();
    assert_eq!(
        (header.size, header.digest.as_str(), header.name.as_str()),
        (300_000, first.digest.as_str(), "big.wasm")
    );
    let last = reports
        .lock()
        .map(|r| r.last().copied())
        .unwrap_or_default();
    assert_eq!(last, Some((300_000, 300_000)));

    let second = driver
        .upload_executor_bytes("big.wasm", bytes, None)
        .await
        .expect("second upload");
    assert!(!second.created, "the digest was known: nothing sent");
    assert_eq!(fake.state().stored.len(), 1);
}

#[tokio::test]
async fn every_subscription_reconciles_launched_tasks_explicitly_then_all_implicitly() {
    let fake = FakeMaster::default();
    let url = start_fake(&fake).await;
    let driver = Driver::connect(fast_config(&url)).await.expect("connect");
    let running = run_in_background(&driver, Recorder::default());
    assert_eventually!("the first reconciliation", WAIT, {
        !fake.state().reconciles.is_empty()
    });
    let first = fake.state().reconciles.clone();
    assert_eq!(first.len(), 1, "nothing launched yet: implicit only");
    assert!(first[0].tasks.is_empty());
    assert_eq!(first[0].framework_id, "fw-1");

    let task = |id: &str| TaskInfo {
        task_id: id.into(),
        agent_id: "agent-1".into(),
        ..Default::default()
    };
    driver
        .launch(["offer-1"], vec![task("open"), task("ended")])
        .await
        .expect("launch");
    // An update of one task ends it: only the other stays to be asked about.
    let ended = TaskStatus {
        task_id: "ended".into(),
        state: TaskState::TaskFinished as i32,
        ..Default::default()
    };
    let update = event::Update {
        statuses: vec![ended],
    };
    let sender = fake.state().streams[0].clone();
    let _ = sender.send(Ok(Event {
        event: Some(event::Event::Update(update)),
    }));
    assert_eventually!("the update", WAIT, driver.tracked_tasks() == 1);
    drop(sender);
    fake.state().streams.clear(); // the master drops the stream

    assert_eventually!("two more reconciliations", WAIT, {
        fake.state().reconciles.len() >= 3
    });
    let again = fake.state().reconciles[1..3].to_vec();
    let explicit: Vec<(&str, &str)> = again[0]
        .tasks
        .iter()
        .map(|t| (t.task_id.as_str(), t.agent_id.as_str()))
        .collect();
    assert_eq!(explicit, [("open", "agent-1")]);
    assert!(again[1].tasks.is_empty(), "then implicit");

    driver.stop();
    let result = running.await.expect("run task");
    assert!(result.is_ok(), "{result:?}");
}

/// Accepts the first inverse offer of each event and declines the others for an hour.
#[derive(Default)]
struct Answerer {
    rescinded: Arc<Mutex<Vec<String>>>,
}

impl Scheduler for Answerer {
    async fn inverse_offers(&mut self, driver: &Driver, inverse_offers: Vec<InverseOffer>) {
        let mut ids = inverse_offers.into_iter().map(|o| o.id);
        if let Some(first) = ids.next() {
            let _ = driver.accept_inverse_offers([first], None).await;
        }
        let hour = Filters {
            refuse_seconds: Some(3600.0),
        };
        let _ = driver.decline_inverse_offers(ids, Some(hour)).await;
    }
    async fn inverse_offer_rescinded(&mut self, _: &Driver, inverse_offer_id: &str) {
        if let Ok(mut rescinded) = self.rescinded.lock() {
            rescinded.push(inverse_offer_id.to_string());
        }
    }
}

#[tokio::test]
async fn inverse_offers_reach_the_scheduler_and_its_answers_the_master() {
    let fake = FakeMaster::default();
    let url = start_fake(&fake).await;
    let driver = Driver::connect(fast_config(&url)).await.expect("connect");
    let mut answerer = Answerer::default();
    let rescinded = Arc::clone(&answerer.rescinded);
    let runner = driver.clone();
    let running = tokio::spawn(async move { runner.run(&mut answerer).await });
    assert_eventually!("subscription", WAIT, driver.framework_id().is_some());
    let inverse = |id: &str| InverseOffer {
        id: id.into(),
        agent_id: "agent-1".into(),
        unavailability: Some(Unavailability {
            start_nanos: 1,
            duration_nanos: None,
        }),
        ..InverseOffer::default()
    };
    let sender = fake.state().streams[0].clone();
    let events = [
        event::Event::InverseOffers(event::InverseOffers {
            inverse_offers: vec![inverse("io-1"), inverse("io-2"), inverse("io-3")],
        }),
        event::Event::RescindInverseOffer(event::RescindInverseOffer {
            inverse_offer_id: "io-4".into(),
        }),
    ];
    for event in events {
        let _ = sender.send(Ok(Event { event: Some(event) }));
    }
    assert_eventually!(
        "both answers",
        WAIT,
        fake.state().inverse_answers.len() == 2
    );
    let answers = fake.state().inverse_answers.clone();
    assert!(answers[0].0, "accepted first");
    assert_eq!(answers[0].1.inverse_offer_ids, ["io-1"]);
    assert_eq!(answers[0].1.framework_id, "fw-1");
    assert!(!answers[1].0, "then declined");
    assert_eq!(answers[1].1.inverse_offer_ids, ["io-2", "io-3"]);
    assert_eq!(
        answers[1].1.filters.and_then(|f| f.refuse_seconds),
        Some(3600.0)
    );
    assert_eventually!("the rescind", WAIT, {
        rescinded.lock().map(|r| r.clone()).unwrap_or_default() == ["io-4"]
    });
    driver.stop();
    assert!(running.await.expect("run task").is_ok());
}
