//! `fs-escape`: tries every way out of the sandbox directory it knows, and reports each one.
//!
//! Args: any number of absolute host paths (tests pass a real host file). Each argument,
//! including argument 0, is probed as a path.
//!
//! Attempts: list `..`, `../..` and `/`; read `/etc/passwd`; stat each argument; create
//! symlinks to `..`, to a long `../../…/etc/passwd` chain and to each absolute path (the
//! arguments and `/etc/passwd`), then read through them; create `../fs-escape-probe`.
//!
//! For each attempt it prints one line: `BLOCKED <what>: <error or why it stayed inside>` or
//! `ESCAPED <what>: <evidence>`. It exits 0 only if nothing escaped, 1 otherwise.
//!
//! Seeing the sandbox's own entries is not an escape: the guest first writes a marker file in
//! its root, and a listing that contains the marker is the sandbox root itself.

#![forbid(unsafe_code)]

use std::fmt::Display;
use std::path::Path;
use std::process::ExitCode;

const MARKER: &str = "fs-escape-marker";
const PROBE: &str = "fs-escape-probe";
const DEEP_TRAVERSAL: &str = "../../../../../../../../../../../../etc/passwd";

/// Counts what escaped while printing one line per attempt.
#[derive(Default)]
struct Report {
    escapes: usize,
}

impl Report {
    fn blocked(&mut self, what: &str, why: impl Display) {
        println!("BLOCKED {what}: {why}");
    }

    fn escaped(&mut self, what: &str, evidence: impl Display) {
        println!("ESCAPED {what}: {evidence}");
        self.escapes += 1;
    }
}

fn main() -> ExitCode {
    let host_paths: Vec<String> = std::env::args().collect();
    if let Err(err) = std::fs::write(MARKER, b"inside") {
        eprintln!("fs-escape: cannot write the marker, so any listing counts as an escape: {err}");
    }
    let mut report = Report::default();
    for dir in ["..", "../..", "/"] {
        try_list(&mut report, &format!("list {dir}"), dir);
    }
    try_read(&mut report, "read /etc/passwd", "/etc/passwd");
    for path in &host_paths {
        try_stat(&mut report, &format!("stat {path}"), path);
    }
    try_symlinks(&mut report, &host_paths);
    try_create_outside(&mut report);
    cleanup(host_paths.len() + 1);
    if report.escapes == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn try_list(report: &mut Report, what: &str, dir: &str) {
    match std::fs::read_dir(dir) {
        Err(err) => report.blocked(what, err),
        Ok(entries) => {
            let names: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect();
            if names.iter().any(|name| name == MARKER) {
                report.blocked(
                    what,
                    format!("stayed in the sandbox root ({} entries)", names.len()),
                );
            } else {
                report.escaped(what, format!("listed {names:?}"));
            }
        }
    }
}

fn try_read(report: &mut Report, what: &str, path: &str) {
    match std::fs::read(path) {
        Err(err) => report.blocked(what, err),
        Ok(bytes) => report.escaped(what, format!("read {} bytes", bytes.len())),
    }
}

fn try_stat(report: &mut Report, what: &str, path: &str) {
    match std::fs::metadata(path) {
        Err(err) => report.blocked(what, err),
        Ok(meta) if meta.is_dir() => try_list(report, what, path),
        Ok(_) => try_read(report, what, path),
    }
}

/// Symlinks are made through the raw `wasi:filesystem` API: std has no stable way to create
/// one on WASI.
fn try_symlinks(report: &mut Report, host_paths: &[String]) {
    let Some(root) = sandbox_root() else {
        report.blocked("symlinks", "no preopened directory to create them in");
        return;
    };
    try_symlink(report, &root, "..", "escape-up", |report, what, link| {
        try_list(report, what, link)
    });
    try_symlink(report, &root, DEEP_TRAVERSAL, "escape-deep", try_read);
    let absolute = host_paths
        .iter()
        .map(String::as_str)
        .filter(|path| path.starts_with('/'));
    for (index, target) in absolute.chain(["/etc/passwd"]).enumerate() {
        let link = format!("escape-abs-{index}");
        try_symlink(report, &root, target, &link, try_stat);
    }
}

fn try_symlink(
    report: &mut Report,
    root: &wasip2::filesystem::types::Descriptor,
    target: &str,
    link: &str,
    follow: impl FnOnce(&mut Report, &str, &str),
) {
    let what = format!("symlink {link} -> {target}");
    match root.symlink_at(target, link) {
        Err(err) => report.blocked(&format!("create {what}"), err),
        Ok(()) => follow(report, &format!("follow {what}"), link),
    }
}

/// The preopen mounted at `/`, or the only one there is.
fn sandbox_root() -> Option<wasip2::filesystem::types::Descriptor> {
    let mut preopens = wasip2::filesystem::preopens::get_directories();
    let root = preopens
        .iter()
        .position(|(_, path)| path == "/")
        .unwrap_or(0);
    (root < preopens.len()).then(|| preopens.swap_remove(root).0)
}

fn try_create_outside(report: &mut Report) {
    let what = format!("create ../{PROBE}");
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(format!("../{PROBE}"));
    match created {
        Err(err) => report.blocked(&what, err),
        Ok(_) if Path::new(PROBE).exists() => {
            report.blocked(&what, "landed in the sandbox root");
        }
        Ok(_) => report.escaped(&what, "created a file outside the sandbox"),
    }
}

/// Best effort: leftovers only matter to a later run in the same sandbox, or, for the probe
/// outside, to a host that already failed the test.
fn cleanup(absolute_links: usize) {
    let outside_probe = format!("../{PROBE}");
    let fixed = [MARKER, PROBE, &outside_probe, "escape-up", "escape-deep"];
    let numbered = (0..absolute_links).map(|index| format!("escape-abs-{index}"));
    for name in fixed.map(str::to_owned).into_iter().chain(numbered) {
        let _ = std::fs::remove_file(name);
    }
}
