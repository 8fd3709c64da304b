//! `wasmesos master`: run a master until Ctrl-C (or SIGTERM on Unix).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use wasmesos_allocator::{Resources, SorterKind};
use wasmesos_detector::{Credential, Credentials};
use wasmesos_master::auth::{
    Acls, Authentication, DEFAULT_MAX_FRAMEWORKS_PER_PRINCIPAL, RateLimits, Security,
};
use wasmesos_master::{HaConfig, MasterConfig, MasterTls};

use crate::settings::{Layers, Printed};
use crate::signals::shutdown_signal;
use crate::units::{format_duration, format_size, parse_duration, parse_size, parse_socket_addr};

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
///
/// Settings come from built-in defaults, then the `--config` TOML file, then
/// `WASMESOS_MASTER_<SETTING>` environment variables, then flags (each setting is named as
/// its flag, with `_` for `-`: `--offer-timeout` is `offer_timeout` in the file and
/// `WASMESOS_MASTER_OFFER_TIMEOUT` in the environment). `--print-config` shows the result.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct MasterArgs {
    /// A TOML file of settings (see --print-config for its shape).
    #[arg(long, value_name = "FILE", env = "WASMESOS_MASTER_CONFIG")]
    config: Option<PathBuf>,

    /// Print the settings in effect, as a TOML file --config reads back, and exit.
    #[arg(long)]
    print_config: bool,

    /// Address to serve gRPC and HTTP on [default: 127.0.0.1:5050].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,

    /// Directory for the registry and uploaded components, kept across restarts [default:
    /// wasmesos-master-PORT under the OS temp dir; with port 0, a new one each start]. It must
    /// be this user's alone: it is created mode 0700, and another user's or a group- or
    /// world-writable one is refused.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,

    /// Weight of a role for fair sharing (repeatable); roles not named weigh 1.
    #[arg(long = "role-weight", value_name = "ROLE=W", value_parser = parse_role_weight)]
    role_weights: Vec<(String, f64)>,

    /// Priority of a role (repeatable): the priority of its tasks that set none; roles not
    /// named have 0. A role below its quota guarantee takes resources back from the
    /// preemptible tasks of lower priority first.
    #[arg(long = "role-priority", value_name = "ROLE=N", value_parser = parse_role_priority)]
    role_priorities: Vec<(String, i32)>,

    /// Whether a role below its quota guarantee takes resources back from the tasks of
    /// frameworks that opted in (`preemptible`): `suspend` pauses them in place where CPU
    /// is all that is missing and kills them otherwise, `kill` always kills, `off` never
    /// preempts [default: suspend].
    #[arg(long, value_name = "MODE", value_parser = parse_preemption)]
    preemption: Option<wasmesos_master::PreemptionMode>,

    /// How often agents must heartbeat [default: 1s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    agent_heartbeat_interval: Option<Duration>,

    /// Silence after which an agent is marked unreachable: its tasks become UNREACHABLE for
    /// partition-aware frameworks, LOST for others (default: 5 heartbeat intervals).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    agent_ping_timeout: Option<Duration>,

    /// How long an unreachable agent may come back with its tasks before it is removed for
    /// good and partition-aware frameworks see TASK_GONE [default: 336h, two weeks].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    agent_unreachable_timeout: Option<Duration>,

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

    /// How roles and frameworks are ordered for each agent [default: drf].
    #[arg(long, value_name = "SORTER", value_enum)]
    role_sorter: Option<RoleSorter>,

    /// Rescind offers not answered within this time (default: offers never expire).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    offer_timeout: Option<Duration>,

    /// How long agents known from the registry have to re-register after a master restart
    /// before they are removed and their tasks reported LOST [default: 2m].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    agent_reregister_timeout: Option<Duration>,

    /// How long a call waits for the master to apply it and its registry to record it.
    /// Past it, a call not yet applied is dropped (DEADLINE_EXCEEDED, HTTP 503) and one
    /// applied but not yet recorded is answered UNAVAILABLE, saying it may still take
    /// effect [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    call_timeout: Option<Duration>,

    /// Join an HA group: zk://host:port[,host:port...]/path. The lowest ephemeral sequential
    /// znode under the path leads; the other masters redirect callers to it. A master that
    /// loses its ZooKeeper session exits with a non-zero code for its supervisor to restart.
    #[arg(long, value_name = "URL")]
    zk: Option<String>,

    /// ZooKeeper session timeout: a dead leader is replaced after about this long. ZooKeeper
    /// clamps it to 2-20 x its tickTime, so 2s needs tickTime <= 1000 ms [default: 2s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    zk_session_timeout: Option<Duration>,

    /// Largest executor component accepted for upload [default: 64MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_artifact_size: Option<u64>,

    /// Removed frameworks kept, with their tasks, for `state`, `tasks`, `logs` and the
    /// Mesos endpoints; the oldest is forgotten first [default: 50].
    #[arg(long, value_name = "N")]
    max_completed_frameworks: Option<usize>,

    /// Finished tasks kept per framework, active or completed [default: 1000].
    #[arg(long, value_name = "N")]
    max_completed_tasks_per_framework: Option<usize>,

    /// How long removed agents and frameworks are remembered (a removed agent that comes
    /// back is told to shut down; a removed framework's id is refused) [default: 336h, as
    /// Mesos's --registry_max_agent_age].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    registry_max_removed_age: Option<Duration>,

    /// Removed agents, and removed frameworks, remembered at most; the oldest is forgotten
    /// first [default: 102400, as Mesos's --registry_max_agent_count].
    #[arg(long, value_name = "N")]
    registry_max_removed_count: Option<usize>,

    /// The principals and secrets callers authenticate with, as Mesos's --credentials:
    /// JSON {"credentials": [{"principal": "p", "secret": "s"}]} or `p s` lines. With it,
    /// every caller must authenticate (HTTP Basic, or the same header as gRPC metadata)
    /// unless an --authenticate-* flag says otherwise.
    #[arg(long, value_name = "FILE")]
    credentials: Option<PathBuf>,

    /// Access control lists in Mesos's JSON shape (register_frameworks, run_tasks,
    /// teardown_frameworks, reserve_resources, unreserve_resources, set_quotas,
    /// update_weights, view_frameworks, view_tasks, access_sandboxes, kill_tasks;
    /// "permissive": false denies what no rule allows) [default: everything allowed].
    #[arg(long, value_name = "FILE")]
    acls: Option<PathBuf>,

    /// A file with the principal and secret the master presents to agents started with
    /// --http-credentials, when it reads a task's output for an operator: JSON
    /// {"principal": "p", "secret": "s"} or one `p s` line.
    #[arg(long, value_name = "FILE")]
    agent_credential: Option<PathBuf>,

    /// Calls per second per principal, as Mesos's --rate_limits: JSON {"limits":
    /// [{"principal": "p", "qps": 50, "capacity": 100}], "aggregate_default_qps": 20} (every
    /// caller not listed shares the aggregate). A call over its limit is refused with 429
    /// (gRPC RESOURCE_EXHAUSTED) [default: no limits].
    #[arg(long, value_name = "FILE")]
    rate_limits: Option<PathBuf>,

    /// Frameworks one principal may have registered at once; frameworks without a principal
    /// count as one [default: 1000].
    #[arg(long, value_name = "N")]
    max_frameworks_per_principal: Option<usize>,

    /// Bytes of new components one principal may upload (counted since the master started;
    /// an upload the store already holds costs nothing) [default: no quota].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_upload_bytes_per_principal: Option<u64>,

    /// Whether schedulers must authenticate [default: true with --credentials].
    #[arg(long, value_name = "BOOL")]
    authenticate_frameworks: Option<bool>,

    /// Whether agents must authenticate [default: true with --credentials].
    #[arg(long, value_name = "BOOL")]
    authenticate_agents: Option<bool>,

    /// Whether operator reads (state, metrics, task output) need a credential [default:
    /// true with --credentials].
    #[arg(long, value_name = "BOOL")]
    authenticate_http_readonly: Option<bool>,

    /// Whether operator writes (weights, quota, reservations, kills) need a credential
    /// [default: true with --credentials].
    #[arg(long, value_name = "BOOL")]
    authenticate_http_readwrite: Option<bool>,
    /// --tls-cert/--tls-key: this port over TLS; --tls-ca: the CA of https:// agents.
    #[command(flatten)]
    tls: crate::tls::TlsArgs,

    /// Verify client certificates against this PEM CA (mutual TLS; needs --tls-cert).
    /// Agents must present one; frameworks, the CLI and browsers may, and one presented
    /// must be signed by this CA.
    #[arg(long, value_name = "FILE")]
    tls_client_ca: Option<PathBuf>,
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
    /// The config from every layer: defaults, the file, the environment, the flags.
    fn config(&self) -> anyhow::Result<MasterConfig> {
        let layers = Layers::load("master", self.config.as_deref())?;
        self.config_from(layers)
    }

    fn config_from(&self, mut layers: Layers) -> anyhow::Result<MasterConfig> {
        let l = &mut layers;
        let library = MasterConfig::default();
        let heartbeat = l.one(
            "agent_heartbeat_interval",
            self.agent_heartbeat_interval,
            parse_duration,
        )?;
        let ping = l.one(
            "agent_ping_timeout",
            self.agent_ping_timeout,
            parse_duration,
        )?;
        let sorter = l.one("role_sorter", self.role_sorter, |text| {
            <RoleSorter as clap::ValueEnum>::from_str(text, true)
        })?;
        let min_allocatable = l.one(
            "min_allocatable_resources",
            self.min_allocatable_resources.clone(),
            parse_min_allocatable,
        )?;
        let zk = l.one("zk", self.zk.clone(), |text| Ok(text.to_string()))?;
        let zk_session_timeout = l.one(
            "zk_session_timeout",
            self.zk_session_timeout,
            parse_duration,
        )?;
        let agent_heartbeat_interval = heartbeat.unwrap_or(library.agent_heartbeat_interval);
        let security = self.security(l)?;
        let tls = MasterTls {
            identity: self.tls.identity(l)?,
            client_ca: l.one(
                "tls_client_ca",
                self.tls_client_ca.clone(),
                crate::tls::path,
            )?,
            ca: self.tls.ca(l)?,
        };
        let config = MasterConfig {
            listen: l
                .one("listen", self.listen, parse_socket_addr)?
                .unwrap_or(library.listen),
            work_dir: l.one("work_dir", self.work_dir.clone(), |text| {
                Ok(PathBuf::from(text))
            })?,
            role_weights: l
                .many("role_weights", self.role_weights.clone(), parse_role_weight)?
                .into_iter()
                .collect(),
            role_priorities: l
                .many(
                    "role_priorities",
                    self.role_priorities.clone(),
                    parse_role_priority,
                )?
                .into_iter()
                .collect(),
            preemption: l
                .one("preemption", self.preemption, parse_preemption)?
                .unwrap_or_default(),
            fair_share_excluded: l
                .many(
                    "fair_share_excluded",
                    self.fair_share_excluded.clone(),
                    |text| Ok(text.to_string()),
                )?
                .into_iter()
                .collect(),
            min_allocatable_resources: min_allocatable
                .map_or(library.min_allocatable_resources, |MinAllocatable(sets)| {
                    sets
                }),
            role_sorter: match sorter.unwrap_or(RoleSorter::Drf) {
                RoleSorter::Drf => SorterKind::Drf,
                RoleSorter::Random => SorterKind::WeightedRandom,
            },
            agent_heartbeat_interval,
            agent_ping_timeout: ping.unwrap_or(agent_heartbeat_interval * 5),
            offer_timeout: l.one("offer_timeout", self.offer_timeout, parse_duration)?,
            agent_reregister_timeout: l
                .one(
                    "agent_reregister_timeout",
                    self.agent_reregister_timeout,
                    parse_duration,
                )?
                .unwrap_or(library.agent_reregister_timeout),
            call_timeout: l
                .one("call_timeout", self.call_timeout, parse_duration)?
                .unwrap_or(library.call_timeout),
            agent_unreachable_timeout: l
                .one(
                    "agent_unreachable_timeout",
                    self.agent_unreachable_timeout,
                    parse_duration,
                )?
                .unwrap_or(library.agent_unreachable_timeout),
            max_artifact_size: l
                .one("max_artifact_size", self.max_artifact_size, parse_size)?
                .unwrap_or(library.max_artifact_size),
            max_completed_frameworks: l
                .one(
                    "max_completed_frameworks",
                    self.max_completed_frameworks,
                    parse_count,
                )?
                .unwrap_or(library.max_completed_frameworks),
            max_completed_tasks_per_framework: l
                .one(
                    "max_completed_tasks_per_framework",
                    self.max_completed_tasks_per_framework,
                    parse_count,
                )?
                .unwrap_or(library.max_completed_tasks_per_framework),
            registry_max_removed_age: l
                .one(
                    "registry_max_removed_age",
                    self.registry_max_removed_age,
                    parse_duration,
                )?
                .unwrap_or(library.registry_max_removed_age),
            registry_max_removed_count: l
                .one(
                    "registry_max_removed_count",
                    self.registry_max_removed_count,
                    parse_count,
                )?
                .unwrap_or(library.registry_max_removed_count),
            ha: zk.map(|zk| {
                let mut ha = HaConfig::new(zk);
                ha.session_timeout = zk_session_timeout.unwrap_or(ha.session_timeout);
                ha
            }),
            security,
            tls,
            ..library
        };
        layers.finish()?;
        config
            .validate()
            .context("the master's settings are not valid")?;
        Ok(config)
    }
}

impl MasterArgs {
    /// `--credentials`, `--acls` and the `--authenticate-*` switches.
    fn security(&self, l: &mut Layers) -> anyhow::Result<Security> {
        let path = |text: &str| Ok(PathBuf::from(text));
        let credentials_file = l.one("credentials", self.credentials.clone(), path)?;
        let acls_file = l.one("acls", self.acls.clone(), path)?;
        let agent_credential_file =
            l.one("agent_credential", self.agent_credential.clone(), path)?;
        let rate_limits_file = l.one("rate_limits", self.rate_limits.clone(), path)?;
        let max_frameworks = l.one(
            "max_frameworks_per_principal",
            self.max_frameworks_per_principal,
            parse_count,
        )?;
        let max_upload = l.one(
            "max_upload_bytes_per_principal",
            self.max_upload_bytes_per_principal,
            parse_size,
        )?;
        let mut switch = |key: &str, flag: Option<bool>| {
            l.one(key, flag, |text| {
                text.trim()
                    .parse::<bool>()
                    .map_err(|_| format!("{text:?} is not true or false"))
            })
        };
        let frameworks = switch("authenticate_frameworks", self.authenticate_frameworks)?;
        let agents = switch("authenticate_agents", self.authenticate_agents)?;
        let readonly = switch(
            "authenticate_http_readonly",
            self.authenticate_http_readonly,
        )?;
        let readwrite = switch(
            "authenticate_http_readwrite",
            self.authenticate_http_readwrite,
        )?;
        let credentials = credentials_file
            .as_deref()
            .map(Credentials::from_file)
            .transpose()?;
        let on = credentials.is_some();
        let authentication = Authentication {
            credentials,
            frameworks: frameworks.unwrap_or(on),
            agents: agents.unwrap_or(on),
            http_readonly: readonly.unwrap_or(on),
            http_readwrite: readwrite.unwrap_or(on),
        };
        let acls = match &acls_file {
            Some(file) => Acls::from_file(file)?,
            None => Acls::default(),
        };
        let agent_credential = agent_credential_file
            .as_deref()
            .map(Credential::from_file)
            .transpose()?;
        let rate_limits = match &rate_limits_file {
            Some(file) => RateLimits::from_file(file)?,
            None => RateLimits::default(),
        };
        Ok(Security {
            authentication,
            acls,
            credentials_file,
            acls_file,
            agent_credential,
            agent_credential_file,
            rate_limits,
            rate_limits_file,
            max_frameworks_per_principal: max_frameworks
                .unwrap_or(DEFAULT_MAX_FRAMEWORKS_PER_PRINCIPAL),
            max_upload_bytes_per_principal: max_upload,
        })
    }
}

/// The settings of `config` as a TOML file that `--config` reads back to the same config.
fn print_config(config: &MasterConfig) -> anyhow::Result<String> {
    let security = &config.security;
    let auth = &security.authentication;
    let min_allocatable: Vec<String> = config
        .min_allocatable_resources
        .iter()
        .map(ToString::to_string)
        .collect();
    let sorter = match config.role_sorter {
        SorterKind::WeightedRandom => "random",
        SorterKind::Drf => "drf",
    };
    let printed = Printed::default()
        .text("listen", config.listen)
        .optional(
            "work_dir",
            config.work_dir.as_ref().map(|dir| dir.display()),
            "a new directory under the OS temp dir",
        )
        .map("role_weights", config.role_weights.clone())
        .list(
            "role_priorities",
            config
                .role_priorities
                .iter()
                .map(|(role, priority)| format!("{role}={priority}")),
        )
        .text(
            "preemption",
            match config.preemption {
                wasmesos_master::PreemptionMode::Off => "off",
                wasmesos_master::PreemptionMode::Kill => "kill",
                wasmesos_master::PreemptionMode::Suspend => "suspend",
            },
        )
        .list("fair_share_excluded", &config.fair_share_excluded)
        .text("min_allocatable_resources", min_allocatable.join("|"))
        .text("role_sorter", sorter)
        .text(
            "agent_heartbeat_interval",
            format_duration(config.agent_heartbeat_interval),
        )
        .text(
            "agent_ping_timeout",
            format_duration(config.agent_ping_timeout),
        )
        .optional(
            "offer_timeout",
            config.offer_timeout.map(format_duration),
            "offers never expire",
        )
        .text(
            "agent_reregister_timeout",
            format_duration(config.agent_reregister_timeout),
        )
        .text(
            "agent_unreachable_timeout",
            format_duration(config.agent_unreachable_timeout),
        )
        .optional(
            "zk",
            config.ha.as_ref().map(|ha| ha.zk.clone()),
            "a lone master",
        )
        .optional(
            "zk_session_timeout",
            config
                .ha
                .as_ref()
                .map(|ha| format_duration(ha.session_timeout)),
            "only used with zk",
        )
        .text("max_artifact_size", format_size(config.max_artifact_size))
        .text("max_completed_frameworks", config.max_completed_frameworks)
        .text(
            "max_completed_tasks_per_framework",
            config.max_completed_tasks_per_framework,
        );
    let tls = &config.tls;
    crate::tls::print(printed, tls.identity.as_ref(), tls.ca.as_ref())
        .optional(
            "tls_client_ca",
            tls.client_ca.as_ref().map(|ca| ca.display()),
            "client certificates are not asked for",
        )
        .text(
            "registry_max_removed_age",
            format_duration(config.registry_max_removed_age),
        )
        .text(
            "registry_max_removed_count",
            config.registry_max_removed_count,
        )
        .optional(
            "credentials",
            security.credentials_file.as_ref().map(|p| p.display()),
            "nobody authenticates",
        )
        .optional(
            "acls",
            security.acls_file.as_ref().map(|p| p.display()),
            "everything is allowed",
        )
        .optional(
            "agent_credential",
            security.agent_credential_file.as_ref().map(|p| p.display()),
            "the master presents no credential to agents",
        )
        .optional(
            "rate_limits",
            security.rate_limits_file.as_ref().map(|p| p.display()),
            "no rate limits",
        )
        .text(
            "max_frameworks_per_principal",
            security.max_frameworks_per_principal,
        )
        .optional(
            "max_upload_bytes_per_principal",
            security.max_upload_bytes_per_principal.map(format_size),
            "no upload quota",
        )
        .text("authenticate_frameworks", auth.frameworks)
        .text("authenticate_agents", auth.agents)
        .text("authenticate_http_readonly", auth.http_readonly)
        .text("authenticate_http_readwrite", auth.http_readwrite)
        .render("wasmesos master settings (read back with --config FILE)")
}

/// A count such as `50`.
fn parse_count(text: &str) -> Result<usize, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a non-negative whole number"))
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

/// Where the master keeps its registry and components when `--work-dir` is not given:
/// `wasmesos-master-PORT` under the OS temp dir, so a master restarted on its port finds
/// its state again. Only a master on port 0 (a throwaway) gets a new directory each start;
/// the second value says so.
fn settle_work_dir(config: &mut MasterConfig) -> (PathBuf, bool) {
    if let Some(dir) = &config.work_dir {
        return (dir.clone(), true);
    }
    let (name, kept) = match config.listen.port() {
        0 => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let unique = format!("wasmesos-master-{}-{nanos:x}", std::process::id());
            (unique, false)
        }
        port => (format!("wasmesos-master-{port}"), true),
    };
    let dir = std::env::temp_dir().join(name);
    config.work_dir = Some(dir.clone());
    (dir, kept)
}

fn run(args: MasterArgs) -> anyhow::Result<()> {
    let mut config = args.config()?;
    if args.print_config {
        print!("{}", print_config(&config)?);
        return Ok(());
    }
    let (work_dir, kept) = settle_work_dir(&mut config);
    // The registry and the components agents compile and run live there.
    wasmesos_wasm_executor::ensure_private_dir(&work_dir)?;
    if !kept {
        eprintln!(
            "wasmesos master: no --work-dir and port 0: state goes to {}, which the next \
             start will not use; give --work-dir to keep it",
            work_dir.display()
        );
    }
    if !config.security.authentication.enabled() {
        let port = match config.listen.port() {
            0 => "its port".to_string(),
            _ => config.listen.to_string(),
        };
        eprintln!(
            "wasmesos master: running without authentication: anyone who reaches {port} can \
             act as any framework, agent or operator (--credentials FILE turns it on)"
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    if config.ha.is_some() {
        return runtime.block_on(crate::commands::master_ha::run(config));
    }
    runtime.block_on(async {
        let master = wasmesos_master::spawn(config).await?;
        println!(
            "wasmesos master listening on {} (state in {})",
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

/// `off`, `kill` or `suspend`.
fn parse_preemption(text: &str) -> Result<wasmesos_master::PreemptionMode, String> {
    text.parse()
}

/// `ROLE=N` with a valid role path and a 32-bit integer priority.
fn parse_role_priority(text: &str) -> Result<(String, i32), String> {
    let (role, priority) = text
        .split_once('=')
        .ok_or_else(|| "expected ROLE=PRIORITY, e.g. prod=10".to_string())?;
    if role.is_empty() {
        return Err("the role name is empty".into());
    }
    wasmesos_allocator::validate_role(role).map_err(|err| err.to_string())?;
    let priority = priority
        .trim()
        .parse()
        .map_err(|_| format!("`{priority}` is not a whole number (32 bits)"))?;
    Ok((role.to_string(), priority))
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

    fn parse(argv: &[&str]) -> anyhow::Result<MasterConfig> {
        layered(argv, "", &[])
    }

    /// The config from flags `argv`, a settings file holding `file`, and variables `env`.
    fn layered(argv: &[&str], file: &str, env: &[(&str, &str)]) -> anyhow::Result<MasterConfig> {
        let argv = std::iter::once("master").chain(argv.iter().copied());
        let args = Wrapper::try_parse_from(argv)?.args;
        let table: toml::Table = file.parse()?;
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let layers = Layers::new(
            "master",
            Some((PathBuf::from("master.toml"), table)),
            env.collect(),
        );
        args.config_from(layers)
    }

    #[test]
    fn the_file_then_the_environment_then_flags() {
        let file = r#"
            listen = "0.0.0.0:7070"
            offer_timeout = "30s"
            agent_heartbeat_interval = "200ms"
            max_artifact_size = "1MiB"
            fair_share_excluded = ["gpus"]
            role_sorter = "random"
            zk = "zk://z1:2181,z2:2181/wasmesos"
            [role_weights]
            prod = 2
            "eng/backend" = 0.5
        "#;
        let env = [
            ("WASMESOS_MASTER_OFFER_TIMEOUT", "45s"),
            ("WASMESOS_MASTER_ZK_SESSION_TIMEOUT", "3s"),
        ];
        let config = layered(&["--max-artifact-size", "2MiB"], file, &env).expect("valid");
        assert_eq!(config.listen.port(), 7070);
        assert_eq!(config.offer_timeout, Some(Duration::from_secs(45)));
        assert_eq!(config.agent_heartbeat_interval, Duration::from_millis(200));
        assert_eq!(config.agent_ping_timeout, Duration::from_secs(1));
        assert_eq!(config.max_artifact_size, 2 << 20);
        assert_eq!(config.role_weights.get("prod"), Some(&2.0));
        assert_eq!(config.role_weights.get("eng/backend"), Some(&0.5));
        assert!(config.fair_share_excluded.contains("gpus"));
        assert_eq!(config.role_sorter, SorterKind::WeightedRandom);
        let ha = config.ha.expect("zk from the file");
        assert_eq!(ha.zk, "zk://z1:2181,z2:2181/wasmesos");
        assert_eq!(ha.session_timeout, Duration::from_secs(3));
    }

    #[test]
    fn file_and_environment_errors_name_the_setting() {
        let cases = [
            (
                "offer_timeout = \"5\"",
                vec![],
                "master.toml: setting `offer_timeout`",
            ),
            ("lisen = \"x\"", vec![], "unknown setting(s) lisen"),
            (
                "role_weights = { prod = 0 }",
                vec![],
                "setting `role_weights`",
            ),
            ("agent_ping_timeout = \"1ms\"", vec![], "agent_ping_timeout"),
            (
                "",
                vec![("WASMESOS_MASTER_LISTEN", "nowhere")],
                "environment variable WASMESOS_MASTER_LISTEN: `nowhere`",
            ),
            ("listen = [1, 2]", vec![], "expected one value"),
        ];
        for (file, env, expected) in cases {
            let err = layered(&[], file, &env).err().map(|e| format!("{e:#}"));
            assert!(
                err.as_deref().is_some_and(|e| e.contains(expected)),
                "{file:?} {env:?}: {err:?}"
            );
        }
    }

    #[test]
    fn printed_config_reads_back_to_the_same_config() {
        let argv = [
            "--listen",
            "0.0.0.0:6060",
            "--work-dir",
            "/var/lib/m",
            "--role-weight",
            "eng/backend=1.5",
            "--fair-share-excluded",
            "gpus",
            "--min-allocatable-resources",
            "cpus:1|mem:1GiB",
            "--role-sorter",
            "random",
            "--offer-timeout",
            "90s",
            "--agent-heartbeat-interval",
            "250ms",
            "--zk",
            "zk://z1:2181/w",
            "--zk-session-timeout",
            "1500ms",
            "--max-artifact-size",
            "3MiB",
        ];
        let config = parse(&argv).expect("valid flags");
        let printed = print_config(&config).expect("printable");
        let again = layered(&[], &printed, &[]).expect("the printed file reads back");
        assert_eq!(print_config(&again).ok(), Some(printed.clone()));
        assert_eq!(again.listen, config.listen);
        assert_eq!(again.work_dir, config.work_dir);
        assert_eq!(again.role_weights, config.role_weights);
        assert_eq!(
            again.min_allocatable_resources,
            config.min_allocatable_resources
        );
        assert_eq!(again.agent_ping_timeout, config.agent_ping_timeout);
        assert_eq!(
            again.ha.map(|ha| ha.session_timeout),
            Some(Duration::from_millis(1500))
        );
        let defaults = print_config(&parse(&[]).expect("no flags")).expect("printable");
        assert!(
            defaults.contains("listen = \"127.0.0.1:5050\""),
            "{defaults}"
        );
        assert!(defaults.contains("# offer_timeout: not set"), "{defaults}");
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
    fn without_a_work_dir_a_master_keeps_its_state_by_port() {
        let mut config = parse(&["--listen", "127.0.0.1:5999"]).expect("flags");
        let (dir, kept) = settle_work_dir(&mut config);
        assert!(kept);
        assert_eq!(dir, std::env::temp_dir().join("wasmesos-master-5999"));
        let mut again = parse(&["--listen", "127.0.0.1:5999"]).expect("flags");
        assert_eq!(
            settle_work_dir(&mut again).0,
            dir,
            "the same dir at the next start"
        );
        let mut throwaway = parse(&["--listen", "127.0.0.1:0"]).expect("flags");
        let (first, kept) = settle_work_dir(&mut throwaway);
        assert!(!kept);
        let mut other = parse(&["--listen", "127.0.0.1:0"]).expect("flags");
        assert_ne!(settle_work_dir(&mut other).0, first);
        let mut given = parse(&["--work-dir", "/srv/m"]).expect("flags");
        assert_eq!(settle_work_dir(&mut given), (PathBuf::from("/srv/m"), true));
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

    #[test]
    fn tls_settings_read_back_and_need_both_halves() {
        let argv = [
            "--tls-cert",
            "/etc/m/cert.pem",
            "--tls-key",
            "/etc/m/key.pem",
            "--tls-client-ca",
            "/etc/m/agents-ca.pem",
        ];
        let env = [("WASMESOS_MASTER_TLS_CA", "/etc/m/ca.pem")];
        let config = layered(&argv, "", &env).expect("valid flags");
        let identity = config.tls.identity.clone().expect("an identity");
        assert_eq!(identity.cert, PathBuf::from("/etc/m/cert.pem"));
        assert_eq!(config.tls.ca, Some(PathBuf::from("/etc/m/ca.pem")));
        let printed = print_config(&config).expect("printable");
        let again = layered(&[], &printed, &[]).expect("the printed file reads back");
        assert_eq!(again.tls, config.tls);
        let plain = print_config(&parse(&[]).expect("no flags")).expect("printable");
        assert!(
            plain.contains("# tls_cert: not set (plain HTTP)"),
            "{plain}"
        );

        let err = |argv: &[&str]| parse(argv).err().map(|e| format!("{e:#}"));
        let half = err(&["--tls-cert", "c.pem"]);
        assert!(half.is_some_and(|e| e.contains("--tls-key")));
        let client_ca_alone = err(&["--tls-client-ca", "ca.pem"]);
        assert!(client_ca_alone.is_some_and(|e| e.contains("client_ca")));
    }
}
