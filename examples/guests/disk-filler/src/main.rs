//! `disk-filler`: fills the sandbox directory with data until a write fails.
//!
//! Args: `disk-filler [MIB]`. Writes 1 MiB chunks of non-zero bytes (nothing sparse) into
//! `fill-0.bin`, `fill-1.bin`, … in the sandbox root, starting a new file every 8 MiB, and
//! prints `wrote N MiB` after each chunk. With `MIB` it stops after that many and exits 0;
//! without, it writes until a write fails, then prints `write failed after N MiB: <error>`
//! to stderr and exits 1. A malformed `MIB` exits 2.

#![forbid(unsafe_code)]

use std::fs::File;
use std::io::Write;

const CHUNK: usize = 1 << 20;
const CHUNKS_PER_FILE: u64 = 8;

fn main() {
    let limit = match std::env::args().nth(1).map(|arg| arg.parse::<u64>()) {
        None => u64::MAX,
        Some(Ok(mib)) => mib,
        Some(Err(err)) => {
            eprintln!("disk-filler: expected a size in MiB: {err}");
            guest_exit::exit(2);
        }
    };
    let chunk = vec![0x5a; CHUNK];
    let mut file: Option<File> = None;
    let mut written: u64 = 0;
    while written < limit {
        if let Err(err) = write_chunk(&mut file, written, &chunk) {
            eprintln!("write failed after {written} MiB: {err}");
            guest_exit::exit(1);
        }
        written += 1;
        println!("wrote {written} MiB");
    }
}

/// Writes the `index`-th chunk, opening the next file when the current one is full.
fn write_chunk(file: &mut Option<File>, index: u64, chunk: &[u8]) -> std::io::Result<()> {
    if index.is_multiple_of(CHUNKS_PER_FILE) {
        *file = Some(File::create(format!(
            "fill-{}.bin",
            index / CHUNKS_PER_FILE
        ))?);
    }
    match file {
        Some(file) => {
            file.write_all(chunk)?;
            file.sync_data()
        }
        None => Err(std::io::Error::other("no file open")),
    }
}
