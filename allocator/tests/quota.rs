//! Quota: guarantees served before fair sharing, limits never passed.
#![allow(clippy::unwrap_used)] // a test that panics on a broken expectation is the point

mod common;

use common::*;
use wasmesos_allocator::{Allocator, AllocatorConfig, Quota};

fn role_consumption(a: &Allocator, role: &str, name: &str) -> f64 {
    let snap = a.snapshot();
    snap.roles
        .iter()
        .find(|r| r.role == role)
        .map_or(0.0, |r| r.consumption.get(name))
}

fn quota(guarantee: &str, limit: Option<&str>) -> Quota {
    Quota {
        guarantee: res(guarantee),
        limit: limit.map(res),
    }
}

#[test]
fn a_guarantee_is_served_before_fair_sharing() {
    let mut config = AllocatorConfig::default();
    config.quotas.insert("prod".into(), quota("cpus:8", None));
    let mut a = allocator(config);
    // Many dev frameworks all at share 0 would win every tie without the guarantee stage.
    for i in 0..10 {
        add_framework(&mut a, &format!("dev-{i}"), &["dev"]);
    }
    add_framework(&mut a, "prod-fw", &["prod"]);
    for i in 0..4 {
        add_agent(&mut a, &format!("a{i}"), "cpus:4;mem:4GiB");
    }
    let offers = a.allocate(secs(0));
    let prod: f64 = offered_to(&offers, "prod-fw")
        .iter()
        .map(|o| o.resources.get("cpus"))
        .sum();
    assert!(prod >= 8.0, "prod got {prod} cpus, guaranteed 8");
    a.check_invariants().unwrap();
}

#[test]
fn a_guarantee_is_held_back_even_before_its_framework_arrives() {
    let mut config = AllocatorConfig::default();
    config.quotas.insert("prod".into(), quota("cpus:6", None));
    let mut a = allocator(config);
    add_framework(&mut a, "dev", &["dev"]);
    for i in 0..4 {
        add_agent(&mut a, &format!("a{i}"), "cpus:4;mem:4GiB");
    }
    let offers = a.allocate(secs(0));
    let dev: f64 = offers.iter().map(|o| o.resources.get("cpus")).sum();
    assert_eq!(dev, 10.0, "16 cpus minus 6 held for prod's guarantee");
    add_framework(&mut a, "prod-fw", &["prod"]);
    let offers = a.allocate(secs(1));
    let prod: f64 = offered_to(&offers, "prod-fw")
        .iter()
        .map(|o| o.resources.get("cpus"))
        .sum();
    assert_eq!(prod, 6.0, "prod gets what was held back");
}

#[test]
fn a_limit_is_never_exceeded_and_offers_are_cut_to_fit() {
    let mut config = AllocatorConfig::default();
    config
        .quotas
        .insert("dev".into(), quota("", Some("cpus:6")));
    let mut a = allocator(config);
    add_framework(&mut a, "d1", &["dev/a"]);
    add_framework(&mut a, "d2", &["dev/b"]);
    for i in 0..4 {
        add_agent(&mut a, &format!("a{i}"), "cpus:4;mem:4GiB");
    }
    let offers = a.allocate(secs(0));
    let cpus: f64 = offers.iter().map(|o| o.resources.get("cpus")).sum();
    assert_eq!(cpus, 6.0, "the dev subtree is capped at 6 cpus: {offers:?}");
    assert!(role_consumption(&a, "dev", "cpus") <= 6.0);
    // Freeing some lets the subtree take exactly that much again.
    let first = &offers[0];
    let give_back = res("cpus:1");
    a.recover_offered(
        &first.framework_id,
        &first.agent_id,
        &first.role,
        &give_back,
        LONG,
        secs(0),
    )
    .unwrap();
    let more = a.allocate(secs(1));
    let cpus: f64 = more.iter().map(|o| o.resources.get("cpus")).sum();
    assert_eq!(cpus, 1.0, "{more:?}");
    assert_eq!(role_consumption(&a, "dev", "cpus"), 6.0);
}

#[test]
fn set_quota_at_run_time_and_limits_below_guarantees_are_refused() {
    let mut a = allocator(AllocatorConfig::default());
    let err = a
        .set_quota("r", quota("cpus:4", Some("cpus:2")))
        .unwrap_err();
    assert!(
        err.to_string().contains("limit is below its guarantee"),
        "{err}"
    );
    add_framework(&mut a, "f", &["r"]);
    for i in 0..2 {
        add_agent(&mut a, &format!("a{i}"), "cpus:4;mem:4GiB");
    }
    a.set_quota("r", quota("", Some("cpus:3"))).unwrap();
    let offers = a.allocate(secs(0));
    assert_eq!(
        offers.iter().map(|o| o.resources.get("cpus")).sum::<f64>(),
        3.0
    );
    // Removing the quota lets the rest be offered.
    a.set_quota("r", Quota::default()).unwrap();
    let offers = a.allocate(secs(1));
    assert_eq!(
        offers.iter().map(|o| o.resources.get("cpus")).sum::<f64>(),
        5.0
    );
    let snap = a.snapshot();
    assert!(snap.roles.iter().all(|r| r.quota.is_none()));
}

#[test]
fn reservations_count_toward_a_limit() {
    let mut config = AllocatorConfig::default();
    config
        .quotas
        .insert("ads".into(), quota("", Some("cpus:4")));
    let mut a = allocator(config);
    add_agent(&mut a, "x", "cpus:8;cpus(ads):3;mem:8GiB");
    add_framework(&mut a, "f", &["ads"]);
    let offers = a.allocate(secs(0));
    let cpus: f64 = offers.iter().map(|o| o.resources.get("cpus")).sum();
    assert_eq!(
        cpus, 4.0,
        "3 reserved + 1 unreserved fit the limit of 4: {offers:?}"
    );
    let err = a.reserve(&agent("x"), &res("cpus(ads):1")).unwrap_err();
    assert!(err.to_string().contains("quota limit"), "{err}");
}

#[test]
fn nested_guarantee_served_through_the_subtree() {
    let mut config = AllocatorConfig::default();
    config.quotas.insert("eng".into(), quota("cpus:4", None));
    let mut a = allocator(config);
    for i in 0..5 {
        add_framework(&mut a, &format!("other-{i}"), &["other"]);
    }
    add_framework(&mut a, "backend", &["eng/backend"]);
    for i in 0..4 {
        add_agent(&mut a, &format!("a{i}"), "cpus:2;mem:2GiB");
    }
    let offers = a.allocate(secs(0));
    let eng: f64 = offered_to(&offers, "backend")
        .iter()
        .map(|o| o.resources.get("cpus"))
        .sum();
    assert!(eng >= 4.0, "eng/backend draws on eng's guarantee: {eng}");
}

#[test]
fn a_nested_guarantee_is_served_inside_its_parents() {
    let mut config = AllocatorConfig::default();
    config.quotas.insert("eng".into(), quota("cpus:4", None));
    config.quotas.insert("eng/a".into(), quota("cpus:2", None));
    config.weights.insert("eng/b".into(), 10.0);
    let mut a = allocator(config);
    // Inside eng, heavy eng/b wins DRF, and outside, ops takes what eng's guarantee does
    // not cover: without serving eng/a's own guarantee, eng/a would get nothing.
    add_framework(&mut a, "b-fw", &["eng/b"]);
    add_framework(&mut a, "a-fw", &["eng/a"]);
    for i in 0..4 {
        add_framework(&mut a, &format!("ops-{i}"), &["ops"]);
    }
    for i in 0..8 {
        add_agent(&mut a, &format!("x{i}"), "cpus:1;mem:1GiB");
    }
    let offers = a.allocate(secs(0));
    let eng_a: f64 = offered_to(&offers, "a-fw")
        .iter()
        .map(|o| o.resources.get("cpus"))
        .sum();
    assert!(
        eng_a >= 2.0,
        "eng/a got {eng_a} cpus, guaranteed 2: {offers:?}"
    );
    assert!(role_consumption(&a, "eng", "cpus") >= 4.0);
}
