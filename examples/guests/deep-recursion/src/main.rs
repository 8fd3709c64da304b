//! `deep-recursion`: unbounded non-tail recursion, to exhaust the wasm call stack.
//!
//! No args. Recurses through a function pointer the optimiser cannot see through, and uses
//! each call's result afterwards, so the recursion can become neither a loop nor a tail call.
//! Frames hold only scalars, which live in wasm locals, so it is the engine's call stack that
//! overflows (wasmtime's "call stack exhausted"), not the shadow stack in linear memory: the
//! host must report a stack overflow, not a memory fault or a generic trap.

#![forbid(unsafe_code)]

use std::hint::black_box;

/// The next level to call, passed down so that every call is indirect.
#[derive(Clone, Copy)]
struct Recurse(fn(u64, Recurse) -> u64);

fn main() {
    let recurse = black_box(Recurse(descend));
    let depth = (recurse.0)(0, recurse);
    // Reached only if the recursion were bounded; keeps the result observable.
    println!("returned from depth {depth}");
}

fn descend(depth: u64, recurse: Recurse) -> u64 {
    let below = (recurse.0)(depth + 1, recurse);
    below ^ depth.rotate_left(7)
}
