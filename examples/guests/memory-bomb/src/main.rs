//! `memory-bomb`: allocates and touches memory until an allocation fails.
//!
//! No args. Grabs 1 MiB blocks, writes to every 4 KiB page of each so the memory is really
//! used, and keeps them all. Prints `allocated N MiB` to stdout every 16 MiB. It never handles
//! the failure: when the host refuses to grow memory, the allocation aborts the guest (a
//! trap), which the host must report as the memory limit.

#![forbid(unsafe_code)]

use std::hint::black_box;

const BLOCK: usize = 1 << 20;
const PAGE: usize = 4096;

fn main() {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; BLOCK];
        for page in block.chunks_mut(PAGE) {
            page[0] = black_box(0xa5);
        }
        blocks.push(black_box(block));
        if blocks.len().is_multiple_of(16) {
            println!("allocated {} MiB", blocks.len());
        }
    }
}
