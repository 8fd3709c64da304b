//! Reconciliation after a resubscription, against a real master with a real agent running a
//! real (sleeping) guest. The driver reaches the master through a TCP proxy that the test can
//! cut, or point at another master, to make the driver resubscribe.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use wasmesos_agent::{AgentConfig, AgentHandle, ExecutorConfig, parse_resources};
use wasmesos_master::{MasterConfig, MasterHandle};
use wasmesos_proto::{Offer, Reason, TaskState, TaskStatus, event};
use wasmesos_sdk_scheduler::{Capacity, Driver, DriverConfig, Scheduler, TaskBuilder};
use wasmesos_test_support::scaled;

/// The longest any one wait lasts, before scaling by `WASMESOS_TEST_PATIENCE`.
const PATIENCE: Duration = Duration::from_secs(60);

/// Forwards TCP connections to a target that can change; `cut` drops the open ones.
struct Proxy {
    url: String,
    target: Arc<Mutex<SocketAddr>>,
    open: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let target = Arc::new(Mutex::new(target));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (to, conns) = (Arc::clone(&target), Arc::clone(&open));
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = *to.lock().unwrap_or_else(PoisonError::into_inner);
                let forward = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(forward.abort_handle());
            }
        });
        Proxy { url, target, open }
    }

    fn cut(&self) {
        for conn in self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            conn.abort();
        }
    }

    fn retarget(&self, target: SocketAddr) {
        *self.target.lock().unwrap_or_else(PoisonError::into_inner) = target;
    }
}

#[derive(Debug)]
enum Seen {
    Subscribed,
    Update(TaskStatus),
}

/// Launches one sleeping task on the first offer that fits, and reports what it sees.
struct Sleeper {
    digest: String,
    launched: bool,
    seen: mpsc::UnboundedSender<Seen>,
}

impl Scheduler for Sleeper {
    async fn subscribed(&mut self, _: &Driver, _: &event::Subscribed) {
        let _ = self.seen.send(Seen::Subscribed);
    }

    async fn offers(&mut self, driver: &Driver, offers: Vec<Offer>) {
        for offer in offers {
            let task = TaskBuilder::new("sleeper", &self.digest)
                .cpus(0.1)
                .mem(64 << 20)
                .arg("600000");
            if !self.launched && Capacity::of(&offer).fits(task.resources()) {
                self.launched = true;
                let info = task.build_for(&offer);
                driver
                    .launch([offer.id.clone()], vec![info])
                    .await
                    .expect("launch");
            } else {
                let _ = driver.decline([offer.id.clone()], None).await;
            }
        }
    }

    async fn update(&mut self, _: &Driver, status: &TaskStatus) {
        let _ = self.seen.send(Seen::Update(status.clone()));
    }
}

async fn master(dir: &Path) -> MasterHandle {
    let config = MasterConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        work_dir: Some(dir.to_path_buf()),
        ..MasterConfig::default()
    };
    wasmesos_master::spawn(config).await.expect("master starts")
}

async fn agent(master: &MasterHandle, dir: &Path) -> AgentHandle {
    let config = AgentConfig {
        master_url: master.url(),
        listen: "127.0.0.1:0".parse().expect("address"),
        resources: Some(parse_resources("cpus:2;mem:1GiB;disk:1GiB").expect("resources")),
        work_dir: dir.join("agent"),
        executor: ExecutorConfig {
            cache_dir: Some(dir.join("compiled")),
            ..ExecutorConfig::small()
        },
        ..AgentConfig::default()
    };
    let mut agent = wasmesos_agent::spawn(config).await.expect("agent starts");
    agent
        .registered(scaled(PATIENCE))
        .await
        .expect("agent registers");
    agent
}

/// Reads what the scheduler saw until `pick` returns something.
async fn wait_for<T>(
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    what: &str,
    mut pick: impl FnMut(&Seen) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + scaled(PATIENCE);
    loop {
        match tokio::time::timeout_at(deadline, seen.recv()).await {
            Ok(Some(event)) => {
                if let Some(found) = pick(&event) {
                    return found;
                }
            }
            Ok(None) => panic!("the driver stopped while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// A driver through `proxy` whose sleeper task is running; returns the driver, what the
/// scheduler sees, and the driver's run task.
async fn running_sleeper(
    proxy: &Proxy,
) -> (
    Driver,
    mpsc::UnboundedReceiver<Seen>,
    tokio::task::JoinHandle<Result<(), wasmesos_sdk_scheduler::Error>>,
) {
    let config = DriverConfig {
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        ..DriverConfig::new(proxy.url.clone(), "reconciler")
    };
    let driver = Driver::connect(config).await.expect("connect");
    let digest = driver
        .upload_executor(Path::new(wasmesos_guest_artifacts::SLEEPY), None)
        .await
        .expect("upload")
        .digest;
    #[allow(
        clippy::disallowed_methods,
        reason = "a test recorder drained by the test"
    )]
    let (sender, mut seen) = mpsc::unbounded_channel();
    let mut scheduler = Sleeper {
        digest,
        launched: false,
        seen: sender,
    };
    let runner = driver.clone();
    let running = tokio::spawn(async move { runner.run(&mut scheduler).await });
    wait_for(&mut seen, "the sleeper running", |event| match event {
        Seen::Update(status)
            if status.task_id == "sleeper" && status.state() == TaskState::TaskRunning =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    (driver, seen, running)
}

fn reconciled_sleeper(event: &Seen) -> Option<TaskStatus> {
    match event {
        Seen::Update(status) if status.task_id == "sleeper" && status.uuid.is_empty() => {
            Some(status.clone())
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_broken_connection_the_answers_arrive_as_updates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let master = master(&dir.path().join("master")).await;
    let agent = agent(&master, dir.path()).await;
    let proxy = Proxy::start(master.addr).await;
    let (driver, mut seen, running) = running_sleeper(&proxy).await;

    proxy.cut();
    wait_for(&mut seen, "a second SUBSCRIBED", |event| {
        matches!(event, Seen::Subscribed).then_some(())
    })
    .await;
    let answer = wait_for(&mut seen, "a reconciliation answer", reconciled_sleeper).await;
    assert_eq!(answer.state(), TaskState::TaskRunning, "{answer:?}");
    assert_eq!(driver.tracked_tasks(), 1, "still running, still tracked");

    driver.stop();
    running.await.expect("run task").expect("run ends cleanly");
    agent.shutdown().await.expect("agent stops");
    master.shutdown().await.expect("master stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_that_never_heard_of_the_task_answers_lost() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = master(&dir.path().join("first")).await;
    let agent = agent(&first, dir.path()).await;
    let proxy = Proxy::start(first.addr).await;
    let (driver, mut seen, running) = running_sleeper(&proxy).await;

    // Another master, with its own empty registry, takes over the framework's connection.
    let second = master(&dir.path().join("second")).await;
    proxy.retarget(second.addr);
    proxy.cut();
    wait_for(&mut seen, "a SUBSCRIBED from the other master", |event| {
        matches!(event, Seen::Subscribed).then_some(())
    })
    .await;
    let answer = wait_for(&mut seen, "a reconciliation answer", reconciled_sleeper).await;
    assert_eq!(answer.state(), TaskState::TaskLost, "{answer:?}");
    assert!(
        matches!(
            answer.reason(),
            Reason::Reconciliation | Reason::TaskUnknown
        ),
        "{answer:?}"
    );
    assert_eq!(
        driver.tracked_tasks(),
        0,
        "a lost task is no longer asked about"
    );

    driver.stop();
    running.await.expect("run task").expect("run ends cleanly");
    agent.shutdown().await.expect("agent stops");
    first.shutdown().await.expect("master stops");
    second.shutdown().await.expect("master stops");
}
