//! `stdout-flood`: writes to stdout as fast as it can.
//!
//! Args: `stdout-flood [MIB]`. With `MIB`, writes that many MiB of text lines and exits 0;
//! without, writes forever. The host must cap the captured output (keeping the tail) without
//! trapping or blocking the guest, so a failed write is reported on stderr and exits 1.
//! A malformed `MIB` exits 2.

#![forbid(unsafe_code)]

use std::io::Write;

const MIB: u64 = 1 << 20;
const BATCH: usize = 64 << 10;

fn main() {
    let limit = match std::env::args().nth(1).map(|arg| arg.parse::<u64>()) {
        None => None,
        Some(Ok(mib)) => Some(mib.saturating_mul(MIB)),
        Some(Err(err)) => {
            eprintln!("stdout-flood: expected a size in MiB: {err}");
            guest_exit::exit(2);
        }
    };
    if let Err(err) = flood(limit) {
        eprintln!("stdout-flood: write failed: {err}");
        guest_exit::exit(1);
    }
}

/// Writes 64-byte numbered lines, in 64 KiB batches, until `limit` bytes (or forever).
fn flood(limit: Option<u64>) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut batch = Vec::with_capacity(BATCH);
    let mut written: u64 = 0;
    let mut line_number: u64 = 0;
    while limit.is_none_or(|limit| written < limit) {
        batch.clear();
        while batch.len() < BATCH {
            writeln!(batch, "flood line {line_number:020} {:031}", "")?;
            line_number += 1;
        }
        let remaining = limit.map_or(batch.len() as u64, |limit| limit - written);
        let chunk = &batch[..batch
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX))];
        out.write_all(chunk)?;
        written += chunk.len() as u64;
    }
    out.flush()
}
