//! Helpers shared by the allocator's integration tests.
#![allow(dead_code)]

use std::time::Duration;

use wasmesos_allocator::{
    AgentId, Allocation, Allocator, AllocatorConfig, FrameworkId, FrameworkSpec, Resources,
};

pub const LONG: Option<Duration> = Some(Duration::from_secs(3600));

pub fn res(text: &str) -> Resources {
    text.parse().expect("test resources parse")
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn fw(id: &str) -> FrameworkId {
    FrameworkId::from(id)
}

pub fn agent(id: &str) -> AgentId {
    AgentId::from(id)
}

pub fn allocator(config: AllocatorConfig) -> Allocator {
    Allocator::new(config).expect("valid config")
}

pub fn add_framework(a: &mut Allocator, id: &str, roles: &[&str]) {
    a.add_framework(fw(id), FrameworkSpec::with_roles(roles.iter().copied()))
        .expect("add framework");
}

pub fn add_agent(a: &mut Allocator, id: &str, total: &str) {
    a.add_agent(agent(id), &res(total)).expect("add agent");
}

/// The framework launches one `task` from the offer if it fits and declines the rest for an
/// hour; returns whether it launched.
pub fn take_one_task(
    a: &mut Allocator,
    offer: &Allocation,
    task: &Resources,
    now: Duration,
) -> bool {
    let fits = offer.resources.unreserved().contains(task);
    let rest = if fits {
        a.launch(&offer.framework_id, &offer.agent_id, &offer.role, task)
            .expect("launch");
        offer
            .resources
            .checked_sub(task)
            .expect("task within offer")
    } else {
        offer.resources.clone()
    };
    a.recover_offered(
        &offer.framework_id,
        &offer.agent_id,
        &offer.role,
        &rest,
        LONG,
        now,
    )
    .expect("decline the rest");
    fits
}

/// Declines every offer in `offers` with no filter.
pub fn decline_all(a: &mut Allocator, offers: &[Allocation], now: Duration) {
    for offer in offers {
        a.recover_offered(
            &offer.framework_id,
            &offer.agent_id,
            &offer.role,
            &offer.resources,
            None,
            now,
        )
        .expect("decline");
    }
}

pub fn share_of(a: &Allocator, id: &str) -> f64 {
    a.framework_snapshot(&fw(id))
        .expect("framework")
        .dominant_share
}

pub fn offered_to<'a>(offers: &'a [Allocation], id: &str) -> Vec<&'a Allocation> {
    offers
        .iter()
        .filter(|o| o.framework_id.as_str() == id)
        .collect()
}

/// Jain's fairness index: 1 when all equal, 1/n when one holds everything.
pub fn jain(values: &[f64]) -> f64 {
    let sum: f64 = values.iter().sum();
    let squares: f64 = values.iter().map(|v| v * v).sum();
    if squares == 0.0 {
        return 1.0;
    }
    sum * sum / (values.len() as f64 * squares)
}
