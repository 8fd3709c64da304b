//! `fuel-bomb`: an endless pure computation that makes no host call at all.
//!
//! No args, no output. Only fuel, epoch interruption, a timeout or a kill can stop it.

#![forbid(unsafe_code)]

use std::hint::black_box;

fn main() {
    let mut state: u64 = black_box(1);
    loop {
        // A multiply-xorshift mix: every round depends on the last, so nothing can be hoisted.
        state = state
            .wrapping_mul(0x5851_f42d_4c95_7f2d)
            .wrapping_add(0x1405_7b7e_f767_814f);
        state ^= state >> 29;
        state = black_box(state);
    }
}
