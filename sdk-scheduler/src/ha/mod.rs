//! Serving a framework that keeps state of its own (Marathon, Chronos) behind an HTTP API:
//! as one process with its state in a redb file under a work dir, or as one of several
//! processes with `--zk zk://h1:2181,h2:2181/marathon`.
//!
//! With ZooKeeper, every process contends (the detector's `election`) with an ephemeral
//! sequential znode under `<path>/leader` announcing its API's address; the lowest sequence
//! leads. Only the leader loads the state (kept under `<path>/state`, every write fenced by
//! its election znode), subscribes to the master with the stored framework id, reconciles and
//! runs the scheduler. Followers answer the API by proxying to the leader (`proxy.rs`); routes
//! the framework marks local (its leader endpoint) are answered by every process. A leader
//! that may have lost its ZooKeeper session stops at once ([`Error::LeadershipLost`], the
//! binary exits non-zero, as Marathon does), so two leaders never launch side by side.

mod leadership;
mod proxy;
mod running;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderName;
use tokio::net::TcpListener;
use tokio::sync::watch;
use wasmesos_detector::election::{self, Contender};
use wasmesos_detector::{Detector, MasterInfo, MasterUrl};

pub use leadership::Leadership;
pub use running::Running;

use crate::durable::{Durable, ZkSession};
use crate::{Driver, DriverConfig, Error};
use proxy::Face;

/// The default ZooKeeper session timeout: a dead leader is replaced after about this long.
/// ZooKeeper clamps it to 2–20 × its `tickTime`.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(2);

/// Several processes of a framework on one ZooKeeper path (`--zk`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkConfig {
    /// `zk://host:port[,host:port…]/path`.
    pub url: String,
    /// The session timeout to ask for.
    pub session_timeout: Duration,
}

impl ZkConfig {
    /// `url` with the default session timeout.
    pub fn new(url: impl Into<String>) -> Self {
        ZkConfig {
            url: url.into(),
            session_timeout: DEFAULT_SESSION_TIMEOUT,
        }
    }
}

/// Where a framework keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateStore {
    /// One process; `file` (a redb file) under `dir`.
    WorkDir { dir: PathBuf, file: &'static str },
    /// Several processes electing a leader under a `zk://` path.
    ZooKeeper(ZkConfig),
}

impl StateStore {
    /// In ZooKeeper with `zk`, else `file` in `dir`.
    pub fn choose(zk: Option<ZkConfig>, dir: &std::path::Path, file: &'static str) -> Self {
        match zk {
            Some(zk) => StateStore::ZooKeeper(zk),
            None => StateStore::WorkDir {
                dir: dir.to_path_buf(),
                file,
            },
        }
    }
}

/// How a framework's API meets several processes.
pub struct Api<L> {
    /// Builds the routes every process answers itself, leader or follower (a leader
    /// endpoint, a ping).
    pub local: L,
    /// The header a follower names itself in when it proxies (Marathon's `X-Marathon-Via`).
    pub via: HeaderName,
}

impl<L: FnOnce(Leadership) -> Router> Api<L> {
    /// `local`'s routes on every process; followers name themselves in the `via` header
    /// (lowercase, e.g. `x-marathon-via`).
    pub fn new(local: L, via: &'static str) -> Self {
        Api {
            local,
            via: HeaderName::from_static(via),
        }
    }
}

/// Serves the framework on `listener` until `shutdown`: `start` builds it on its loaded state
/// once this process leads (at once without ZooKeeper).
pub async fn serve<L, S, Fut, E>(
    listener: TcpListener,
    store: StateStore,
    api: Api<L>,
    start: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), E>
where
    L: FnOnce(Leadership) -> Router,
    S: FnOnce(Durable, Leadership) -> Fut,
    Fut: Future<Output = Result<Running, E>>,
    E: From<Error>,
{
    let local = listener.local_addr().map_err(Error::Serve)?;
    let zk = match store {
        StateStore::WorkDir { dir, file } => {
            let leadership = Leadership::solo(crate::api_address::reachable_address(local));
            let running = start(Durable::open(&dir, file)?, leadership.clone()).await?;
            let (_face, face) = watch::channel(Face::Leading(running.router()));
            let router = proxy::router((api.local)(leadership.clone()), face, leadership, api.via);
            let served = serve_router(listener, router, shutdown).await;
            drop(running);
            return served.map_err(E::from);
        }
        StateStore::ZooKeeper(zk) => zk,
    };
    let ha = Ha::join(&zk.url, zk.session_timeout, local).await?;
    let (face_tx, face) = watch::channel(Face::Following);
    let leadership = ha.leadership.clone();
    let router = proxy::router((api.local)(leadership.clone()), face, leadership, api.via);
    let (stop_tx, mut stop) = watch::channel(false);
    let stopped = async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    let server = tokio::spawn(serve_router(listener, router, stopped));
    let lead = async {
        let durable = ha.elected().await?;
        let mut running = start(durable, ha.leadership.clone()).await?;
        face_tx.send_replace(Face::Leading(running.router()));
        tracing::info!(api = %ha.leadership.me(), "leading");
        Err::<(), E>(Ha::stopped(running.ended().await).into())
    };
    let outcome = tokio::select! {
        reason = ha.lost() => Err(Error::LeadershipLost(reason).into()),
        () = shutdown => Ok(()),
        led = lead => led,
    };
    if outcome.is_ok() {
        ha.contender.withdraw().await;
    }
    let _ = stop_tx.send(true);
    server.abort();
    outcome
}

/// Serves `router` on `listener` until `shutdown`.
async fn serve_router(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Serve)
}

/// The driver of a framework whose state is `store` and whose API `leadership` names: it
/// subscribes with the stored framework id (a failover that keeps the tasks), `failover` as
/// its failover timeout, and the API's address as its `webui_url`.
pub async fn driver(
    mut config: DriverConfig,
    store: &Durable,
    leadership: &Leadership,
    failover: Duration,
) -> Result<Driver, Error> {
    store.resume(&mut config, failover)?;
    crate::api_address::advertise_api(&mut config, leadership.me());
    Driver::connect(config).await
}

/// One process of an HA group, contending.
struct Ha {
    session: ZkSession,
    contender: Contender,
    leadership: Leadership,
    state_path: String,
}

impl Ha {
    /// Connects, contends under `<path>/leader` and follows whoever leads there.
    async fn join(url: &str, session_timeout: Duration, local: SocketAddr) -> Result<Self, Error> {
        let (servers, path) = match url.parse::<MasterUrl>()? {
            MasterUrl::ZooKeeper { servers, path } => (servers, path),
            MasterUrl::Static(_) => {
                return Err(wasmesos_detector::Error::BadUrl {
                    url: url.to_owned(),
                    why: "--zk takes a zk://host:port/path URL".into(),
                }
                .into());
            }
        };
        let session = ZkSession::connect(&servers, session_timeout).await?;
        let me = crate::api_address::reachable_address(local);
        let ip = if local.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            local.ip().to_string()
        };
        let mut info = MasterInfo::new(
            &me,
            &ip,
            &ip,
            u32::from(local.port()),
            env!("CARGO_PKG_VERSION"),
        );
        info.pid = String::new();
        let candidates = format!("{path}/leader");
        let contender = Contender::enter(session.client().clone(), &candidates, &info).await?;
        let detector = Detector::new(MasterUrl::ZooKeeper {
            servers: servers.clone(),
            path: candidates,
        })
        .await?;
        tracing::info!(%servers, %path, znode = %contender.znode(), api = %me,
            "contending for leadership");
        Ok(Ha {
            session,
            contender,
            leadership: Leadership::following(me, detector.changes()),
            state_path: format!("{path}/state"),
        })
    }

    /// Resolves, with the reason, once this process may no longer hold its session.
    fn lost(&self) -> impl Future<Output = String> + use<> {
        let client = self.session.client().clone();
        election::lost(
            client.clone(),
            self.contender.znode(),
            client.session_timeout(),
        )
    }

    /// Waits to be elected, then loads the state.
    async fn elected(&self) -> Result<Durable, Error> {
        self.contender
            .wait_until_leading()
            .await
            .map_err(|err| Error::LeadershipLost(err.to_string()))?;
        tracing::info!(znode = %self.contender.znode(), "elected: loading the state to lead");
        Durable::zookeeper(&self.session, &self.state_path, &self.contender.znode()).await
    }

    /// Why a leader stops when its framework has ended.
    fn stopped(ended: Result<(), Error>) -> Error {
        Error::LeadershipLost(match ended {
            Ok(()) => "the framework stopped".to_owned(),
            Err(err) => format!("the framework failed: {err}"),
        })
    }
}
