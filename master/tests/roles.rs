//! Roles end to end: frameworks with several roles, SUPPRESS / REVIVE per role,
//! hierarchical weights (from the config and changed at run time), and quota.

mod common;

use std::collections::HashMap;

use common::*;
use futures::stream::SelectAll;
use tonic::Code;
use tonic::Streaming;
use wasmesos_allocator::Quota;
use wasmesos_proto::v1::{
    self as proto, ClusterState, ReviveRequest, RoleWeight, SetQuotaRequest, SuppressRequest,
    UpdateWeightsRequest,
};

const SMALL_AGENT: &str = "cpus:1;mem:1GiB";

#[tokio::test]
async fn a_framework_with_several_roles_gets_offers_per_role() {
    let master = start(|_| {}).await;
    let (fw, mut events) = master.subscribe("multi", &["analytics", "batch"]).await;
    for _ in 0..2 {
        master.register(res(SMALL_AGENT), "").await;
    }
    let offers = offers_until(&mut events, 2).await;
    let mut roles: Vec<&str> = offers.iter().map(|o| o.role.as_str()).collect();
    roles.sort_unstable();
    assert_eq!(roles, ["analytics", "batch"], "one agent per role, by DRF");
    for role in ["analytics", "batch"] {
        let summary = master.role(role).await.expect("role listed");
        assert_eq!(summary.framework_ids, vec![fw.clone()]);
        assert_eq!(amount(summary.allocated.as_ref(), "cpus", ""), 1.0);
    }
}

#[tokio::test]
async fn suppress_and_revive_act_per_role() {
    let master = start(|_| {}).await;
    let (fw, mut events) = master.subscribe("multi", &["analytics", "batch"]).await;
    let suppress = SuppressRequest {
        framework_id: fw.clone(),
        roles: vec!["analytics".into()],
    };
    master
        .scheduler()
        .suppress(suppress)
        .await
        .expect("suppress");
    // Both roles are at share 0; unsuppressed, `analytics` would sort first.
    master.register(res(SMALL_AGENT), "").await;
    let offer = next_offers(&mut events).await.remove(0);
    assert_eq!(offer.role, "batch");

    let revive = ReviveRequest {
        framework_id: fw.clone(),
        roles: vec!["analytics".into()],
    };
    master.scheduler().revive(revive).await.expect("revive");
    master.register(res(SMALL_AGENT), "").await;
    let offer = next_offers(&mut events).await.remove(0);
    assert_eq!(offer.role, "analytics");

    let bad = SuppressRequest {
        framework_id: fw,
        roles: vec!["not-mine".into()],
    };
    let err = master.scheduler().suppress(bad).await.err();
    assert_eq!(err.map(|s| s.code()), Some(Code::InvalidArgument));
}

/// Subscribes frameworks in `eng/backend`, `eng/frontend` and `ops`; their merged streams.
async fn three_roles(master: &Master) -> SelectAll<Streaming<proto::Event>> {
    let mut streams = Vec::new();
    for role in ["eng/backend", "eng/frontend", "ops"] {
        let (_, events) = master.subscribe(role, &[role]).await;
        streams.push(events);
    }
    futures::stream::select_all(streams)
}

/// Registers twelve equal agents and counts the offers per role (frameworks hold every
/// offer, so each agent is offered once).
async fn twelve_agents(
    master: &Master,
    merged: &mut SelectAll<Streaming<proto::Event>>,
) -> HashMap<String, usize> {
    for _ in 0..12 {
        master.register(res(SMALL_AGENT), "").await;
    }
    let mut counts = HashMap::new();
    for offer in offers_until(merged, 12).await {
        *counts.entry(offer.role).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn weights_apply_at_each_level_of_the_role_tree() {
    // eng (2) vs ops (1): eng holds 8 of 12 agents; inside eng, backend (3) vs frontend (1)
    // split those 6 to 2. Equal weights would give 3/3/6.
    let master = start(|config| {
        config.role_weights.insert("eng".into(), 2.0);
        config.role_weights.insert("eng/backend".into(), 3.0);
    })
    .await;
    let mut merged = three_roles(&master).await;
    let counts = twelve_agents(&master, &mut merged).await;
    assert_eq!(counts.get("eng/backend"), Some(&6), "{counts:?}");
    assert_eq!(counts.get("eng/frontend"), Some(&2), "{counts:?}");
    assert_eq!(counts.get("ops"), Some(&4), "{counts:?}");
    let eng = master.role("eng").await.expect("eng listed");
    assert_eq!(eng.weight, 2.0);
    assert!((eng.weighted_share - eng.dominant_share / 2.0).abs() < 1e-9);
}

#[tokio::test]
async fn weights_changed_at_run_time_apply_to_the_next_offers() {
    let master = start(|_| {}).await;
    let mut merged = three_roles(&master).await;
    let before = twelve_agents(&master, &mut merged).await;
    let expected = HashMap::from([
        ("eng/backend".to_string(), 3),
        ("eng/frontend".to_string(), 3),
        ("ops".to_string(), 6),
    ]);
    assert_eq!(before, expected, "equal weights at first");

    let weights = |pairs: &[(&str, f64)]| UpdateWeightsRequest {
        weights: pairs
            .iter()
            .map(|(role, weight)| RoleWeight {
                role: role.to_string(),
                weight: *weight,
            })
            .collect(),
    };
    // A bad entry refuses the whole batch.
    let err = master
        .operator()
        .update_weights(weights(&[("ops", 5.0), ("eng", 0.0)]))
        .await
        .err();
    assert_eq!(err.map(|s| s.code()), Some(Code::InvalidArgument));
    assert_eq!(master.role("ops").await.map(|r| r.weight), Some(1.0));

    let update = weights(&[("eng", 2.0), ("eng/backend", 3.0)]);
    master
        .operator()
        .update_weights(update)
        .await
        .expect("update");
    assert_eq!(master.role("eng").await.map(|r| r.weight), Some(2.0));
    // 24 agents at eng 2 : ops 1 and backend 3 : frontend 1 end at 12 / 4 / 8.
    let after = twelve_agents(&master, &mut merged).await;
    let expected = HashMap::from([
        ("eng/backend".to_string(), 9),
        ("eng/frontend".to_string(), 1),
        ("ops".to_string(), 2),
    ]);
    assert_eq!(after, expected);
}

fn set_quota(role: &str, guarantee: &str, limit: Option<&str>) -> SetQuotaRequest {
    SetQuotaRequest {
        role: role.into(),
        quota: Some(proto::Quota {
            guarantee: Some(res(guarantee)),
            limit: limit.map(res),
        }),
    }
}

#[tokio::test]
async fn a_quota_limit_caps_what_a_role_is_offered() {
    let master = start(|_| {}).await;
    let (dev, mut dev_events) = master.subscribe("dev", &["dev"]).await;
    // Names a limit leaves out are unlimited, so cap both to keep whole agents free.
    let quota = set_quota("dev", "", Some("cpus:2;mem:2GiB"));
    master.operator().set_quota(quota).await.expect("quota");
    for _ in 0..4 {
        master.register(res(SMALL_AGENT), "").await;
    }
    let offers = offers_until(&mut dev_events, 2).await;
    assert_eq!(offers.len(), 2);
    // The other two agents stay free for anyone else: a newcomer gets both.
    let (_, mut other_events) = master.subscribe("other", &["other"]).await;
    let others = offers_until(&mut other_events, 2).await;
    assert_eq!(others.len(), 2);
    let offered_to_dev = |s: &ClusterState| {
        s.frameworks.iter().any(|f| {
            f.framework.as_ref().is_some_and(|i| i.id == dev)
                && amount(f.offered.as_ref(), "cpus", "") == 2.0
        })
    };
    let state = master.state_where(offered_to_dev).await;
    let dev_state = state
        .frameworks
        .iter()
        .find(|f| f.framework.as_ref().is_some_and(|i| i.id == dev))
        .expect("dev in state");
    assert_eq!(amount(dev_state.offered.as_ref(), "cpus", ""), 2.0);
    let role = master.role("dev").await.expect("dev listed");
    let quota = role.quota.expect("quota shown");
    assert_eq!(text(quota.limit.as_ref()), "cpus:2;mem:2GiB");
    assert_eq!(amount(role.consumption.as_ref(), "cpus", ""), 2.0);
}

#[tokio::test]
async fn a_quota_guarantee_is_held_for_its_role_before_fair_sharing() {
    let master = start(|_| {}).await;
    let quota = set_quota("prod", "cpus:2;mem:2GiB", None);
    master.operator().set_quota(quota).await.expect("quota");
    let (_, mut dev_events) = master.subscribe("dev", &["dev"]).await;
    for _ in 0..4 {
        master.register(res(SMALL_AGENT), "").await;
    }
    // Only two agents go to `dev`: two are held back for `prod`, which has no framework yet.
    let offers = offers_until(&mut dev_events, 2).await;
    assert_eq!(offers.len(), 2);
    let (_, mut prod_events) = master.subscribe("prod", &["prod"]).await;
    let prod = offers_until(&mut prod_events, 2).await;
    let agents: std::collections::HashSet<&str> =
        prod.iter().map(|o| o.agent_id.as_str()).collect();
    assert_eq!(agents.len(), 2);
    let role = master.role("prod").await.expect("prod listed");
    assert_eq!(amount(role.allocated.as_ref(), "cpus", ""), 2.0);
}

#[tokio::test]
async fn quotas_are_checked_and_can_be_removed() {
    let master = start(|config| {
        let quota = Quota {
            guarantee: "cpus:1".parse().expect("resources"),
            limit: None,
        };
        config.role_quotas.insert("prod".into(), quota);
    })
    .await;
    let shown = master.role("prod").await.and_then(|r| r.quota);
    assert_eq!(
        shown.map(|q| text(q.guarantee.as_ref())),
        Some("cpus:1".into())
    );
    let bad = [
        set_quota("dev", "cpus:4", Some("cpus:2")),
        set_quota("", "cpus:1", None),
        set_quota("a b", "cpus:1", None),
        set_quota("dev", "cpus(dev):1", None),
    ];
    for request in bad {
        let shown = format!("{request:?}");
        let err = master.operator().set_quota(request).await.err();
        assert_eq!(
            err.map(|s| s.code()),
            Some(Code::InvalidArgument),
            "{shown}"
        );
    }
    let remove = SetQuotaRequest {
        role: "prod".into(),
        quota: None,
    };
    master.operator().set_quota(remove).await.expect("remove");
    assert_eq!(master.role("prod").await.and_then(|r| r.quota), None);
}
