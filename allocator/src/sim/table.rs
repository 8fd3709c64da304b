//! The report as a plain-text table, for the bench binary and the CLI alike.

use std::fmt::Write;
use std::time::Duration;

use super::Report;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

/// One row per report, then each report's notes tagged with its scenario name's first word.
pub fn format_table(reports: &[Report]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
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
    let width = 48 + 6 + 9 * 4 + 10 + 12 + 7 * 2 + 6 + 10 + 3 * 12 - 1;
    let _ = writeln!(out, "|{}|", "-".repeat(width));
    for r in reports {
        let _ = writeln!(
            out,
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
    for r in reports {
        let tag = r.name.split(':').next().unwrap_or_default();
        for note in &r.notes {
            let _ = writeln!(out, "[{tag}] {note}");
        }
    }
    out
}
