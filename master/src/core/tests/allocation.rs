//! Offers as the allocator hands them out: DRF, weights, filters, suppress, timeouts.

use std::collections::HashMap;
use std::time::Duration;

use wasmesos_proto::v1::{ReviveRequest, SuppressRequest};

use super::*;
use crate::MasterConfig;

/// Frameworks that launch one task of their shape per offer and decline what they cannot
/// use for an hour; runs until no offers come. Returns tasks launched per framework.
fn run_greedy(h: &mut Harness, shapes: &HashMap<String, &str>) -> HashMap<String, usize> {
    let mut launched: HashMap<String, usize> = HashMap::new();
    for round in 0..10_000 {
        h.settle();
        let out = h.take();
        let mut any = false;
        for (fw, shape) in shapes {
            for offer in offers(&out, fw) {
                any = true;
                let want: Resources = shape.parse().expect("shape");
                let have = super::super::convert::resources_from_proto(
                    offer.resources.as_ref(),
                    super::super::convert::Amounts::NonNegative,
                )
                .expect("offer resources");
                if have.contains(&want) {
                    let n = launched.entry(fw.clone()).or_default();
                    *n += 1;
                    let id = format!("{fw}-{n}");
                    h.accept(
                        fw,
                        &[&offer.id],
                        vec![task(&id, &offer.agent_id, shape)],
                        Some(0.0),
                    );
                } else {
                    h.decline(fw, &offer.id, 3600.0);
                }
            }
        }
        if !any {
            return launched;
        }
        assert!(round < 9_999, "offers never stopped");
    }
    launched
}

fn dominant_share(h: &Harness, fw: &str) -> f64 {
    h.cluster_state()
        .frameworks
        .iter()
        .find(|f| f.framework.as_ref().is_some_and(|i| i.id == fw))
        .map(|f| f.dominant_share)
        .expect("framework in state")
}

#[test]
fn drf_gives_frameworks_with_different_dominant_resources_equal_shares() {
    // The DRF paper's example: <9 cpus, 18 GiB>; A's tasks <1 cpu, 4 GiB> are memory heavy,
    // B's <3 cpus, 1 GiB> cpu heavy. DRF ends with 3 A tasks and 2 B tasks, both at 2/3.
    let mut h = Harness::new();
    h.register("cpus:9;mem:18GiB");
    let a = h.subscribe("a", &[]);
    let b = h.subscribe("b", &[]);
    let shapes = HashMap::from([
        (a.clone(), "cpus:1;mem:4GiB"),
        (b.clone(), "cpus:3;mem:1GiB"),
    ]);
    let launched = run_greedy(&mut h, &shapes);
    let (share_a, share_b) = (dominant_share(&h, &a), dominant_share(&h, &b));
    // Within one task: A's task is 4/18 of memory, B's 3/9 of cpus.
    assert!(
        (share_a - share_b).abs() <= 1.0 / 3.0 + 1e-9,
        "{launched:?}: {share_a} vs {share_b}"
    );
    assert!(
        share_a > 0.4 && share_b > 0.4,
        "{launched:?}: {share_a} vs {share_b}"
    );
}

#[test]
fn a_role_with_weight_two_gets_twice_the_share() {
    let mut config = MasterConfig::default();
    config.role_weights.insert("heavy".into(), 2.0);
    let mut h = Harness::with_config(config);
    for _ in 0..6 {
        h.register("cpus:5;mem:5GiB");
    }
    let heavy = h.subscribe("heavy", &["heavy"]);
    let light = h.subscribe("light", &["light"]);
    let shapes = HashMap::from([
        (heavy.clone(), "cpus:1;mem:1GiB"),
        (light.clone(), "cpus:1;mem:1GiB"),
    ]);
    let launched = run_greedy(&mut h, &shapes);
    let (n_heavy, n_light) = (launched[&heavy], launched[&light]);
    assert_eq!(n_heavy + n_light, 30, "{launched:?}");
    // 20 and 10, within one task.
    assert!(n_heavy.abs_diff(2 * n_light) <= 2, "{launched:?}");
}

#[test]
fn a_decline_filter_holds_until_it_expires() {
    let mut h = Harness::new();
    let fw = h.subscribe("fw", &[]);
    h.register("cpus:4;mem:4GiB");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    h.decline(&fw, &offer.id, 10.0);
    h.advance(Duration::from_millis(9_990));
    assert!(offers(&h.take(), &fw).is_empty());
    h.advance(Duration::from_millis(20));
    assert_eq!(only_offer(&h.take(), &fw).agent_id, offer.agent_id);
}

#[test]
fn a_declined_agent_goes_to_the_other_framework_meanwhile() {
    let mut h = Harness::new();
    let first = h.subscribe("first", &[]);
    h.register("cpus:4;mem:4GiB");
    h.settle();
    let offer = only_offer(&h.take(), &first);
    let second = h.subscribe("second", &[]);
    h.decline(&first, &offer.id, 60.0);
    h.settle();
    let out = h.take();
    assert!(offers(&out, &first).is_empty());
    assert_eq!(offers(&out, &second).len(), 1);
}

#[test]
fn revive_clears_a_decline_filter() {
    let mut h = Harness::new();
    let fw = h.subscribe("fw", &[]);
    h.register("cpus:4;mem:4GiB");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    h.decline(&fw, &offer.id, 3600.0);
    h.settle();
    assert!(offers(&h.take(), &fw).is_empty());
    let revive = ReviveRequest {
        framework_id: fw.clone(),
        roles: vec![],
    };
    h.core.revive(revive, h.now).expect("revive");
    h.settle();
    assert_eq!(offers(&h.take(), &fw).len(), 1);
}

#[test]
fn suppress_stops_offers_until_revive() {
    let mut h = Harness::new();
    let fw = h.subscribe("fw", &[]);
    h.register("cpus:4;mem:4GiB");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let suppress = SuppressRequest {
        framework_id: fw.clone(),
        roles: vec![],
    };
    h.core.suppress(suppress, h.now).expect("suppress");
    h.decline(&fw, &offer.id, 0.0);
    h.advance(Duration::from_secs(30));
    assert!(offers(&h.take(), &fw).is_empty());
    let bad_role = SuppressRequest {
        framework_id: fw.clone(),
        roles: vec!["not-mine".into()],
    };
    assert!(matches!(
        h.core.suppress(bad_role, h.now),
        Err(crate::Error::InvalidArgument(_))
    ));
    let revive = ReviveRequest {
        framework_id: fw.clone(),
        roles: vec![],
    };
    h.core.revive(revive, h.now).expect("revive");
    h.settle();
    assert_eq!(offers(&h.take(), &fw).len(), 1);
}

#[test]
fn an_offer_timeout_rescinds_and_reoffers() {
    let config = MasterConfig {
        offer_timeout: Some(Duration::from_secs(2)),
        ..MasterConfig::default()
    };
    let mut h = Harness::with_config(config);
    let fw = h.subscribe("fw", &[]);
    h.register("cpus:4;mem:4GiB");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    assert!(
        h.core
            .next_wakeup()
            .is_some_and(|at| at <= h.now + Duration::from_secs(2))
    );
    h.advance(Duration::from_millis(1_900));
    assert!(rescinds(&h.take(), &fw).is_empty());
    h.advance(Duration::from_millis(200));
    assert_eq!(rescinds(&h.take(), &fw), vec![offer.id.clone()]);
    h.settle();
    let again = only_offer(&h.take(), &fw);
    assert_ne!(again.id, offer.id);
}

#[test]
fn allocation_runs_one_batch_interval_after_an_event() {
    let mut h = Harness::new();
    let fw = h.subscribe("fw", &[]);
    h.register("cpus:4;mem:4GiB");
    assert_eq!(
        h.core.next_wakeup(),
        Some(h.now + h.config.allocation_batch_interval)
    );
    h.core.tick(h.now);
    assert!(
        offers(&h.take(), &fw).is_empty(),
        "events are batched, not allocated at once"
    );
    h.settle();
    assert_eq!(offers(&h.take(), &fw).len(), 1);
}
