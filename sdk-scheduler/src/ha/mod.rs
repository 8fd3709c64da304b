//! Serving a framework that keeps state of its own (Marathon, Chronos) behind an HTTP API:
//! as one process with its state in a redb file under a work dir, or as one of several
//! processes with `--zk zk://h1:2181,h2:2181/marathon`.
//!
//! With ZooKeeper, every process contends (the detector's `election`) with an ephemeral
//! sequential znode under `<path>/leader` announcing its API's address; the lowest sequence
//! leads. Only the leader loads the state (kept under `<path>/state`, every write fenced by
//! its election znode), subscribes to the master with the stored framework id, reconciles and
//! runs the scheduler. Followers answer the API by proxying to the leader ([`proxy`]); routes
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

use crate::Error;
use crate::durable::{Durable, ZkSession};
use proxy::Face;

/// The default ZooKeeper session timeout: a dead leader is replaced after about this long.
/// ZooKeeper clamps it to 2–20 × its `tickTime`.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a framework keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateStore {
    /// One process; `file` (a redb file) under `dir`.
    WorkDir { dir: PathBuf, file: &'static str },
    /// Several processes electing a leader under a `zk://` path.
    ZooKeeper {
        /// `zk://host:port[,host:port…]/path`.
        url: String,
        /// The session timeout to ask for.
        session_timeout: Duration,
    },
}

impl StateStore {
    /// In ZooKeeper at `zk` when given, else `file` in `dir`.
    pub fn choose(
        zk: Option<&str>,
        session_timeout: Duration,
        dir: &std::path::Path,
        file: &'static str,
    ) -> Self {
        match zk {
            Some(url) => StateStore::ZooKeeper {
                url: url.to_owned(),
                session_timeout,
            },
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
    match store {
        StateStore::WorkDir { dir, file } => {
            let leadership = Leadership::solo(crate::api_address::reachable_address(local));
            let durable = Durable::open(&dir, file)?;
            let running = start(durable, leadership.clone()).await?;
            let (_face, face) = watch::channel(Face::Leading(running.router()));
            let router = proxy::router((api.local)(leadership.clone()), face, leadership, api.via);
            let app = router.into_make_service_with_connect_info::<SocketAddr>();
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
            drop(running);
            served.map_err(|err| Error::Serve(err).into())
        }
        StateStore::ZooKeeper {
            url,
            session_timeout,
        } => {
            let ha = Ha::join(&url, session_timeout, local).await?;
            ha.serve(listener, api, start, shutdown).await
        }
    }
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

    async fn serve<L, S, Fut, E>(
        self,
        listener: TcpListener,
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
        let (face_tx, face) = watch::channel(Face::Following);
        let (stop_tx, mut stop) = watch::channel(false);
        let router = proxy::router(
            (api.local)(self.leadership.clone()),
            face,
            self.leadership.clone(),
            api.via,
        );
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                })
                .await
        });
        let client = self.session.client().clone();
        let lost = election::lost(
            client.clone(),
            self.contender.znode(),
            client.session_timeout(),
        );
        let lead = self.lead(start, &face_tx);
        let outcome = tokio::select! {
            reason = lost => Err(Error::LeadershipLost(reason).into()),
            () = shutdown => Ok(()),
            led = lead => led,
        };
        if outcome.is_ok() {
            self.contender.withdraw().await;
        }
        let _ = stop_tx.send(true);
        server.abort();
        outcome
    }

    /// Waits to be elected, then loads the state, starts the framework and serves it until
    /// it ends. Returns only on failure.
    async fn lead<S, Fut, E>(&self, start: S, face: &watch::Sender<Face>) -> Result<(), E>
    where
        S: FnOnce(Durable, Leadership) -> Fut,
        Fut: Future<Output = Result<Running, E>>,
        E: From<Error>,
    {
        self.contender
            .wait_until_leading()
            .await
            .map_err(|err| Error::LeadershipLost(err.to_string()))?;
        tracing::info!(znode = %self.contender.znode(), "elected: loading the state to lead");
        let durable =
            Durable::zookeeper(&self.session, &self.state_path, &self.contender.znode()).await?;
        let mut running = start(durable, self.leadership.clone()).await?;
        face.send_replace(Face::Leading(running.router()));
        tracing::info!(api = %self.leadership.me(), "leading");
        let ended = running.ended().await;
        Err(Error::LeadershipLost(match ended {
            Ok(()) => "the framework stopped".to_owned(),
            Err(err) => format!("the framework failed: {err}"),
        })
        .into())
    }
}
