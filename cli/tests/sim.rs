//! `wasmesos sim` runs the allocator's simulator and prints its table.

use std::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_wasmesos");

#[test]
fn every_quick_scenario_runs_in_its_own_process_and_lands_in_one_table() {
    let output = Command::new(BINARY)
        .args(["sim", "--quick"])
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("wasmesos allocator simulator (quick mode)"),
        "{stdout}"
    );
    for row in ["| 1: 1000 agents", "| 2: 5000 agents", "| 3: "] {
        assert!(
            stdout.lines().any(|l| l.starts_with(row)),
            "{row} in {stdout}"
        );
    }
    assert!(stdout.contains("invariants hold"), "{stdout}");
    for scenario in ["1", "2", "3"] {
        assert!(
            stderr.contains(&format!("running scenario {scenario}")),
            "{stderr}"
        );
    }
}

#[test]
fn one_scenario_prints_one_row_and_a_bad_choice_is_refused() {
    let output = Command::new(BINARY)
        .args(["sim", "--scenario", "1", "--quick", "--repeats", "2"])
        .output()
        .expect("the binary runs");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("| 1:")).collect();
    assert_eq!(rows.len(), 1, "{stdout}");
    let rounds: Vec<&str> = rows[0].split('|').map(str::trim).collect();
    assert_eq!(rounds[2], "2", "latency over the repeats: {rows:?}");

    let refused = Command::new(BINARY)
        .args(["sim", "--scenario", "4"])
        .output()
        .expect("the binary runs");
    assert!(!refused.status.success());
}
