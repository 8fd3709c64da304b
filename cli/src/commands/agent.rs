//! `wasmesos agent`: run an agent until Ctrl-C (or SIGTERM on Unix).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use wasmesos_agent::{AgentConfig, AgentTls, ExecutorConfig};
use wasmesos_proto::Resources;
use wasmesos_wasm_executor::AddrRule;

use crate::settings::{Layers, Printed};
use crate::signals::shutdown_signal;
use crate::units::{format_duration, format_size, parse_duration, parse_size, parse_socket_addr};

const EXAMPLES: &str = "\
Examples:
  # Join the master on this machine, offering everything detected on the host
  wasmesos agent --master http://127.0.0.1:5050

  # Offer a fixed share of the machine (Mesos syntax; mem and disk take units)
  wasmesos agent --master http://10.0.0.5:5050 --resources \"cpus:4;mem:8GiB;ports:[31000-32000]\"

  # A second agent on the same host, with its own port and work dir
  wasmesos agent --listen 127.0.0.1:5052 --work-dir /var/lib/wasmesos/agent-2

  # Serve on every interface but tell the master a specific address
  wasmesos agent --listen 0.0.0.0:5051 --advertise http://node7.example:5051

  # Let tasks fetch files from /srv/datasets (file://) and download up to 1 GiB per uri
  wasmesos agent --fetch-allowed-dir /srv/datasets --fetch-max-size 1GiB --fetch-timeout 10m

Resources: `name:value` items separated by `;`, optionally reserved for a role as
`name(role):value`, of Mesos's three kinds: scalars, ranges and sets. `cpus` is in cores; `mem`
and `disk` take B, KiB, MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000), and a
bare number means MiB as in Mesos (every size flag of wasmesos reads sizes the same way). Other
scalars (e.g. `gpus:2`) are plain numbers. Ranges are inclusive intervals of whole numbers,
`ports:[31000-31005,32000-32010]`; sets are names, `zones:{a,b}`; at most 1024 of either per item.
Any of cpus, mem and disk left out is detected: all cores, memory minus 1 GiB for the host, and
the free space of the work dir's filesystem minus 5 GiB; without `ports` the agent offers
`ports:[31000-32000]`, as Mesos does. Tasks get their ports as PORT0..PORTn, PORTS and HOST.

Fetching: a task's uris (http, https, file, wasmesos://sha256:) are downloaded into its sandbox
before it starts; a failed fetch fails it (TASK_FAILED, CONTAINER_LAUNCH_FAILED, \"Failed to
fetch 'URI': cause\"). file:// reads only under --fetch-allowed-dir; each file is capped by
--fetch-max-size and the task's disk, each fetch by --fetch-timeout.";

/// Run an agent: offer this machine's resources to a master and run its tasks, each in its
/// own WebAssembly sandbox.
///
/// Settings come from built-in defaults, then the `--config` TOML file, then
/// `WASMESOS_AGENT_<SETTING>` environment variables (the master URL: `WASMESOS_MASTER`), then
/// flags; each setting is named as its flag, with `_` for `-` (`--output-cap` is
/// `output_cap`). `--print-config` shows the result.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct AgentArgs {
    /// A TOML file of settings (see --print-config for its shape).
    #[arg(long, value_name = "FILE", env = "WASMESOS_AGENT_CONFIG")]
    config: Option<PathBuf>,

    /// Print the settings in effect, as a TOML file --config reads back, and exit.
    #[arg(long)]
    print_config: bool,

    /// The master to register with (env WASMESOS_MASTER) [default: http://127.0.0.1:5050].
    #[arg(long, value_name = "URL")]
    master: Option<String>,

    /// Address to serve the agent's own API (task sandbox files, state) on
    /// [default: 127.0.0.1:5051].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,

    /// URL the master and CLI use to reach this agent (default: derived from --listen).
    #[arg(long, value_name = "URL")]
    advertise: Option<String>,

    /// Resources to offer, e.g. "cpus:4;mem:8GiB;disk:20GiB;ports:[31000-32000]" (default:
    /// detected, and ports 31000-32000); a bare mem or disk number is MiB.
    #[arg(long, value_name = "RESOURCES", value_parser = parse_resources)]
    resources: Option<Resources>,

    /// Directory for fetched executors, compiled code and task sandboxes (default:
    /// `wasmesos-agent-PORT` under the OS temp dir).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,

    /// Hostname reported to the master (default: the OS hostname).
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,

    /// Bytes kept (the tail) of each task's stdout and of its stderr [default: 8MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    output_cap: Option<u64>,

    /// Tasks that may run at once (sizes the sandbox pool) [default: 10000].
    #[arg(long, value_name = "N")]
    max_tasks: Option<u32>,

    /// The largest `mem` one task may be granted; larger grants fail as invalid tasks
    /// [default: 1GiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_task_mem: Option<u64>,

    /// The largest file fetched for one of a task's uris; a larger one fails the task with
    /// CONTAINER_LAUNCH_FAILED, checked while it downloads whatever the server announces
    /// [default: 256MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    fetch_max_size: Option<u64>,

    /// How long fetching one of a task's uris may take in all, e.g. 30s or 5m [default: 5m].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    fetch_timeout: Option<Duration>,

    /// A directory tasks may fetch from with file:// uris, with what lies below it
    /// (repeatable). Without one, every file:// uri is refused.
    #[arg(long = "fetch-allowed-dir", value_name = "DIR")]
    fetch_allowed_dirs: Vec<PathBuf>,

    /// Addresses tasks may be granted, as IP networks with optional ports: `10.0.0.0/8`,
    /// `0.0.0.0/0:443`, `[2001:db8::/32]:8000-8999` (repeatable, or comma-separated; `none`
    /// grants nothing). A task asking for more is refused. Without it any grant is allowed.
    /// Either way tasks never reach this agent's port, the master or link-local addresses
    /// (cloud metadata) unless a rule names that one address (`169.254.169.254`).
    #[arg(long = "network-allow", value_name = "RULES")]
    network_allow: Vec<String>,

    /// A file with the principal and secret to authenticate to the master with, for a master
    /// started with --credentials: JSON {"principal": "p", "secret": "s"} or one `p s` line.
    #[arg(long, value_name = "FILE")]
    credential: Option<PathBuf>,

    /// The principals and secrets that may call this agent's own API (its state holds every
    /// task's env and args, its files every task's output), in the master's --credentials
    /// format. Give the master's --agent-credential principal here. Without it the agent's
    /// port is open to anyone who reaches it.
    #[arg(long, value_name = "FILE")]
    http_credentials: Option<PathBuf>,

    /// Bytes the fetcher cache (downloads of uris marked `cache`, under the work dir) keeps
    /// at most, least recently used evicted first; emptied when the agent starts
    /// [default: 2GiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    fetcher_cache_size: Option<u64>,

    /// Offer the CPU that running tasks were given and do not use as revocable cpus, to
    /// frameworks with REVOCABLE_RESOURCES; a QoS controller suspends the tasks on them when
    /// the regular tasks need their CPU back, and kills them with REASON_REVOCATION after
    /// --qos-max-suspension. Off by default, as in Mesos.
    #[arg(long)]
    oversubscribe: bool,

    /// With --oversubscribe: how often the unused CPU is estimated and, when it changed,
    /// sent to the master (Mesos's flag) [default: 15s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    oversubscribed_resources_interval: Option<Duration>,

    /// With --oversubscribe: how often the QoS controller measures the tasks' CPU use and
    /// corrects [default: 1s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    qos_correction_interval: Option<Duration>,

    /// With --oversubscribe: how long a revocable task stays suspended before it is killed
    /// with REASON_REVOCATION [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    qos_max_suspension: Option<Duration>,

    /// With --oversubscribe: the fraction of the tasks' cpus never offered as revocable, and
    /// of the agent's cpus the QoS controller keeps free of revocable tasks [default: 0.1].
    #[arg(long, value_name = "FRACTION")]
    oversubscription_margin: Option<f64>,

    /// --tls-cert/--tls-key: this port over TLS, and the agent's client certificate to a
    /// master that asks for one (mutual TLS); --tls-ca: the CA of an https:// master.
    #[command(flatten)]
    tls: crate::tls::TlsArgs,
}

/// Defaults of the settings whose default is the CLI's rather than the library's.
const DEFAULT_MAX_TASKS: u32 = 10_000;
const DEFAULT_MAX_TASK_MEM: u64 = 1 << 30;

impl AgentArgs {
    /// The config from every layer: defaults, the file, the environment, the flags.
    fn config(&self) -> anyhow::Result<AgentConfig> {
        let layers = Layers::load("agent", self.config.as_deref())?;
        self.config_from(layers)
    }

    fn config_from(&self, layers: Layers) -> anyhow::Result<AgentConfig> {
        let mut layers = layers.env_name("master", "WASMESOS_MASTER");
        let l = &mut layers;
        let library = AgentConfig::default();
        let text = |text: &str| Ok(text.to_string());
        let listen = l
            .one("listen", self.listen, parse_socket_addr)?
            .unwrap_or(library.listen);
        let work_dir = l
            .one("work_dir", self.work_dir.clone(), |text| {
                Ok(PathBuf::from(text))
            })?
            .unwrap_or_else(|| default_work_dir(listen));
        let max_tasks = l.one("max_tasks", self.max_tasks, |text| {
            text.trim()
                .parse::<u32>()
                .map_err(|_| "expected a whole number".to_string())
        })?;
        let max_task_mem = l.one("max_task_mem", self.max_task_mem, parse_size)?;
        let oversubscription = self.oversubscription(l)?;
        let config = AgentConfig {
            master_url: l
                .one("master", self.master.clone(), text)?
                .unwrap_or(library.master_url),
            listen,
            credential_file: l.one("credential", self.credential.clone(), |text| {
                Ok(PathBuf::from(text))
            })?,
            http_credentials_file: l.one(
                "http_credentials",
                self.http_credentials.clone(),
                |text| Ok(PathBuf::from(text)),
            )?,
            advertise_url: l.one("advertise", self.advertise.clone(), text)?,
            hostname: l.one("hostname", self.hostname.clone(), text)?,
            resources: l.one("resources", self.resources.clone(), parse_resources)?,
            work_dir,
            output_cap_bytes: l
                .one("output_cap", self.output_cap, parse_size)?
                .unwrap_or(library.output_cap_bytes),
            fetch_max_bytes: l
                .one("fetch_max_size", self.fetch_max_size, parse_size)?
                .unwrap_or(library.fetch_max_bytes),
            fetch_timeout: l
                .one("fetch_timeout", self.fetch_timeout, parse_duration)?
                .unwrap_or(library.fetch_timeout),
            fetch_allowed_dirs: l.many(
                "fetch_allowed_dir",
                self.fetch_allowed_dirs.clone(),
                |text| Ok(PathBuf::from(text)),
            )?,
            fetcher_cache_bytes: l
                .one("fetcher_cache_size", self.fetcher_cache_size, parse_size)?
                .unwrap_or(library.fetcher_cache_bytes),
            network_allow: network_allow(
                l.many(
                    "network_allow",
                    self.network_allow
                        .iter()
                        .map(|text| parse_rules(text))
                        .collect::<Result<_, _>>()
                        .map_err(|why| anyhow::anyhow!("--network-allow: {why}"))?,
                    parse_rules,
                )?,
            ),
            tls: AgentTls {
                identity: self.tls.identity(l)?,
                ca: self.tls.ca(l)?,
            },
            executor: ExecutorConfig {
                max_concurrent_tasks: max_tasks.unwrap_or(DEFAULT_MAX_TASKS),
                max_task_memory_bytes: max_task_mem.unwrap_or(DEFAULT_MAX_TASK_MEM),
                ..ExecutorConfig::default()
            },
            oversubscription,
            ..library
        };
        layers.finish()?;
        Ok(config)
    }

    /// The oversubscription settings, `None` unless `oversubscribe` is on.
    fn oversubscription(
        &self,
        l: &mut Layers,
    ) -> anyhow::Result<Option<wasmesos_agent::OversubscriptionConfig>> {
        let on = l
            .one(
                "oversubscribe",
                self.oversubscribe.then_some(true),
                parse_bool,
            )?
            .unwrap_or(false);
        let defaults = wasmesos_agent::OversubscriptionConfig::default();
        let config = wasmesos_agent::OversubscriptionConfig {
            estimate_interval: l
                .one(
                    "oversubscribed_resources_interval",
                    self.oversubscribed_resources_interval,
                    parse_duration,
                )?
                .unwrap_or(defaults.estimate_interval),
            qos_interval: l
                .one(
                    "qos_correction_interval",
                    self.qos_correction_interval,
                    parse_duration,
                )?
                .unwrap_or(defaults.qos_interval),
            max_suspension: l
                .one(
                    "qos_max_suspension",
                    self.qos_max_suspension,
                    parse_duration,
                )?
                .unwrap_or(defaults.max_suspension),
            margin: l
                .one(
                    "oversubscription_margin",
                    self.oversubscription_margin,
                    |text| {
                        text.trim()
                            .parse::<f64>()
                            .map_err(|_| "expected a fraction such as 0.1".to_string())
                    },
                )?
                .unwrap_or(defaults.margin),
            ..defaults
        };
        config
            .validate()
            .map_err(|why| anyhow::anyhow!("--oversubscribe: {why}"))?;
        Ok(on.then_some(config))
    }
}

/// `true` or `false`, for settings that are switches.
fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("expected true or false, not {other:?}")),
    }
}

/// One `--network-allow` value: comma-separated rules, or `none`.
fn parse_rules(text: &str) -> Result<Vec<AddrRule>, String> {
    if text.trim() == NO_GRANTS {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|rule| rule.parse::<AddrRule>().map_err(|err| err.to_string()))
        .collect()
}

/// `--network-allow none`: tasks may be granted no address.
const NO_GRANTS: &str = "none";

/// The operator's list from its values: `None` when none was given.
fn network_allow(values: Vec<Vec<AddrRule>>) -> Option<Vec<AddrRule>> {
    (!values.is_empty()).then(|| values.into_iter().flatten().collect())
}

/// `wasmesos-agent-PORT` under the OS temp dir, so two agents on one host differ.
fn default_work_dir(listen: SocketAddr) -> PathBuf {
    let name = match listen.port() {
        0 => format!("wasmesos-agent-pid{}", std::process::id()),
        port => format!("wasmesos-agent-{port}"),
    };
    std::env::temp_dir().join(name)
}

/// The settings of `config` as a TOML file that `--config` reads back to the same config.
fn print_config(config: &AgentConfig) -> anyhow::Result<String> {
    let oversubscription = config.oversubscription.clone().unwrap_or_default();
    let printed = Printed::default()
        .text("master", &config.master_url)
        .optional(
            "credential",
            config.credential_file.as_ref().map(|p| p.display()),
            "the agent does not authenticate",
        )
        .optional(
            "http_credentials",
            config.http_credentials_file.as_ref().map(|p| p.display()),
            "anyone may call the agent's API",
        )
        .text("listen", config.listen)
        .optional(
            "advertise",
            config.advertise_url.as_ref(),
            "derived from listen",
        )
        .optional(
            "resources",
            config
                .resources
                .as_ref()
                .map(wasmesos_agent::format_resources),
            "detected from the host",
        )
        .text("work_dir", config.work_dir.display())
        .optional("hostname", config.hostname.as_ref(), "the OS hostname")
        .text("output_cap", format_size(config.output_cap_bytes))
        .text("fetch_max_size", format_size(config.fetch_max_bytes))
        .text("fetch_timeout", format_duration(config.fetch_timeout))
        .list(
            "fetch_allowed_dir",
            config.fetch_allowed_dirs.iter().map(|dir| dir.display()),
        )
        .text(
            "fetcher_cache_size",
            format_size(config.fetcher_cache_bytes),
        )
        .list(
            "network_allow",
            match &config.network_allow {
                None => Vec::new(),
                Some(rules) if rules.is_empty() => vec![NO_GRANTS.to_owned()],
                Some(rules) => rules.iter().map(ToString::to_string).collect(),
            },
        )
        .text("oversubscribe", config.oversubscription.is_some())
        .text(
            "oversubscribed_resources_interval",
            format_duration(oversubscription.estimate_interval),
        )
        .text(
            "qos_correction_interval",
            format_duration(oversubscription.qos_interval),
        )
        .text(
            "qos_max_suspension",
            format_duration(oversubscription.max_suspension),
        )
        .text("oversubscription_margin", oversubscription.margin)
        .text("max_tasks", config.executor.max_concurrent_tasks)
        .text(
            "max_task_mem",
            format_size(config.executor.max_task_memory_bytes),
        );
    let tls = &config.tls;
    crate::tls::print(printed, tls.identity.as_ref(), tls.ca.as_ref())
        .render("wasmesos agent settings (read back with --config FILE)")
}

/// Runs the agent; errors are one line on stderr.
pub fn main(args: AgentArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wasmesos agent: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: AgentArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    if args.print_config {
        print!("{}", print_config(&config)?);
        return Ok(());
    }
    let master = config.master_url.clone();
    let work_dir = config.work_dir.clone();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut agent = wasmesos_agent::spawn(config).await?;
        println!(
            "wasmesos agent listening on {} (master {master}, work dir {})",
            agent.url(),
            work_dir.display()
        );
        tokio::select! {
            id = agent.registered(Duration::MAX) => {
                if let Some(id) = id {
                    println!("wasmesos agent registered as {id}");
                }
                shutdown_signal().await;
            }
            () = shutdown_signal() => {}
        }
        eprintln!("wasmesos agent: shutting down");
        agent.shutdown().await?;
        Ok(())
    })
}

fn parse_resources(text: &str) -> Result<Resources, String> {
    wasmesos_agent::parse_resources(text).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use wasmesos_proto::resource_names::{CPUS, MEM};

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: AgentArgs,
    }

    fn parse(argv: &[&str]) -> anyhow::Result<AgentConfig> {
        layered(argv, "", &[])
    }

    /// The config from flags `argv`, a settings file holding `file`, and variables `env`.
    fn layered(argv: &[&str], file: &str, env: &[(&str, &str)]) -> anyhow::Result<AgentConfig> {
        let argv = std::iter::once("agent").chain(argv.iter().copied());
        let args = Wrapper::try_parse_from(argv)?.args;
        let table: toml::Table = file.parse()?;
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let layers = Layers::new(
            "agent",
            Some((PathBuf::from("agent.toml"), table)),
            env.collect(),
        );
        args.config_from(layers)
    }

    #[test]
    fn the_file_then_the_environment_then_flags() {
        let file = r#"
            master = "http://10.0.0.9:5050"
            resources = "cpus:2;mem:1GiB"
            output_cap = "2MiB"
            max_tasks = 7
            listen = "127.0.0.1:6000"
        "#;
        let env = [
            ("WASMESOS_MASTER", "zk://z1:2181,z2:2181/wasmesos"),
            ("WASMESOS_AGENT_MAX_TASKS", "9"),
        ];
        let config = layered(&["--output-cap", "3MiB"], file, &env).expect("valid");
        assert_eq!(config.master_url, "zk://z1:2181,z2:2181/wasmesos");
        assert_eq!(config.executor.max_concurrent_tasks, 9);
        assert_eq!(config.output_cap_bytes, 3 << 20);
        assert_eq!(config.listen.port(), 6000);
        assert!(config.work_dir.ends_with("wasmesos-agent-6000"));
        let resources = config.resources.expect("resources from the file");
        assert_eq!(resources.scalar(CPUS), 2.0);

        let err = layered(&[], "resources = \"cpus:two\"", &[]).err();
        let err = err.map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(err.contains("agent.toml: setting `resources`"), "{err}");
        let err = layered(&[], "", &[("WASMESOS_AGENT_MAX_TASKS", "-1")]).err();
        let err = err.map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(err.contains("WASMESOS_AGENT_MAX_TASKS"), "{err}");
    }

    #[test]
    fn printed_config_reads_back_to_the_same_config() {
        let argv = [
            "--master",
            "http://10.0.0.5:5050",
            "--resources",
            "cpus:4;mem:8GiB;disk:20GiB",
            "--work-dir",
            "/tmp/a",
            "--max-task-mem",
            "256MiB",
            "--fetch-allowed-dir",
            "/srv/data",
            "--fetch-timeout",
            "90s",
        ];
        let config = parse(&argv).expect("valid flags");
        let printed = print_config(&config).expect("printable");
        let again = layered(&[], &printed, &[]).expect("reads back");
        assert_eq!(print_config(&again).ok(), Some(printed));
        assert_eq!(again.resources, config.resources);
        assert_eq!(again.work_dir, config.work_dir);
        assert_eq!(again.executor.max_task_memory_bytes, 256 << 20);
        assert_eq!(again.fetch_allowed_dirs, [PathBuf::from("/srv/data")]);
        assert_eq!(again.fetch_timeout, Duration::from_secs(90));
    }

    #[test]
    fn oversubscription_is_off_unless_asked_and_its_settings_read_back() {
        assert_eq!(parse(&[]).expect("no flag").oversubscription, None);
        let argv = [
            "--oversubscribe",
            "--qos-max-suspension",
            "5s",
            "--oversubscription-margin",
            "0.25",
        ];
        let config = parse(&argv).expect("valid flags");
        let oversubscription = config.oversubscription.clone().expect("on");
        assert_eq!(oversubscription.max_suspension, Duration::from_secs(5));
        assert_eq!(oversubscription.margin, 0.25);
        assert_eq!(oversubscription.estimate_interval, Duration::from_secs(15));
        let printed = print_config(&config).expect("printable");
        let again = layered(&[], &printed, &[]).expect("reads back");
        assert_eq!(again.oversubscription, config.oversubscription);
        let err = parse(&["--oversubscribe", "--oversubscription-margin", "2"])
            .expect_err("a margin above 1 is refused");
        assert!(err.to_string().contains("margin"), "{err:#}");
    }

    #[test]
    fn network_rules_come_from_flags_and_the_file_and_read_back() {
        let rules = |config: &AgentConfig| {
            config
                .network_allow
                .as_ref()
                .map(|rules| rules.iter().map(ToString::to_string).collect::<Vec<_>>())
        };
        assert_eq!(rules(&parse(&[]).expect("no flag")), None);
        let flags = parse(&[
            "--network-allow",
            "10.0.0.0/8,0.0.0.0/0:443",
            "--network-allow",
            "[::1]:8080",
        ])
        .expect("valid rules");
        let expected = ["10.0.0.0/8", "0.0.0.0/0:443", "[::1]:8080"].map(String::from);
        assert_eq!(rules(&flags), Some(expected.to_vec()));
        let printed = print_config(&flags).expect("printable");
        let again = layered(&[], &printed, &[]).expect("reads back");
        assert_eq!(rules(&again), Some(expected.to_vec()));
        let none = layered(&[], "network_allow = [\"none\"]", &[]).expect("none");
        assert_eq!(rules(&none), Some(vec![]));
        let none_again = layered(&[], &print_config(&none).expect("printable"), &[]);
        assert_eq!(rules(&none_again.expect("reads back")), Some(vec![]));
        let err = parse(&["--network-allow", "example.com"]).expect_err("a host name");
        assert!(format!("{err:#}").contains("example.com"), "{err:#}");
    }

    #[test]
    fn defaults_match_the_library() {
        let config = parse(&[]).expect("no flags");
        let library = AgentConfig::default();
        assert_eq!(config.listen, library.listen);
        assert!(
            config.resources.is_none(),
            "resources are detected at start"
        );
        assert!(config.work_dir.ends_with("wasmesos-agent-5051"));
        assert_eq!(config.fetch_max_bytes, library.fetch_max_bytes);
        assert_eq!(config.fetch_timeout, library.fetch_timeout);
        assert!(
            config.fetch_allowed_dirs.is_empty(),
            "no file:// by default"
        );
        assert_eq!(config.fetcher_cache_bytes, library.fetcher_cache_bytes);
    }

    #[test]
    fn flags_reach_the_config() {
        let config = parse(&[
            "--master",
            "http://10.0.0.5:5050",
            "--listen",
            "0.0.0.0:6061",
            "--resources",
            "cpus:4;mem:8GiB;disk:20GiB",
            "--work-dir",
            "/tmp/a",
            "--output-cap",
            "1MiB",
            "--max-tasks",
            "500",
            "--max-task-mem",
            "256MiB",
            "--fetch-max-size",
            "1GiB",
            "--fetch-timeout",
            "30s",
            "--fetch-allowed-dir",
            "/srv/a",
            "--fetch-allowed-dir",
            "/srv/b",
            "--fetcher-cache-size",
            "10GiB",
        ])
        .expect("valid flags");
        assert_eq!(config.fetch_max_bytes, 1 << 30);
        assert_eq!(config.fetch_timeout, Duration::from_secs(30));
        assert_eq!(
            config.fetch_allowed_dirs,
            [PathBuf::from("/srv/a"), PathBuf::from("/srv/b")]
        );
        assert_eq!(config.fetcher_cache_bytes, 10 << 30);
        assert_eq!(config.master_url, "http://10.0.0.5:5050");
        assert_eq!(config.listen.port(), 6061);
        let resources = config.resources.expect("resources");
        assert_eq!(resources.scalar(CPUS), 4.0);
        assert_eq!(resources.scalar(MEM), 8.0 * (1u64 << 30) as f64);
        assert_eq!(config.work_dir, PathBuf::from("/tmp/a"));
        assert_eq!(config.output_cap_bytes, 1 << 20);
        assert_eq!(config.executor.max_concurrent_tasks, 500);
        assert_eq!(config.executor.max_task_memory_bytes, 256 << 20);
    }

    #[test]
    fn bad_values_name_the_flag_and_the_item() {
        for (argv, item) in [
            (&["--resources", "cpus:four"][..], "cpus:four"),
            (&["--resources", "mem:8XB"], "mem:8XB"),
            (&["--listen", "nowhere"], "nowhere"),
            (&["--output-cap", "lots"], "lots"),
            (&["--fetch-max-size", "huge"], "huge"),
            (&["--fetch-timeout", "soon"], "soon"),
        ] {
            let err = parse(argv).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                err.contains(argv[0]) && err.contains(item),
                "{argv:?}: {err}"
            );
        }
    }

    #[test]
    fn tls_settings_read_back() {
        let file = "tls_cert = \"/etc/a/cert.pem\"\ntls_key = \"/etc/a/key.pem\"\n";
        let config = layered(&["--tls-ca", "/etc/a/ca.pem"], file, &[]).expect("valid");
        let identity = config.tls.identity.clone().expect("an identity");
        assert_eq!(identity.key, PathBuf::from("/etc/a/key.pem"));
        assert_eq!(config.tls.ca, Some(PathBuf::from("/etc/a/ca.pem")));
        let printed = print_config(&config).expect("printable");
        let again = layered(&[], &printed, &[]).expect("the printed file reads back");
        assert_eq!(again.tls, config.tls);
        let half = parse(&["--tls-key", "k.pem"])
            .err()
            .map(|e| format!("{e:#}"));
        assert!(half.is_some_and(|e| e.contains("--tls-cert")));
    }
}
