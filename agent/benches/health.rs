//! What health checks cost the agent: `SERVICES` services on one host, each checked every
//! `INTERVAL` by [`wasmesos_agent::health::watch`] (the agent's own checker), for `ROUNDS`
//! rounds of `DURATION` each, HTTP, TCP and the probe-less ALIVE kind.
//!
//! The services are minimal responders on loopback (one listener per service, answering any
//! request with `200` and closing), so the CPU per check is the checker's own (timers,
//! connect, one HTTP/1.1 exchange, the verdict) plus that small answer, not a Wasm instance's:
//! an upper bound of what the agent spends per check. Printed: checks done, process CPU time
//! per check (median of the rounds), and what that is as a share of one core at Mesos's
//! default interval of 10 s.
//!
//! Run: `cargo bench -p wasmesos-agent --bench health` (`WASMESOS_BENCH_SERVICES` resizes it).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use cpu_time::ProcessTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use wasmesos_agent::health::{HealthPolicy, Probe, watch};

const INTERVAL: Duration = Duration::from_millis(500);
const DURATION: Duration = Duration::from_secs(4);
const ROUNDS: usize = 3;
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Mesos's default interval, to say what a check costs at the rate clusters use.
const DEFAULT_INTERVAL_SECS: f64 = 10.0;

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let services = std::env::var("WASMESOS_BENCH_SERVICES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1000usize);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let rows = runtime.block_on(run(services));
    println!();
    println!(
        "{:<44} {:>10} {:>16} {:>26}",
        "benchmark", "checks", "CPU per check", "one core at 10 s interval"
    );
    for (name, checks, per_check) in rows {
        let share = per_check.as_secs_f64() * services as f64 / DEFAULT_INTERVAL_SECS;
        println!(
            "{:<44} {:>10} {:>13.1} µs {:>25.3}%",
            name,
            checks,
            per_check.as_secs_f64() * 1e6,
            share * 100.0
        );
    }
}

/// The probe of one kind for a service's port.
type ProbeFor = fn(u16) -> Probe;

async fn run(services: usize) -> Vec<(String, u64, Duration)> {
    let mut ports = Vec::with_capacity(services);
    for _ in 0..services {
        ports.push(responder().await);
    }
    let kinds: [(&str, ProbeFor); 3] = [
        ("HTTP", |port| Probe::Http {
            port,
            path: "/health".into(),
            statuses: Vec::new(),
        }),
        ("TCP", |port| Probe::Tcp { port }),
        ("ALIVE", |_| Probe::Alive),
    ];
    let mut rows = Vec::new();
    for (kind, probe) in kinds {
        let mut per_check = Vec::new();
        let mut checks = 0;
        for _ in 0..ROUNDS {
            let (done, cpu) = round(&ports, probe).await;
            checks += done;
            per_check.push(cpu.checked_div(u32::try_from(done.max(1)).unwrap_or(u32::MAX)));
        }
        per_check.sort();
        let median = per_check
            .get(per_check.len() / 2)
            .copied()
            .flatten()
            .unwrap_or_default();
        rows.push((
            format!("{kind} checks, {services} services, every {INTERVAL:?}"),
            checks,
            median,
        ));
    }
    rows
}

/// One round: a checker per service for `DURATION`; the checks done and the CPU they took.
async fn round(ports: &[u16], probe: ProbeFor) -> (u64, Duration) {
    let (sender, mut verdicts) = mpsc::channel(1024);
    let start = Instant::now();
    let cpu = ProcessTime::now();
    let checkers: Vec<_> = ports
        .iter()
        .enumerate()
        .map(|(at, &port)| {
            let policy = HealthPolicy {
                probe: probe(port),
                // Spread over the interval, as services started at different times are.
                delay: INTERVAL.mul_f64(at as f64 / ports.len() as f64),
                interval: INTERVAL,
                timeout: Duration::from_secs(5),
                consecutive_failures: u32::MAX,
                grace_period: Duration::ZERO,
            };
            tokio::spawn(watch(policy, LOCALHOST, start, sender.clone()))
        })
        .collect();
    drop(sender);
    // Every verdict but the first per service would be a failure: count them to be sure
    // the checks succeeded.
    let collect = tokio::spawn(async move {
        let mut failures = 0u64;
        while let Some(verdict) = verdicts.recv().await {
            if matches!(
                verdict,
                wasmesos_agent::health::Verdict::Report { healthy: false, .. }
            ) {
                failures += 1;
            }
        }
        failures
    });
    tokio::time::sleep(DURATION).await;
    let used = cpu.elapsed();
    for checker in &checkers {
        checker.abort();
    }
    for checker in checkers {
        let _ = checker.await;
    }
    let failures = collect.await.unwrap_or_default();
    assert_eq!(failures, 0, "every check passes");
    // Checks per service in the window: those due from its delay on, one per interval.
    let per_service = DURATION.as_secs_f64() / INTERVAL.as_secs_f64();
    let checks = (per_service * ports.len() as f64) as u64;
    (checks, used)
}

/// A listener that answers every connection's request with `200` and closes.
async fn responder() -> u16 {
    let listener = TcpListener::bind((LOCALHOST, 0)).await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 512];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    port
}
