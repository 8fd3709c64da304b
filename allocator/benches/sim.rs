//! The scale simulator's three scenarios, printed as a table.
//!
//! `cargo bench -p wasmesos-allocator --bench sim` runs them at full size;
//! `SIM_QUICK=1` (or `-- --quick`) shrinks them for CI; `SIM_ONLY=2` runs one scenario.

use wasmesos_allocator::sim;

fn main() {
    let quick = std::env::var_os("SIM_QUICK").is_some() || std::env::args().any(|a| a == "--quick");
    let repeats = if quick { 3 } else { 10 };
    let only = std::env::var("SIM_ONLY").ok();
    let scenarios = [
        ("1", sim::mesos_benchmark(quick)),
        ("2", sim::nsdi_cluster(quick)),
        ("3", sim::hoarding_mix(quick)),
    ];
    let mut reports = Vec::new();
    for (number, scenario) in scenarios {
        if only.as_deref().is_some_and(|o| o != number) {
            continue;
        }
        match scenario.and_then(|s| sim::run_repeated(&s, repeats)) {
            Ok(report) => reports.push(report),
            Err(err) => eprintln!("scenario {number} failed: {err}"),
        }
    }
    let mode = if quick { "quick" } else { "full" };
    println!("wasmesos allocator simulator ({mode} mode)");
    print!("{}", sim::format_table(&reports));
}
