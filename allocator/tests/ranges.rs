//! Ranges (ports) are offered exactly: every free value once, never two offers at a time.
#![allow(clippy::unwrap_used)] // a test that panics on a broken expectation is the point

mod common;

use common::*;
use wasmesos_allocator::{AllocatorConfig, Quota};

#[test]
fn the_offer_holds_exactly_the_free_ports_and_launched_ones_stay_out() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "web", &["web"]);
    add_agent(
        &mut a,
        "x",
        "cpus:4;mem:4GiB;ports:[31000-31005,32000-32010]",
    );
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 1);
    assert_eq!(
        offers[0].resources,
        res("cpus:4;mem:4GiB;ports:[31000-31005,32000-32010]")
    );
    let task = res("cpus:1;mem:1GiB;ports:[31001-31001,32010-32010]");
    a.launch(&fw("web"), &agent("x"), "web", &task).unwrap();
    assert!(
        a.launch(&fw("web"), &agent("x"), "web", &res("ports:[31001-31001]"))
            .is_err(),
        "a port already launched on is not offered any more"
    );
    let rest = offers[0].resources.checked_sub(&task).unwrap();
    a.recover_offered(&fw("web"), &agent("x"), "web", &rest, None, secs(0))
        .unwrap();
    let again = a.allocate(secs(1));
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].resources.ranges("ports").to_string(),
        "[31000-31000, 31002-31005, 32000-32009]"
    );
    a.recover_used(&fw("web"), &agent("x"), "web", &task)
        .unwrap();
    let snap = a.agent_snapshot(&agent("x")).unwrap();
    assert_eq!(
        snap.free.ranges("ports").to_string(),
        "[31001-31001, 32010-32010]"
    );
    a.check_invariants().unwrap();
}

#[test]
fn ports_alone_are_not_offered_and_do_not_count_in_shares() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "web", &["web"]);
    add_agent(&mut a, "x", "cpus:1;ports:[31000-32000]");
    let offers = a.allocate(secs(0));
    a.launch(&fw("web"), &agent("x"), "web", &res("cpus:1"))
        .unwrap();
    let rest = offers[0].resources.checked_sub(&res("cpus:1")).unwrap();
    assert_eq!(rest, res("ports:[31000-32000]"));
    a.recover_offered(&fw("web"), &agent("x"), "web", &rest, None, secs(0))
        .unwrap();
    assert!(a.allocate(secs(1)).is_empty(), "ports alone are a crumb");
    let share = a.snapshot().frameworks[0].dominant_share;
    assert_eq!(share, 1.0, "the cpus, not the ports, make the share");
    a.check_invariants().unwrap();
}

#[test]
fn reserved_ports_go_to_their_role_only_and_quota_refuses_ranges() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "other", &["other"]);
    add_agent(&mut a, "x", "cpus:2;ports:[31000-31009];ports(web):[80-80]");
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 1);
    assert_eq!(
        offers[0].resources.ranges("ports").to_string(),
        "[31000-31009]"
    );
    add_framework(&mut a, "web", &["web"]);
    let offers = a.allocate(secs(1));
    assert!(offers.is_empty(), "80 alone is a crumb: {offers:?}");
    a.reserve(&agent("x"), &res("ports(web):[]")).unwrap_err();
    let quota = Quota {
        guarantee: res("ports:[1-2]"),
        limit: None,
    };
    let err = a.set_quota("web", quota).unwrap_err();
    assert!(err.to_string().contains("scalar"), "{err}");
}
