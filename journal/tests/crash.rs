//! A journal whose writer is killed (SIGKILL on Unix, TerminateProcess on Windows) in the
//! middle of its appends and compactions loses nothing it reported synced, and holds no
//! half of any record.
//!
//! The test re-runs its own binary as the writer ([`crash_child`], which only runs with
//! `WASMESOS_JOURNAL_CRASH_DIR` set). The writer appends numbered records forever, syncing
//! every other one and compacting when the journal asks, and prints each synced number; the
//! test kills it at a point that moves from round to round, reopens the journal, checks it
//! and starts the next writer on the same file.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use wasmesos_journal::{Entry, Journal, Options};

const DIR_VAR: &str = "WASMESOS_JOURNAL_CRASH_DIR";
/// Keys kept live: a window of the newest records, as an agent keeps its running tasks.
const WINDOW: u64 = 50;
const COUNTER: &[u8] = b"counter";

fn options() -> Options {
    Options {
        chunk_bytes: 16 << 10,
        compact_at_bytes: 128 << 10,
        ..Options::new("crash-test", 1)
    }
}

fn counter(journal: &Journal) -> Option<u64> {
    let bytes = journal.get(0, COUNTER)?;
    Some(u64::from_le_bytes(
        bytes.try_into().expect("an 8-byte counter"),
    ))
}

/// Record `n`: the counter, the window's newest key, and the delete of the key that left it.
fn record(n: u64) -> Vec<Entry> {
    let mut entries = vec![
        Entry::put(0, COUNTER, n.to_le_bytes().to_vec()),
        Entry::put(1, n.to_be_bytes(), vec![(n % 251) as u8; 300]),
    ];
    if let Some(gone) = n.checked_sub(WINDOW) {
        entries.push(Entry::delete(1, gone.to_be_bytes()));
    }
    entries
}

#[test]
#[ignore = "the writer process of a_killed_writer_loses_nothing_it_synced; runs only as that"]
fn crash_child() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
    let path = Path::new(&dir).join("journal");
    let mut journal = Journal::open(&path, options()).expect("the writer opens the journal");
    let mut n = counter(&journal).map_or(0, |last| last + 1);
    let mut out = std::io::stdout().lock();
    loop {
        let sync = n.is_multiple_of(2);
        journal.write(record(n), sync).expect("append");
        if sync {
            writeln!(out, "synced {n}").expect("stdout");
            out.flush().expect("stdout");
        }
        if journal.compact_if_needed().expect("compaction").is_some() {
            writeln!(out, "compacted {n}").expect("stdout");
        }
        n += 1;
    }
}

/// Checks the journal after a kill: the counter reached at least `synced`, and exactly the
/// window below it is live.
fn check(path: &Path, synced: u64) -> u64 {
    let journal = Journal::open(path, options()).expect("the journal opens after a kill");
    let last = counter(&journal).expect("a counter");
    assert!(
        last >= synced,
        "synced {synced} but the journal ends at {last}"
    );
    let mut keys: Vec<u64> = journal
        .entries()
        .filter(|(table, _, _)| *table == 1)
        .map(|(_, key, value)| {
            let n = u64::from_be_bytes(key.try_into().expect("an 8-byte key"));
            assert_eq!(value, vec![(n % 251) as u8; 300].as_slice(), "record {n}");
            n
        })
        .collect();
    keys.sort_unstable();
    let first = last.saturating_sub(WINDOW - 1);
    assert_eq!(
        keys,
        (first..=last).collect::<Vec<_>>(),
        "after counter {last}"
    );
    last
}

#[test]
fn a_killed_writer_loses_nothing_it_synced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("journal");
    let exe = std::env::current_exe().expect("the test binary");
    let mut compactions = 0;
    for round in 0..6u64 {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--ignored", "--nocapture"])
            .env(DIR_VAR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the writer starts");
        let stdout = child.stdout.take().expect("its stdout");
        // Killed at a different point each round, past at least one compaction's worth.
        let kill_after = 600 + round * 137;
        let mut synced = None;
        let mut seen = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("a line");
            if line.starts_with("compacted ") {
                compactions += 1;
            }
            let Some(n) = line.strip_prefix("synced ") else {
                continue;
            };
            synced = Some(n.parse::<u64>().expect("a number"));
            seen += 1;
            if seen >= kill_after {
                break;
            }
        }
        child.kill().expect("kill");
        let status = child.wait().expect("wait");
        assert!(
            !status.success(),
            "the writer must have been killed: {status}"
        );
        let synced = synced.expect("the writer synced something");
        let last = check(&path, synced);
        eprintln!("round {round}: synced {synced}, journal ends at {last}");
    }
    assert!(
        compactions >= 6,
        "the writers compacted {compactions} times: the test must cover compaction"
    );
}
