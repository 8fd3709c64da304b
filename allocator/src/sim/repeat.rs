//! One-round scenarios repeated on fresh clusters, with a baseline measured in the same run.

use std::time::Duration;

use super::{Latency, Report, Scenario, naive_round, run};
use crate::Error;

/// Mesos's published time for one full round at 10,000 agents × 1,000 frameworks, after its
/// 2018 optimisation.
const MESOS_ROUND_MS: f64 = 1060.0;

/// Runs `scenario` `repeats` times. For a one-round scenario the latency figures are over
/// the repeats, and a note compares the median with the naive re-sort-per-agent baseline
/// (and with Mesos's published figure at its benchmark's size). Timed scenarios run once.
pub fn run_repeated(scenario: &Scenario, repeats: usize) -> Result<Report, Error> {
    if !scenario.duration.is_zero() {
        return run(scenario);
    }
    let mut samples = Vec::new();
    let mut merged = Report::default();
    for _ in 0..repeats.max(1) {
        let report = run(scenario)?;
        samples.push(report.rounds.p50);
        merged = report;
    }
    merged.rounds = Latency::from_samples(samples);
    let note = baseline_note(scenario, &merged, repeats);
    merged.notes.insert(0, note);
    Ok(merged)
}

fn baseline_note(scenario: &Scenario, report: &Report, repeats: usize) -> String {
    let (cpus, mem) = scenario.agents.first().map_or((1.0, 1.0), |g| {
        (g.resources.get("cpus"), g.resources.get("mem"))
    });
    let mut baseline: Vec<Duration> = (0..repeats.clamp(1, 3))
        .map(|_| naive_round(report.agents, report.frameworks, cpus, mem).0)
        .collect();
    baseline.sort();
    let baseline = ms(baseline[baseline.len() / 2]);
    let ours = ms(report.rounds.p50).max(1e-9);
    let mut note = format!(
        "median full round {ours:.2} ms; naive re-sort-per-agent baseline in this run \
         {baseline:.2} ms ({:.1}x)",
        baseline / ours
    );
    if report.agents == 10_000 && report.frameworks == 1_000 {
        // Mesos's figure is for this very shape, so the ratio only means something here.
        note.push_str(&format!(
            "; Mesos 1.x published {MESOS_ROUND_MS:.0} ms ({:.0}x)",
            MESOS_ROUND_MS / ours
        ));
    }
    note
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
