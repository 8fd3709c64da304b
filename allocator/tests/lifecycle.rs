//! Agents and frameworks coming and going, and the errors callers get.
#![allow(clippy::unwrap_used)] // a test that panics on a broken expectation is the point

mod common;

use common::*;
use wasmesos_allocator::{Allocator, AllocatorConfig, Error, FrameworkSpec, Quota};

#[test]
fn removing_an_agent_drops_its_offers_and_shares() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    add_agent(&mut a, "x", "cpus:2;mem:2GiB");
    add_agent(&mut a, "y", "cpus:2;mem:2GiB");
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 2);
    a.launch(&fw("f"), &agent("x"), "r", &res("cpus:1;mem:1GiB"))
        .unwrap();
    a.remove_agent(&agent("x")).unwrap();
    assert_eq!(
        share_of(&a, "f"),
        1.0,
        "y is the whole cluster now, and all of it is offered"
    );
    assert!(a.agent_snapshot(&agent("x")).is_none());
    assert!(matches!(
        a.recover_used(&fw("f"), &agent("x"), "r", &res("cpus:1")),
        Err(Error::UnknownAgent(_))
    ));
    a.check_invariants().unwrap();
    // The same id may come back, without old filters.
    add_agent(&mut a, "x", "cpus:2;mem:2GiB");
    assert_eq!(a.allocate(secs(1)).len(), 1);
    a.check_invariants().unwrap();
}

#[test]
fn removing_a_framework_frees_what_it_held() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    add_agent(&mut a, "x", "cpus:2;mem:2GiB");
    a.allocate(secs(0));
    a.launch(&fw("f"), &agent("x"), "r", &res("cpus:1;mem:1GiB"))
        .unwrap();
    a.remove_framework(&fw("f")).unwrap();
    let snap = a.agent_snapshot(&agent("x")).unwrap();
    assert_eq!(snap.free, snap.total);
    add_framework(&mut a, "g", &["r"]);
    let offers = a.allocate(secs(1));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].resources, res("cpus:2;mem:2GiB"));
    a.check_invariants().unwrap();
}

#[test]
fn launch_and_recover_refuse_what_is_not_held() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r", "s"]);
    add_framework(&mut a, "g", &["r"]);
    add_agent(&mut a, "x", "cpus:2;mem:2GiB");
    let offers = a.allocate(secs(0));
    let role = offers[0].role.clone();
    let holder = offers[0].framework_id.clone();
    let other = if holder.as_str() == "f" {
        fw("g")
    } else {
        fw("f")
    };
    let too_much = res("cpus:3");
    for result in [
        a.launch(&holder, &agent("x"), &role, &too_much),
        a.launch(&other, &agent("x"), "r", &res("cpus:1")),
        a.recover_used(&holder, &agent("x"), &role, &res("cpus:1")),
        a.recover_offered(&holder, &agent("x"), &role, &res("gpus:1"), None, secs(0)),
    ] {
        assert!(
            matches!(result, Err(Error::NotAvailable { .. })),
            "{result:?}"
        );
    }
    assert!(matches!(
        a.launch(&holder, &agent("x"), "nope", &res("cpus:1")),
        Err(Error::NotSubscribed { .. })
    ));
    assert!(matches!(
        a.launch(&fw("zzz"), &agent("x"), "r", &res("cpus:1")),
        Err(Error::UnknownFramework(_))
    ));
    a.check_invariants().unwrap();
}

#[test]
fn duplicate_and_invalid_registrations_are_refused() {
    let mut a = allocator(AllocatorConfig::default());
    add_agent(&mut a, "x", "cpus:1");
    assert!(matches!(
        a.add_agent(agent("x"), &res("cpus:1")),
        Err(Error::DuplicateAgent(_))
    ));
    add_framework(&mut a, "f", &["r"]);
    assert!(matches!(
        a.add_framework(fw("f"), FrameworkSpec::with_roles(["r"])),
        Err(Error::DuplicateFramework(_))
    ));
    assert!(matches!(
        a.add_framework(fw("none"), FrameworkSpec::default()),
        Err(Error::NoRoles(_))
    ));
    for bad in ["", "a//b", "../x", "a b", "-x"] {
        assert!(
            matches!(
                a.add_framework(fw("bad"), FrameworkSpec::with_roles([bad])),
                Err(Error::InvalidRole { .. })
            ),
            "{bad:?}"
        );
    }
    for weight in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            a.set_weight("r", weight),
            Err(Error::InvalidWeight { .. })
        ));
    }
    assert!(a.remove_agent(&agent("nope")).is_err());
    assert!(a.remove_framework(&fw("nope")).is_err());
}

#[test]
fn invalid_config_is_refused() {
    let mut config = AllocatorConfig::default();
    config.weights.insert("r".into(), -2.0);
    assert!(Allocator::new(config).is_err());
    let mut config = AllocatorConfig::default();
    config.quotas.insert(
        "r".into(),
        Quota {
            guarantee: res("mem:2GiB"),
            limit: Some(res("mem:1GiB")),
        },
    );
    assert!(Allocator::new(config).is_err());
}

#[test]
fn too_many_resource_names_are_refused() {
    let mut a = allocator(AllocatorConfig::default());
    let many: String = (0..300).map(|i| format!("custom{i}:1;")).collect();
    let err = a.add_agent(agent("x"), &res(&many)).unwrap_err();
    assert!(
        err.to_string().contains("too many distinct resource names"),
        "{err}"
    );
}

#[test]
fn snapshot_is_consistent_and_serialisable() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["eng/web"]);
    add_agent(&mut a, "x", "cpus:4;mem:4GiB;cpus(eng):1");
    a.allocate(secs(0));
    a.launch(&fw("f"), &agent("x"), "eng/web", &res("cpus:1;mem:1GiB"))
        .unwrap();
    let snap = a.snapshot();
    let x = &snap.agents[0];
    let mut sum = x.free.clone();
    sum.add(&x.offered);
    sum.add(&x.used);
    assert_eq!(sum, x.total);
    assert_eq!(snap.totals, res("cpus:5;mem:4GiB"));
    let eng = snap.roles.iter().find(|r| r.role == "eng").unwrap();
    assert_eq!(eng.allocated, res("cpus:5;mem:4GiB"));
    assert_eq!(eng.share, 1.0);
    let json = serde_json::to_string(&snap).unwrap();
    assert!(json.contains("\"cpus:1;mem:1GiB\""), "{json}");
}

#[test]
fn tasks_found_on_a_returning_agent_count_as_used_until_they_end() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    add_agent(&mut a, "x", "cpus:2;mem:2GiB");
    a.add_used(&fw("f"), &agent("x"), "r", &res("cpus:1;mem:1GiB"))
        .unwrap();
    a.check_invariants().unwrap();
    let snap = a.agent_snapshot(&agent("x")).unwrap();
    assert_eq!(snap.used, res("cpus:1;mem:1GiB"));
    assert_eq!(snap.free, res("cpus:1;mem:1GiB"));
    assert!(
        a.add_used(&fw("f"), &agent("x"), "r", &res("cpus:2"))
            .is_err(),
        "more than is free is refused"
    );
    let offers = a.allocate(secs(0));
    assert_eq!(offers[0].resources, res("cpus:1;mem:1GiB"));
    a.recover_used(&fw("f"), &agent("x"), "r", &res("cpus:1;mem:1GiB"))
        .unwrap();
    a.check_invariants().unwrap();
}

#[test]
fn update_framework_moves_offers_to_the_new_roles_and_keeps_what_old_ones_hold() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["old"]);
    add_agent(&mut a, "x", "cpus:2;mem:2GiB");
    let offers = a.allocate(secs(0));
    assert_eq!(&*offers[0].role, "old");
    // A task keeps running under the dropped role; the rest of the offer goes back.
    a.launch(&fw("f"), &agent("x"), "old", &res("cpus:1;mem:1GiB"))
        .unwrap();
    a.recover_offered(
        &fw("f"),
        &agent("x"),
        "old",
        &res("cpus:1;mem:1GiB"),
        None,
        secs(0),
    )
    .unwrap();
    a.update_framework(&fw("f"), &["new".to_string()], &[])
        .unwrap();
    a.check_invariants().unwrap();
    let offers = a.allocate(secs(1));
    assert_eq!(offers.len(), 1);
    assert_eq!(&*offers[0].role, "new");
    // The dropped role cannot be revived or suppressed, and what it holds is released as usual.
    assert!(matches!(
        a.revive(&fw("f"), Some(&["old".to_string()])),
        Err(Error::NotSubscribed { .. })
    ));
    a.recover_used(&fw("f"), &agent("x"), "old", &res("cpus:1;mem:1GiB"))
        .unwrap();
    a.check_invariants().unwrap();
    // Suppressed in exactly the roles named; a role outside the new set is refused.
    let offered = a.allocate(secs(2));
    decline_all(&mut a, &offered, secs(2));
    a.update_framework(&fw("f"), &["new".to_string()], &["new".to_string()])
        .unwrap();
    assert!(a.allocate(secs(100)).is_empty(), "suppressed in new");
    assert!(matches!(
        a.update_framework(&fw("f"), &["new".to_string()], &["other".to_string()]),
        Err(Error::NotSubscribed { .. })
    ));
    a.update_framework(&fw("f"), &["new".to_string(), "old".to_string()], &[])
        .unwrap();
    a.check_invariants().unwrap();
    assert!(!a.allocate(secs(200)).is_empty(), "unsuppressed again");
}

#[test]
fn a_deactivated_agent_is_offered_to_no_one_until_it_is_activated_again() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["r"]);
    add_agent(&mut a, "x", "cpus:2;mem:2GiB");
    add_agent(&mut a, "y", "cpus:2;mem:2GiB");
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 2);
    a.deactivate_agent(&agent("x")).unwrap();
    // Its offer comes back (the master rescinds it) and is not offered again.
    let on_x = offers.iter().find(|o| o.agent_id == agent("x")).unwrap();
    a.recover_offered(&fw("f"), &agent("x"), "r", &on_x.resources, None, secs(1))
        .unwrap();
    assert!(a.allocate(secs(1)).is_empty(), "x is deactivated");
    a.check_invariants().unwrap();
    a.activate_agent(&agent("x")).unwrap();
    let again = a.allocate(secs(2));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].agent_id, agent("x"));
    assert!(matches!(
        a.deactivate_agent(&agent("nobody")),
        Err(Error::UnknownAgent(_))
    ));
    a.check_invariants().unwrap();
}
