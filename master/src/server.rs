//! Entry points: [`serve`] on a bound listener until a shutdown signal, and [`spawn`] for
//! tests and embedding, which binds, serves in the background and returns a handle.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use wasmesos_proto::v1::MasterInfo;

use crate::actor::Actor;
use crate::artifacts::ArtifactStore;
use crate::core::Core;
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
    Prepared::new(&listener, config)?
        .run(listener, shutdown)
        .await
}

/// Everything that can fail before serving, done up front so [`spawn`] reports it.
struct Prepared {
    core: Core,
    store: ArtifactStore,
    master: MasterInfo,
    work_dir: PathBuf,
}

impl Prepared {
    fn new(listener: &TcpListener, config: MasterConfig) -> Result<Self, Error> {
        config.validate()?;
        let addr = listener.local_addr().map_err(Error::Serve)?;
        let master = master_info(addr);
        let work_dir = config
            .work_dir
            .clone()
            .unwrap_or_else(|| default_work_dir(&master.id));
        let store = ArtifactStore::open(work_dir.join("artifacts"), config.max_artifact_size)?;
        let mut core = Core::new(config, master.clone(), unix_now())?;
        for digest in store.digests()? {
            core.artifact_stored(&digest);
        }
        Ok(Self {
            core,
            store,
            master,
            work_dir,
        })
    }

    async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|stop| *stop).await;
            }
        };
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let (actor, actor_task) = Actor::spawn(self.core, stopped());
        let http_routes = http::routes(http::HttpState::new(&actor));
        let router = rpc::routes(actor, self.store)
            .into_axum_router()
            .merge(http_routes);
        let listener = listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::warn!(%err, "cannot set TCP_NODELAY");
            }
        });
        tracing::info!(master_id = %self.master.id, address = %self.master.address,
            work_dir = %self.work_dir.display(), "master listening");
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(stopped())
            .await;
        let _ = actor_task.await;
        served.map_err(Error::Serve)
    }
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
    let prepared = Prepared::new(&listener, config)?;
    let work_dir = prepared.work_dir.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(prepared.run(listener, async move {
        let _ = stopped.await;
    }));
    Ok(MasterHandle {
        addr,
        work_dir,
        stop: Some(stop),
        task: Some(task),
    })
}

fn master_info(addr: SocketAddr) -> MasterInfo {
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
