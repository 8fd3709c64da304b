//! What a synced batch costs in the journal, against redb's synced commit of the same
//! entries (the agent checkpoint's and the master registry's store before the journal),
//! measured in the same run on the same directory.
//!
//! Each batch is what an agent writes when `TASKS` tasks report at once: per task a task
//! record put, a status put in two tables and the delete of an acknowledged update, with
//! values of checkpoint size. Printed per store and batch size: wall time and process CPU
//! per synced batch (median of `ROUNDS` rounds of `BATCHES` batches), and the journal's
//! ratio to redb.
//!
//! Run: `cargo bench -p wasmesos-journal --bench journal`; `WASMESOS_BENCH_DIR` picks the
//! directory (default: the temp dir; `/dev/shm` measures the CPU alone).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use redb::{Database, Durability, TableDefinition};
use wasmesos_journal::{Entry, Journal, Options};

const ROUNDS: usize = 5;
const BATCHES: usize = 400;
const TASKS: [usize; 3] = [1, 16, 128];
const TABLES: [TableDefinition<&[u8], &[u8]>; 3] = [
    TableDefinition::new("tasks"),
    TableDefinition::new("latest"),
    TableDefinition::new("updates"),
];

fn batch(round: usize, batch: usize, tasks: usize) -> Vec<Entry> {
    let mut entries = Vec::with_capacity(tasks * 4);
    for task in 0..tasks {
        let id = format!("framework-0001/task-{round}-{batch}-{task}").into_bytes();
        let seq = ((batch * tasks + task) as u64).to_be_bytes().to_vec();
        entries.push(Entry::put(0, id.clone(), vec![1; 220]));
        entries.push(Entry::put(1, id, vec![2; 140]));
        entries.push(Entry::put(2, seq.clone(), vec![3; 140]));
        if let Some(acked) = (batch * tasks + task).checked_sub(tasks) {
            entries.push(Entry::delete(2, (acked as u64).to_be_bytes().to_vec()));
        }
    }
    entries
}

/// Wall time and CPU per batch of one round.
type Cost = (Duration, Duration);

fn journal_round(path: &Path, round: usize, tasks: usize) -> Cost {
    let _ = std::fs::remove_file(path);
    let mut journal = Journal::open(path, Options::new("bench", 1)).expect("journal");
    let batches: Vec<Vec<Entry>> = (0..BATCHES).map(|b| batch(round, b, tasks)).collect();
    let (wall, cpu) = (Instant::now(), ProcessTime::now());
    for entries in batches {
        journal.write(entries, true).expect("write");
        journal.compact_if_needed().expect("compact");
    }
    per_batch(wall.elapsed(), cpu.elapsed())
}

fn redb_round(path: &Path, round: usize, tasks: usize) -> Cost {
    let _ = std::fs::remove_file(path);
    let db = Database::create(path).expect("redb");
    let batches: Vec<Vec<Entry>> = (0..BATCHES).map(|b| batch(round, b, tasks)).collect();
    let (wall, cpu) = (Instant::now(), ProcessTime::now());
    for entries in batches {
        let mut txn = db.begin_write().expect("txn");
        txn.set_durability(Durability::Immediate)
            .expect("durability");
        {
            let mut tables: Vec<_> = TABLES
                .iter()
                .map(|table| txn.open_table(*table).expect("table"))
                .collect();
            for entry in &entries {
                let table = &mut tables[usize::from(entry.table)];
                match &entry.value {
                    Some(value) => drop(table.insert(entry.key.as_slice(), value.as_slice())),
                    None => drop(table.remove(entry.key.as_slice())),
                }
            }
        }
        txn.commit().expect("commit");
    }
    per_batch(wall.elapsed(), cpu.elapsed())
}

fn per_batch(wall: Duration, cpu: Duration) -> Cost {
    (wall / BATCHES as u32, cpu / BATCHES as u32)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values[values.len() / 2]
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let base =
        std::env::var_os("WASMESOS_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = tempfile::tempdir_in(&base).expect("a bench dir");
    println!(
        "synced batches in {} ({BATCHES} batches x {ROUNDS} rounds, medians)",
        base.display()
    );
    println!(
        "{:>6} | {:>14} {:>14} | {:>14} {:>14} | {:>11} {:>11}",
        "tasks",
        "redb wall µs",
        "redb cpu µs",
        "journal wall",
        "journal cpu",
        "wall ratio",
        "cpu ratio"
    );
    for tasks in TASKS {
        let (mut redb, mut journal) = (Vec::new(), Vec::new());
        // Alternating, so a noisy neighbour hurts both alike.
        for round in 0..ROUNDS {
            redb.push(redb_round(&dir.path().join("bench.redb"), round, tasks));
            journal.push(journal_round(
                &dir.path().join("bench.journal"),
                round,
                tasks,
            ));
        }
        let wall = |costs: &[Cost]| median(costs.iter().map(|cost| cost.0).collect());
        let cpu = |costs: &[Cost]| median(costs.iter().map(|cost| cost.1).collect());
        println!(
            "{tasks:>6} | {:>14.1} {:>14.1} | {:>14.1} {:>14.1} | {:>10.2}x {:>10.2}x",
            micros(wall(&redb)),
            micros(cpu(&redb)),
            micros(wall(&journal)),
            micros(cpu(&journal)),
            micros(wall(&journal)) / micros(wall(&redb)),
            micros(cpu(&journal)) / micros(cpu(&redb)),
        );
    }
}
