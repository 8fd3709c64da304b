//! `deep-recursion`: unbounded non-tail recursion, to overflow the guest's stack.
//!
//! No args. Each frame keeps a 256-byte buffer alive across the recursive call and uses the
//! call's result afterwards, so the optimiser can neither drop the frame nor turn the
//! recursion into a loop. The host must report a stack overflow, not a generic trap.

#![forbid(unsafe_code)]

use std::hint::black_box;

fn main() {
    let depth = descend(black_box(0));
    // Reached only if recursion were bounded; keeps `descend`'s result observable.
    println!("returned from depth {depth}");
}

fn descend(depth: u64) -> u64 {
    let mut frame = [0u8; 256];
    frame[(depth % 256) as usize] = depth as u8;
    let frame = black_box(frame);
    // `black_box` hides that this is never true, so there is no provable infinite recursion.
    if black_box(depth) == u64::MAX {
        return depth;
    }
    let below = descend(black_box(depth + 1));
    below.wrapping_add(u64::from(frame[(below % 256) as usize]))
}
