//! Offer filters: declined resources stay away from the framework for `refuse_seconds`
//! while other frameworks are offered them, and REVIVE brings them back at once.

use std::time::Duration;

use wasmesos_harness::{Cluster, ClusterConfig, SchedulerEvent, TestFramework};
use wasmesos_sdk_scheduler::refuse_for;

use crate::common::tracing;

fn offers_in(events: &[SchedulerEvent]) -> usize {
    events
        .iter()
        .filter(|event| matches!(event, SchedulerEvent::Offers(_)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_filter_holds_until_revive_clears_it() {
    tracing();
    let cluster = Cluster::start(ClusterConfig::new(1))
        .await
        .expect("cluster");
    let url = cluster.master_url();
    let mut first = TestFramework::start(&url, "filtered", None)
        .await
        .expect("subscribe");
    let offers = first.next_offers().await.expect("first offer");
    let ids: Vec<String> = offers.iter().map(|offer| offer.id.clone()).collect();
    first
        .driver
        .decline(ids, Some(refuse_for(Duration::from_secs(3600))))
        .await
        .expect("decline for an hour");

    // A second framework is offered the same agent over and over (it hands the offer back
    // unfiltered each time): every one of those allocation rounds skipped the first framework.
    let mut second = TestFramework::start(&url, "witness", None)
        .await
        .expect("subscribe");
    for round in 0..4 {
        let offers = second.next_offers().await.expect("witness offer");
        assert!(!offers.is_empty());
        let refuse = if round == 3 { 3600 } else { 0 };
        let ids = offers.into_iter().map(|offer| offer.id);
        second
            .driver
            .decline(ids, Some(refuse_for(Duration::from_secs(refuse))))
            .await
            .expect("witness decline");
    }
    assert_eq!(
        offers_in(&first.drain()),
        0,
        "the filter kept the first framework's offers away"
    );

    first.driver.revive(Vec::new()).await.expect("revive");
    let offers = first
        .next_offers()
        .await
        .expect("an offer right after REVIVE");
    assert_eq!(
        offers[0].agent_id,
        cluster.agent_id(0).expect("agent").to_string()
    );
    first.teardown().await.expect("teardown");
    second.teardown().await.expect("teardown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppress_stops_offers_until_revive() {
    tracing();
    let cluster = Cluster::start(ClusterConfig::new(1))
        .await
        .expect("cluster");
    let url = cluster.master_url();
    let mut quiet = TestFramework::start(&url, "suppressed", None)
        .await
        .expect("subscribe");
    // Hold the first offer, suppress, then hand it back: from then on nothing may come.
    let held = quiet.next_offers().await.expect("the first offer");
    quiet.driver.suppress(Vec::new()).await.expect("suppress");
    let ids = held.into_iter().map(|offer| offer.id);
    let unfiltered = Some(refuse_for(Duration::ZERO));
    quiet
        .driver
        .decline(ids, unfiltered)
        .await
        .expect("decline");

    // A witness is offered the agent over and over; its last decline filters the agent away
    // from it, so nobody holds an offer when the quiet framework revives.
    let mut witness = TestFramework::start(&url, "witness", None)
        .await
        .expect("subscribe");
    for round in 0..3 {
        let offers = witness.next_offers().await.expect("offers");
        let ids: Vec<String> = offers.into_iter().map(|offer| offer.id).collect();
        let refuse = if round == 2 { 3600 } else { 0 };
        let filters = Some(refuse_for(Duration::from_secs(refuse)));
        witness.driver.decline(ids, filters).await.expect("decline");
    }
    assert_eq!(
        offers_in(&quiet.drain()),
        0,
        "a suppressed framework gets no offers"
    );

    quiet.driver.revive(Vec::new()).await.expect("revive");
    let offers = quiet.next_offers().await.expect("offers after REVIVE");
    assert!(!offers.is_empty());
    quiet.teardown().await.expect("teardown");
    witness.teardown().await.expect("teardown");
}
