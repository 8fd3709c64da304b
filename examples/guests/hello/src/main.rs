//! `hello`: a plain `wasi:cli/command` guest, the smallest task there is.
//!
//! Prints `hello from wasmesos`, then one `arg[i]=VALUE` line per argument (including
//! argument 0, whatever the host passed there) and one `KEY=VALUE` line per environment
//! variable, all on stdout.
//!
//! Args (anywhere on the command line):
//! - `--exit N`: exit with code `N` (0 to 255) after printing;
//! - `--stderr TEXT`: also write `TEXT` and a newline to stderr.
//!
//! A malformed `N` exits 2; a failed write to stdout exits 3.

#![forbid(unsafe_code)]

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(text) = value_after(&args, "--stderr") {
        eprintln!("{text}");
    }
    let mut out = std::io::stdout().lock();
    if let Err(err) = print_greeting(&mut out, &args).and_then(|()| out.flush()) {
        eprintln!("hello: cannot write to stdout: {err}");
        guest_exit::exit(3);
    }
    match value_after(&args, "--exit").map(str::parse::<u8>) {
        None | Some(Ok(0)) => {}
        Some(Ok(code)) => guest_exit::exit(code),
        Some(Err(err)) => {
            eprintln!("hello: --exit needs a code from 0 to 255: {err}");
            guest_exit::exit(2);
        }
    }
}

fn print_greeting(out: &mut impl Write, args: &[String]) -> std::io::Result<()> {
    writeln!(out, "hello from wasmesos")?;
    for (index, arg) in args.iter().enumerate() {
        writeln!(out, "arg[{index}]={arg}")?;
    }
    for (key, value) in std::env::vars_os() {
        writeln!(out, "{}={}", key.to_string_lossy(), value.to_string_lossy())?;
    }
    Ok(())
}

/// The argument following the first `flag`, if any.
fn value_after<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let position = args.iter().position(|arg| arg == flag)?;
    args.get(position + 1).map(String::as_str)
}
