//! Builders for what a launch carries: tasks and filters.

use std::time::Duration;

use wasmesos_allocator::Ranges;
use wasmesos_proto::fetch;
use wasmesos_proto::resource_names::{CPUS, DISK, MEM, PORTS};
use wasmesos_proto::{
    ExecutorInfo, FetchUri, Filters, HealthCheck, KillPolicy, Offer, Resource, Resources, TaskInfo,
    ValueType,
};

/// Builds a [`TaskInfo`]: which executor (by digest) runs with which resources and inputs.
///
/// ```
/// use std::time::Duration;
/// use wasmesos_sdk_scheduler::TaskBuilder;
///
/// let task = TaskBuilder::new("count-1", "ab12…")
///     .name("count chunk 1")
///     .cpus(0.5)
///     .mem(64 << 20)
///     .timeout(Duration::from_secs(30))
///     .env("LANG", "C")
///     .data(b"some words to count".to_vec())
///     .build("agent-7");
/// assert_eq!(task.agent_id, "agent-7");
/// assert_eq!(task.timeout_ms, 30_000);
/// ```
#[derive(Debug, Clone)]
pub struct TaskBuilder {
    task: TaskInfo,
    /// Ports to choose from an offer with [`crate::Capacity::place`].
    wanted_ports: u64,
    /// Whether those ports are drawn at random rather than the lowest free.
    random_ports: bool,
}

impl TaskBuilder {
    /// A task `task_id` running the executor whose sha256 is `digest`, with no resources yet.
    pub fn new(task_id: impl Into<String>, digest: impl Into<String>) -> Self {
        let task_id = task_id.into();
        TaskBuilder {
            task: TaskInfo {
                name: task_id.clone(),
                task_id,
                executor: Some(ExecutorInfo {
                    digest: digest.into(),
                    ..ExecutorInfo::default()
                }),
                resources: Some(Resources::default()),
                ..TaskInfo::default()
            },
            wanted_ports: 0,
            random_ports: false,
        }
    }

    /// A name for humans (defaults to the task id).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.task.name = name.into();
        self
    }

    /// CPU cores (fractions allowed); the agent turns this into the task's CPU share.
    pub fn cpus(self, cores: f64) -> Self {
        self.resource(CPUS, cores)
    }

    /// CPU cores from the offer's revocable cpus (replacing any `cpus` asked before): the
    /// task runs on CPU other tasks leave unused, and may be suspended or revoked for them.
    /// Only a framework with [`crate::DriverConfig::revocable_resources`] is offered any.
    pub fn revocable_cpus(mut self, cores: f64) -> Self {
        let resources = self.task.resources.get_or_insert_with(Resources::default);
        resources.resources.retain(|resource| resource.name != CPUS);
        resources.resources.push(Resource {
            name: CPUS.to_string(),
            value: cores,
            revocable: true,
            ..Resource::default()
        });
        self
    }

    /// Memory in bytes; the task's hard memory limit.
    pub fn mem(self, bytes: u64) -> Self {
        self.resource(MEM, bytes as f64)
    }

    /// Sandbox disk quota in bytes.
    pub fn disk(self, bytes: u64) -> Self {
        self.resource(DISK, bytes as f64)
    }

    /// Any scalar resource; replaces an earlier value of the same name.
    pub fn resource(mut self, name: &str, value: f64) -> Self {
        let resources = self.task.resources.get_or_insert_with(Resources::default);
        resources.resources.retain(|resource| resource.name != name);
        resources.resources.push(Resource {
            name: name.to_string(),
            value,
            ..Resource::default()
        });
        self
    }

    /// `n` ports, any: [`crate::Capacity::place`] chooses the lowest ones its offer has
    /// free (and the agent hands them to the task as `PORT0..`, `PORTS`). Replaces an earlier
    /// count; a task built without being placed carries only the ports named with
    /// [`TaskBuilder::port`].
    pub fn ports(mut self, n: u64) -> Self {
        self.wanted_ports = n;
        self.random_ports = false;
        self
    }

    /// `n` ports, any, drawn at random from those its offer has free, as Marathon draws
    /// them: a port that something outside the cluster holds fails one launch, and the
    /// retry most likely draws another. Replaces an earlier count.
    pub fn random_ports(mut self, n: u64) -> Self {
        self.wanted_ports = n;
        self.random_ports = true;
        self
    }

    /// Whether [`TaskBuilder::random_ports`] asked for the ports.
    pub fn ports_at_random(&self) -> bool {
        self.random_ports
    }

    /// This exact port, unreserved; may be called for several. The master refuses the task
    /// if its offer lacks the port.
    pub fn port(self, port: u64) -> Self {
        let ranges = Ranges::from_values([port]);
        self.with_ranges(Resource::from_ranges(PORTS, "", &ranges))
    }

    /// How many ports [`TaskBuilder::ports`] still asks to be chosen.
    pub fn wanted_ports(&self) -> u64 {
        self.wanted_ports
    }

    pub(crate) fn clear_wanted_ports(mut self) -> Self {
        self.wanted_ports = 0;
        self
    }

    /// Adds a ranges resource, merging with the entry of the same name and role.
    pub(crate) fn with_ranges(mut self, resource: Resource) -> Self {
        let resources = self.task.resources.get_or_insert_with(Resources::default);
        let same = resources.resources.iter_mut().find(|r| {
            r.name == resource.name
                && r.role == resource.role
                && r.r#type == ValueType::Ranges as i32
        });
        match same {
            Some(existing) => {
                let mut ranges = existing.ranges_value();
                ranges.add(&resource.ranges_value());
                *existing = Resource::from_ranges(&resource.name, &resource.role, &ranges);
            }
            None => resources.resources.push(resource),
        }
        self
    }

    /// Instruction budget; the task fails with FUEL_EXHAUSTED when it runs out.
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.task.fuel = fuel;
        self
    }

    /// Wall-clock budget; the task fails with TIMEOUT after it (rounded up to a millisecond).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        let millis = timeout.as_nanos().div_ceil(1_000_000);
        self.task.timeout_ms = u64::try_from(millis).unwrap_or(u64::MAX);
        self
    }

    /// An environment variable for the guest (it sees no others).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.executor().env.insert(key.into(), value.into());
        self
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.executor().args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.executor()
            .args
            .extend(args.into_iter().map(Into::into));
        self
    }

    /// Bytes handed to an executor's `run` as `task-info.data`.
    pub fn data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.task.data = data.into();
        self
    }

    /// Lets the task connect to `address` ("ip:port", or "ip" for any port); none by default.
    pub fn network_allow(mut self, address: impl Into<String>) -> Self {
        self.executor().network_allow.push(address.into());
        self
    }

    /// A health check the agent runs while the task runs (see `HealthCheck` in the proto for
    /// its fields and Mesos's defaults); its HTTP or TCP port must be one of the task's.
    pub fn health_check(mut self, check: HealthCheck) -> Self {
        self.task.health_check = Some(check);
        self
    }

    /// How long a kill lets a service finish the requests it is serving before its instances
    /// are dropped (the agent's default is 3 s; zero stops it at once).
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.task.kill_policy = Some(KillPolicy {
            grace_period_seconds: Some(grace.as_secs_f64()),
        });
        self
    }

    /// The task's priority: a role below its quota guarantee takes resources back from the
    /// preemptible tasks of the lowest priority first. Unset, the task has its role's
    /// priority (the master's `--role-priority`, else 0).
    pub fn priority(mut self, priority: i32) -> Self {
        self.task.priority = Some(priority);
        self
    }

    /// For a wasi:http service: requests served at once, each in its own instance; more
    /// wait in its queue (the agent's default is 4).
    pub fn max_concurrency(mut self, requests: u32) -> Self {
        self.task.max_concurrency = requests;
        self
    }

    /// A file the agent downloads into the task's sandbox before it starts (Mesos's
    /// `CommandInfo.uris`): `http(s)://`, `file://` (under the agent's allowed directories)
    /// or `wasmesos://sha256:<digest>`. A failed fetch fails the task (TASK_FAILED,
    /// REASON_CONTAINER_LAUNCH_FAILED).
    pub fn fetch(mut self, uri: impl Into<Fetch>) -> Self {
        self.executor().uris.push(uri.into().0);
        self
    }

    /// Runs a fetched component instead of an uploaded one: `uri` is fetched like
    /// [`fetch`](Self::fetch) and the file it becomes is the program (the digest given to
    /// [`new`](Self::new) is dropped). The agent compiles it as it does an upload.
    ///
    /// ```
    /// use wasmesos_sdk_scheduler::{Fetch, TaskBuilder};
    ///
    /// let task = TaskBuilder::new("t1", "")
    ///     .program_uri(Fetch::new("https://example.com/app.wasm").cached())
    ///     .fetch("https://example.com/input.txt")
    ///     .build("agent-7");
    /// let executor = task.executor.unwrap_or_default();
    /// assert_eq!(executor.program, "app.wasm");
    /// assert_eq!(executor.uris.len(), 2);
    /// ```
    pub fn program_uri(mut self, uri: impl Into<Fetch>) -> Self {
        let uri = uri.into().0;
        // An unparsable uri is left for the master to refuse with the rule it breaks.
        let program = match fetch::parse(&uri) {
            Ok(parsed) => parsed.output_file,
            Err(_) if !uri.output_file.is_empty() => uri.output_file.clone(),
            Err(_) => uri.value.clone(),
        };
        let executor = self.executor();
        executor.digest.clear();
        executor.program = program;
        executor.uris.push(uri);
        self
    }

    /// The resources asked for so far, to check them against an offer.
    pub fn resources(&self) -> &Resources {
        static NONE: Resources = Resources {
            resources: Vec::new(),
        };
        self.task.resources.as_ref().unwrap_or(&NONE)
    }

    /// The task, placed on `agent_id` (the agent of the offer it is launched on).
    pub fn build(mut self, agent_id: impl Into<String>) -> TaskInfo {
        self.task.agent_id = agent_id.into();
        self.task
    }

    /// The task, placed on the agent of `offer`.
    pub fn build_for(self, offer: &Offer) -> TaskInfo {
        self.build(offer.agent_id.clone())
    }

    fn executor(&mut self) -> &mut ExecutorInfo {
        self.task.executor.get_or_insert_with(ExecutorInfo::default)
    }
}

/// One file a task fetches ([`TaskBuilder::fetch`]): a uri, and how to keep it.
///
/// ```
/// use wasmesos_sdk_scheduler::Fetch;
///
/// let input = Fetch::new("http://files.example/data.csv?v=2").output_file("input.csv").cached();
/// assert_eq!(input.uri().output_file, "input.csv");
/// assert!(input.uri().cache);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Fetch(FetchUri);

impl Fetch {
    /// Fetches `uri` under the last segment of its path.
    pub fn new(uri: impl Into<String>) -> Self {
        Fetch(FetchUri {
            value: uri.into(),
            ..FetchUri::default()
        })
    }

    /// The file's name in the sandbox, instead of the uri's last path segment.
    pub fn output_file(mut self, name: impl Into<String>) -> Self {
        self.0.output_file = name.into();
        self
    }

    /// Keeps the download in the agent's fetcher cache, so later tasks on that agent copy it
    /// instead of downloading it again.
    pub fn cached(mut self) -> Self {
        self.0.cache = true;
        self
    }

    /// The wire form.
    pub fn uri(&self) -> &FetchUri {
        &self.0
    }
}

impl From<&str> for Fetch {
    fn from(uri: &str) -> Self {
        Fetch::new(uri)
    }
}

impl From<String> for Fetch {
    fn from(uri: String) -> Self {
        Fetch::new(uri)
    }
}

impl From<FetchUri> for Fetch {
    fn from(uri: FetchUri) -> Self {
        Fetch(uri)
    }
}

/// A filter that keeps declined (or unused) resources away from this framework for `duration`;
/// `Duration::ZERO` has them offered again at the next allocation.
pub fn refuse_for(duration: Duration) -> Filters {
    Filters {
        refuse_seconds: Some(duration.as_secs_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_a_resource_twice_keeps_the_last_value() {
        let builder = TaskBuilder::new("t", "d").cpus(1.0).mem(10).cpus(0.25);
        assert_eq!(builder.resources().scalar(CPUS), 0.25);
        assert_eq!(builder.resources().scalar(MEM), 10.0);
        assert_eq!(builder.resources().resources.len(), 2);
    }

    #[test]
    fn fetched_files_and_a_fetched_program_land_in_the_executor() {
        let task = TaskBuilder::new("t1", "d".repeat(64))
            .fetch("http://h/in.txt")
            .program_uri(
                Fetch::new("http://h/dl?id=7")
                    .output_file("app.wasm")
                    .cached(),
            )
            .build("agent");
        let executor = task.executor.unwrap_or_default();
        assert!(
            executor.digest.is_empty(),
            "the fetched program replaces the digest"
        );
        assert_eq!(executor.program, "app.wasm");
        let values: Vec<&str> = executor.uris.iter().map(|u| u.value.as_str()).collect();
        assert_eq!(values, ["http://h/in.txt", "http://h/dl?id=7"]);
        assert!(!executor.uris[0].cache && executor.uris[1].cache);
        let plan = fetch::plan(&ExecutorInfo {
            digest: String::new(),
            ..executor
        });
        assert!(
            plan.is_ok(),
            "what the builder makes follows the rules: {plan:?}"
        );
        let broken = TaskBuilder::new("t2", "")
            .program_uri("ftp://h/x.wasm")
            .build("a");
        let executor = broken.executor.unwrap_or_default();
        let refused = fetch::plan(&executor).expect_err("ftp is refused");
        assert!(
            refused.0.contains("ftp"),
            "the uri's own rule is reported: {refused}"
        );
    }

    #[test]
    fn executor_fields_land_in_the_task() {
        let task = TaskBuilder::new("t1", "digest")
            .args(["a", "b"])
            .arg("c")
            .env("K", "V")
            .network_allow("127.0.0.1:80")
            .fuel(9)
            .timeout(Duration::from_micros(1500))
            .build("agent");
        let executor = task.executor.unwrap_or_default();
        assert_eq!(executor.digest, "digest");
        assert_eq!(executor.args, ["a", "b", "c"]);
        assert_eq!(executor.env.get("K").map(String::as_str), Some("V"));
        assert_eq!(executor.network_allow, ["127.0.0.1:80"]);
        assert_eq!((task.fuel, task.timeout_ms), (9, 2));
        assert_eq!(
            (task.name.as_str(), task.agent_id.as_str()),
            ("t1", "agent")
        );
    }

    #[test]
    fn exact_ports_merge_into_one_entry() {
        let builder = TaskBuilder::new("t", "d")
            .port(31001)
            .port(31000)
            .port(31005);
        assert_eq!(builder.resources().resources.len(), 1);
        assert_eq!(
            builder.resources().ranges(PORTS).to_string(),
            "[31000-31001, 31005-31005]"
        );
        assert_eq!(TaskBuilder::new("t", "d").ports(3).wanted_ports(), 3);
    }

    #[test]
    fn refuse_for_zero_is_an_explicit_zero() {
        assert_eq!(refuse_for(Duration::ZERO).refuse_seconds, Some(0.0));
    }
}
