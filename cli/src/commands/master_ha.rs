//! `wasmesos master --zk …`: one master of an HA group. It serves until Ctrl-C (it then
//! withdraws from the election so a successor takes over at once), or until it may have lost
//! its ZooKeeper session, when it exits non-zero at once for its supervisor to restart it.

use anyhow::Context;
use tokio::net::TcpListener;
use wasmesos_master::MasterConfig;

use crate::signals::shutdown_signal;

/// Binds, announces the address on stdout, and serves as a contender until either end.
pub async fn run(config: MasterConfig) -> anyhow::Result<()> {
    let zk = config
        .ha
        .as_ref()
        .map(|ha| ha.zk.clone())
        .unwrap_or_default();
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let scheme = if config.tls.identity.is_some() {
        "https"
    } else {
        "http"
    };
    println!("wasmesos master listening on {scheme}://{addr} (HA group {zk})");
    wasmesos_master::serve(listener, config, shutdown_signal())
        .await
        .context("the master stopped")?;
    eprintln!("wasmesos master: shut down");
    Ok(())
}
