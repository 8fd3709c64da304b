//! The public entry points: [`serve`] on a bound listener until a shutdown signal, and
//! [`spawn`] for tests and embedding, which binds, serves in the background and returns a
//! [`MasterHandle`]. Each picks the single master (`crate::server`) or the HA group member
//! (`crate::ha`) from `MasterConfig::ha`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::boot::default_work_dir;
use crate::{Error, MasterConfig, ha, server};

/// Serves the master's gRPC services on `listener` until `shutdown` completes.
///
/// Uses `config.work_dir`, or a fresh directory under the OS temp dir when it is `None`.
/// `config.listen` is ignored: the listener is already bound.
pub async fn serve(
    listener: TcpListener,
    config: MasterConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    match config.ha.clone() {
        Some(ha) => ha::serve(listener, config, ha, shutdown).await,
        None => server::start(listener, config, shutdown).await?.await,
    }
}

/// A master running in the background, as [`spawn`] returns it.
#[derive(Debug)]
pub struct MasterHandle {
    /// The address it listens on (the real port when `listen` asked for port 0).
    pub addr: SocketAddr,
    /// `http`, or `https` for a master serving TLS.
    scheme: &'static str,
    /// Where it stores artifacts.
    pub work_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), Error>>>,
}

impl MasterHandle {
    /// `http://host:port` (`https://` with TLS), what clients connect to.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
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
    let work_dir = config
        .work_dir
        .get_or_insert_with(|| default_work_dir(&uuid::Uuid::new_v4().to_string()))
        .clone();
    let scheme = config.tls.scheme();
    let (stop, stopped) = oneshot::channel::<()>();
    let stopped = async move {
        let _ = stopped.await;
    };
    let task = match config.ha.clone() {
        Some(ha) => tokio::spawn(ha::serve(listener, config, ha, stopped)),
        None => tokio::spawn(server::start(listener, config, stopped).await?),
    };
    Ok(MasterHandle {
        addr,
        scheme,
        work_dir,
        stop: Some(stop),
        task: Some(task),
    })
}
