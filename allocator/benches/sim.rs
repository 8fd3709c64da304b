//! The scale simulator's three scenarios, printed as a table.
//!
//! `cargo bench -p wasmesos-allocator --bench sim` runs them at full size;
//! `SIM_QUICK=1` (or `-- --quick`) shrinks them for CI; `SIM_ONLY=2` runs one scenario,
//! `SIM_ONLY=1,1p` a list.
//! Scenario `1p` is scenario 1 with `ports:[31000-32000]` on every agent (two ports per
//! task); the two alternate three times, each keeping its fastest run, and the ratio of
//! their median round times is printed under the table.
//! Each scenario runs in a child process of this binary, so one scenario's heap (50,000
//! agents' worth) does not slow the next one's allocation rounds.

use std::process::Command;

use wasmesos_allocator::sim::{self, Report};

const CHILD: &str = "SIM_CHILD";

/// Runs of scenarios 1 and 1p, alternating; each keeps its fastest.
const PAIR_RUNS: usize = 3;

fn main() {
    let quick = std::env::var_os("SIM_QUICK").is_some() || std::env::args().any(|a| a == "--quick");
    let only = std::env::var("SIM_ONLY").ok();
    if std::env::var_os(CHILD).is_some() {
        child(quick, only.as_deref().unwrap_or("1"));
        return;
    }
    let wanted = |number: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|one| one == number))
    };
    let mut reports = Vec::new();
    // 1 and 1p alternate, three times each, and each keeps its fastest run: on a shared
    // machine a neighbour's burst then slows one run, not the ratio.
    let pair: Vec<&str> = ["1", "1p"].into_iter().filter(|n| wanted(n)).collect();
    let mut best: Vec<Option<Report>> = vec![None; pair.len()];
    for _ in 0..PAIR_RUNS {
        for (at, number) in pair.iter().enumerate() {
            match run_child(number) {
                Ok(report) => {
                    let faster = best[at]
                        .as_ref()
                        .is_none_or(|b| report.rounds.p50 < b.rounds.p50);
                    if faster {
                        best[at] = Some(report);
                    }
                }
                Err(err) => eprintln!("scenario {number} failed: {err}"),
            }
        }
    }
    reports.extend(best.into_iter().flatten());
    for number in ["2", "3"] {
        if !wanted(number) {
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
    let p50 = |prefix: &str| {
        reports
            .iter()
            .find(|r| r.name.starts_with(prefix))
            .map(|r| r.rounds.p50.as_secs_f64())
    };
    if let (Some(scalars), Some(ports)) = (p50("1:"), p50("1p:")) {
        println!(
            "ports vs scalar-only round (median, best of {PAIR_RUNS} alternating runs, \
             scenario 1p / 1): {:.2} ms / {:.2} ms = {:.2}x",
            ports * 1e3,
            scalars * 1e3,
            ports / scalars
        );
    }
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
        "1p" => sim::mesos_benchmark_ports(quick),
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
