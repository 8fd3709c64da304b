//! Criterion benches for the allocator's hot paths: a full round on an idle cluster, an
//! incremental round after some offers come back, and a round with nothing to do.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use wasmesos_allocator::{
    AgentId, Allocation, Allocator, AllocatorConfig, FrameworkId, FrameworkSpec, Resources,
};

fn cluster(agents: usize, frameworks: usize) -> Allocator {
    let mut allocator =
        Allocator::new(AllocatorConfig::default()).expect("default config is valid");
    let shape: Resources = "cpus:8;mem:32GiB;disk:256GiB"
        .parse()
        .expect("valid resources");
    for i in 0..agents {
        allocator
            .add_agent(AgentId::from(format!("agent-{i}")), &shape)
            .expect("unique agent");
    }
    for i in 0..frameworks {
        let spec = FrameworkSpec::with_roles([format!("team-{}", i % 20)]);
        allocator
            .add_framework(FrameworkId::from(format!("fw-{i}")), spec)
            .expect("unique framework");
    }
    allocator
}

fn full_round(c: &mut Criterion) {
    let mut group = c.benchmark_group("full_round");
    group.sample_size(10);
    for (agents, frameworks) in [(1_000, 100), (10_000, 1_000)] {
        group.bench_function(format!("{agents}x{frameworks}"), |b| {
            b.iter_batched(
                || cluster(agents, frameworks),
                |mut allocator| black_box(allocator.allocate(Duration::ZERO).len()),
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

fn decline(allocator: &mut Allocator, offer: &Allocation) {
    allocator
        .recover_offered(
            &offer.framework_id,
            &offer.agent_id,
            &offer.role,
            &offer.resources,
            None,
            Duration::ZERO,
        )
        .expect("offer is outstanding");
}

fn incremental_round(c: &mut Criterion) {
    let mut allocator = cluster(10_000, 1_000);
    let mut offers = allocator.allocate(Duration::ZERO);
    let mut group = c.benchmark_group("incremental_round");
    group.bench_function("10000x1000/100 agents returned", |b| {
        b.iter(|| {
            let returned: Vec<Allocation> = offers.drain(..100).collect();
            for offer in &returned {
                decline(&mut allocator, offer);
            }
            let new = allocator.allocate(Duration::ZERO);
            offers.extend(new);
            black_box(offers.len())
        });
    });
    group.bench_function("10000x1000/nothing to do", |b| {
        b.iter(|| black_box(allocator.allocate(Duration::ZERO).len()));
    });
    group.finish();
}

criterion_group!(benches, full_round, incremental_round);
criterion_main!(benches);
