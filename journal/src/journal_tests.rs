use super::*;

fn options() -> Options {
    Options {
        chunk_bytes: 4096,
        compact_at_bytes: 64 << 10,
        ..Options::new("test", 1)
    }
}

fn live(journal: &Journal) -> Vec<(u8, Vec<u8>, Vec<u8>)> {
    let mut entries: Vec<_> = journal
        .entries()
        .map(|(table, key, value)| (table, key.to_vec(), value.to_vec()))
        .collect();
    entries.sort();
    entries
}

#[test]
fn puts_overwrites_and_deletes_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j");
    let mut journal = Journal::open(&path, options()).expect("created");
    assert!(journal.recovery().created && journal.is_empty());
    journal
        .write(
            vec![
                Entry::put(1, "a", b"1".to_vec()),
                Entry::put(1, "b", b"2".to_vec()),
                Entry::put(2, "a", b"other table".to_vec()),
            ],
            true,
        )
        .expect("first");
    journal
        .write(
            vec![Entry::put(1, "a", b"3".to_vec()), Entry::delete(1, "b")],
            false,
        )
        .expect("second, unsynced");
    journal
        .write(Vec::new(), true)
        .expect("an empty synced batch");
    let expected = live(&journal);
    assert_eq!(journal.get(1, b"a"), Some(b"3".as_slice()));
    drop(journal);

    let journal = Journal::open(&path, options()).expect("reopened");
    assert_eq!(live(&journal), expected);
    assert_eq!(
        journal.recovery(),
        &Recovery {
            records: 2,
            torn: None,
            created: false
        }
    );
    assert_eq!(
        expected,
        vec![
            (1, b"a".to_vec(), b"3".to_vec()),
            (2, b"a".to_vec(), b"other table".to_vec())
        ]
    );
}

#[test]
fn the_file_grows_a_chunk_at_a_time_and_records_may_span_chunks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j");
    let mut journal = Journal::open(&path, options()).expect("created");
    let size = || std::fs::metadata(&path).expect("metadata").len();
    assert_eq!(size(), HEADER_BYTES as u64 + 4096);
    journal
        .write(vec![Entry::put(1, "small", vec![1; 100])], true)
        .expect("small");
    assert_eq!(
        size(),
        HEADER_BYTES as u64 + 4096,
        "no growth within a chunk"
    );
    journal
        .write(vec![Entry::put(1, "big", vec![2; 10_000])], true)
        .expect("big");
    assert!(
        size() >= journal.used_bytes(),
        "{} < {}",
        size(),
        journal.used_bytes()
    );
    drop(journal);
    let journal = Journal::open(&path, options()).expect("reopened");
    assert_eq!(journal.get(1, b"big").map(<[u8]>::len), Some(10_000));
    assert_eq!(journal.get(1, b"small").map(<[u8]>::len), Some(100));
}

#[test]
fn a_torn_last_append_is_dropped_zeroed_and_never_comes_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j");
    let mut journal = Journal::open(&path, options()).expect("created");
    journal
        .write(vec![Entry::put(1, "kept", b"yes".to_vec())], true)
        .expect("kept");
    let torn_at = journal.used_bytes();
    journal
        .write(
            vec![
                Entry::put(1, "torn", vec![9; 500]),
                Entry::put(1, "after", b"x".to_vec()),
            ],
            true,
        )
        .expect("to be torn");
    drop(journal);
    // A crash in the middle of the second append: part of it never reached the disk.
    let mut bytes = std::fs::read(&path).expect("read");
    let cut = torn_at as usize + 300;
    bytes[cut..].fill(0);
    std::fs::write(&path, &bytes).expect("write");

    let mut journal = Journal::open(&path, options()).expect("a torn tail opens");
    assert_eq!(journal.recovery().torn, Some((torn_at, 300)));
    assert_eq!(live(&journal), vec![(1, b"kept".to_vec(), b"yes".to_vec())]);
    // What follows goes where the torn record was, and nothing of it survives.
    journal
        .write(vec![Entry::put(1, "new", b"n".to_vec())], true)
        .expect("after the tear");
    drop(journal);
    let journal = Journal::open(&path, options()).expect("reopened");
    assert_eq!(journal.recovery().torn, None);
    assert_eq!(
        live(&journal),
        vec![
            (1, b"kept".to_vec(), b"yes".to_vec()),
            (1, b"new".to_vec(), b"n".to_vec())
        ]
    );
}

#[test]
fn damage_before_valid_records_garbage_and_other_kinds_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j");
    let mut journal = Journal::open(&path, options()).expect("created");
    for n in 0..20u8 {
        journal
            .write(
                vec![Entry::put(1, vec![n], vec![n; 100])],
                n.is_multiple_of(5),
            )
            .expect("written");
    }
    drop(journal);
    let good = std::fs::read(&path).expect("read");

    let mut damaged = good.clone();
    damaged[HEADER_BYTES + 500] ^= 0x01;
    std::fs::write(&path, &damaged).expect("write");
    let err = Journal::open(&path, options()).expect_err("damage is refused");
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    std::fs::write(&path, &good).expect("write");
    let err = Journal::open(&path, Options::new("another", 1)).expect_err("another kind");
    assert!(err.to_string().contains("another kind"), "{err}");

    std::fs::write(&path, b"").expect("write");
    let err = Journal::open(&path, options()).expect_err("an empty file is refused");
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
}

#[test]
fn a_second_open_of_an_open_journal_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j");
    let _first = Journal::open(&path, options()).expect("created");
    let err = Journal::open(&path, options()).expect_err("locked");
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
}

#[test]
fn compaction_keeps_exactly_the_live_entries_and_shrinks_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j");
    let mut journal = Journal::open(&path, options()).expect("created");
    let mut n = 0u32;
    while !journal.needs_compaction() {
        // A sliding window of 10 live keys, as tasks come and go.
        let mut batch = vec![Entry::put(1, n.to_le_bytes(), vec![7; 200])];
        if let Some(old) = n.checked_sub(10) {
            batch.push(Entry::delete(1, old.to_le_bytes()));
        }
        journal.write(batch, n.is_multiple_of(3)).expect("written");
        n += 1;
    }
    let before = live(&journal);
    assert_eq!(before.len(), 10);
    let used = journal.used_bytes();
    journal.compact().expect("compacted");
    assert!(
        journal.used_bytes() < used / 10,
        "{} of {used}",
        journal.used_bytes()
    );
    assert!(!journal.needs_compaction());
    assert!(
        !dir.path().join("j.compact").exists(),
        "the staging file is renamed"
    );
    journal
        .write(vec![Entry::put(2, "after", b"compaction".to_vec())], true)
        .expect("written after");
    drop(journal);
    let journal = Journal::open(&path, options()).expect("reopened");
    let mut expected = before;
    expected.push((2, b"after".to_vec(), b"compaction".to_vec()));
    expected.sort();
    assert_eq!(live(&journal), expected);
    assert_eq!(journal.recovery().records, 11);
}

#[test]
fn only_synced_writes_are_timed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut journal = Journal::open(&dir.path().join("j"), options()).expect("created");
    assert_eq!(journal.last_synced_write(), None);
    assert!(
        !journal.syncs_in_place(Instant::now()),
        "nothing is known before a sync"
    );
    journal
        .write(vec![Entry::put(1, "a", b"1".to_vec())], false)
        .expect("unsynced");
    assert_eq!(
        journal.last_synced_write(),
        None,
        "an unsynced write is not"
    );
    journal
        .write(vec![Entry::put(1, "b", b"2".to_vec())], true)
        .expect("synced");
    let took = journal
        .last_synced_write()
        .expect("a synced write is timed");
    let later = Instant::now() + QUIET_GAP;
    assert_eq!(journal.syncs_in_place(later), took < QUIET_SYNC);
}

#[test]
fn a_slower_sync_runs_in_place_only_while_its_owner_is_quiet() {
    let ms = Duration::from_millis;
    let us = Duration::from_micros;
    assert!(may_sync_in_place(us(20), Duration::ZERO), "quick: always");
    assert!(!may_sync_in_place(us(300), us(50)), "slower, and busy");
    assert!(may_sync_in_place(us(300), QUIET_GAP), "slower, and quiet");
    assert!(!may_sync_in_place(ms(5), ms(1000)), "slow: never");
}
