//! `spin`: a CPU-bound busy loop that makes no host calls while it runs.
//!
//! Args: `spin [N]`. With `N`, runs `N` rounds of an xorshift mix, prints the final state as
//! `spin N=<N> state=<hex>` and exits 0; `N` is given to the optimiser as opaque, so the work
//! cannot be folded away. Without `N`, spins forever (for CPU-share, kill and timeout tests).
//! A malformed `N` exits 2.

#![forbid(unsafe_code)]

use std::hint::black_box;

fn main() {
    let Some(arg) = std::env::args().nth(1) else {
        spin_forever()
    };
    let Ok(rounds) = arg.parse::<u64>() else {
        eprintln!("spin: expected a number of rounds, got {arg:?}");
        guest_exit::exit(2);
    };
    let state = spin(black_box(rounds));
    println!("spin N={rounds} state={state:016x}");
}

fn spin(rounds: u64) -> u64 {
    let mut state = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..rounds {
        state = xorshift(state);
    }
    state
}

fn spin_forever() -> ! {
    let mut state = 0x9e37_79b9_7f4a_7c15;
    loop {
        state = black_box(xorshift(state));
    }
}

fn xorshift(mut state: u64) -> u64 {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    state
}
