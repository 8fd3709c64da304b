//! Exit a `wasi:cli/command` guest with a specific code.
//!
//! On `wasm32-wasip2`, Rust's `std::process::exit(N)` and a non-zero `ExitCode` returned from
//! `main` reach the host only as "failed" (`wasi:cli/exit.exit(err)`), which hosts report as
//! exit code 1. WASI 0.2.12 added `exit-with-code`, which carries the code itself; this
//! library crate (not a guest) wraps it for the guests that promise particular codes.

#![forbid(unsafe_code)]

use std::io::Write;

/// Flushes stdout and stderr, then ends the guest with `code`.
pub fn exit(code: u8) -> ! {
    // Best effort: there is nowhere left to report a failed flush.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    if code == 0 {
        std::process::exit(0);
    }
    wasip2::cli::exit::exit_with_code(code);
    // WASI says `exit-with-code` never returns; a host that did return gets a trap.
    std::process::abort()
}
