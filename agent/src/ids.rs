//! Checks on identifiers that arrive from the network and end up in file paths.
//!
//! Framework and task ids name directories under `work_dir/sandboxes/`, and digests name
//! files under `work_dir/artifacts/`. An id that could climb out of those directories, or that
//! no filesystem would accept, is refused before any path is built from it.

use crate::Error;

/// The longest id accepted; well below every filesystem's name limit.
const MAX_ID_BYTES: usize = 200;

/// Checks that `id` can be one path component under a directory the agent owns.
///
/// Refused: empty ids, ids longer than 200 bytes, `.`-only ids, anything containing `..`,
/// path separators (`/`, `\`), `:` (drive letters and alternate streams on Windows), and
/// control characters. Also refused on every OS, so that an id one agent accepts every agent
/// accepts: what Windows cannot name a directory, namely the characters `<>"|?*`, a trailing
/// dot (Windows drops it, so `a.` would be `a`), and the device names `CON`, `PRN`, `AUX`,
/// `NUL`, `COM0`-`COM9`, `LPT0`-`LPT9`, `CONIN$` and `CONOUT$`, in any case and with any
/// extension.
pub fn check_path_id(kind: &str, id: &str) -> Result<(), Error> {
    let reason = if id.is_empty() {
        Some("is empty")
    } else if id.len() > MAX_ID_BYTES {
        Some("is longer than 200 bytes")
    } else if id.contains("..") || id.chars().all(|c| c == '.') {
        Some("contains `..`")
    } else if id.contains(['/', '\\', ':']) {
        Some("contains a path separator")
    } else if id.chars().any(char::is_control) {
        Some("contains a control character")
    } else if id.trim() != id {
        Some("starts or ends with whitespace")
    } else if id.contains(WINDOWS_FORBIDDEN) {
        Some("contains a character Windows forbids in file names (`<>\"|?*`)")
    } else if id.ends_with('.') {
        Some("ends with a dot")
    } else if is_windows_device_name(id) {
        Some("is a Windows device name")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidTask(format!(
            "{kind} `{}` {reason}",
            id.escape_debug()
        ))),
        None => Ok(()),
    }
}

/// Characters no Windows file name may hold (besides `/`, `\`, `:` and controls).
const WINDOWS_FORBIDDEN: [char; 6] = ['<', '>', '"', '|', '?', '*'];

/// Whether Windows reads `name` as a device: `CON`, `nul.txt`, `com1.tar.gz`, `LPT` + `¹`, ...
fn is_windows_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    let upper = stem.to_ascii_uppercase();
    if ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"].contains(&upper.as_str()) {
        return true;
    }
    let Some(number) = upper
        .strip_prefix("COM")
        .or_else(|| upper.strip_prefix("LPT"))
    else {
        return false;
    };
    let mut digits = number.chars();
    matches!(
        (digits.next(), digits.next()),
        (Some('0'..='9' | '\u{b9}' | '\u{b2}' | '\u{b3}'), None)
    )
}

/// Checks that `digest` is a lower-case hex sha256.
pub fn check_digest(digest: &str) -> Result<(), Error> {
    let well_formed = digest.len() == 64
        && digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if well_formed {
        Ok(())
    } else {
        Err(Error::InvalidDigest(digest.escape_debug().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_ids_pass() {
        for id in [
            "t1",
            "wordcount-7",
            "chunk_0003",
            "a.b",
            "550e8400-e29b",
            "task@host+1",
            "console",
            "com10",
            "lpt",
            "nully.txt",
            "CONFIG",
        ] {
            assert!(check_path_id("task id", id).is_ok(), "{id}");
        }
    }

    #[test]
    fn ids_that_could_escape_or_break_paths_are_refused() {
        let long = "x".repeat(201);
        for id in [
            "",
            ".",
            "..",
            "...",
            "../etc",
            "a/../b",
            "a/b",
            "/abs",
            "a\\b",
            "C:",
            "x\u{0}y",
            "line\nbreak",
            " padded",
            &long,
            "a<b",
            "what?",
            "star*",
            "pipe|",
            "quote\"",
            "trailing.",
            "CON",
            "con",
            "Nul.txt",
            "aux.tar.gz",
            "COM1",
            "lpt9",
            "COM\u{b9}",
            "conout$",
            "PRN .log",
        ] {
            assert!(check_path_id("task id", id).is_err(), "{id:?}");
        }
    }

    #[test]
    fn digests_must_be_lower_case_hex_sha256() {
        let good = "a".repeat(64);
        assert!(check_digest(&good).is_ok());
        assert!(check_digest(&"A".repeat(64)).is_err());
        assert!(check_digest(&"a".repeat(63)).is_err());
        assert!(check_digest("../../etc/passwd").is_err());
        assert!(check_digest(&format!("{}g", "a".repeat(63))).is_err());
    }
}
