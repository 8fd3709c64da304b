//! The scale simulator's three scenarios, printed as a table.
//!
//! `cargo bench -p wasmesos-allocator --bench sim` runs them at full size;
//! `SIM_QUICK=1` (or `-- --quick`) shrinks them for CI; `SIM_ONLY=2` runs one scenario.
//! Each scenario runs in a child process of this binary, so one scenario's heap (50,000
//! agents' worth) does not slow the next one's allocation rounds.

use std::process::Command;

use wasmesos_allocator::sim::{self, Report};

const CHILD: &str = "SIM_CHILD";

fn main() {
    let quick = std::env::var_os("SIM_QUICK").is_some() || std::env::args().any(|a| a == "--quick");
    let only = std::env::var("SIM_ONLY").ok();
    if std::env::var_os(CHILD).is_some() {
        child(quick, only.as_deref().unwrap_or("1"));
        return;
    }
    let mut reports = Vec::new();
    for number in ["1", "2", "3"] {
        if only.as_deref().is_some_and(|o| o != number) {
            continue;
        }
        match run_child(number) {
            Ok(report) => reports.push(report),
            Err(err) => eprintln!("scenario {number} failed: {err}"),
        }
    }
    let mode = if quick { "quick" } else { "full" };
    println!("wasmesos allocator simulator ({mode} mode)");
    print!("{}", sim::format_table(&reports));
}

/// Runs one scenario in a fresh copy of this process and reads its report.
fn run_child(number: &str) -> Result<Report, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = Command::new(exe)
        .args(std::env::args().skip(1))
        .env(CHILD, "1")
        .env("SIM_ONLY", number)
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())
}

/// In the child: run scenario `number` and print its report as JSON.
fn child(quick: bool, number: &str) {
    let repeats = if quick { 3 } else { 10 };
    let scenario = match number {
        "1" => sim::mesos_benchmark(quick),
        "2" => sim::nsdi_cluster(quick),
        _ => sim::hoarding_mix(quick),
    };
    let report = scenario.and_then(|s| sim::run_repeated(&s, repeats));
    match report.map(|r| serde_json::to_string(&r)) {
        Ok(Ok(json)) => println!("{json}"),
        Ok(Err(err)) => fail(&err.to_string()),
        Err(err) => fail(&err.to_string()),
    }
}

fn fail(message: &str) {
    eprintln!("{message}");
    std::process::exit(1);
}
