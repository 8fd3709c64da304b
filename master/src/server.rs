//! A master serving alone, outside any HA group: it boots at once and serves until shutdown,
//! or until its actor fails.

use std::future::Future;

use tokio::net::TcpListener;
use tokio::sync::watch;
use wasmesos_tls::ServerTls;

use crate::boot::{ActorTask, Boot, serve_router, stopped};
use crate::{Error, MasterConfig};

/// Boots a master on `listener` and returns the future that serves it until `shutdown`
/// completes. Everything that can fail before serving fails here, so `spawn` reports it.
pub(crate) async fn start(
    listener: TcpListener,
    config: MasterConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<impl Future<Output = Result<(), Error>> + Send + 'static, Error> {
    let addr = listener.local_addr().map_err(Error::Serve)?;
    let tls = config.tls.server()?;
    let boot = Boot::for_addr(addr, config)?;
    let stop = stop_signal(shutdown);
    let (router, actor_task) = boot.start(stopped(&stop)).await?;
    Ok(serve_until(
        listener,
        router,
        tls,
        actor_task,
        stopped(&stop),
    ))
}

/// Serves until `stopped` completes, or until the actor fails (a registry commit failed:
/// the master stops rather than acknowledge what it could not record).
async fn serve_until(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<ServerTls>,
    mut actor_task: ActorTask,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let serving = serve_router(listener, router, tls, stopped);
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
