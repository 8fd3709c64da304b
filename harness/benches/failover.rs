//! Failover time: from the SIGKILL of the leading master to the first call that
//! succeeds at the new leader from a framework that has resubscribed, over 10 kills, with its
//! parts:
//!
//! - expiry: SIGKILL → the killed leader's znode is gone (ZooKeeper expired its session);
//! - election: → the new leader serves its own APIs (its `/health` answers, not a redirect);
//! - resubscribe: → the framework, given the zk:// URL, is subscribed at the new leader and
//!   a RECONCILE call there succeeds.
//!
//! The baseline row is the session timeout the masters ask for, the floor of any failover
//! on ZooKeeper. `WASMESOS_BENCH_KILLS` (default 10) and `WASMESOS_BENCH_SESSION_MS` (default
//! 1500; ZooKeeper runs with a 100 ms tick) resize it. Needs Debian's `zookeeper` and the
//! `wasmesos` binary: `cargo build -p wasmesos`, then
//! `WASMESOS_BIN=target/debug/wasmesos cargo bench -p wasmesos-harness --bench failover`
//! (a bench build looks for `target/release/wasmesos` otherwise).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmesos_harness::{HA_PATH, HaCluster, eventually};
use wasmesos_proto::event;
use wasmesos_sdk_scheduler::{Driver, DriverConfig, Scheduler};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

const PATIENCE: Duration = Duration::from_secs(60);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Counts SUBSCRIBED events.
#[derive(Clone, Default)]
struct Subscriptions(Arc<AtomicUsize>);

impl Scheduler for Subscriptions {
    async fn subscribed(&mut self, _: &Driver, _: &event::Subscribed) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn main() -> BenchResult<()> {
    if std::env::args().any(|arg| arg == "--list") {
        return Ok(());
    }
    let kills = env_number("WASMESOS_BENCH_KILLS", 10).max(1) as usize;
    let session = Duration::from_millis(env_number("WASMESOS_BENCH_SESSION_MS", 1500));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(kills, session))
}

struct Sample {
    expiry: Duration,
    election: Duration,
    resubscribe: Duration,
}

async fn run(kills: usize, session: Duration) -> BenchResult<()> {
    let binary = wasmesos_harness::wasmesos_binary()
        .ok_or("the wasmesos binary: run `cargo build -p wasmesos` first")?;
    let mut cluster = HaCluster::start(&binary, 3, 1, "cpus:2;mem:1GiB", session).await?;
    let mut config = DriverConfig::new(cluster.zk_url(), "failover-bench");
    config.backoff_max = Duration::from_millis(200);
    config.framework.failover_timeout_seconds = 3600.0;
    let driver = Driver::connect(config).await?;
    let subscriptions = Subscriptions::default();
    let runner = driver.clone();
    let mut scheduler = subscriptions.clone();
    let running = tokio::spawn(async move { runner.run(&mut scheduler).await });
    eventually("the framework to subscribe", PATIENCE, async || {
        subscriptions.0.load(Ordering::SeqCst) > 0
    })
    .await?;

    let mut samples = Vec::new();
    for _ in 0..kills {
        samples.push(one_failover(&mut cluster, &driver, &subscriptions).await?);
    }
    driver.stop();
    let _ = tokio::time::timeout(Duration::from_secs(10), running).await;
    print_table(&samples, session);
    Ok(())
}

async fn one_failover(
    cluster: &mut HaCluster,
    driver: &Driver,
    subscriptions: &Subscriptions,
) -> BenchResult<Sample> {
    let leader = cluster.wait_for_leader().await?;
    let old = leader.url();
    let index = cluster.master_index(&old).ok_or("the leader's process")?;
    let subscribed_before = subscriptions.0.load(Ordering::SeqCst);
    let killed = Instant::now();
    cluster.kill_master(index).await?;
    let mut expiry = Duration::ZERO;
    let mut new_leader = String::new();
    eventually(
        "the old leader's znode to go",
        PATIENCE,
        async || match cluster.zookeeper.leader(HA_PATH).await {
            Ok(Some(info)) if info.url() != old => {
                expiry = killed.elapsed();
                new_leader = info.url();
                true
            }
            _ => false,
        },
    )
    .await?;
    eventually("the new leader to serve", PATIENCE, async || {
        serves(&new_leader).await
    })
    .await?;
    let election = killed.elapsed();
    eventually(
        "a call at the new leader after resubscribing",
        PATIENCE,
        async || {
            subscriptions.0.load(Ordering::SeqCst) > subscribed_before
                && driver.master_url() == new_leader
                && driver.reconcile(Vec::new()).await.is_ok()
        },
    )
    .await?;
    let resubscribe = killed.elapsed();
    cluster.start_master(index).await?;
    Ok(Sample {
        expiry,
        election,
        resubscribe,
    })
}

/// Whether `url` answers `/health` itself (2xx), rather than redirecting or refusing.
async fn serves(url: &str) -> bool {
    let authority = url.trim_start_matches("http://");
    let Ok(mut stream) = tokio::net::TcpStream::connect(authority).await else {
        return false;
    };
    let request = format!("GET /health HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.is_ok() && head.starts_with(b"HTTP/1.1 2")
}

/// A table row: its name and the part of a sample it shows.
type Row = (&'static str, fn(&Sample) -> Duration);

fn print_table(samples: &[Sample], session: Duration) {
    let column = |pick: fn(&Sample) -> Duration| {
        let mut values: Vec<Duration> = samples.iter().map(pick).collect();
        values.sort();
        let median = values[values.len() / 2];
        let max = values.last().copied().unwrap_or_default();
        (median, max)
    };
    println!("failover over {} kills (times from SIGKILL)", samples.len());
    println!(
        "{:<44} {:>10} {:>10} {:>12}",
        "", "median", "max", "vs session"
    );
    let rows: [Row; 3] = [
        ("leader's znode gone (session expiry)", |s| s.expiry),
        ("new leader serving (election)", |s| s.election),
        ("call ok after resubscribe (failover)", |s| s.resubscribe),
    ];
    for (name, pick) in rows {
        let (median, max) = column(pick);
        println!(
            "{name:<44} {:>9.0}ms {:>9.0}ms {:>11.2}x",
            median.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
            median.as_secs_f64() / session.as_secs_f64()
        );
    }
    println!(
        "{:<44} {:>9.0}ms {:>10} {:>11.2}x",
        "baseline: session timeout",
        session.as_secs_f64() * 1e3,
        "",
        1.0
    );
}
