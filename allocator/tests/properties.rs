//! Random operation sequences never break the allocator's invariants.
#![allow(clippy::unwrap_used)] // a test that panics on a broken expectation is the point

mod common;

use std::time::Duration;

use common::*;
use proptest::prelude::*;
use wasmesos_allocator::{
    AgentId, Allocation, Allocator, AllocatorConfig, FrameworkId, FrameworkSpec, Quota, Resources,
    SorterKind,
};

const ROLES: [&str; 4] = ["a", "a/x", "b", "c"];
const LIMITED: &str = "b";
const LIMIT_CPUS: f64 = 6.0;
const SHAPES: [&str; 6] = [
    "cpus:4;mem:4GiB",
    "cpus:2;mem:8GiB;gpus:1",
    "cpus:2;cpus(a):2;mem:4GiB",
    "cpus:1;cpus(a/x):1;mem(a/x):1GiB;mem:1GiB",
    "cpus:4;mem:4GiB;ports:[31000-31009,31020-31024];zones:{z1,z2}",
    "cpus:2;cpus(a):2;mem:4GiB;ports:[31000-31003];ports(a):[32000-32001]",
];

#[derive(Clone, Debug)]
enum Op {
    AddAgent(usize),
    RemoveAgent(usize),
    AddFramework(u8),
    RemoveFramework(usize),
    Allocate(u64),
    Launch(usize, bool),
    /// A task taking one port (the `n`th lowest offered) and a little cpu.
    LaunchPort(usize, u8),
    Decline(usize, bool),
    Finish(usize),
    Suppress(usize),
    Revive(usize),
    Reserve(usize, usize),
    Unreserve(usize),
    /// A new estimate of revocable cpus (tenths) on an agent, after its revocable offers
    /// are taken back, as the master does.
    Oversubscribe(usize, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..SHAPES.len()).prop_map(Op::AddAgent),
        1 => any::<usize>().prop_map(Op::RemoveAgent),
        // Bit 4: the framework takes revocable resources.
        2 => (1u8..32).prop_map(Op::AddFramework),
        1 => any::<usize>().prop_map(Op::RemoveFramework),
        4 => (0u64..4).prop_map(Op::Allocate),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(i, all)| Op::Launch(i, all)),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(i, n)| Op::LaunchPort(i, n)),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(i, f)| Op::Decline(i, f)),
        2 => any::<usize>().prop_map(Op::Finish),
        1 => any::<usize>().prop_map(Op::Suppress),
        1 => any::<usize>().prop_map(Op::Revive),
        1 => (any::<usize>(), 0..ROLES.len()).prop_map(|(a, r)| Op::Reserve(a, r)),
        1 => any::<usize>().prop_map(Op::Unreserve),
        2 => (any::<usize>(), 0u8..40).prop_map(|(a, t)| Op::Oversubscribe(a, t)),
    ]
}

/// What the test itself remembers about offers and tasks, to compare with the allocator.
#[derive(Default)]
struct Model {
    agents: Vec<AgentId>,
    frameworks: Vec<(FrameworkId, Vec<String>)>,
    /// Frameworks that take revocable resources.
    revocable: Vec<FrameworkId>,
    offers: Vec<Allocation>,
    tasks: Vec<Allocation>,
    next_id: usize,
    now: Duration,
}

fn config(sorter: SorterKind) -> AllocatorConfig {
    let mut config = AllocatorConfig {
        sorter,
        ..AllocatorConfig::default()
    };
    config.weights.insert("a".into(), 2.0);
    config.quotas.insert(
        LIMITED.into(),
        Quota {
            guarantee: Resources::new(),
            limit: Some(res("cpus:6")),
        },
    );
    config.quotas.insert(
        "c".into(),
        Quota {
            guarantee: res("cpus:4"),
            limit: None,
        },
    );
    config.fair_share_excluded.insert("gpus".into());
    config
}

fn pick<T>(items: &[T], i: usize) -> Option<&T> {
    (!items.is_empty()).then(|| &items[i % items.len()])
}

impl Model {
    fn apply(&mut self, a: &mut Allocator, op: &Op) {
        match op {
            Op::AddAgent(shape) => {
                let id = AgentId::from(format!("agent-{}", self.next_id));
                self.next_id += 1;
                a.add_agent(id.clone(), &res(SHAPES[*shape])).unwrap();
                self.agents.push(id);
            }
            Op::RemoveAgent(i) => {
                let Some(id) = pick(&self.agents, *i).cloned() else {
                    return;
                };
                a.remove_agent(&id).unwrap();
                self.agents.retain(|x| *x != id);
                self.offers.retain(|o| o.agent_id != id);
                self.tasks.retain(|o| o.agent_id != id);
            }
            Op::AddFramework(mask) => {
                let roles: Vec<String> = ROLES
                    .iter()
                    .enumerate()
                    .filter(|(bit, _)| mask & (1 << bit) != 0)
                    .map(|(_, r)| r.to_string())
                    .collect();
                let id = FrameworkId::from(format!("fw-{}", self.next_id));
                self.next_id += 1;
                if roles.is_empty() {
                    return;
                }
                a.add_framework(id.clone(), FrameworkSpec::with_roles(roles.clone()))
                    .unwrap();
                if mask & 16 != 0 {
                    a.set_revocable_capable(&id, true).unwrap();
                    self.revocable.push(id.clone());
                }
                self.frameworks.push((id, roles));
            }
            Op::RemoveFramework(i) => {
                let Some((id, _)) = pick(&self.frameworks, *i).cloned() else {
                    return;
                };
                a.remove_framework(&id).unwrap();
                self.frameworks.retain(|(x, _)| *x != id);
                self.offers.retain(|o| o.framework_id != id);
                self.tasks.retain(|o| o.framework_id != id);
            }
            Op::Allocate(dt) => {
                self.now += Duration::from_secs(*dt);
                let offers = a.allocate(self.now);
                self.check_allocations(&offers);
                self.offers.extend(offers);
            }
            Op::Launch(i, all) => self.launch(a, *i, *all),
            Op::LaunchPort(i, n) => self.launch_port(a, *i, *n),
            Op::Decline(i, filter) => {
                if self.offers.is_empty() {
                    return;
                }
                let offer = self.offers.swap_remove(i % self.offers.len());
                let refuse = filter.then_some(Duration::from_secs(2));
                a.recover_offered(
                    &offer.framework_id,
                    &offer.agent_id,
                    &offer.role,
                    &offer.resources,
                    refuse,
                    self.now,
                )
                .unwrap();
            }
            Op::Finish(i) => {
                if self.tasks.is_empty() {
                    return;
                }
                let task = self.tasks.swap_remove(i % self.tasks.len());
                a.recover_used(
                    &task.framework_id,
                    &task.agent_id,
                    &task.role,
                    &task.resources,
                )
                .unwrap();
            }
            Op::Suppress(i) => {
                let Some((id, _)) = pick(&self.frameworks, *i) else {
                    return;
                };
                a.suppress(id, None).unwrap();
            }
            Op::Revive(i) => {
                let Some((id, _)) = pick(&self.frameworks, *i) else {
                    return;
                };
                a.revive(id, None).unwrap();
            }
            Op::Reserve(i, role) => {
                let Some(id) = pick(&self.agents, *i) else {
                    return;
                };
                // May be refused (not free, or past b's limit): either way nothing breaks.
                let _ = a.reserve(id, &res(&format!("cpus({}):1", ROLES[*role])));
                let _ = a.reserve(id, &res(&format!("ports({}):[31001-31002]", ROLES[*role])));
            }
            Op::Unreserve(i) => {
                let Some(id) = pick(&self.agents, *i) else {
                    return;
                };
                let _ = a.unreserve(id, &res("cpus(a):1"));
                let _ = a.unreserve(id, &res("ports(a):[31001-31002]"));
            }
            Op::Oversubscribe(i, tenths) => {
                let Some(id) = pick(&self.agents, *i).cloned() else {
                    return;
                };
                let (taken, kept): (Vec<Allocation>, Vec<Allocation>) =
                    std::mem::take(&mut self.offers)
                        .into_iter()
                        .partition(|o| o.agent_id == id && !o.resources.revocable().is_empty());
                self.offers = kept;
                for offer in taken {
                    a.recover_offered(
                        &offer.framework_id,
                        &offer.agent_id,
                        &offer.role,
                        &offer.resources,
                        None,
                        self.now,
                    )
                    .unwrap();
                }
                let estimate = Resources::new()
                    .with_revocable("cpus", f64::from(*tenths) / 10.0)
                    .unwrap();
                a.set_revocable(&id, &estimate).unwrap();
                let total = a.agent_snapshot(&id).unwrap().total.get_revocable("cpus");
                let held: f64 = self
                    .offers
                    .iter()
                    .chain(&self.tasks)
                    .filter(|o| o.agent_id == id)
                    .map(|o| o.resources.get_revocable("cpus"))
                    .sum();
                let wanted = f64::from(*tenths) / 10.0;
                assert!(
                    (total - wanted.max(held)).abs() < 1e-9,
                    "{total} vs {wanted} / {held}"
                );
            }
        }
    }

    fn launch(&mut self, a: &mut Allocator, i: usize, all: bool) {
        if self.offers.is_empty() {
            return;
        }
        let at = i % self.offers.len();
        let offer = &self.offers[at];
        let part = if all {
            offer.resources.clone()
        } else {
            let first = offer.resources.iter().next().unwrap();
            let mut part = Resources::new();
            part.add(&first.to_string().parse().unwrap());
            part
        };
        a.launch(&offer.framework_id, &offer.agent_id, &offer.role, &part)
            .unwrap();
        let rest = offer.resources.checked_sub(&part).unwrap();
        self.tasks.push(Allocation {
            resources: part,
            ..offer.clone()
        });
        if rest.is_empty() {
            self.offers.swap_remove(at);
        } else {
            self.offers[at].resources = rest;
        }
    }

    fn launch_port(&mut self, a: &mut Allocator, i: usize, n: u8) {
        if self.offers.is_empty() {
            return;
        }
        let at = i % self.offers.len();
        let offer = &self.offers[at];
        let ports = offer.resources.ranges("ports");
        let Some(port) = ports.values().nth(usize::from(n) % 4) else {
            return;
        };
        // The port entry keeps its reservation: take it from the entry that holds it.
        let entry = offer
            .resources
            .iter()
            .find(|item| item.ranges().is_some_and(|r| r.contains_value(port)))
            .unwrap();
        let role = entry.reservation().unwrap_or("*");
        let part = res(&format!("ports({role}):[{port}-{port}]"));
        a.launch(&offer.framework_id, &offer.agent_id, &offer.role, &part)
            .unwrap();
        // Launching the same port again from the same offer is refused.
        assert!(
            a.launch(&offer.framework_id, &offer.agent_id, &offer.role, &part)
                .is_err()
        );
        let rest = offer.resources.checked_sub(&part).unwrap();
        self.tasks.push(Allocation {
            resources: part,
            ..offer.clone()
        });
        if rest.is_empty() {
            self.offers.swap_remove(at);
        } else {
            self.offers[at].resources = rest;
        }
    }

    /// Every new offer goes to a subscribed role and holds reservations only of that role or
    /// an ancestor.
    fn check_allocations(&self, offers: &[Allocation]) {
        for offer in offers {
            assert!(!offer.resources.is_empty());
            let (_, roles) = self
                .frameworks
                .iter()
                .find(|(id, _)| *id == offer.framework_id)
                .expect("offer to a known framework");
            assert!(roles.iter().any(|r| **r == *offer.role), "{offer:?}");
            assert!(
                offer.resources.revocable().is_empty()
                    || self.revocable.contains(&offer.framework_id),
                "revocable resources offered to a framework that did not ask: {offer:?}"
            );
            for item in offer.resources.iter() {
                if let Some(owner) = item.reservation() {
                    let inside =
                        *offer.role == *owner || offer.role.starts_with(&format!("{owner}/"));
                    assert!(inside, "{owner} reservation offered under {}", offer.role);
                }
            }
        }
    }

    /// The allocator's books match what the test handed out, and the limit holds.
    fn check(&self, a: &Allocator) {
        a.check_invariants().unwrap();
        for id in &self.agents {
            let snap = a.agent_snapshot(id).unwrap();
            let sum = |list: &[Allocation]| {
                let mut sum = Resources::new();
                for x in list.iter().filter(|x| x.agent_id == *id) {
                    sum.add(&x.resources);
                }
                sum
            };
            assert_eq!(snap.offered, sum(&self.offers), "offered on {id}");
            assert_eq!(snap.used, sum(&self.tasks), "used on {id}");
            // No port is in two offers or tasks: the parts count as many as their union.
            let held: u64 = self
                .offers
                .iter()
                .chain(&self.tasks)
                .filter(|x| x.agent_id == *id)
                .map(|x| x.resources.ranges("ports").count())
                .sum();
            let union = sum(&self.offers);
            let mut union_ports = union.ranges("ports");
            union_ports.add(&sum(&self.tasks).ranges("ports"));
            assert_eq!(held, union_ports.count(), "a port held twice on {id}");
            // free + offered + used = total, for ranges too.
            let mut parts = snap.free.clone();
            parts.add(&snap.offered);
            parts.add(&snap.used);
            assert_eq!(parts, snap.total, "parts of {id}");
            let counted = snap.free.ranges("ports").count()
                + snap.offered.ranges("ports").count()
                + snap.used.ranges("ports").count();
            assert_eq!(counted, snap.total.ranges("ports").count(), "ports of {id}");
        }
        let snapshot = a.snapshot();
        for role in &snapshot.roles {
            assert!((0.0..=1.0).contains(&role.share), "{role:?}");
            if role.role == LIMITED {
                assert!(role.consumption.get("cpus") <= LIMIT_CPUS, "{role:?}");
            }
        }
        for framework in &snapshot.frameworks {
            assert!((0.0..=1.0).contains(&framework.dominant_share));
        }
    }
}

fn run(ops: &[Op], sorter: SorterKind) {
    let mut a = Allocator::new(config(sorter)).unwrap();
    let mut model = Model::default();
    for op in ops {
        model.apply(&mut a, op);
        model.check(&a);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn invariants_hold_under_random_operations(ops in prop::collection::vec(op(), 1..80)) {
        run(&ops, SorterKind::Drf);
    }

    #[test]
    fn invariants_hold_with_the_random_sorter(ops in prop::collection::vec(op(), 1..60)) {
        run(&ops, SorterKind::WeightedRandom);
    }
}
