//! Weighted DRF: convergence, weights, hierarchy, excluded scalars, multi-role, random sorter.
#![allow(clippy::unwrap_used)] // a test that panics on a broken expectation is the point

mod common;

use std::time::Duration;

use common::*;
use wasmesos_allocator::{Allocator, AllocatorConfig, FrameworkSpec, Resources, SorterKind};

/// Adds agents one at a time; after each, every offer is answered by launching one task of
/// the receiving framework's shape (if it fits) and declining the rest for an hour.
fn grow_cluster(a: &mut Allocator, agents: usize, shape: &str, tasks: &[(&str, Resources)]) {
    let now = Duration::ZERO;
    for i in 0..agents {
        add_agent(a, &format!("agent-{i}"), shape);
        loop {
            let offers = a.allocate(now);
            if offers.is_empty() {
                break;
            }
            for offer in &offers {
                let task = &tasks
                    .iter()
                    .find(|(id, _)| *id == offer.framework_id.as_str())
                    .unwrap()
                    .1;
                take_one_task(a, offer, task, now);
            }
        }
        a.check_invariants().unwrap();
    }
}

#[test]
fn frameworks_with_different_dominant_resources_converge_within_one_task() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "mem-heavy", &["analytics"]);
    add_framework(&mut a, "cpu-heavy", &["analytics"]);
    let tasks = [
        ("mem-heavy", res("cpus:1;mem:4GiB")),
        ("cpu-heavy", res("cpus:3;mem:1GiB")),
    ];
    // Each agent fits exactly one task of either shape.
    grow_cluster(&mut a, 120, "cpus:4;mem:4GiB", &tasks);
    let mem_share = share_of(&a, "mem-heavy");
    let cpu_share = share_of(&a, "cpu-heavy");
    let one_task = 4.0 / (4.0 * 120.0); // a mem-heavy task: 4 GiB of 480 GiB
    assert!(
        mem_share > 0.3 && cpu_share > 0.3,
        "{mem_share} {cpu_share}"
    );
    assert!(
        (mem_share - cpu_share).abs() <= one_task + 1e-9,
        "shares {mem_share} vs {cpu_share} differ by more than one task ({one_task})"
    );
}

#[test]
fn weight_two_gets_twice_the_share_within_one_task() {
    let mut config = AllocatorConfig::default();
    config.weights.insert("gold".into(), 2.0);
    let mut a = allocator(config);
    add_framework(&mut a, "g", &["gold"]);
    add_framework(&mut a, "s", &["silver"]);
    let task = res("cpus:1;mem:1GiB");
    grow_cluster(
        &mut a,
        90,
        "cpus:1;mem:1GiB",
        &[("g", task.clone()), ("s", task)],
    );
    let gold = share_of(&a, "g");
    let silver = share_of(&a, "s");
    let one_task = 1.0 / 90.0;
    assert!(
        (gold - 2.0 * silver).abs() <= one_task + 1e-9,
        "gold {gold} should be twice silver {silver}"
    );
    let snapshot = a.snapshot();
    let weighted: Vec<f64> = ["gold", "silver"]
        .iter()
        .map(|r| {
            snapshot
                .roles
                .iter()
                .find(|s| s.role == *r)
                .unwrap()
                .weighted_share
        })
        .collect();
    assert!(
        (weighted[0] - weighted[1]).abs() <= one_task + 1e-9,
        "{weighted:?}"
    );
}

#[test]
fn hierarchical_weights_apply_at_every_level() {
    let mut config = AllocatorConfig::default();
    config.weights.insert("eng".into(), 3.0);
    config.weights.insert("eng/backend".into(), 2.0);
    let mut a = allocator(config);
    add_framework(&mut a, "backend", &["eng/backend"]);
    add_framework(&mut a, "frontend", &["eng/frontend"]);
    add_framework(&mut a, "ops", &["ops"]);
    let task = res("cpus:1;mem:1GiB");
    let tasks = [
        ("backend", task.clone()),
        ("frontend", task.clone()),
        ("ops", task),
    ];
    grow_cluster(&mut a, 120, "cpus:1;mem:1GiB", &tasks);
    let one_task = 1.0 / 120.0;
    let eng = share_of(&a, "backend") + share_of(&a, "frontend");
    let ops = share_of(&a, "ops");
    // eng:ops = 3:1 -> 90 and 30 agents; inside eng, backend:frontend = 2:1 -> 60 and 30.
    assert!(
        (eng - 3.0 * ops).abs() <= 3.0 * one_task,
        "eng {eng} ops {ops}"
    );
    let backend = share_of(&a, "backend");
    let frontend = share_of(&a, "frontend");
    assert!(
        (backend - 2.0 * frontend).abs() <= 2.0 * one_task,
        "{backend} {frontend}"
    );
}

#[test]
fn frameworks_of_an_inner_role_compete_with_its_children() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "parent", &["eng"]);
    add_framework(&mut a, "child", &["eng/backend"]);
    add_framework(&mut a, "other", &["ops"]);
    let task = res("cpus:1;mem:1GiB");
    let tasks = [
        ("parent", task.clone()),
        ("child", task.clone()),
        ("other", task),
    ];
    grow_cluster(&mut a, 60, "cpus:1;mem:1GiB", &tasks);
    // eng and ops split evenly; inside eng, the virtual leaf and eng/backend split evenly.
    let (parent, child, other) = (
        share_of(&a, "parent"),
        share_of(&a, "child"),
        share_of(&a, "other"),
    );
    assert!(
        (parent + child - other).abs() <= 2.0 / 60.0,
        "{parent} {child} {other}"
    );
    assert!(
        (parent - child).abs() <= 1.0 / 60.0 + 1e-9,
        "{parent} {child}"
    );
}

#[test]
fn excluded_scalars_do_not_count_toward_shares() {
    for excluded in [true, false] {
        let mut config = AllocatorConfig::default();
        if excluded {
            config.fair_share_excluded.insert("gpus".into());
        }
        let mut a = allocator(config);
        add_framework(&mut a, "a", &["r"]);
        add_framework(&mut a, "b", &["r"]);
        add_agent(&mut a, "gpu-box", "cpus:1;mem:1GiB;gpus:8");
        let first = a.allocate(Duration::ZERO);
        assert_eq!(first.len(), 1);
        let gpu_holder = first[0].framework_id.clone();
        for i in 0..3 {
            add_agent(&mut a, &format!("plain-{i}"), "cpus:1;mem:1GiB");
        }
        let offers = a.allocate(Duration::ZERO);
        let more = offers
            .iter()
            .filter(|o| o.framework_id == gpu_holder)
            .count();
        let share = a.framework_snapshot(&gpu_holder).unwrap().dominant_share;
        if excluded {
            assert!(
                more >= 1,
                "gpus ignored: the holder competes for plain agents"
            );
            assert!(share < 1.0, "gpus ignored: share {share}");
        } else {
            assert_eq!(more, 0, "gpus counted: holding every gpu is a share of 1");
            assert_eq!(share, 1.0);
        }
    }
}

#[test]
fn a_multi_role_framework_is_offered_under_each_role() {
    let mut a = allocator(AllocatorConfig::default());
    add_agent(&mut a, "x", "cpus(blue):2;cpus(red):2;mem:1GiB");
    add_framework(&mut a, "both", &["blue", "red"]);
    let offers = a.allocate(Duration::ZERO);
    let mut roles: Vec<&str> = offers.iter().map(|o| &*o.role).collect();
    roles.sort();
    assert_eq!(roles, vec!["blue", "red"], "{offers:?}");
    for offer in &offers {
        assert_eq!(offer.resources.reserved().get("cpus"), 2.0);
        assert!(
            offer
                .resources
                .iter()
                .all(|r| r.reservation().is_none_or(|role| role == &*offer.role))
        );
    }
    // Suppressing one role stops only that role's offers.
    decline_all(&mut a, &offers, Duration::ZERO);
    a.suppress(&fw("both"), Some(&["red".to_string()])).unwrap();
    let offers = a.allocate(Duration::ZERO);
    assert!(offers.iter().all(|o| &*o.role == "blue"), "{offers:?}");
    assert!(!offers.is_empty());
    let snap = a.framework_snapshot(&fw("both")).unwrap();
    assert!(snap.roles.iter().any(|r| r.role == "red" && r.suppressed));
}

#[test]
fn weighted_random_sorter_picks_in_proportion_to_weight() {
    let mut config = AllocatorConfig {
        sorter: SorterKind::WeightedRandom,
        ..AllocatorConfig::default()
    };
    config.weights.insert("heavy".into(), 3.0);
    let mut a = allocator(config);
    add_framework(&mut a, "h", &["heavy"]);
    add_framework(&mut a, "l", &["light"]);
    add_agent(&mut a, "only", "cpus:1;mem:1GiB");
    let mut heavy = 0;
    let trials = 4000;
    for _ in 0..trials {
        let offers = a.allocate(Duration::ZERO);
        assert_eq!(offers.len(), 1);
        heavy += usize::from(offers[0].framework_id.as_str() == "h");
        decline_all(&mut a, &offers, Duration::ZERO);
    }
    let ratio = heavy as f64 / trials as f64;
    assert!(
        (0.72..0.78).contains(&ratio),
        "heavy picked {ratio} of the time, want 0.75"
    );
}

#[test]
fn drf_sorter_is_deterministic_lowest_share_first() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "a", &["r"]);
    add_framework(&mut a, "b", &["r"]);
    add_agent(&mut a, "big", "cpus:8;mem:8GiB");
    let first = a.allocate(Duration::ZERO);
    assert_eq!(first.len(), 1);
    let holder = first[0].framework_id.clone();
    add_agent(&mut a, "small", "cpus:1;mem:1GiB");
    let second = a.allocate(Duration::ZERO);
    assert_eq!(second.len(), 1);
    assert_ne!(
        second[0].framework_id, holder,
        "the lower share gets the next agent"
    );
}

#[test]
fn equal_weights_with_unbounded_demand_are_fair() {
    let mut a = allocator(AllocatorConfig::default());
    let ids: Vec<String> = (0..10).map(|i| format!("fw-{i}")).collect();
    for id in &ids {
        a.add_framework(fw(id), FrameworkSpec::with_roles([format!("role-{id}")]))
            .unwrap();
    }
    let task = res("cpus:1;mem:2GiB");
    let tasks: Vec<(&str, Resources)> = ids.iter().map(|id| (id.as_str(), task.clone())).collect();
    grow_cluster(&mut a, 203, "cpus:1;mem:2GiB", &tasks);
    let shares: Vec<f64> = ids.iter().map(|id| share_of(&a, id)).collect();
    assert!(
        jain(&shares) >= 0.99,
        "Jain {} over {shares:?}",
        jain(&shares)
    );
}
