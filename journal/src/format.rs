//! The bytes of a journal file: its header, its records, and the scan that reads them back.
//!
//! ```text
//! header  = "wmsjrnl\0" | version u32 | owner format u32 | kind [u8; 16] (zero padded)
//! record  = len u32 | crc32(len | payload) u32 | payload (len bytes)
//! payload = entry*
//! entry   = table u8 | 1 (put) | key_len u32 | key | value_len u32 | value
//!         | table u8 | 2 (delete) | key_len u32 | key
//! ```
//!
//! Integers are little-endian. After the last record the file holds zeros (a length of 0
//! ends the log), up to the end of the preallocated chunk.

use std::ops::Range;

/// The first eight bytes of every journal.
pub const MAGIC: &[u8; 8] = b"wmsjrnl\0";
/// This layout's version.
pub const VERSION: u32 = 1;
/// The header's size.
pub const HEADER_BYTES: usize = 32;
/// A record's length and checksum.
pub const RECORD_HEADER_BYTES: usize = 8;
/// The largest record payload, so a damaged length can never ask for gigabytes.
pub const MAX_RECORD: usize = 256 << 20;
/// The longest owner kind.
pub const MAX_KIND: usize = 16;

const PUT: u8 = 1;
const DELETE: u8 = 2;

/// The header of a journal of `kind` (at most [`MAX_KIND`] bytes) with the owner's `format`.
pub fn header(kind: &str, format: u32) -> [u8; HEADER_BYTES] {
    let mut bytes = [0u8; HEADER_BYTES];
    bytes[..8].copy_from_slice(MAGIC);
    bytes[8..12].copy_from_slice(&VERSION.to_le_bytes());
    bytes[12..16].copy_from_slice(&format.to_le_bytes());
    let kind = kind.as_bytes();
    let len = kind.len().min(MAX_KIND);
    bytes[16..16 + len].copy_from_slice(&kind[..len]);
    bytes
}

/// Checks that `bytes` start with the header of a `kind` journal with `format`; the error
/// says what they are instead.
pub fn check_header(bytes: &[u8], kind: &str, format: u32) -> Result<(), String> {
    let Some(found) = bytes.get(..HEADER_BYTES) else {
        return Err(format!(
            "it holds {} bytes, less than a journal header",
            bytes.len()
        ));
    };
    if &found[..8] != MAGIC {
        return Err("it is not a wasmesos journal (no journal header)".into());
    }
    let expected = header(kind, format);
    if found[16..] != expected[16..] {
        let theirs = String::from_utf8_lossy(&found[16..]);
        return Err(format!(
            "it is a journal of another kind ({:?}, not {kind:?})",
            theirs.trim_end_matches('\0')
        ));
    }
    let version = u32_at(found, 8);
    let owner = u32_at(found, 12);
    if version != VERSION || owner != format {
        return Err(format!(
            "it has journal version {version} and format {owner}, not {VERSION} and {format} \
             (written by another wasmesos version?)"
        ));
    }
    Ok(())
}

/// Appends a put of `value` at `key` in `table` to a payload.
pub fn put(payload: &mut Vec<u8>, table: u8, key: &[u8], value: &[u8]) {
    entry_head(payload, table, PUT, key);
    payload.extend_from_slice(&len_u32(value.len()).to_le_bytes());
    payload.extend_from_slice(value);
}

/// Appends a delete of `key` in `table` to a payload.
pub fn delete(payload: &mut Vec<u8>, table: u8, key: &[u8]) {
    entry_head(payload, table, DELETE, key);
}

fn entry_head(payload: &mut Vec<u8>, table: u8, op: u8, key: &[u8]) {
    payload.push(table);
    payload.push(op);
    payload.extend_from_slice(&len_u32(key.len()).to_le_bytes());
    payload.extend_from_slice(key);
}

/// Fills in the record header of `record`, whose first [`RECORD_HEADER_BYTES`] were reserved
/// and whose payload follows them.
pub fn seal(record: &mut [u8]) {
    let len = len_u32(record.len().saturating_sub(RECORD_HEADER_BYTES)).to_le_bytes();
    record[..4].copy_from_slice(&len);
    let crc = checksum(&len, &record[RECORD_HEADER_BYTES..]);
    record[4..8].copy_from_slice(&crc.to_le_bytes());
}

fn checksum(len: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(len);
    hasher.update(payload);
    hasher.finalize()
}

fn len_u32(len: usize) -> u32 {
    // Records are capped at MAX_RECORD, far below u32::MAX.
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(slice) = bytes.get(at..at + 4) {
        word.copy_from_slice(slice);
    }
    u32::from_le_bytes(word)
}

/// One entry of a record read back; ranges index the file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The table.
    pub table: u8,
    /// Where its key is.
    pub key: Range<usize>,
    /// Where its value is; `None` for a delete.
    pub value: Option<Range<usize>>,
}

/// How a scan ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// At zeros (or the end of the file) after the last record: nothing was torn.
    Clean {
        /// Where the next record goes.
        at: usize,
    },
    /// At a record that fails its checksum, with nothing valid after it: a torn append. Everything from `at` on is to be dropped.
    Torn {
        /// Where the torn record starts (and the next record goes).
        at: usize,
        /// How many bytes from `at` on are not zero.
        dropped: usize,
    },
}

/// Reads every record of `bytes` (a whole file, header included) and hands each one's
/// entries to `apply`, in order. Fails on damage that a torn append cannot explain: a bad
/// record followed by a valid one, a file that ends inside a record (a torn append stays
/// within the zeros the file was grown by first), or a record that passes its checksum but
/// does not parse.
pub fn scan(bytes: &[u8], mut apply: impl FnMut(&[RawEntry])) -> Result<End, String> {
    let mut at = HEADER_BYTES;
    let mut entries = Vec::new();
    loop {
        match record_at(bytes, at) {
            Record::End => return Ok(End::Clean { at }),
            Record::Cut => {
                return Err(format!(
                    "the file ends inside the record at byte {at}: it was cut short after it \
                     was written"
                ));
            }
            Record::Bad(why) => {
                if let Some(next) = valid_record_after(bytes, at) {
                    return Err(format!(
                        "the record at byte {at} is damaged ({why}) but a valid one follows at \
                         byte {next}"
                    ));
                }
                let dropped = bytes[at..]
                    .iter()
                    .rposition(|byte| *byte != 0)
                    .map_or(0, |last| last + 1);
                return Ok(End::Torn { at, dropped });
            }
            Record::Valid(payload) => {
                entries.clear();
                parse(bytes, payload.clone(), &mut entries)
                    .map_err(|why| format!("the record at byte {at} {why}"))?;
                apply(&entries);
                at = payload.end;
            }
        }
    }
}

enum Record {
    End,
    Bad(&'static str),
    /// The file ends inside the record: it was cut after it was written, since the journal
    /// grows the file (zeros, synced) before it writes a record there.
    Cut,
    Valid(Range<usize>),
}

fn record_at(bytes: &[u8], at: usize) -> Record {
    let rest = bytes.len().saturating_sub(at);
    if rest < RECORD_HEADER_BYTES {
        return if bytes[at.min(bytes.len())..].iter().all(|byte| *byte == 0) {
            Record::End
        } else {
            Record::Cut
        };
    }
    let len = u32_at(bytes, at) as usize;
    let crc = u32_at(bytes, at + 4);
    if len == 0 && crc == 0 {
        return if bytes[at..].iter().all(|byte| *byte == 0) {
            Record::End
        } else {
            Record::Bad("a zero length before more data")
        };
    }
    if len > MAX_RECORD {
        return Record::Bad("its length is larger than any record");
    }
    if len > rest - RECORD_HEADER_BYTES {
        return Record::Cut;
    }
    let start = at + RECORD_HEADER_BYTES;
    let payload = start..start + len;
    if checksum(&bytes[at..at + 4], &bytes[payload.clone()]) != crc {
        return Record::Bad("its checksum does not match");
    }
    Record::Valid(payload)
}

/// Where a valid record follows a bad one at `at`, if its length field can be trusted.
fn valid_record_after(bytes: &[u8], at: usize) -> Option<usize> {
    let len = u32_at(bytes, at) as usize;
    let next = at.checked_add(RECORD_HEADER_BYTES)?.checked_add(len)?;
    if len == 0 || next >= bytes.len() {
        return None;
    }
    matches!(record_at(bytes, next), Record::Valid(_)).then_some(next)
}

fn parse(bytes: &[u8], payload: Range<usize>, entries: &mut Vec<RawEntry>) -> Result<(), String> {
    let mut at = payload.start;
    let end = payload.end;
    let field = |at: usize, len: usize| -> Result<Range<usize>, String> {
        match at.checked_add(len) {
            Some(stop) if stop <= end => Ok(at..stop),
            _ => Err(format!("has an entry running past its end at byte {at}")),
        }
    };
    while at < end {
        let head = field(at, 6)?;
        let table = bytes[head.start];
        let op = bytes[head.start + 1];
        let key_len = u32_at(bytes, head.start + 2) as usize;
        let key = field(head.end, key_len)?;
        at = key.end;
        let value = match op {
            PUT => {
                let len = field(at, 4)?;
                let value = field(len.end, u32_at(bytes, len.start) as usize)?;
                at = value.end;
                Some(value)
            }
            DELETE => None,
            other => return Err(format!("has an entry of unknown kind {other}")),
        };
        entries.push(RawEntry { table, key, value });
    }
    Ok(())
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
