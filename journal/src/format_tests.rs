use super::*;

/// An entry as the tests write and read it: table, key, value (`None`: a delete).
type Plain = (u8, Vec<u8>, Option<Vec<u8>>);
/// An entry to write, borrowed.
type PlainRef<'a> = (u8, &'a [u8], Option<&'a [u8]>);

fn record(entries: &[PlainRef<'_>]) -> Vec<u8> {
    let mut bytes = vec![0u8; RECORD_HEADER_BYTES];
    for (table, key, value) in entries {
        match value {
            Some(value) => put(&mut bytes, *table, key, value),
            None => delete(&mut bytes, *table, key),
        }
    }
    seal(&mut bytes);
    bytes
}

fn file(records: &[Vec<u8>], zeros: usize) -> Vec<u8> {
    let mut bytes = header("test", 7).to_vec();
    for record in records {
        bytes.extend_from_slice(record);
    }
    bytes.resize(bytes.len() + zeros, 0);
    bytes
}

fn read_all(bytes: &[u8]) -> Result<(Vec<Vec<Plain>>, End), String> {
    let mut records = Vec::new();
    let end = scan(bytes, |entries| {
        records.push(
            entries
                .iter()
                .map(|entry| {
                    (
                        entry.table,
                        bytes[entry.key.clone()].to_vec(),
                        entry.value.clone().map(|range| bytes[range].to_vec()),
                    )
                })
                .collect(),
        );
    })?;
    Ok((records, end))
}

#[test]
fn records_read_back_in_order_up_to_the_zeros() {
    let first = record(&[(1, b"a", Some(b"one")), (2, b"b", None)]);
    let second = record(&[(3, b"", Some(b""))]);
    let bytes = file(&[first.clone(), second.clone()], 100);
    let (records, end) = read_all(&bytes).expect("reads");
    assert_eq!(
        records,
        vec![
            vec![
                (1, b"a".to_vec(), Some(b"one".to_vec())),
                (2, b"b".to_vec(), None)
            ],
            vec![(3, Vec::new(), Some(Vec::new()))],
        ]
    );
    assert_eq!(
        end,
        End::Clean {
            at: HEADER_BYTES + first.len() + second.len()
        }
    );
}

#[test]
fn a_scrambled_or_half_zero_last_record_is_a_torn_append() {
    let first = record(&[(1, b"a", Some(b"one"))]);
    let last = record(&[(1, b"b", Some(&[7u8; 300]))]);
    let at = HEADER_BYTES + first.len();
    // Part of the tail never reached the disk: zeros where its bytes should be.
    let mut lost = file(&[first.clone(), last.clone()], 64);
    lost[at + 50..at + 150].fill(0);
    let (records, end) = read_all(&lost).expect("a torn tail reads");
    assert_eq!(records.len(), 1);
    assert_eq!(
        end,
        End::Torn {
            at,
            dropped: last.len()
        }
    );
    // Its length never written: the checksum alone is there.
    let mut headless = file(&[first, last], 64);
    headless[at..at + 4].fill(0);
    let (records, end) = read_all(&headless).expect("a torn tail reads");
    assert_eq!(records.len(), 1);
    assert!(
        matches!(end, End::Torn { at: torn, .. } if torn == at),
        "{end:?}"
    );
}

#[test]
fn a_file_cut_inside_a_record_is_refused() {
    let first = record(&[(1, b"a", Some(b"one"))]);
    let last = record(&[(1, b"b", Some(&[7u8; 300]))]);
    let whole = file(&[first.clone(), last], 0);
    let at = HEADER_BYTES + first.len();
    for cut in [at + 3, at + 8, at + 100, whole.len() - 1] {
        let err = read_all(&whole[..cut]).expect_err("a cut file is refused");
        assert!(
            err.contains(&format!("inside the record at byte {at}")),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn a_damaged_record_before_a_valid_one_is_refused() {
    let records: Vec<Vec<u8>> = (0..5u8)
        .map(|n| record(&[(1, &[n], Some(&[n; 40]))]))
        .collect();
    let mut bytes = file(&records, 16);
    let second = HEADER_BYTES + records[0].len();
    bytes[second + 20] ^= 0x40;
    let err = read_all(&bytes).expect_err("damage in the middle is refused");
    assert!(err.contains(&format!("byte {second}")), "{err}");
    assert!(err.contains("a valid one follows"), "{err}");
}

#[test]
fn a_record_that_passes_its_checksum_but_does_not_parse_is_refused() {
    // An entry whose key length runs past the record.
    let mut bad = vec![0u8; RECORD_HEADER_BYTES];
    bad.extend_from_slice(&[1, 1, 200, 0, 0, 0, b'k']);
    seal(&mut bad);
    let err = read_all(&file(&[bad], 8)).expect_err("refused");
    assert!(err.contains("running past its end"), "{err}");
    let mut unknown = vec![0u8; RECORD_HEADER_BYTES];
    unknown.extend_from_slice(&[1, 9, 0, 0, 0, 0]);
    seal(&mut unknown);
    let err = read_all(&file(&[unknown], 8)).expect_err("refused");
    assert!(err.contains("unknown kind 9"), "{err}");
}

#[test]
fn headers_of_another_kind_version_or_nothing_are_refused() {
    let good = header("checkpoint", 3);
    assert!(check_header(&good, "checkpoint", 3).is_ok());
    let err = check_header(&good, "registry", 3).expect_err("kind");
    assert!(err.contains("another kind (\"checkpoint\""), "{err}");
    let err = check_header(&good, "checkpoint", 4).expect_err("format");
    assert!(err.contains("format 3, not 1 and 4"), "{err}");
    let err = check_header(b"SQLite format 3\0 and more bytes here..", "checkpoint", 3)
        .expect_err("garbage");
    assert!(err.contains("not a wasmesos journal"), "{err}");
    let err = check_header(b"", "checkpoint", 3).expect_err("empty");
    assert!(err.contains("holds 0 bytes"), "{err}");
}
