//! High availability on ZooKeeper (`--zk zk://h1:2181,h2:2181/wasmesos`).
//!
//! Every master contends (the detector's `election`) with an ephemeral sequential
//! `json.info_` znode holding its MasterInfo JSON; the lowest sequence leads. Until it leads, a master serves
//! only redirects on its port ([`switch`]): gRPC UNAVAILABLE with the leader in the
//! `wasmesos-leader` metadata, HTTP 307 to the leader. Once it leads, the same port serves
//! the normal master. A master that may have lost its session (`election::lost`) stops at once:
//! [`serve`] returns [`Error::LeadershipLost`] and the `wasmesos` binary exits non-zero,
//! the Mesos way, for a supervisor to restart it.
//!
//! Failover time is bounded below by the session timeout: a killed leader's znode lives until
//! ZooKeeper expires its session. ZooKeeper clamps a requested timeout to 2–20 × its
//! `tickTime`, so a 2 s timeout needs `tickTime` ≤ 1000 ms.

mod registry;
mod switch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use wasmesos_detector::election::{self, Contender};
use wasmesos_detector::{Detector, MasterInfo, MasterUrl};

use crate::boot::{Boot, master_info, serve_router, stopped};
use crate::registry::RegistryBackend;
use crate::{Error, MasterConfig};
use switch::Face;

use registry::ZkRegistry;

/// The default ZooKeeper session timeout: short enough for a failover within ~3 s.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(2);

/// How a master joins an HA group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HaConfig {
    /// `zk://host:port[,host:port…]/path`.
    pub zk: String,
    /// The ZooKeeper session timeout to ask for (the server clamps it to 2–20 × tickTime).
    pub session_timeout: Duration,
}

impl HaConfig {
    /// An HA config for `zk` with the default session timeout.
    pub fn new(zk: impl Into<String>) -> Self {
        Self {
            zk: zk.into(),
            session_timeout: DEFAULT_SESSION_TIMEOUT,
        }
    }

    /// The ensemble and path, or an error naming the flag.
    pub(crate) fn zookeeper(&self) -> Result<(String, String), Error> {
        match self.zk.parse::<MasterUrl>() {
            Ok(MasterUrl::ZooKeeper { servers, path }) => Ok((servers, path)),
            Ok(MasterUrl::Static(_)) => Err(Error::InvalidConfig(format!(
                "zk: {:?} is not a zk:// URL",
                self.zk
            ))),
            Err(err) => Err(Error::InvalidConfig(format!("zk: {err}"))),
        }
    }

    /// Checks the URL and the timeout.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        self.zookeeper()?;
        if self.session_timeout < Duration::from_millis(100) {
            return Err(Error::InvalidConfig(
                "zk_session_timeout: must be at least 100ms".into(),
            ));
        }
        Ok(())
    }
}

/// Serves `listener` as one master of an HA group until `shutdown`, or until leadership
/// (or candidacy) may have been lost, which returns [`Error::LeadershipLost`].
pub(crate) async fn serve(
    listener: TcpListener,
    config: MasterConfig,
    ha: HaConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    ha.validate()?;
    let (servers, path) = ha.zookeeper()?;
    let addr = listener.local_addr().map_err(Error::Serve)?;
    let info = announced(&master_info(addr, config.tls.scheme()));
    let tls = config.tls.server()?;
    let client = wasmesos_detector::connect(&servers, ha.session_timeout).await?;
    tracing::info!(%servers, %path, negotiated = ?client.session_timeout(), "connected to ZooKeeper");
    let contender = Contender::enter(client.clone(), &path, &info)
        .await
        .map_err(from_election)?;
    let detector = Detector::new(MasterUrl::ZooKeeper {
        servers,
        path: path.clone(),
    })
    .await?;

    let (face_tx, face_rx) = watch::channel(Face::Standby(detector.current()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let server = tokio::spawn(serve_router(
        listener,
        switch::router(face_rx),
        tls,
        stopped(&stop_rx),
    ));
    let server = AbortOnDrop(server);
    tracing::info!(master_id = %info.id, address = %info.url(), sequence = ?contender.sequence(),
        "master listening (standing by until elected)");

    let lost = election::lost(client.clone(), contender.znode(), client.session_timeout());
    let mut config = config;
    config.registry = RegistryBackend::Store(Arc::new(ZkRegistry::new(
        client.clone(),
        &path,
        contender.znode(),
    )));
    let lead = lead_when_elected(&contender, addr, config, &detector, &face_tx, stop_rx);
    let outcome = tokio::select! {
        reason = lost => Err(Error::LeadershipLost(reason)),
        () = shutdown => Ok(()),
        led = lead => led,
    };
    match &outcome {
        Err(Error::LeadershipLost(reason)) => {
            tracing::error!(%reason, "stopping at once: this master may no longer lead");
        }
        Err(err) => tracing::error!(%err, "leaving the HA group"),
        Ok(()) => contender.withdraw().await,
    }
    let _ = stop_tx.send(true);
    drop(server);
    outcome
}

/// Follows the leader for redirects until this master is elected, then serves as the leader
/// until the actor ends. Returns only on failure.
async fn lead_when_elected(
    contender: &Contender,
    addr: SocketAddr,
    config: MasterConfig,
    detector: &Detector,
    face: &watch::Sender<Face>,
    stop: watch::Receiver<bool>,
) -> Result<(), Error> {
    let mut leaders = detector.changes();
    let elected = contender.wait_until_leading();
    tokio::pin!(elected);
    loop {
        tokio::select! {
            won = &mut elected => { won.map_err(from_election)?; break; }
            changed = leaders.changed() => {
                if changed.is_err() {
                    return Err(Error::LeadershipLost("the leader detector stopped".into()));
                }
                let leader = leaders.borrow_and_update().clone();
                face.send_replace(Face::Standby(leader));
            }
        }
    }
    tracing::info!(znode = %contender.znode(), "elected: this master now leads");
    // Until the registry is loaded, answer "no leader yet" rather than redirect to the
    // predecessor the detector may still name: callers retry here.
    face.send_replace(Face::Standby(None));
    let boot = Boot::for_addr(addr, config)?;
    let (router, actor_task) = boot.start(stopped(&stop)).await?;
    face.send_replace(Face::Leading(router));
    match actor_task.await {
        Ok(Err(err)) => Err(err),
        Ok(Ok(())) => Err(Error::ShuttingDown),
        Err(err) => Err(Error::Serve(std::io::Error::other(err))),
    }
}

/// The master's own errors for the contender's: a lost candidacy is lost leadership.
fn from_election(err: wasmesos_detector::Error) -> Error {
    match err {
        wasmesos_detector::Error::ZooKeeper { what, source } => Error::ZooKeeper { what, source },
        wasmesos_detector::Error::CandidacyLost(reason) => Error::LeadershipLost(reason),
        err => Error::Detector(err),
    }
}

/// The MasterInfo JSON this master announces in its znode.
fn announced(master: &wasmesos_proto::v1::MasterInfo) -> MasterInfo {
    MasterInfo::new(
        &master.id,
        &master.hostname,
        &master.hostname,
        master.port,
        &master.version,
    )
}

/// Aborts the server task when the HA loop ends for any reason.
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
