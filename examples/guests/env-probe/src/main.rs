//! `env-probe`: shows exactly what environment the sandbox gives a guest.
//!
//! No args needed. Prints to stdout, in order:
//! - one `KEY=VALUE` line per environment variable the guest sees;
//! - one `arg[i]=VALUE` line per argument (including argument 0);
//! - `cwd=<dir>` (or `cwd=<error: …>`);
//! - then, for each well-known host variable (`PATH`, `HOME`, `USER`, `SHELL`, `TMPDIR`),
//!   `probe KEY=VALUE`, or `probe KEY=<unset>` when the guest cannot see it.
//!
//! Always exits 0: judging what leaked is the test's job.

#![forbid(unsafe_code)]

const HOST_VARS: [&str; 5] = ["PATH", "HOME", "USER", "SHELL", "TMPDIR"];

fn main() {
    for (key, value) in std::env::vars_os() {
        println!("{}={}", key.to_string_lossy(), value.to_string_lossy());
    }
    for (index, arg) in std::env::args_os().enumerate() {
        println!("arg[{index}]={}", arg.to_string_lossy());
    }
    match std::env::current_dir() {
        Ok(dir) => println!("cwd={}", dir.display()),
        Err(err) => println!("cwd=<error: {err}>"),
    }
    for key in HOST_VARS {
        match std::env::var_os(key) {
            Some(value) => println!("probe {key}={}", value.to_string_lossy()),
            None => println!("probe {key}=<unset>"),
        }
    }
}
