//! Paths to the guest components in `examples/guests`, compiled for `wasm32-wasip2`.
//!
//! The build script runs a nested `cargo build --release --target wasm32-wasip2` of the guests'
//! own workspace, so `cargo test` on a clean checkout has every `.wasm` it needs. This crate
//! owns only that build and the constants it generates: one `&str` absolute path per guest
//! (`HELLO`, `WORDCOUNT`, `MEMORY_BOMB`, …, named after the guest's crate in SCREAMING_CASE)
//! and [`ALL`]. It never loads or runs a component: `wasmesos-wasm-executor`'s tests do that,
//! and each guest's own doc comment (in `examples/guests/<name>/src`) says what it does.
//!
//! Building needs the `wasm32-wasip2` target (`rustup target add wasm32-wasip2`; the
//! repository's `rust-toolchain.toml` installs it).

#![forbid(unsafe_code)]

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
