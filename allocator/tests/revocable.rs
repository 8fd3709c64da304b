//! Revocable (oversubscribed) resources: kept apart from an agent's regular resources,
//! offered only to frameworks that take them, and counted in no share and no quota.
#![allow(clippy::unwrap_used)] // a test that panics on a broken expectation is the point

mod common;

use std::collections::BTreeMap;

use common::*;
use wasmesos_allocator::{AllocatorConfig, Quota, Resources};

fn revocable(cpus: f64) -> Resources {
    Resources::new().with_revocable("cpus", cpus).unwrap()
}

#[test]
fn the_syntax_marks_revocable_entries_as_mesos_prints_them() {
    let parsed = res("cpus:2;cpus{REV}:0.5;mem:1GiB");
    assert_eq!(parsed.get_revocable("cpus"), 0.5);
    assert_eq!(parsed.get_unreserved("cpus"), 2.5);
    assert_eq!(parsed.revocable().to_string(), "cpus{REV}:0.5");
    assert_eq!(parsed.to_string().parse::<Resources>().unwrap(), parsed);
    assert_eq!(parsed.non_revocable(), res("cpus:2;mem:1GiB"));
    // Regular and revocable amounts of one name are distinct entries.
    assert!(!parsed.non_revocable().contains(&revocable(0.5)));
    for bad in ["cpus(ads){REV}:1", "ports{REV}:[1-2]"] {
        let err = bad.parse::<Resources>().unwrap_err().to_string();
        assert!(
            err.contains("revocable resources are unreserved scalars"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn revocable_resources_go_only_to_frameworks_that_take_them() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "plain", &["r"]);
    add_agent(&mut a, "x", "cpus:2;mem:2GiB");
    a.set_revocable(&agent("x"), &revocable(1.5)).unwrap();
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 1);
    assert_eq!(
        offers[0].resources,
        res("cpus:2;mem:2GiB"),
        "no revocable for 'plain'"
    );
    a.check_invariants().unwrap();

    add_framework(&mut a, "best-effort", &["r"]);
    a.set_revocable_capable(&fw("best-effort"), true).unwrap();
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert_eq!(offers[0].framework_id.as_str(), "best-effort");
    assert_eq!(offers[0].resources, revocable(1.5));
    a.check_invariants().unwrap();
}

#[test]
fn a_capable_framework_gets_regular_and_revocable_resources_in_one_offer() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    a.set_revocable_capable(&fw("f"), true).unwrap();
    add_agent(&mut a, "x", "cpus:1;mem:1GiB");
    a.set_revocable(&agent("x"), &revocable(0.5)).unwrap();
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].resources, res("cpus:1;cpus{REV}:0.5;mem:1GiB"));
    // A task on revocable cpus and regular memory.
    let task = res("cpus{REV}:0.5;mem:256MiB");
    assert!(take_one_task(&mut a, &offers[0], &task, secs(0)));
    let snapshot = a.agent_snapshot(&agent("x")).unwrap();
    assert_eq!(snapshot.used, task);
    a.check_invariants().unwrap();
}

#[test]
fn an_agent_with_only_revocable_cpus_left_is_still_offered() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    a.set_revocable_capable(&fw("f"), true).unwrap();
    add_agent(&mut a, "x", "cpus:1;mem:1GiB");
    let offers = a.allocate(secs(0));
    assert!(take_one_task(
        &mut a,
        &offers[0],
        &res("cpus:1;mem:1GiB"),
        secs(0)
    ));
    a.revive(&fw("f"), None).unwrap();
    a.set_revocable(&agent("x"), &revocable(0.8)).unwrap();
    let offers = a.allocate(secs(1));
    assert_eq!(
        offers.len(),
        1,
        "0.8 revocable cpus pass the 0.01 cpus crumb rule"
    );
    assert_eq!(offers[0].resources, revocable(0.8));
}

#[test]
fn revocable_resources_count_in_no_share_and_no_quota() {
    let mut quotas = BTreeMap::new();
    quotas.insert(
        "limited".to_string(),
        Quota {
            guarantee: Resources::new(),
            limit: Some(res("cpus:1")),
        },
    );
    let mut a = allocator(AllocatorConfig {
        quotas,
        ..AllocatorConfig::default()
    });
    add_framework(&mut a, "f", &["limited"]);
    a.set_revocable_capable(&fw("f"), true).unwrap();
    add_agent(&mut a, "x", "cpus:1;mem:4GiB");
    a.set_revocable(&agent("x"), &revocable(3.0)).unwrap();
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 1);
    // The limit of 1 cpu cuts none of the revocable cpus.
    assert_eq!(offers[0].resources.get_revocable("cpus"), 3.0);
    assert_eq!(offers[0].resources.get("cpus"), 4.0);
    // The dominant share is memory's (4 GiB of 4 GiB) or cpus' (1 of 1): revocable cpus
    // are in neither the numerator nor the total.
    assert_eq!(share_of(&a, "f"), 1.0);
    decline_all(&mut a, &offers, secs(0));
    let offers = a.allocate(secs(0));
    assert!(take_one_task(&mut a, &offers[0], &revocable(3.0), secs(0)));
    assert_eq!(
        share_of(&a, "f"),
        0.0,
        "3 revocable cpus in use weigh nothing"
    );
    let role = a.role_snapshot("limited").unwrap();
    assert_eq!(
        role.consumption.get("cpus"),
        0.0,
        "quota counts no revocable cpu"
    );
    let amounts = wasmesos_allocator::preemption::amounts(&res("cpus{REV}:3;mem:1GiB"));
    assert_eq!(amounts.get("cpus"), None, "nor does preemption");
    a.check_invariants().unwrap();
}

#[test]
fn a_shrinking_estimate_keeps_what_tasks_use() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    a.set_revocable_capable(&fw("f"), true).unwrap();
    add_agent(&mut a, "x", "mem:1GiB");
    a.set_revocable(&agent("x"), &revocable(2.0)).unwrap();
    let offers = a.allocate(secs(0));
    assert!(take_one_task(
        &mut a,
        &offers[0],
        &res("cpus{REV}:1.5;mem:128MiB"),
        secs(0)
    ));
    a.set_revocable(&agent("x"), &revocable(0.5)).unwrap();
    let snapshot = a.agent_snapshot(&agent("x")).unwrap();
    assert_eq!(
        snapshot.total.get_revocable("cpus"),
        1.5,
        "never below what is used"
    );
    assert_eq!(snapshot.free.get_revocable("cpus"), 0.0);
    a.check_invariants().unwrap();
    a.set_revocable(&agent("x"), &Resources::new()).unwrap();
    a.recover_used(&fw("f"), &agent("x"), "r", &res("cpus{REV}:1.5;mem:128MiB"))
        .unwrap();
    a.set_revocable(&agent("x"), &Resources::new()).unwrap();
    let snapshot = a.agent_snapshot(&agent("x")).unwrap();
    assert_eq!(snapshot.total, res("mem:1GiB"), "gone once the task ended");
    a.check_invariants().unwrap();
    let err = a.set_revocable(&agent("x"), &res("cpus:1")).unwrap_err();
    assert!(err.to_string().contains("must all be revocable"), "{err}");
}
