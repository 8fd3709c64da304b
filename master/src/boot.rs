//! Bringing a master up, the same way whether it serves alone (`crate::server`) or has just
//! been elected leader (`crate::ha`): open the work dir, the artifact store and the registry,
//! rebuild the [`Core`] from the registry, start the [`Actor`] around it, and build the
//! router that serves the master's gRPC and HTTP APIs through it.
//!
//! It never decides when to boot or what to serve before booting: that is the caller's.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use wasmesos_detector::ClientConfig;
use wasmesos_proto::v1::MasterInfo;
use wasmesos_tls::ServerTls;

use crate::actor::Actor;
use crate::artifacts::ArtifactStore;
use crate::core::Core;
use crate::registry::{
    JournalRegistry, MemoryRegistry, REGISTRY_FILE, RegistryBackend, RegistryStore,
};
use crate::{Error, MasterConfig, http, mesos, rpc};

/// Everything that can fail before serving, done up front so `spawn` reports it.
pub(crate) struct Boot {
    config: MasterConfig,
    registry: Arc<dyn RegistryStore>,
    store: ArtifactStore,
    pub(crate) master: MasterInfo,
    pub(crate) work_dir: PathBuf,
    /// The TLS of the master's calls to agents.
    agent_tls: ClientConfig,
}

impl Boot {
    /// Prepares a master that will serve on `addr`.
    pub(crate) fn for_addr(addr: SocketAddr, config: MasterConfig) -> Result<Self, Error> {
        config.validate()?;
        let master = master_info(addr, config.tls.scheme());
        let agent_tls = config.tls.agents()?;
        let work_dir = config
            .work_dir
            .clone()
            .unwrap_or_else(|| default_work_dir(&master.id));
        let store = ArtifactStore::open(work_dir.join("artifacts"), config.max_artifact_size)?;
        let registry: Arc<dyn RegistryStore> = match &config.registry {
            RegistryBackend::Journal => {
                Arc::new(JournalRegistry::open(work_dir.join(REGISTRY_FILE))?)
            }
            RegistryBackend::Memory => Arc::new(MemoryRegistry::new()),
            RegistryBackend::Store(store) => Arc::clone(store),
        };
        Ok(Self {
            config,
            registry,
            store,
            master,
            work_dir,
            agent_tls,
        })
    }

    /// Loads the registry, rebuilds the core from it, starts the actor (it stops when
    /// `stopped` completes) and returns the router that serves the master's APIs through it.
    pub(crate) async fn start(
        self,
        stopped: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(axum::Router, ActorTask), Error> {
        let snapshot = self.registry.load().await?;
        let flags = mesos::master_flags(&self.config, &self.work_dir);
        let mut core = Core::recover(self.config, self.master.clone(), unix_now(), snapshot)?;
        for digest in self.store.digests()? {
            core.artifact_stored(&digest);
        }
        let (actor, actor_task) = Actor::spawn(core, self.registry, stopped);
        let gate = Arc::new(crate::auth::Gate::new(Arc::clone(actor.security())));
        let http_routes = http::routes(http::HttpState::new(&actor, self.agent_tls.clone()))
            .merge(mesos::routes(mesos::MesosApi::new(&actor, flags)));
        let router = rpc::routes(actor, self.store, self.agent_tls)
            .into_axum_router()
            .merge(http_routes)
            .layer(axum::middleware::from_fn_with_state(
                gate,
                crate::auth::authenticate,
            ));
        tracing::info!(master_id = %self.master.id, address = %self.master.address,
            work_dir = %self.work_dir.display(), "master listening");
        Ok((router, actor_task))
    }
}

/// The actor's task: it ends with an error when the registry fails.
pub(crate) type ActorTask = tokio::task::JoinHandle<Result<(), Error>>;

/// Serves `router` on `listener` (with TCP_NODELAY) until `stopped` completes; over TLS
/// only when `tls` is given.
pub(crate) async fn serve_router(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<ServerTls>,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    if let Some(tls) = tls {
        return wasmesos_tls::serve(listener, router, tls, stopped)
            .await
            .map_err(Error::Serve);
    }
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

/// Completes once `stop` turns true (or its sender is gone): one stop signal, many waiters.
pub(crate) fn stopped(
    stop: &watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static + use<> {
    let mut stop = stop.clone();
    async move {
        let _ = stop.wait_for(|stop| *stop).await;
    }
}

/// The MasterInfo of a master serving on `addr` (`scheme`: `http` or `https`), with a
/// fresh id.
pub(crate) fn master_info(addr: SocketAddr, scheme: &str) -> MasterInfo {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let address = match addr {
        SocketAddr::V6(_) if !addr.ip().is_unspecified() => {
            format!("{scheme}://[{host}]:{}", addr.port())
        }
        _ => format!("{scheme}://{host}:{}", addr.port()),
    };
    MasterInfo {
        id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
        hostname: host,
        port: u32::from(addr.port()),
        version: env!("CARGO_PKG_VERSION").to_string(),
        address,
    }
}

/// Where a master without a configured work dir keeps its files.
pub(crate) fn default_work_dir(id: &str) -> PathBuf {
    std::env::temp_dir().join(format!("wasmesos-master-{id}"))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
