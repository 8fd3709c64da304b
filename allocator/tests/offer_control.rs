//! Filters, SUPPRESS/REVIVE, crumbs, activation and the dirty-set protocol.
#![allow(clippy::unwrap_used)] // a test that panics on a broken expectation is the point

mod common;

use std::time::Duration;

use common::*;
use wasmesos_allocator::{AllocatorConfig, FrameworkSpec, Resources};

#[test]
fn a_refusal_filter_holds_until_expiry() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    add_agent(&mut a, "x", "cpus:2;mem:2GiB");
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 1);
    let offer = &offers[0];
    a.recover_offered(
        &offer.framework_id,
        &offer.agent_id,
        &offer.role,
        &offer.resources,
        Some(secs(5)),
        secs(0),
    )
    .unwrap();
    assert_eq!(a.next_filter_expiry(), Some(secs(5)));
    assert!(a.allocate(secs(1)).is_empty(), "filtered for 5 s");
    assert!(a.allocate(Duration::from_millis(4999)).is_empty());
    let again = a.allocate(secs(5));
    assert_eq!(again.len(), 1, "offered again once the filter expired");
    assert_eq!(a.next_filter_expiry(), None);
}

#[test]
fn a_filtered_framework_lets_others_have_the_agent() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    add_agent(&mut a, "x", "cpus:2;mem:2GiB");
    let offers = a.allocate(secs(0));
    let first = offers[0].framework_id.clone();
    add_framework(&mut a, "g", &["r"]);
    a.recover_offered(
        &first,
        &agent("x"),
        "r",
        &offers[0].resources,
        Some(secs(60)),
        secs(0),
    )
    .unwrap();
    let offers = a.allocate(secs(1));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].framework_id.as_str(), "g");
}

#[test]
fn revive_clears_filters() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    add_agent(&mut a, "x", "cpus:2;mem:2GiB");
    let offers = a.allocate(secs(0));
    a.recover_offered(
        &fw("f"),
        &agent("x"),
        "r",
        &offers[0].resources,
        LONG,
        secs(0),
    )
    .unwrap();
    assert!(a.allocate(secs(1)).is_empty());
    a.revive(&fw("f"), None).unwrap();
    assert!(a.has_work());
    assert_eq!(a.allocate(secs(2)).len(), 1, "REVIVE clears the filter");
    assert_eq!(
        a.next_filter_expiry(),
        None,
        "no stale wake-up after the round"
    );
}

#[test]
fn a_filter_covers_only_the_declined_resources_or_less() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    add_agent(&mut a, "x", "cpus:4;mem:4GiB");
    let offers = a.allocate(secs(0));
    let task = res("cpus:3;mem:3GiB");
    a.launch(&fw("f"), &agent("x"), "r", &task).unwrap();
    let rest = offers[0].resources.checked_sub(&task).unwrap();
    a.recover_offered(&fw("f"), &agent("x"), "r", &rest, LONG, secs(0))
        .unwrap();
    assert!(
        a.allocate(secs(1)).is_empty(),
        "the declined crumb is filtered"
    );
    // The task ends: more is free now than was declined, so the filter no longer covers it.
    a.recover_used(&fw("f"), &agent("x"), "r", &task).unwrap();
    let offers = a.allocate(secs(2));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].resources, res("cpus:4;mem:4GiB"));
}

#[test]
fn suppressed_frameworks_get_no_offers_until_revived() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    a.suppress(&fw("f"), None).unwrap();
    add_agent(&mut a, "x", "cpus:2;mem:2GiB");
    assert!(a.allocate(secs(0)).is_empty());
    assert!(!a.has_work(), "an unwanted agent is not looked at again");
    assert!(a.allocate(secs(1)).is_empty());
    a.revive(&fw("f"), Some(&["r".to_string()])).unwrap();
    assert_eq!(a.allocate(secs(2)).len(), 1);
}

#[test]
fn suppress_and_revive_name_only_subscribed_roles() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    add_framework(&mut a, "g", &["other"]);
    let err = a
        .suppress(&fw("f"), Some(&["other".to_string()]))
        .unwrap_err();
    assert!(err.to_string().contains("not subscribed"), "{err}");
    assert!(a.revive(&fw("f"), Some(&["nope".to_string()])).is_err());
    assert!(a.suppress(&fw("missing"), None).is_err());
}

#[test]
fn deactivated_frameworks_keep_holdings_but_get_no_offers() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    add_agent(&mut a, "x", "cpus:2;mem:2GiB");
    let offers = a.allocate(secs(0));
    a.launch(&fw("f"), &agent("x"), "r", &offers[0].resources)
        .unwrap();
    a.deactivate_framework(&fw("f")).unwrap();
    add_agent(&mut a, "y", "cpus:2;mem:2GiB");
    assert!(a.allocate(secs(1)).is_empty());
    let snap = a.framework_snapshot(&fw("f")).unwrap();
    assert!(!snap.active);
    assert_eq!(snap.roles[0].used, res("cpus:2;mem:2GiB"));
    a.activate_framework(&fw("f")).unwrap();
    let offers = a.allocate(secs(2));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].agent_id.as_str(), "y");
}

#[test]
fn crumbs_below_min_allocatable_are_not_offered() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    add_agent(&mut a, "crumbs", "cpus:0.005;mem:16MiB");
    assert!(a.allocate(secs(0)).is_empty(), "below 0.01 cpus and 32 MiB");
    add_agent(&mut a, "enough-mem", "cpus:0.005;mem:32MiB");
    let offers = a.allocate(secs(1));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].agent_id.as_str(), "enough-mem");
}

#[test]
fn a_framework_can_ask_for_bigger_offers() {
    let mut a = allocator(AllocatorConfig::default());
    let spec = FrameworkSpec {
        roles: vec!["r".into()],
        min_allocatable: Some(vec![res("cpus:2;mem:1GiB")]),
    };
    a.add_framework(fw("picky"), spec).unwrap();
    add_framework(&mut a, "easy", &["r"]);
    add_agent(&mut a, "small", "cpus:1;mem:4GiB");
    add_agent(&mut a, "big", "cpus:4;mem:4GiB");
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 2);
    for offer in &offers {
        if offer.framework_id.as_str() == "picky" {
            assert_eq!(offer.agent_id.as_str(), "big");
        }
    }
    assert!(offers.iter().any(|o| o.framework_id.as_str() == "picky"));
}

#[test]
fn empty_min_allocatable_offers_anything() {
    let config = AllocatorConfig {
        min_allocatable: Vec::new(),
        ..AllocatorConfig::default()
    };
    let mut a = allocator(config);
    add_framework(&mut a, "f", &["r"]);
    add_agent(&mut a, "x", "cpus:0.001");
    assert_eq!(a.allocate(secs(0)).len(), 1);
}

#[test]
fn a_quiet_round_does_nothing_and_has_no_work() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    for i in 0..50 {
        add_agent(&mut a, &format!("a{i}"), "cpus:1;mem:1GiB");
    }
    assert!(a.has_work());
    assert_eq!(a.allocate(secs(0)).len(), 50);
    assert!(!a.has_work());
    assert!(a.allocate(secs(1)).is_empty());
    // One task ends: only that agent is dirty.
    let task = Resources::scalar("cpus", 1.0)
        .unwrap()
        .with("mem", 1073741824.0)
        .unwrap();
    a.launch(&fw("f"), &agent("a7"), "r", &task).unwrap();
    a.recover_used(&fw("f"), &agent("a7"), "r", &task).unwrap();
    assert!(a.has_work());
    let offers = a.allocate(secs(2));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].agent_id.as_str(), "a7");
}
