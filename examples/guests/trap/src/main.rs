//! `trap`: executes the wasm `unreachable` instruction, the simplest guest fault.
//!
//! No args, no output. The host must report a trap (with wasmtime's message), not an exit code.

#![forbid(unsafe_code)]

fn main() {
    core::arch::wasm32::unreachable()
}
