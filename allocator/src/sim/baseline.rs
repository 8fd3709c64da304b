//! A reference allocator with Mesos's pre-2018 shape, for a baseline measured in the same
//! run: for every agent, re-sort every framework by dominant share, then give the agent to
//! the first. Same inputs and the same DRF outcome, without incremental structures.

use std::time::{Duration, Instant};

/// One full round over `agents` identical agents of `cpus`/`mem` for `frameworks`
/// frameworks; returns the wall time and the number of allocations.
pub fn naive_round(agents: usize, frameworks: usize, cpus: f64, mem: f64) -> (Duration, usize) {
    let total_cpus = cpus * agents as f64;
    let total_mem = mem * agents as f64;
    let mut held = vec![(0.0f64, 0.0f64); frameworks];
    let mut order: Vec<usize> = (0..frameworks).collect();
    let share = |h: &(f64, f64)| (h.0 / total_cpus).max(h.1 / total_mem);
    let started = Instant::now();
    let mut allocations = 0;
    for _ in 0..agents {
        order.sort_by(|a, b| share(&held[*a]).total_cmp(&share(&held[*b])).then(a.cmp(b)));
        if let Some(first) = order.first() {
            held[*first].0 += cpus;
            held[*first].1 += mem;
            allocations += 1;
        }
    }
    (started.elapsed(), allocations)
}
