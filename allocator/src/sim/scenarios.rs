//! The three standard scenarios. `quick` shrinks them so CI can run them in seconds.

use std::time::Duration;

use super::{AgentGroup, Behavior, Demand, FrameworkGroup, Scenario};
use crate::{AllocatorConfig, Error, Quota, Resources};

fn res(text: &str) -> Result<Resources, Error> {
    text.parse()
}

fn roles(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i}")).collect()
}

fn greedy(count: usize, roles: Vec<String>, task: &str) -> Result<FrameworkGroup, Error> {
    Ok(FrameworkGroup {
        count,
        roles,
        task: res(task)?,
        ports: 0,
        task_mean: Duration::from_secs(30),
        task_spread: Duration::from_secs(10),
        behavior: Behavior::Greedy,
        demand: Demand::Unbounded,
        suppress_when_idle: false,
        refuse: Duration::from_secs(5),
        declare_task_size: true,
    })
}

/// Scenario 1, Mesos's own benchmark shape: 10,000 agents × 1,000 frameworks (in 20 roles),
/// one full round from an idle cluster. Quick: 1,000 × 100.
pub fn mesos_benchmark(quick: bool) -> Result<Scenario, Error> {
    let (agents, frameworks) = if quick { (1_000, 100) } else { (10_000, 1_000) };
    Ok(Scenario {
        name: format!("1: {agents} agents x {frameworks} frameworks, one round"),
        agents: vec![AgentGroup {
            count: agents,
            resources: res("cpus:8;mem:32GiB;disk:256GiB")?,
        }],
        frameworks: vec![greedy(frameworks, roles("team-", 20), "cpus:1;mem:4GiB")?],
        config: AllocatorConfig::default(),
        duration: Duration::ZERO,
        batch_interval: Duration::ZERO,
        offer_timeout: None,
        warmup: Duration::ZERO,
        seed: 1,
    })
}

/// Scenario 1 with ports: the same cluster and round, every agent also offering
/// `ports:[31000-32000]` and every task taking two of them, so the bench prints the cost of
/// allocating ranges next to the scalar-only round.
pub fn mesos_benchmark_ports(quick: bool) -> Result<Scenario, Error> {
    let mut scenario = mesos_benchmark(quick)?;
    scenario.name = scenario.name.replace("1:", "1p:") + ", ports";
    for group in &mut scenario.agents {
        group.resources.add(&res("ports:[31000-32000]")?);
    }
    for group in &mut scenario.frameworks {
        group.ports = 2;
    }
    Ok(scenario)
}

/// Scenario 2, the NSDI'11 setup: 50,000 agents, 200 frameworks with unbounded demand in
/// 10 equal-weight roles, tasks of 30 s ± 10 s in three sizes, rounds batched every 100 ms,
/// 120 s simulated, measured after 40 s. Quick: 5,000 agents, 60 s.
pub fn nsdi_cluster(quick: bool) -> Result<Scenario, Error> {
    let (agents, seconds) = if quick { (5_000, 60) } else { (50_000, 120) };
    let roles = roles("org-", 10);
    Ok(Scenario {
        name: format!("2: {agents} agents x 200 frameworks, tasks 30s+-10s"),
        agents: vec![AgentGroup {
            count: agents,
            resources: res("cpus:8;mem:32GiB;disk:256GiB")?,
        }],
        frameworks: vec![
            greedy(70, roles.clone(), "cpus:1;mem:4GiB")?,
            greedy(70, roles.clone(), "cpus:2;mem:8GiB")?,
            greedy(60, roles, "cpus:0.5;mem:2GiB")?,
        ],
        config: AllocatorConfig::default(),
        duration: Duration::from_secs(seconds),
        batch_interval: Duration::from_millis(100),
        offer_timeout: Some(Duration::from_secs(10)),
        // The first tasks end after 20 s; measure the steady state after a full task life.
        warmup: Duration::from_secs(40),
        seed: 2,
    })
}

/// Scenario 3, a mix: a guaranteed and limited `prod`, a limited `dev` with weighted
/// children, agents with static `analytics` reservations, frameworks that hoard offers
/// (rescinded after 10 s), batch frameworks that suppress between waves, and frameworks that
/// decline everything. 5,000 agents, 120 s. Quick: 1,000 agents, 60 s.
pub fn hoarding_mix(quick: bool) -> Result<Scenario, Error> {
    let scale = if quick { 1 } else { 5 };
    let seconds = if quick { 60 } else { 120 };
    let plain = 800 * scale;
    let reserved = 200 * scale;
    let cpus = (plain * 8 + reserved * 8) as f64;
    let mut config = AllocatorConfig::default();
    config.quotas.insert(
        "prod".into(),
        Quota {
            guarantee: Resources::scalar("cpus", (cpus * 0.2).round())?,
            limit: Some(Resources::scalar("cpus", (cpus * 0.4).round())?),
        },
    );
    config.quotas.insert(
        "dev".into(),
        Quota {
            guarantee: Resources::new(),
            limit: Some(Resources::scalar("cpus", (cpus * 0.25).round())?),
        },
    );
    config.weights.insert("dev/a".into(), 2.0);
    let mut batch = greedy(10, vec!["batch".into()], "cpus:1;mem:2GiB")?;
    batch.demand = Demand::Waves {
        tasks: 200 * scale as u64,
        every: Duration::from_secs(20),
    };
    batch.suppress_when_idle = true;
    batch.task_mean = Duration::from_secs(8);
    batch.task_spread = Duration::from_secs(4);
    let mut hoard = greedy(5, vec!["hoard".into()], "cpus:1;mem:4GiB")?;
    hoard.behavior = Behavior::Hoard(Duration::from_secs(30));
    let mut idle = greedy(5, vec!["idle".into()], "cpus:1;mem:4GiB")?;
    idle.behavior = Behavior::Decline;
    Ok(Scenario {
        name: format!(
            "3: {} agents, quota + reservations + hoarders",
            plain + reserved
        ),
        agents: vec![
            AgentGroup {
                count: plain,
                resources: res("cpus:8;mem:32GiB;disk:256GiB")?,
            },
            AgentGroup {
                count: reserved,
                resources: res(
                    "cpus:6;mem:24GiB;cpus(analytics):2;mem(analytics):8GiB;disk:256GiB",
                )?,
            },
        ],
        frameworks: vec![
            greedy(10, vec!["prod".into()], "cpus:2;mem:8GiB")?,
            greedy(10, vec!["dev/a".into()], "cpus:1;mem:4GiB")?,
            greedy(10, vec!["dev/b".into()], "cpus:1;mem:4GiB")?,
            greedy(5, vec!["analytics".into()], "cpus:1;mem:4GiB")?,
            greedy(10, roles("web-", 5), "cpus:0.5;mem:2GiB")?,
            batch,
            hoard,
            idle,
        ],
        config,
        duration: Duration::from_secs(seconds),
        batch_interval: Duration::from_millis(100),
        offer_timeout: Some(Duration::from_secs(10)),
        warmup: Duration::from_secs(40),
        seed: 3,
    })
}
