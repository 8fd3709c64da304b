//! The scale simulator's three scenarios, printed as a table.
//!
//! `cargo bench -p wasmesos-allocator --bench sim` runs them at full size;
//! `SIM_QUICK=1` (or `-- --quick`) shrinks them for CI; `SIM_ONLY=2` runs one scenario.

use std::time::Duration;

use wasmesos_allocator::sim::{self, Latency, Report};

/// Mesos's published figure for scenario 1 after its 2018 optimisation.
const MESOS_ROUND_MS: f64 = 1060.0;

fn main() {
    let quick = std::env::var_os("SIM_QUICK").is_some() || std::env::args().any(|a| a == "--quick");
    let repeats = if quick { 3 } else { 10 };
    let only = std::env::var("SIM_ONLY").ok();
    let wanted = |n: &str| only.as_deref().is_none_or(|o| o == n);
    let mut reports = Vec::new();
    let mut footnotes = Vec::new();
    if wanted("1") {
        match scenario_one(quick, repeats) {
            Ok((report, note)) => {
                reports.push(report);
                footnotes.push(note);
            }
            Err(err) => eprintln!("scenario 1 failed: {err}"),
        }
    }
    let scenarios = [
        ("2", sim::nsdi_cluster(quick)),
        ("3", sim::hoarding_mix(quick)),
    ];
    for (_, scenario) in scenarios.into_iter().filter(|(n, _)| wanted(n)) {
        match scenario.and_then(|s| sim::run(&s)) {
            Ok(report) => reports.push(report),
            Err(err) => eprintln!("scenario failed: {err}"),
        }
    }
    print_table(&reports, quick);
    for note in footnotes {
        println!("{note}");
    }
    for report in &reports {
        for note in &report.notes {
            println!("[{}] {note}", &report.name[..1]);
        }
    }
}

/// Scenario 1 repeated on fresh clusters, with the naive re-sort baseline in the same run.
fn scenario_one(
    quick: bool,
    repeats: usize,
) -> Result<(Report, String), wasmesos_allocator::Error> {
    let scenario = sim::mesos_benchmark(quick)?;
    let mut samples = Vec::new();
    let mut merged = Report::default();
    for _ in 0..repeats {
        let report = sim::run(&scenario)?;
        samples.push(report.rounds.p50);
        merged = Report {
            rounds: Latency::default(),
            ..report
        };
    }
    merged.rounds = Latency::from_samples(samples.clone());
    let agents = merged.agents;
    let frameworks = merged.frameworks;
    let mut baseline: Vec<Duration> = (0..repeats.min(3))
        .map(|_| sim::naive_round(agents, frameworks, 8.0, 32.0 * 1024.0 * 1024.0 * 1024.0).0)
        .collect();
    baseline.sort();
    let baseline = baseline[baseline.len() / 2];
    let ours = merged.rounds.p50;
    let mut note = format!(
        "[1] median full round {:.2} ms; naive re-sort-per-agent baseline in this run {:.2} ms ({:.1}x)",
        ms(ours),
        ms(baseline),
        ms(baseline) / ms(ours).max(1e-9),
    );
    if !quick {
        // Mesos's figure is for this very shape, so the ratio only means something here.
        note.push_str(&format!(
            "; Mesos 1.x published {MESOS_ROUND_MS:.0} ms ({:.0}x)",
            MESOS_ROUND_MS / ms(ours).max(1e-9)
        ));
    }
    Ok((merged, note))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn print_table(reports: &[Report], quick: bool) {
    println!(
        "wasmesos allocator simulator ({} mode)",
        if quick { "quick" } else { "full" }
    );
    println!(
        "| {:<48} | {:>6} | {:>9} | {:>9} | {:>9} | {:>9} | {:>10} | {:>12} | {:>7} | {:>7} | {:>6} | {:>10} |",
        "scenario",
        "rounds",
        "p50 ms",
        "p99 ms",
        "max ms",
        "offers",
        "offers/s",
        "alloc off/s",
        "cpu use",
        "mem use",
        "Jain",
        "worst wait"
    );
    println!(
        "|{}|",
        "-".repeat(48 + 6 + 9 * 4 + 10 + 12 + 7 * 2 + 6 + 10 + 3 * 12 - 1)
    );
    for r in reports {
        println!(
            "| {:<48} | {:>6} | {:>9.3} | {:>9.3} | {:>9.3} | {:>9} | {:>10} | {:>12.0} | {:>7} | {:>7} | {:>6} | {:>10} |",
            r.name,
            r.rounds.samples,
            ms(r.rounds.p50),
            ms(r.rounds.p99),
            ms(r.rounds.max),
            r.offers,
            r.offers_per_virtual_second()
                .map_or("-".into(), |v| format!("{v:.0}")),
            r.offers_per_allocator_second(),
            pct(r.utilization_cpus),
            pct(r.utilization_mem),
            r.jain.map_or("-".into(), |j| format!("{j:.4}")),
            r.worst_wait
                .map_or("-".into(), |w| format!("{:.2}s", w.as_secs_f64())),
        );
    }
}
