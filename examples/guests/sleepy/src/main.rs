//! `sleepy`: sleeps through WASI clocks, blocked in a host call rather than spinning.
//!
//! Args: `sleepy [MILLIS]` (default 3_600_000, one hour). Sleeps with `std::thread::sleep`,
//! which is a `wasi:clocks` poll on `wasm32-wasip2`, then prints `awake` and exits 0.
//! A malformed `MILLIS` exits 2.

#![forbid(unsafe_code)]

use std::time::Duration;

const DEFAULT_MILLIS: u64 = 3_600_000;

fn main() {
    let millis = match std::env::args().nth(1).map(|arg| arg.parse::<u64>()) {
        None => DEFAULT_MILLIS,
        Some(Ok(millis)) => millis,
        Some(Err(err)) => {
            eprintln!("sleepy: expected milliseconds: {err}");
            guest_exit::exit(2);
        }
    };
    std::thread::sleep(Duration::from_millis(millis));
    println!("awake");
}
