//! The frameworks `wasmesos dev --services` runs next to the cluster, in this process: each
//! is a [`Service`] in [`SERVICES`], with its name, its usual address and how to start it.
//! Its state lives under the cluster's temp dir (`<dir>/<name>`), removed on exit as the
//! master's and agents' are.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What a service is started with.
pub struct ServiceStart {
    pub listener: TcpListener,
    /// `http://127.0.0.1:PORT` of the dev master.
    pub master_url: String,
    /// Where it keeps its state.
    pub work_dir: PathBuf,
    /// Resolves when `wasmesos dev` stops.
    pub shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
}

type Served = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A framework with an HTTP API that `dev --services` starts.
pub struct Service {
    pub name: &'static str,
    /// Where it listens unless `--service-listen NAME=ADDR` says otherwise: the port its
    /// original listens on, so its clients' defaults find it.
    pub listen: &'static str,
    /// The `wasmesos` command that talks to it, for the hints printed at start.
    pub hint: &'static str,
    pub serve: fn(ServiceStart) -> Served,
}

/// Every service `dev --services` starts, in this order.
pub const SERVICES: &[Service] = &[
    Service {
        name: "marathon",
        listen: "127.0.0.1:8080",
        hint: "wasmesos apps",
        serve: serve_marathon,
    },
    Service {
        name: "chronos",
        listen: "127.0.0.1:4400",
        hint: "wasmesos jobs",
        serve: serve_chronos,
    },
];

fn serve_marathon(start: ServiceStart) -> Served {
    Box::pin(async move {
        let config = wasmesos_marathon::MarathonConfig::new(start.master_url, start.work_dir);
        wasmesos_marathon::serve(start.listener, config, start.shutdown)
            .await
            .context("marathon")
    })
}

fn serve_chronos(start: ServiceStart) -> Served {
    Box::pin(async move {
        let config = wasmesos_chronos::ChronosConfig::new(start.master_url, start.work_dir);
        wasmesos_chronos::serve(start.listener, config, start.shutdown)
            .await
            .context("chronos")
    })
}

/// `NAME=ADDR` of `--service-listen`.
#[derive(Debug, Clone)]
pub struct ListenOverride {
    pub name: String,
    pub addr: SocketAddr,
}

impl std::str::FromStr for ListenOverride {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, addr) = text.split_once('=').ok_or_else(|| {
            format!("expected NAME=ADDR (e.g. marathon=127.0.0.1:8080), got {text:?}")
        })?;
        if !SERVICES.iter().any(|service| service.name == name) {
            let known: Vec<&str> = SERVICES.iter().map(|service| service.name).collect();
            return Err(format!(
                "no service named {name:?}; the services are: {}",
                known.join(", ")
            ));
        }
        let addr = addr
            .parse()
            .map_err(|err| format!("invalid address {addr:?} for {name}: {err}"))?;
        Ok(ListenOverride {
            name: name.to_string(),
            addr,
        })
    }
}

/// A service running in this process.
pub struct RunningService {
    pub name: &'static str,
    pub url: String,
    pub work_dir: PathBuf,
    pub hint: &'static str,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Starts every service on its address (or its override), against `master_url`, with its
/// state in `dir/<name>`.
pub async fn start_all(
    master_url: &str,
    dir: &Path,
    overrides: &[ListenOverride],
) -> anyhow::Result<Vec<RunningService>> {
    let mut running = Vec::new();
    for service in SERVICES {
        let addr = match overrides.iter().rfind(|o| o.name == service.name) {
            Some(found) => found.addr,
            None => service.listen.parse().with_context(|| {
                format!("{}'s default address {}", service.name, service.listen)
            })?,
        };
        running.push(start(service, addr, master_url, dir).await?);
    }
    Ok(running)
}

async fn start(
    service: &Service,
    addr: SocketAddr,
    master_url: &str,
    dir: &Path,
) -> anyhow::Result<RunningService> {
    let listener = TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot start {} on {addr} (--service-listen {}=ADDR picks another address)",
            service.name, service.name
        )
    })?;
    let local = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = Box::pin(async move {
        let _ = stopped.await;
    });
    let work_dir = dir.join(service.name);
    let start = ServiceStart {
        listener,
        master_url: master_url.to_string(),
        work_dir: work_dir.clone(),
        shutdown,
    };
    let task = tokio::spawn((service.serve)(start));
    Ok(RunningService {
        name: service.name,
        url: format!("http://{local}"),
        work_dir,
        hint: service.hint,
        stop,
        task,
    })
}

impl RunningService {
    /// Stops the service and waits for it; an error it stopped with is returned.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(result) => result,
            Err(err) => bail!("{} stopped abnormally: {err}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listen_override_names_a_known_service_and_an_address() {
        let parsed: ListenOverride = "marathon=127.0.0.1:0".parse().expect("valid");
        assert_eq!(parsed.name, "marathon");
        assert_eq!(parsed.addr, SocketAddr::from(([127, 0, 0, 1], 0)));
        let unknown = "kafka=127.0.0.1:1".parse::<ListenOverride>().err();
        assert!(unknown.is_some_and(|e| e.contains("the services are: marathon")));
        let no_addr = "marathon=localhost".parse::<ListenOverride>().err();
        assert!(no_addr.is_some_and(|e| e.contains("invalid address")));
        assert!("marathon".parse::<ListenOverride>().is_err());
    }

    #[test]
    fn every_service_has_a_valid_usual_address_and_a_unique_name() {
        for (index, service) in SERVICES.iter().enumerate() {
            assert!(
                service.listen.parse::<SocketAddr>().is_ok(),
                "{}",
                service.name
            );
            assert!(SERVICES[..index].iter().all(|s| s.name != service.name));
        }
    }
}
