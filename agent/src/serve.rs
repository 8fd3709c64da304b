//! Starting and stopping an agent: [`serve`] on a given listener, or [`spawn`] in the
//! background with an [`AgentHandle`].

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tracing::{Instrument, info, info_span};
use wasmesos_detector::{
    CallHeaders, ClientConfig, DEFAULT_CONNECT_TIMEOUT, MasterChannel, MasterService, MasterUrl,
};
use wasmesos_proto::agent_server::AgentServer;
use wasmesos_tls::ServerTls;
use wasmesos_wasm_executor::{AddrRule, Executor};

use crate::agent::Agent;
use crate::artifacts::ArtifactCache;
use crate::checkpoint::{Checkpoint, Recovered, Store};
use crate::fetcher::Fetcher;
use crate::network::OperatorNetwork;
use crate::registry::Registry;
use crate::relay::MessageRelay;
use crate::resources::complete_resources;
use crate::sandboxes::Sandboxes;
use crate::service::AgentService;
use crate::status::StatusSender;
use crate::{AgentConfig, Error, link, recovery};

/// Runs an agent on `listener` until `shutdown` resolves: registers with the master, runs
/// what it is told to, and serves `wasmesos.v1.Agent`. Running tasks are killed on the way
/// out.
pub async fn serve(
    listener: TcpListener,
    config: AgentConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let addr = local_addr(&listener)?;
    let (agent, tls) = start(config, addr).await?;
    run(listener, agent, tls, shutdown).await
}

/// Binds `config.listen` and runs the agent in the background.
pub async fn spawn(config: AgentConfig) -> Result<AgentHandle, Error> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|err| Error::io("binding", config.listen.to_string(), err))?;
    let addr = local_addr(&listener)?;
    let (agent, tls) = start(config, addr).await?;
    let agent_id = agent.agent_id.subscribe();
    let url = agent.address.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(listener, agent, tls, async {
        // A dropped handle stops the agent too.
        let _ = stopped.await;
    }));
    Ok(AgentHandle {
        addr,
        url,
        agent_id,
        stop: Some(stop),
        task,
    })
}

/// A running agent started by [`spawn`]. Dropping it stops the agent.
#[derive(Debug)]
pub struct AgentHandle {
    addr: SocketAddr,
    url: String,
    agent_id: watch::Receiver<Option<String>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), Error>>,
}

impl AgentHandle {
    /// The address the agent's gRPC server is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL the agent advertises to the master (`AgentInfo.address`).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The id from the agent's latest registration, if it is registered.
    pub fn agent_id(&self) -> Option<String> {
        self.agent_id.borrow().clone()
    }

    /// Waits until the agent is registered (or `timeout` passes) and returns its id.
    pub async fn registered(&mut self, timeout: Duration) -> Option<String> {
        let wait = self.agent_id.wait_for(Option::is_some);
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(id)) => id.clone(),
            _ => None,
        }
    }

    /// Stops the agent (killing its tasks) and waits until it has stopped.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .map_err(|err| Error::Internal(format!("agent task: {err}")))?
    }
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, Error> {
    listener
        .local_addr()
        .map_err(|err| Error::io("reading the address of", "the listener", err))
}

/// Builds the agent's core: directories, resources, executor, master channel, workers; and
/// loads the TLS of its port.
async fn start(
    mut config: AgentConfig,
    addr: SocketAddr,
) -> Result<(Arc<Agent>, Option<ServerTls>), Error> {
    // wasmtime builds an error on every store drop (it disposes of the store's fibers with
    // one) and, with RUST_BACKTRACE set, captures a host backtrace for each: tens of
    // microseconds per task that nobody reads, since a task's errors become status reasons.
    wasmtime::error::disable_backtrace();
    if let Some(oversubscription) = &config.oversubscription {
        oversubscription.validate().map_err(Error::InvalidConfig)?;
    }
    let tls = config.tls.server()?;
    let master_tls = config.tls.master()?;
    let work_dir = config.work_dir.clone();
    // The checkpoint, artifacts, compiled code and sandboxes live under it: another local
    // user who controls it controls the tasks.
    let private = work_dir.clone();
    tokio::task::spawn_blocking(move || wasmesos_wasm_executor::ensure_private_dir(&private))
        .await
        .map_err(|err| Error::Internal(format!("checking the work dir: {err}")))??;
    let artifacts_dir = work_dir.join("artifacts");
    for dir in [&work_dir, &artifacts_dir] {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|err| Error::io("creating", dir, err))?;
    }
    let (store, recovered) = open_checkpoint(&work_dir).await?;
    let sandboxes = open_sandboxes(&config).await?;
    let fetcher = open_fetcher(&config).await?;
    if config.executor.cache_dir.is_none() {
        config.executor.cache_dir = Some(work_dir.join("compiled"));
    }
    let resources = complete_resources(config.resources.clone(), &work_dir);
    let credential = config
        .credential_file
        .as_deref()
        .map(wasmesos_detector::Credential::from_file)
        .transpose()?;
    let headers = CallHeaders::new(credential.as_ref());
    let http_credentials = config
        .http_credentials_file
        .as_deref()
        .map(wasmesos_detector::Credentials::from_file)
        .transpose()?
        .map(Arc::new);
    let channel = master_channel(&config.master_url, master_tls, &headers).await?;
    let address = match &config.advertise_url {
        Some(url) => url.clone(),
        None => format!(
            "{}://{}",
            config.tls.scheme(),
            advertised_addr(addr, &config.master_url).await
        ),
    };
    let task_ip = host_ip(&address).await.unwrap_or(addr.ip());
    let hostname = config.hostname.clone().unwrap_or_else(|| {
        sysinfo::System::host_name().unwrap_or_else(|_| "localhost".to_string())
    });
    let executor = Executor::new(config.executor.clone())?;
    let network = OperatorNetwork::new(
        config.network_allow.clone(),
        OperatorNetwork::protected(addr.port(), master_rules(&config.master_url).await),
    );
    let (agent_id, agent_id_watch) = watch::channel(None);
    let status = StatusSender::spawn(
        channel.clone(),
        config.status_update_retry,
        config.status_update_retry_max,
    );
    let agent = Agent {
        hostname,
        address,
        task_ip,
        network,
        resources,
        registry: Registry::new(config.completed_tasks_retained),
        checkpoint: Checkpoint::start(store, status.clone())?,
        recovered_id: Default::default(),
        status,
        relay: MessageRelay::spawn(channel.clone(), agent_id_watch),
        artifacts: ArtifactCache::new(
            artifacts_dir,
            config.max_artifact_bytes,
            config.executor_download_patience,
            executor.clone(),
            channel.clone(),
        ),
        fetcher,
        slots: Arc::new(Semaphore::new(
            config.executor.max_concurrent_tasks as usize,
        )),
        executor,
        channel,
        headers,
        http_credentials,
        sandboxes,
        agent_id,
        oversubscription: Default::default(),
        config,
    };
    info!(address = %agent.address, resources = ?agent.resources, "agent starting");
    recovery::recover(&agent, recovered);
    Ok((Arc::new(agent), tls))
}

async fn run(
    listener: TcpListener,
    agent: Arc<Agent>,
    tls: Option<ServerTls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let (stop, stop_watch) = watch::channel(false);
    let span = info_span!("agent", address = %agent.address);
    let oversubscription = agent.config.oversubscription.clone().map(|config| {
        let span = info_span!("oversubscription", address = %agent.address);
        let loop_ = crate::oversubscription::run(Arc::clone(&agent), config, stop_watch.clone());
        tokio::spawn(loop_.instrument(span))
    });
    let link = tokio::spawn(link::run(Arc::clone(&agent), stop_watch).instrument(span));
    // Calls are small; `GetAgentState` answers with every task the agent holds.
    let service = AgentServer::new(AgentService::new(Arc::clone(&agent)))
        .max_decoding_message_size(wasmesos_proto::limits::MAX_CALL_BYTES)
        .max_encoding_message_size(wasmesos_proto::limits::MAX_STATE_BYTES);
    let routes = tonic::service::Routes::new(service)
        .into_axum_router()
        .merge(crate::http::routes(Arc::clone(&agent)))
        .layer(axum::middleware::from_fn_with_state(
            agent.http_credentials.clone(),
            crate::auth::authenticate,
        ));
    let served = match tls {
        Some(tls) => wasmesos_tls::serve(listener, routes, tls, shutdown)
            .await
            .map_err(|err| Error::io("serving on", agent.address.clone(), err)),
        // HTTP/1 too: `/health`, `/state` and `/metrics` are for curl and Prometheus.
        None => Server::builder()
            .accept_http1(true)
            .add_routes(routes.into())
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                shutdown,
            )
            .await
            .map_err(Error::from),
    };
    let _ = stop.send(true);
    let _ = link.await;
    if let Some(oversubscription) = oversubscription {
        let _ = oversubscription.await;
    }
    // The checkpoint keeps the tasks: a restarted agent reports them as ended by the restart.
    let killed = agent.registry.abandon_all(|| agent.status.clear());
    agent.checkpoint.close().await;
    info!(killed, "agent stopped");
    served
}

async fn open_checkpoint(work_dir: &std::path::Path) -> Result<(Store, Recovered), Error> {
    let dir = work_dir.to_path_buf();
    let path = dir.join(crate::CHECKPOINT_FILE);
    tokio::task::spawn_blocking(move || Checkpoint::open(&dir))
        .await
        // A panic while reading it back is a damaged file too.
        .map_err(|err| Error::Checkpoint {
            path,
            reason: format!("reading it failed: {err}"),
        })?
}

/// The fetcher, its cache under `work_dir/fetcher-cache` (emptied) and its allowed dirs
/// resolved, off the async threads.
async fn open_fetcher(config: &AgentConfig) -> Result<Fetcher, Error> {
    let config = config.clone();
    let cache_dir = config.work_dir.join("fetcher-cache");
    tokio::task::spawn_blocking(move || Fetcher::new(&config, cache_dir))
        .await
        .map_err(|err| Error::Internal(format!("opening the fetcher: {err}")))?
}

async fn open_sandboxes(config: &AgentConfig) -> Result<Sandboxes, Error> {
    let root = config.work_dir.join("sandboxes");
    let pool = config.work_dir.join("sandbox-pool");
    let max_free = config.executor.max_concurrent_tasks as usize;
    tokio::task::spawn_blocking(move || Sandboxes::open(root, pool, max_free))
        .await
        .map_err(|err| Error::Internal(format!("opening the sandboxes: {err}")))?
}

/// One lazily connected HTTP/2 channel to the master for every client the agent uses; for a
/// `zk://` URL it follows the leader, so registration, heartbeats and status updates do too.
/// Every call carries the agent's credential and, once registered, its session's stream id.
async fn master_channel(
    url: &str,
    tls: ClientConfig,
    headers: &CallHeaders,
) -> Result<MasterService, Error> {
    let master = MasterChannel::lazy_tls(url, DEFAULT_CONNECT_TIMEOUT, tls)
        .await
        .map_err(|err| Error::InvalidMasterUrl {
            url: url.to_string(),
            reason: err.to_string(),
        })?;
    Ok(master.service(headers))
}

/// The address to advertise for a server bound to `addr`: the bound address itself, or, for
/// an unspecified one (`0.0.0.0`, `::`), the local address that routes to the master.
async fn advertised_addr(addr: SocketAddr, master_url: &str) -> SocketAddr {
    if !addr.ip().is_unspecified() {
        return addr;
    }
    let ip = route_to(master_url)
        .await
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    SocketAddr::new(ip, addr.port())
}

/// What of the master no task may reach: each host of `master_url` (the master's, or a
/// ZooKeeper ensemble's) at its port, resolved; a host that does not resolve, by its port on
/// every address.
async fn master_rules(master_url: &str) -> Vec<AddrRule> {
    let unbracket = |host: &str| {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned()
    };
    let hosts: Vec<(String, u16)> = match master_url.parse::<MasterUrl>() {
        // Ports filled in by the parser.
        Ok(MasterUrl::ZooKeeper { servers, .. }) => servers
            .split(',')
            .filter_map(|server| {
                let (host, port) = server.rsplit_once(':')?;
                Some((unbracket(host), port.parse().ok()?))
            })
            .collect(),
        Ok(MasterUrl::Static(url)) => url
            .parse::<tonic::codegen::http::Uri>()
            .ok()
            .and_then(|uri| Some((unbracket(uri.host()?), uri.port_u16().unwrap_or(5050))))
            .into_iter()
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut rules = Vec::new();
    for (host, port) in hosts {
        match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(addrs) => rules.extend(addrs.map(AddrRule::socket)),
            Err(err) => {
                tracing::warn!(%host, %err, "cannot resolve a master host: tasks are kept from its port on every address");
                rules.extend(AddrRule::port_anywhere(port));
            }
        }
    }
    rules
}

/// The IP address of `url`'s host, resolving a name.
async fn host_ip(url: &str) -> Option<IpAddr> {
    let uri: tonic::codegen::http::Uri = url.parse().ok()?;
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse() {
        return Some(ip);
    }
    let resolved = tokio::net::lookup_host((host, 0)).await.ok()?.next()?;
    Some(resolved.ip())
}

async fn route_to(master_url: &str) -> Option<IpAddr> {
    let uri: tonic::codegen::http::Uri = master_url.parse().ok()?;
    let host = uri
        .host()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(5050);
    let master = tokio::net::lookup_host((host, port)).await.ok()?.next()?;
    let bind: SocketAddr = match master {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    // Connecting a UDP socket sends nothing; it only picks the route and local address.
    let socket = tokio::net::UdpSocket::bind(bind).await.ok()?;
    socket.connect(master).await.ok()?;
    Some(socket.local_addr().ok()?.ip())
}

#[cfg(test)]
mod master_rule_tests {
    use super::*;

    #[tokio::test]
    async fn the_master_or_each_zookeeper_host_is_protected_at_its_port() {
        let protected = |rules: &[AddrRule], addr: &str| {
            let addr: SocketAddr = addr.parse().expect("an address");
            rules.iter().any(|rule| rule.matches(addr))
        };
        let fixed = master_rules("http://127.0.0.1:5055").await;
        assert!(protected(&fixed, "127.0.0.1:5055"));
        assert!(!protected(&fixed, "127.0.0.1:5056"));
        let ensemble = master_rules("zk://127.0.0.1:2182,[::1]/wasmesos").await;
        assert!(protected(&ensemble, "127.0.0.1:2182"));
        assert!(protected(&ensemble, "[::1]:2181"));
        assert!(!protected(&ensemble, "127.0.0.1:2181"));
        assert!(master_rules("not a url").await.is_empty());
    }
}
