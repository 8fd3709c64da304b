//! Entry points: [`serve`] on a bound listener until a shutdown signal, and [`spawn`] for
//! tests and embedding, which binds, serves in the background and returns a handle.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use wasmesos_proto::v1::MasterInfo;

use crate::actor::Actor;
use crate::artifacts::ArtifactStore;
use crate::core::Core;
use crate::registry::{
    MemoryRegistry, REGISTRY_FILE, RedbRegistry, RegistryBackend, RegistryStore,
};
use crate::{Error, MasterConfig, http, rpc};

/// Serves the master's gRPC services on `listener` until `shutdown` completes.
///
/// Uses `config.work_dir`, or a fresh directory under the OS temp dir when it is `None`.
/// `config.listen` is ignored: the listener is already bound.
pub async fn serve(
    listener: TcpListener,
    config: MasterConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    if let Some(ha) = config.ha.clone() {
        return crate::ha::serve(listener, config, ha, shutdown).await;
    }
    let prepared = Prepared::new(&listener, config)?;
    let stop = stop_signal(shutdown);
    let (router, actor_task) = prepared.start(stopped(&stop)).await?;
    serve_until(listener, router, actor_task, stopped(&stop)).await
}

/// Everything that can fail before serving, done up front so [`spawn`] reports it.
pub(crate) struct Prepared {
    config: MasterConfig,
    registry: Arc<dyn RegistryStore>,
    store: ArtifactStore,
    pub(crate) master: MasterInfo,
    work_dir: PathBuf,
}

impl Prepared {
    pub(crate) fn new(listener: &TcpListener, config: MasterConfig) -> Result<Self, Error> {
        Self::for_addr(listener.local_addr().map_err(Error::Serve)?, config)
    }

    /// Prepares a master that will serve on `addr`.
    pub(crate) fn for_addr(addr: SocketAddr, config: MasterConfig) -> Result<Self, Error> {
        config.validate()?;
        let master = master_info(addr);
        let work_dir = config
            .work_dir
            .clone()
            .unwrap_or_else(|| default_work_dir(&master.id));
        let store = ArtifactStore::open(work_dir.join("artifacts"), config.max_artifact_size)?;
        let registry: Arc<dyn RegistryStore> = match &config.registry {
            RegistryBackend::Redb => Arc::new(RedbRegistry::open(work_dir.join(REGISTRY_FILE))?),
            RegistryBackend::Memory => Arc::new(MemoryRegistry::new()),
            RegistryBackend::Store(store) => Arc::clone(store),
        };
        Ok(Self {
            config,
            registry,
            store,
            master,
            work_dir,
        })
    }

    /// Loads the registry, rebuilds the core from it, starts the actor (it stops when
    /// `stopped` completes) and returns the router that serves the master's APIs through it.
    pub(crate) async fn start(
        self,
        stopped: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(axum::Router, ActorTask), Error> {
        let snapshot = self.registry.load().await?;
        let mut core = Core::recover(self.config, self.master.clone(), unix_now(), snapshot)?;
        for digest in self.store.digests()? {
            core.artifact_stored(&digest);
        }
        let (actor, actor_task) = Actor::spawn(core, self.registry, stopped);
        let http_routes = http::routes(http::HttpState::new(&actor));
        let router = rpc::routes(actor, self.store)
            .into_axum_router()
            .merge(http_routes);
        tracing::info!(master_id = %self.master.id, address = %self.master.address,
            work_dir = %self.work_dir.display(), "master listening");
        Ok((router, actor_task))
    }
}

/// The actor's task: it ends with an error when the registry fails.
pub(crate) type ActorTask = tokio::task::JoinHandle<Result<(), Error>>;

/// Serves until `stopped` completes, or until the actor fails (a registry commit failed:
/// the master stops rather than acknowledge what it could not record).
async fn serve_until(
    listener: TcpListener,
    router: axum::Router,
    mut actor_task: ActorTask,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let serving = serve_router(listener, router, stopped);
    tokio::pin!(serving);
    let joined = |joined: Result<Result<(), Error>, tokio::task::JoinError>| {
        joined.map_err(|err| Error::Serve(std::io::Error::other(err)))?
    };
    tokio::select! {
        served = &mut serving => {
            let actor = joined(actor_task.await);
            served.and(actor)
        }
        actor = &mut actor_task => match joined(actor) {
            Ok(()) => serving.await,
            Err(err) => Err(err),
        },
    }
}

/// Turns a one-shot shutdown future into a signal many tasks can wait on.
fn stop_signal(shutdown: impl Future<Output = ()> + Send + 'static) -> watch::Receiver<bool> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    stop_rx
}

fn stopped(stop: &watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
    let mut stop = stop.clone();
    async move {
        let _ = stop.wait_for(|stop| *stop).await;
    }
}

/// Serves `router` on `listener` (with TCP_NODELAY) until `stopped` completes.
pub(crate) async fn serve_router(
    listener: TcpListener,
    router: axum::Router,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!(%err, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(stopped)
        .await
        .map_err(Error::Serve)
}

/// A master running in the background, as [`spawn`] returns it.
#[derive(Debug)]
pub struct MasterHandle {
    /// The address it listens on (the real port when `listen` asked for port 0).
    pub addr: SocketAddr,
    /// Where it stores artifacts.
    pub work_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), Error>>>,
}

impl MasterHandle {
    /// `http://host:port`, what clients connect to.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the master and waits until it has stopped.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|err| Error::Serve(std::io::Error::other(err)))?,
            None => Ok(()),
        }
    }
}

impl Drop for MasterHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `config.listen` and serves in a background task.
pub async fn spawn(mut config: MasterConfig) -> Result<MasterHandle, Error> {
    config.validate()?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Bind {
            addr: config.listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(Error::Serve)?;
    config
        .work_dir
        .get_or_insert_with(|| default_work_dir(&uuid::Uuid::new_v4().to_string()));
    let (stop, stopped) = oneshot::channel::<()>();
    let stopped = async move {
        let _ = stopped.await;
    };
    if let Some(ha) = config.ha.clone() {
        let work_dir = config.work_dir.clone().unwrap_or_default();
        let task = tokio::spawn(crate::ha::serve(listener, config, ha, stopped));
        return Ok(MasterHandle {
            addr,
            work_dir,
            stop: Some(stop),
            task: Some(task),
        });
    }
    let prepared = Prepared::new(&listener, config)?;
    let work_dir = prepared.work_dir.clone();
    let signal = stop_signal(stopped);
    let (router, actor_task) = prepared.start(self::stopped(&signal)).await?;
    let task = tokio::spawn(serve_until(
        listener,
        router,
        actor_task,
        self::stopped(&signal),
    ));
    Ok(MasterHandle {
        addr,
        work_dir,
        stop: Some(stop),
        task: Some(task),
    })
}

pub(crate) fn master_info(addr: SocketAddr) -> MasterInfo {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let address = match addr {
        SocketAddr::V6(_) if !addr.ip().is_unspecified() => {
            format!("http://[{host}]:{}", addr.port())
        }
        _ => format!("http://{host}:{}", addr.port()),
    };
    MasterInfo {
        id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
        hostname: host,
        port: u32::from(addr.port()),
        version: env!("CARGO_PKG_VERSION").to_string(),
        address,
    }
}

fn default_work_dir(id: &str) -> PathBuf {
    std::env::temp_dir().join(format!("wasmesos-master-{id}"))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
