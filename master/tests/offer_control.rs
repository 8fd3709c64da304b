//! Offer control end to end: the offer timeout with rescind, `min_allocatable_resources`,
//! scalars left out of fair share, and the weighted-random sorter.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use common::*;
use wasmesos_allocator::{Resources, SorterKind};
use wasmesos_proto::v1::event;

#[tokio::test]
async fn an_unanswered_offer_is_rescinded_after_the_offer_timeout_and_offered_again() {
    let master = start(|config| config.offer_timeout = Some(Duration::from_millis(200))).await;
    let (_, mut events) = master.subscribe("slow", &[]).await;
    let agent = master.register(res("cpus:2;mem:1GiB"), "").await;
    let first = next_offers(&mut events).await.remove(0);
    let rescinded = wait_for(&mut events, |e| match e {
        event::Event::Rescind(r) => Some(r.offer_id.clone()),
        _ => None,
    })
    .await;
    assert_eq!(rescinded, first.id);
    let again = next_offers(&mut events).await.remove(0);
    assert_ne!(again.id, first.id);
    assert_eq!(again.agent_id, agent.id);
    assert_eq!(text(again.resources.as_ref()), "cpus:2;mem:1GiB");
}

/// Registers a small agent, then a big one, and returns the agent ids offered until the big
/// one's offer arrives. Rounds run in event order, so the small agent's turn came first.
async fn offered_agents(min_allocatable: Option<Vec<Resources>>) -> (Vec<String>, String, String) {
    let master = start(|config| {
        if let Some(sets) = min_allocatable {
            config.min_allocatable_resources = sets;
        }
    })
    .await;
    let (_, mut events) = master.subscribe("fw", &[]).await;
    let small = master.register(res("cpus:0.5;mem:4GiB"), "").await;
    let big = master.register(res("cpus:2;mem:1GiB"), "").await;
    let mut seen = Vec::new();
    while !seen.contains(&big.id) {
        let offers = next_offers(&mut events).await;
        seen.extend(offers.into_iter().map(|o| o.agent_id));
    }
    (seen, small.id, big.id)
}

#[tokio::test]
async fn agents_below_min_allocatable_resources_are_not_offered() {
    let rule = vec!["cpus:1".parse().expect("resources")];
    let (seen, small, _) = offered_agents(Some(rule)).await;
    assert!(!seen.contains(&small), "{seen:?}");
    // With the default rule (0.01 cpus or 32 MiB) the same small agent is offered.
    let (seen, small, _) = offered_agents(None).await;
    assert!(seen.contains(&small), "{seen:?}");
}

/// Two frameworks, then one agent with the cluster's only gpu and four without; returns how
/// many offers the framework holding the gpu agent received.
async fn offers_to_the_gpu_holder(excluded: &[&str]) -> usize {
    let master = start(|config| {
        config.fair_share_excluded = excluded.iter().map(|s| s.to_string()).collect();
    })
    .await;
    let mut streams = Vec::new();
    for name in ["f1", "f2"] {
        streams.push(master.subscribe(name, &[]).await.1);
    }
    let mut merged = futures::stream::select_all(streams);
    let gpu = master.register(res("cpus:1;mem:1GiB;gpus:1"), "").await;
    for _ in 0..4 {
        master.register(res("cpus:1;mem:1GiB"), "").await;
    }
    let offers = offers_until(&mut merged, 5).await;
    let holder = offers
        .iter()
        .find(|o| o.agent_id == gpu.id)
        .map(|o| o.framework_id.clone())
        .expect("the gpu agent is offered");
    offers.iter().filter(|o| o.framework_id == holder).count()
}

#[tokio::test]
async fn excluded_scalars_do_not_count_toward_fair_share() {
    // Counted, the only gpu makes its holder's share 1.0: it gets nothing more.
    assert_eq!(offers_to_the_gpu_holder(&[]).await, 1);
    // Excluded, shares are by cpus and mem alone and the five agents split 2/3 or 3/2.
    assert!(offers_to_the_gpu_holder(&["gpus"]).await >= 2);
}

/// `f1` takes ten agents alone, then `f2` subscribes and sixteen more agents arrive one by
/// one; returns how many of those sixteen `f1` was offered.
async fn newcomers_to_the_rich_framework(sorter: SorterKind) -> usize {
    let master = start(|config| config.role_sorter = sorter).await;
    let (f1, mut first) = master.subscribe("f1", &[]).await;
    for _ in 0..10 {
        master.register(res("cpus:1;mem:1GiB"), "").await;
    }
    offers_until(&mut first, 10).await;
    let (_, second) = master.subscribe("f2", &[]).await;
    let mut merged = futures::stream::select_all([first, second]);
    let mut fresh = BTreeSet::new();
    for _ in 0..16 {
        fresh.insert(master.register(res("cpus:1;mem:1GiB"), "").await.id);
    }
    let offers = offers_until(&mut merged, 16).await;
    let mut per_framework: HashMap<String, usize> = HashMap::new();
    for offer in offers.iter().filter(|o| fresh.contains(&o.agent_id)) {
        *per_framework.entry(offer.framework_id.clone()).or_default() += 1;
    }
    per_framework.get(&f1).copied().unwrap_or(0)
}

#[tokio::test]
async fn the_weighted_random_sorter_ignores_shares() {
    // DRF hands each newcomer to the poorer framework, so 10 + 16 agents end 13 / 13:
    // f1 gets exactly 3 of the 16.
    assert_eq!(newcomers_to_the_rich_framework(SorterKind::Drf).await, 3);
    // The random sorter picks by weight alone, so the rich framework keeps winning about
    // half the time (all 16 going to f2 has probability 2^-16).
    let random = newcomers_to_the_rich_framework(SorterKind::WeightedRandom).await;
    assert!((1..16).contains(&random), "{random}");
}
