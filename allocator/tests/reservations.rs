//! Static and dynamic reservations are offered only to their role and its descendants.
#![allow(clippy::unwrap_used)] // a test that panics on a broken expectation is the point

mod common;

use common::*;
use wasmesos_allocator::{AllocatorConfig, Error};

#[test]
fn static_reservations_go_only_to_their_role_and_descendants() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "outsider", &["web"]);
    add_agent(&mut a, "x", "cpus(ads):2;mem(ads):2GiB");
    assert!(a.allocate(secs(0)).is_empty(), "nobody in ads yet");
    add_framework(&mut a, "child", &["ads/search"]);
    let offers = a.allocate(secs(1));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].framework_id.as_str(), "child");
    assert_eq!(offers[0].resources, res("cpus(ads):2;mem(ads):2GiB"));
    a.check_invariants().unwrap();
}

#[test]
fn mixed_agents_split_reserved_and_unreserved() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "web", &["web"]);
    add_framework(&mut a, "ads", &["ads"]);
    add_agent(&mut a, "x", "cpus:2;mem:2GiB;cpus(ads):2");
    let offers = a.allocate(secs(0));
    for offer in &offers {
        if offer.framework_id.as_str() == "web" {
            assert!(offer.resources.reserved().is_empty(), "{offer:?}");
        }
    }
    let reserved: f64 = offers
        .iter()
        .map(|o| o.resources.reserved().get("cpus"))
        .sum();
    assert_eq!(reserved, 2.0, "the reservation is offered (to ads)");
    assert!(
        offered_to(&offers, "ads")
            .iter()
            .all(|o| o.resources.get_reserved("cpus", "ads") == 2.0)
    );
}

#[test]
fn operator_reserve_and_unreserve() {
    let mut a = allocator(AllocatorConfig::default());
    add_agent(&mut a, "x", "cpus:4;mem:4GiB");
    a.reserve(&agent("x"), &res("cpus(ml):3;mem(ml):1GiB"))
        .unwrap();
    let snap = a.agent_snapshot(&agent("x")).unwrap();
    assert_eq!(snap.total, res("cpus:1;cpus(ml):3;mem:3GiB;mem(ml):1GiB"));
    add_framework(&mut a, "other", &["web"]);
    let offers = a.allocate(secs(0));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].resources, res("cpus:1;mem:3GiB"));
    // Too much, unreserved entries, and unknown reservations are refused.
    assert!(matches!(
        a.reserve(&agent("x"), &res("cpus(ml):1")),
        Err(Error::NotAvailable { .. })
    ));
    assert!(matches!(
        a.reserve(&agent("x"), &res("cpus:1")),
        Err(Error::InvalidReservation(_))
    ));
    assert!(a.unreserve(&agent("x"), &res("cpus(nobody):1")).is_err());
    a.unreserve(&agent("x"), &res("cpus(ml):3;mem(ml):1GiB"))
        .unwrap();
    let offers = a.allocate(secs(1));
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].resources, res("cpus:3;mem:1GiB"));
    a.check_invariants().unwrap();
}

#[test]
fn reserve_and_unreserve_offer_operations() {
    let mut a = allocator(AllocatorConfig::default());
    add_framework(&mut a, "f", &["db"]);
    add_agent(&mut a, "x", "cpus:4;mem:4GiB");
    let offers = a.allocate(secs(0));
    let err = a
        .reserve_offered(&fw("f"), &agent("x"), "db", &res("cpus(other):1"))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidReservation(_)), "{err}");
    a.reserve_offered(&fw("f"), &agent("x"), "db", &res("cpus(db):2"))
        .unwrap();
    let snap = a.agent_snapshot(&agent("x")).unwrap();
    assert_eq!(snap.offered, res("cpus:2;cpus(db):2;mem:4GiB"));
    assert_eq!(snap.total, res("cpus:2;cpus(db):2;mem:4GiB"));
    // Declined, the reserved part is offered to db again and never to others.
    let offered = snap.offered.clone();
    a.recover_offered(&fw("f"), &agent("x"), "db", &offered, None, secs(0))
        .unwrap();
    add_framework(&mut a, "g", &["web"]);
    a.suppress(&fw("f"), None).unwrap();
    let offers2 = a.allocate(secs(1));
    assert_eq!(offers2.len(), 1);
    assert_eq!(offers2[0].resources, res("cpus:2;mem:4GiB"));
    assert_eq!(offers[0].framework_id.as_str(), "f");
    a.revive(&fw("f"), None).unwrap();
    let offers3 = a.allocate(secs(2));
    assert_eq!(offers3.len(), 1);
    assert_eq!(offers3[0].resources, res("cpus(db):2"));
    a.unreserve_offered(&fw("f"), &agent("x"), "db", &res("cpus(db):2"))
        .unwrap();
    assert_eq!(
        a.agent_snapshot(&agent("x")).unwrap().total,
        res("cpus:4;mem:4GiB")
    );
    a.check_invariants().unwrap();
}
