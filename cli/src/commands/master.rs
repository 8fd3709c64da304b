//! `wasmesos master`: run a master until Ctrl-C (or SIGTERM on Unix).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use wasmesos_allocator::{Resources, SorterKind};
use wasmesos_master::{DEFAULT_LISTEN, HaConfig, MasterConfig};

use crate::signals::shutdown_signal;
use crate::units::{parse_duration, parse_size};

const EXAMPLES: &str = "\
Examples:
  # A master on the default address, artifacts in a temporary directory
  wasmesos master

  # Listen on every interface and keep artifacts across restarts
  wasmesos master --listen 0.0.0.0:5050 --work-dir /var/lib/wasmesos/master

  # Role `prod` gets twice the share of any weight-1 role, `batch` half
  wasmesos master --role-weight prod=2 --role-weight batch=0.5

  # Weights at each level of the role tree: `eng` vs its siblings, then `eng/backend`
  # vs `eng`'s other children
  wasmesos master --role-weight eng=2 --role-weight eng/backend=1

  # Leave gpus out of fair shares; offer only remainders of 1 cpu or 1 GiB; rescind
  # offers not answered in 30 s; pick roles at random, weighted, instead of by DRF
  wasmesos master --fair-share-excluded gpus --min-allocatable-resources \"cpus:1|mem:1GiB\" \\
      --offer-timeout 30s --role-sorter random

  # One of three masters of an HA group (ZooKeeper elects the leader; the others redirect)
  wasmesos master --listen 0.0.0.0:5050 --zk zk://zk1:2181,zk2:2181,zk3:2181/wasmesos

  # Notice a dead agent within about a second
  wasmesos master --agent-heartbeat-interval 200ms --agent-ping-timeout 1s

Agents join with `wasmesos agent --master http://HOST:5050`; schedulers and the other
commands find the master in WASMESOS_MASTER (default http://127.0.0.1:5050). Weights and
quota change at run time with `wasmesos roles`.";

/// Run a master: pool the agents' resources, offer them to frameworks by weighted DRF,
/// and relay launches, status updates, kills and messages.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct MasterArgs {
    /// Address to serve gRPC on.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,

    /// Directory for uploaded executors (default: a new directory under the OS temp dir).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,

    /// Weight of a role for fair sharing (repeatable); roles not named weigh 1.
    #[arg(long = "role-weight", value_name = "ROLE=W", value_parser = parse_role_weight)]
    role_weights: Vec<(String, f64)>,

    /// How often agents must heartbeat.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    agent_heartbeat_interval: Option<Duration>,

    /// Silence after which an agent is removed and its tasks are LOST (default: 5 heartbeat
    /// intervals).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    agent_ping_timeout: Option<Duration>,

    /// A resource name left out of fair-share computation, e.g. gpus (repeatable, or
    /// comma-separated), so a scarce resource does not make its holders look rich.
    #[arg(
        long = "fair-share-excluded",
        value_name = "NAME",
        value_delimiter = ','
    )]
    fair_share_excluded: Vec<String>,

    /// Offer an agent's free resources only if they hold one of these sets entirely,
    /// alternatives separated by `|` (default: "cpus:0.01|mem:32MiB"; "" offers any
    /// non-empty remainder).
    #[arg(long, value_name = "SETS", value_parser = parse_min_allocatable)]
    min_allocatable_resources: Option<MinAllocatable>,

    /// How roles and frameworks are ordered for each agent.
    #[arg(long, value_name = "SORTER", value_enum, default_value_t = RoleSorter::Drf)]
    role_sorter: RoleSorter,

    /// Rescind offers not answered within this time (default: offers never expire).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    offer_timeout: Option<Duration>,

    /// How long agents known from the registry have to re-register after a master restart
    /// before they are removed and their tasks reported LOST.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2m")]
    agent_reregister_timeout: Duration,

    /// Join an HA group: zk://host:port[,host:port...]/path. The lowest ephemeral sequential
    /// znode under the path leads; the other masters redirect callers to it. A master that
    /// loses its ZooKeeper session exits with a non-zero code for its supervisor to restart.
    #[arg(long, value_name = "URL")]
    zk: Option<String>,

    /// ZooKeeper session timeout: a dead leader is replaced after about this long. ZooKeeper
    /// clamps it to 2-20 x its tickTime, so 2s needs tickTime <= 1000 ms.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration,
        default_value = "2s", requires = "zk")]
    zk_session_timeout: Duration,

    /// Largest executor component accepted for upload.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "64MiB")]
    max_artifact_size: u64,
}

/// `--role-sorter` values, named as Mesos names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RoleSorter {
    /// Weighted Dominant Resource Fairness at every level of the role tree.
    Drf,
    /// A weighted random order: a weight-2 role is picked first twice as often.
    Random,
}

/// The parsed `--min-allocatable-resources` sets.
#[derive(Debug, Clone)]
struct MinAllocatable(Vec<Resources>);

impl MasterArgs {
    fn config(&self) -> MasterConfig {
        let mut config = MasterConfig {
            listen: self.listen,
            work_dir: self.work_dir.clone(),
            role_weights: self.role_weights.iter().cloned().collect(),
            fair_share_excluded: self.fair_share_excluded.iter().cloned().collect(),
            role_sorter: match self.role_sorter {
                RoleSorter::Drf => SorterKind::Drf,
                RoleSorter::Random => SorterKind::WeightedRandom,
            },
            offer_timeout: self.offer_timeout,
            agent_reregister_timeout: self.agent_reregister_timeout,
            max_artifact_size: self.max_artifact_size,
            ..MasterConfig::default()
        };
        if let Some(MinAllocatable(sets)) = &self.min_allocatable_resources {
            config.min_allocatable_resources = sets.clone();
        }
        if let Some(interval) = self.agent_heartbeat_interval {
            config.agent_heartbeat_interval = interval;
            config.agent_ping_timeout = interval * 5;
        }
        if let Some(timeout) = self.agent_ping_timeout {
            config.agent_ping_timeout = timeout;
        }
        config.ha = self.zk.as_ref().map(|zk| HaConfig {
            zk: zk.clone(),
            session_timeout: self.zk_session_timeout,
        });
        config
    }
}

/// Runs the master; errors are one line on stderr.
pub fn main(args: MasterArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wasmesos master: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: MasterArgs) -> anyhow::Result<()> {
    let config = args.config();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    if config.ha.is_some() {
        return runtime.block_on(crate::commands::master_ha::run(config));
    }
    runtime.block_on(async {
        let master = wasmesos_master::spawn(config).await?;
        println!(
            "wasmesos master listening on {} (artifacts in {})",
            master.url(),
            master.work_dir.display()
        );
        shutdown_signal().await;
        eprintln!("wasmesos master: shutting down");
        master.shutdown().await?;
        Ok(())
    })
}

/// `cpus:1|mem:1GiB`: sets in the agent syntax, alternatives separated by `|`.
fn parse_min_allocatable(text: &str) -> Result<MinAllocatable, String> {
    let mut sets = Vec::new();
    for part in text.split('|').map(str::trim).filter(|p| !p.is_empty()) {
        let set: Resources = part.parse().map_err(|err| format!("`{part}`: {err}"))?;
        if !set.reserved().is_empty() {
            return Err(format!("`{part}`: give quantities, without roles"));
        }
        sets.push(set);
    }
    Ok(MinAllocatable(sets))
}

/// `ROLE=WEIGHT` with a valid role path and a positive, finite weight.
fn parse_role_weight(text: &str) -> Result<(String, f64), String> {
    let (role, weight) = text
        .split_once('=')
        .ok_or_else(|| "expected ROLE=WEIGHT, e.g. prod=2".to_string())?;
    if role.is_empty() {
        return Err("the role name is empty".into());
    }
    wasmesos_allocator::validate_role(role).map_err(|err| err.to_string())?;
    let weight: f64 = weight
        .trim()
        .parse()
        .map_err(|_| format!("`{weight}` is not a number"))?;
    if !(weight.is_finite() && weight > 0.0) {
        return Err("the weight must be a positive number".into());
    }
    Ok((role.to_string(), weight))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: MasterArgs,
    }

    fn parse(argv: &[&str]) -> Result<MasterConfig, clap::Error> {
        let argv = std::iter::once("master").chain(argv.iter().copied());
        Wrapper::try_parse_from(argv).map(|w| w.args.config())
    }

    #[test]
    fn defaults_match_the_library() {
        let config = parse(&[]).expect("no flags");
        let library = MasterConfig::default();
        assert_eq!(config.listen, library.listen);
        assert_eq!(config.agent_ping_timeout, library.agent_ping_timeout);
        assert_eq!(
            config.agent_reregister_timeout,
            library.agent_reregister_timeout
        );
        assert_eq!(config.max_artifact_size, library.max_artifact_size);
        assert!(config.work_dir.is_none());
    }

    #[test]
    fn flags_reach_the_config() {
        let config = parse(&[
            "--listen",
            "0.0.0.0:6060",
            "--work-dir",
            "/tmp/m",
            "--role-weight",
            "prod=2",
            "--role-weight",
            "batch=0.5",
            "--agent-heartbeat-interval",
            "200ms",
            "--offer-timeout",
            "30s",
            "--max-artifact-size",
            "1MiB",
        ])
        .expect("valid flags");
        assert_eq!(config.listen.port(), 6060);
        assert_eq!(config.role_weights.get("prod"), Some(&2.0));
        assert_eq!(config.role_weights.get("batch"), Some(&0.5));
        assert_eq!(config.agent_heartbeat_interval, Duration::from_millis(200));
        assert_eq!(config.agent_ping_timeout, Duration::from_secs(1));
        assert_eq!(config.offer_timeout, Some(Duration::from_secs(30)));
        assert_eq!(config.max_artifact_size, 1 << 20);
        assert_eq!(config.role_sorter, SorterKind::Drf);
        let explicit = parse(&[
            "--agent-heartbeat-interval",
            "1s",
            "--agent-ping-timeout",
            "3s",
        ])
        .expect("valid flags");
        assert_eq!(explicit.agent_ping_timeout, Duration::from_secs(3));
    }

    #[test]
    fn allocation_flags_reach_the_config() {
        let config = parse(&[
            "--role-weight",
            "eng=2",
            "--role-weight",
            "eng/backend=1",
            "--fair-share-excluded",
            "gpus,fpgas",
            "--fair-share-excluded",
            "tpus",
            "--min-allocatable-resources",
            "cpus:1|mem:1GiB",
            "--role-sorter",
            "random",
        ])
        .expect("valid flags");
        assert_eq!(config.role_weights.get("eng"), Some(&2.0));
        assert_eq!(config.role_weights.get("eng/backend"), Some(&1.0));
        let excluded: Vec<&str> = config
            .fair_share_excluded
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(excluded, ["fpgas", "gpus", "tpus"]);
        let sets: Vec<String> = config
            .min_allocatable_resources
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(sets, ["cpus:1", "mem:1GiB"]);
        assert_eq!(config.role_sorter, SorterKind::WeightedRandom);
        assert!(config.validate().is_ok());

        let defaults = parse(&[]).expect("no flags");
        let library = MasterConfig::default();
        assert_eq!(
            defaults.min_allocatable_resources,
            library.min_allocatable_resources
        );
        let none = parse(&["--min-allocatable-resources", ""]).expect("empty is allowed");
        assert!(none.min_allocatable_resources.is_empty());
    }

    #[test]
    fn bad_values_name_the_flag() {
        for argv in [
            &["--role-weight", "prod"][..],
            &["--role-weight", "prod=0"],
            &["--role-weight", "=2"],
            &["--listen", "nowhere"],
            &["--offer-timeout", "5"],
            &["--role-weight", "eng//backend=2"],
            &["--min-allocatable-resources", "cpus:one"],
            &["--min-allocatable-resources", "cpus(ads):1"],
            &["--role-sorter", "fifo"],
        ] {
            let err = parse(argv).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(argv[0]), "{argv:?}: {err}");
        }
    }
}
