//! HTTP services: requests/s and latency of the `http-hello` guest served by
//! `Executor::serve` with every limit on, against the same component served the way
//! `wasmtime serve` serves it, in the same run, by the same load generator.
//!
//! The baseline is plain wasmtime-wasi-http: hyper's HTTP/1.1 server, and per request a fresh
//! `Store` and WASI context, `ProxyPre::instantiate_async` and `handle` on a task of its own,
//! the response head through a oneshot (the shape of `wasmtime serve`). It runs on the
//! executor's engine configuration (pooling allocator, epochs with an endless deadline), so
//! the difference is the service machinery: admission, the shared memory budget, the CPU
//! meter and throttle, fuel and timeout per request, the sandbox dir preopened per request,
//! the disk watcher and capped output.
//!
//! The load generator keeps `CONNECTIONS` keep-alive HTTP/1.1 connections busy with `GET /`
//! for a fixed time on its own thread; servers run on a two-thread runtime. Each round runs
//! every server once, in a rotating order; figures are medians over rounds, the ratio the
//! median of per-round ratios.
//!
//! `cargo bench -p wasmesos-wasm-executor --bench http [-- --quick]`

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use support::{Samples, micros, quick, table};
use tokio::net::{TcpListener, TcpStream};
use wasmesos_wasm_executor::{
    Executor, ExecutorConfig, Limits, RunningService, ServiceConfig, TaskSpec,
};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

const CONNECTIONS: usize = 16;
const MIB: u64 = 1 << 20;

fn main() {
    // Many short rounds in a rotating order: on a shared machine the load of other
    // processes changes from second to second, and a ratio within one round sees the same.
    let (rounds, duration) = if quick() {
        (4, Duration::from_millis(300))
    } else {
        (15, Duration::from_secs(1))
    };
    let bytes = std::fs::read(wasmesos_guest_artifacts::HTTP_HELLO).expect("http-hello artifact");
    let config = ExecutorConfig {
        max_concurrent_tasks: 256,
        ..ExecutorConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let executor = Executor::new(config.clone()).expect("executor");
    let sandboxes = tempfile::tempdir().expect("temp dir");
    let servers = runtime.block_on(async {
        let program = executor.load(&bytes).await.expect("loads");
        let mut servers = Vec::new();
        servers.push(Server::baseline(&config, &bytes).await);
        for (name, limits) in [
            ("executor, every limit on", every_limit(true)),
            ("executor, every limit but fuel", every_limit(false)),
            ("executor, memory limit only", memory_only()),
        ] {
            let mut spec = TaskSpec::new(name, sandboxes.path().join(name));
            spec.limits = limits;
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
            let service_config = ServiceConfig {
                max_concurrency: CONNECTIONS as u32,
                ..ServiceConfig::default()
            };
            let service = executor
                .serve(&program, spec, listener, service_config)
                .expect("serves");
            servers.push(Server::Executor { name, service });
        }
        servers
    });

    println!(
        "## http-hello over loopback, {CONNECTIONS} keep-alive connections, {rounds} rounds of {} ms per server (load average {})\n",
        duration.as_millis(),
        load_average(),
    );
    for server in &servers {
        run_load(server.addr(), Duration::from_millis(300));
    }
    let mut runs: Vec<Vec<Run>> = servers.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for offset in 0..servers.len() {
            let index = (round + offset) % servers.len();
            runs[index].push(run_load(servers[index].addr(), duration));
        }
    }
    let baseline: Vec<f64> = runs[0].iter().map(Run::per_second).collect();
    let rows: Vec<Vec<String>> = servers
        .iter()
        .zip(&runs)
        .map(|(server, runs)| {
            let ratios: Vec<f64> = runs
                .iter()
                .zip(&baseline)
                .map(|(run, baseline)| run.per_second() / baseline)
                .collect();
            vec![
                server.name().to_owned(),
                format!("{:.0}", median(runs.iter().map(Run::per_second).collect())),
                micros(median_duration(
                    runs.iter().map(|run| run.latency.median()).collect(),
                )),
                micros(median_duration(
                    runs.iter()
                        .map(|run| run.latency.percentile(99.0))
                        .collect(),
                )),
                micros(median_duration(
                    runs.iter().map(Run::cpu_per_request).collect(),
                )),
                format!("{:.2}x", median(ratios)),
            ]
        })
        .collect();
    table(
        &[
            "server",
            "requests/s",
            "p50",
            "p99",
            "server CPU per request",
            "throughput ratio",
        ],
        &rows,
    );
    println!("\ntarget: executor with every limit on >= 0.90x the baseline's requests/s\n");

    runtime.block_on(async {
        for server in servers {
            if let Server::Executor { service, .. } = server {
                service.kill_handle().kill();
                service.wait().await;
            }
        }
    });
}

/// Limits that all apply and none binds: memory for every connection's instance, two cores
/// (the machine's), fuel and time far beyond a hello, a disk quota on the sandbox.
fn every_limit(fuel: bool) -> Limits {
    Limits {
        mem_bytes: 128 * MIB,
        cpus: Some(2.0),
        fuel: fuel.then_some(1_000_000_000),
        timeout: Some(Duration::from_secs(10)),
        disk_bytes: Some(64 * MIB),
    }
}

/// Only the memory limit, which every task has.
fn memory_only() -> Limits {
    Limits {
        mem_bytes: 128 * MIB,
        ..Limits::default()
    }
}

enum Server {
    Baseline {
        addr: SocketAddr,
    },
    Executor {
        name: &'static str,
        service: RunningService,
    },
}

impl Server {
    fn name(&self) -> &'static str {
        match self {
            Server::Baseline { .. } => "wasmtime-wasi-http, as `wasmtime serve`",
            Server::Executor { name, .. } => name,
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Server::Baseline { addr } => *addr,
            Server::Executor { service, .. } => service.local_addr(),
        }
    }

    async fn baseline(config: &ExecutorConfig, bytes: &[u8]) -> Server {
        let engine = Engine::new(&config.wasmtime_config(false)).expect("engine");
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi");
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).expect("wasi:http");
        let component = Component::new(&engine, bytes).expect("compiles");
        let pre = ProxyPre::new(linker.instantiate_pre(&component).expect("links")).expect("proxy");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("address");
        let pre = Arc::new(pre);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let pre = Arc::clone(&pre);
                tokio::spawn(async move {
                    let handler = hyper::service::service_fn(move |request| {
                        let pre = Arc::clone(&pre);
                        async move { baseline_handle(&pre, request).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), handler)
                        .await;
                });
            }
        });
        Server::Baseline { addr }
    }
}

/// One request as `wasmtime serve` handles it.
async fn baseline_handle(
    pre: &ProxyPre<BaselineState>,
    request: Request<Incoming>,
) -> Result<Response<HyperOutgoingBody>, wasmtime::Error> {
    let state = BaselineState {
        wasi: WasiCtx::builder().build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
        hooks: NoOutgoing,
    };
    let mut store = Store::new(pre.engine(), state);
    store.set_epoch_deadline(u64::MAX / 2);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let request = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, request)?;
    let out = store.data_mut().http().new_response_outparam(sender)?;
    let pre = pre.clone();
    let task = tokio::spawn(async move {
        let proxy = pre.instantiate_async(&mut store).await?;
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, request, out)
            .await
    });
    match receiver.await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(code)) => Err(code.into()),
        Err(_) => match task.await {
            Ok(Ok(())) => Err(wasmtime::format_err!("the guest set no response")),
            Ok(Err(err)) => Err(err),
            Err(err) => Err(err.into()),
        },
    }
}

struct BaselineState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: NoOutgoing,
}

impl WasiView for BaselineState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for BaselineState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// The hello guest sends no request; the crate is built without its default sender.
struct NoOutgoing;

type OutgoingIo = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

impl WasiHttpHooks for NoOutgoing {
    fn send_request(
        &mut self,
        _request: Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _errors: OutgoingIo,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (Response<wasmtime_wasi_http::WasiBody>, OutgoingIo),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        Box::new(std::future::ready(Err(
            wasmtime_wasi_http::Error::HttpRequestDenied,
        )))
    }
}

/// What one load run measured.
struct Run {
    requests: usize,
    elapsed: Duration,
    latency: Samples,
    /// CPU time of the whole process but the load generator's thread: the server's, plus the
    /// epoch ticker's and anything else the process runs meanwhile.
    server_cpu: Duration,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn cpu_per_request(&self) -> Duration {
        self.server_cpu
            .checked_div(u32::try_from(self.requests).unwrap_or(u32::MAX).max(1))
            .unwrap_or_default()
    }
}

/// Keeps `CONNECTIONS` connections busy with `GET /` for `duration`, on a thread of its own.
fn run_load(addr: SocketAddr, duration: Duration) -> Run {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        let process = cpu_time::ProcessTime::now();
        let generator = cpu_time::ThreadTime::now();
        let mut run = runtime.block_on(async move {
            let start = Instant::now();
            let deadline = start + duration;
            let clients: Vec<_> = (0..CONNECTIONS)
                .map(|_| tokio::spawn(client(addr, deadline)))
                .collect();
            let mut latencies = Vec::new();
            for client in clients {
                latencies.extend(client.await.expect("client"));
            }
            Run {
                requests: latencies.len(),
                elapsed: start.elapsed(),
                latency: Samples::new(latencies),
                server_cpu: Duration::ZERO,
            }
        });
        run.server_cpu = process.elapsed().saturating_sub(generator.elapsed());
        run
    })
    .join()
    .expect("load thread")
}

/// One keep-alive connection sending `GET /` until `deadline`; the latency of each request.
async fn client(addr: SocketAddr, deadline: Instant) -> Vec<Duration> {
    let stream = TcpStream::connect(addr).await.expect("connects");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let host = addr.to_string();
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let request = Request::get("/")
            .header("host", &host)
            .body(Empty::<Bytes>::new())
            .expect("request");
        let start = Instant::now();
        let response = sender.send_request(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        latencies.push(start.elapsed());
        assert_eq!(&body[..], b"hello from wasmesos\n");
    }
    latencies
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn median_duration(values: Vec<Duration>) -> Duration {
    Samples::new(values).median()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}
