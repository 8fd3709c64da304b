//! The simulator drives the real allocator and reports sensible figures on small clusters.
#![allow(clippy::unwrap_used)] // a test that panics on a broken expectation is the point

use std::time::Duration;

use wasmesos_allocator::sim::{self, AgentGroup, Behavior, Demand, FrameworkGroup, Scenario};
use wasmesos_allocator::{AllocatorConfig, Resources};

fn group(count: usize, roles: &[&str], task: &str) -> FrameworkGroup {
    FrameworkGroup {
        ports: 0,
        count,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        task: task.parse().unwrap(),
        task_mean: Duration::from_secs(30),
        task_spread: Duration::from_secs(10),
        behavior: Behavior::Greedy,
        demand: Demand::Unbounded,
        suppress_when_idle: false,
        refuse: Duration::from_secs(5),
        declare_task_size: true,
    }
}

fn small(frameworks: Vec<FrameworkGroup>, config: AllocatorConfig) -> Scenario {
    Scenario {
        name: "small".into(),
        agents: vec![AgentGroup {
            count: 300,
            resources: "cpus:8;mem:32GiB".parse::<Resources>().unwrap(),
        }],
        frameworks,
        config,
        duration: Duration::from_secs(90),
        batch_interval: Duration::from_millis(100),
        offer_timeout: Some(Duration::from_secs(10)),
        warmup: Duration::from_secs(40),
        seed: 7,
    }
}

#[test]
fn equal_weights_with_unbounded_demand_reach_jain_099_and_high_utilization() {
    let scenario = small(
        vec![
            group(10, &["a", "b"], "cpus:1;mem:4GiB"),
            group(10, &["a", "b"], "cpus:2;mem:8GiB"),
        ],
        AllocatorConfig::default(),
    );
    let report = sim::run(&scenario).unwrap();
    assert!(report.jain.unwrap() >= 0.99, "{report:?}");
    assert!(report.utilization_cpus.unwrap() >= 0.95, "{report:?}");
    assert!(report.tasks_launched > 0 && report.offers > 0);
    assert!(
        report.rounds.samples > 100,
        "rounds are batched, not per event"
    );
    assert!(
        report.notes[0].contains("outside their role: 0"),
        "{:?}",
        report.notes
    );
}

#[test]
fn weights_show_in_the_shares_and_hoarders_waste_capacity() {
    let mut config = AllocatorConfig::default();
    config.weights.insert("gold".into(), 2.0);
    let mut hoarders = group(4, &["hoard"], "cpus:1;mem:4GiB");
    hoarders.behavior = Behavior::Hoard(Duration::from_secs(60));
    let scenario = small(
        vec![group(10, &["gold", "silver"], "cpus:1;mem:4GiB"), hoarders],
        config,
    );
    let report = sim::run(&scenario).unwrap();
    // Weighted shares are equalised, so Jain over them stays high with unequal weights.
    assert!(report.jain.unwrap() >= 0.98, "{report:?}");
    // Hoarded offers are rescinded after 10 s but still idle the cluster for a while.
    assert!(report.utilization_cpus.unwrap() < 0.99, "{report:?}");
}

#[test]
fn one_round_scenarios_report_only_latency() {
    let mut scenario = sim::mesos_benchmark(true).unwrap();
    scenario.agents[0].count = 200;
    scenario.frameworks[0].count = 20;
    let report = sim::run(&scenario).unwrap();
    assert_eq!(
        report.offers, 200,
        "every agent goes to someone in one round"
    );
    assert_eq!(report.rounds.samples, 1);
    assert!(report.utilization_cpus.is_none() && report.jain.is_none());
}

#[test]
fn the_naive_baseline_allocates_every_agent() {
    let (_, allocations) = sim::naive_round(100, 10, 8.0, 32.0);
    assert_eq!(allocations, 100);
}

#[test]
fn a_framework_group_without_roles_is_an_error_not_a_panic() {
    let mut broken = group(1, &[], "cpus:1");
    broken.roles.clear();
    let scenario = small(vec![broken], AllocatorConfig::default());
    assert!(sim::run(&scenario).is_err());
}

#[test]
fn repeated_one_round_scenarios_carry_a_baseline_and_format_as_a_table() {
    let mut scenario = sim::mesos_benchmark(true).unwrap();
    scenario.agents[0].count = 300;
    scenario.frameworks[0].count = 30;
    let report = sim::run_repeated(&scenario, 3).unwrap();
    assert_eq!(report.rounds.samples, 3);
    assert!(report.notes[0].contains("baseline"), "{:?}", report.notes);
    assert!(
        !report.notes[0].contains("Mesos"),
        "Mesos's figure is for 10,000 x 1,000 only"
    );
    let table = sim::format_table(&[report]);
    assert!(table.contains(&scenario.name), "{table}");
    assert!(
        table.contains(" 300 |"),
        "one round offers every agent: {table}"
    );
    assert!(table.contains("[1] median full round"), "{table}");
}
