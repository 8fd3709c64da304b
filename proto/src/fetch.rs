//! The rules for fetched files (`ExecutorInfo.uris` and `program`), shared by the master,
//! which refuses a task that breaks them at ACCEPT, and the agent, which parses the same
//! uris again before it downloads anything.
//!
//! A uri is `http://…`, `https://…`, `file:///abs/path` or `wasmesos://sha256:<64 hex>`, at
//! most [`MAX_URI_LEN`] bytes. Its output name (given, or the last percent-decoded segment
//! of its path) is one plain file name that is the same on Linux, macOS and Windows: no
//! separators, no `.`/`..`, no control characters, no Windows reserved device names, no
//! trailing dot or space, not `stdout` or `stderr` (the task's output files), at most
//! [`MAX_NAME_LEN`] bytes. A task lists at most [`MAX_URIS`]
//! uris, no two with the same output name (compared without case, as Windows and macOS do),
//! and `program`, when set, is one of those names.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;

use crate::v1::{ExecutorInfo, FetchUri};

/// Most uris one task may list.
pub const MAX_URIS: usize = 64;
/// Longest uri accepted, in bytes.
pub const MAX_URI_LEN: usize = 4096;
/// Longest output file name, in bytes (the common file-system limit).
pub const MAX_NAME_LEN: usize = 255;

/// How a uri names a component uploaded to the master: `wasmesos://sha256:<hex>`.
pub const ARTIFACT_PREFIX: &str = "wasmesos://sha256:";

/// The sandbox files the agent writes a task's output to; no fetched file may take them.
const OUTPUT_NAMES: [&str; 2] = ["stdout", "stderr"];

/// Where a fetched file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An `http://` or `https://` url, as given.
    Http(String),
    /// An absolute local path (percent-decoded), from a `file://` uri.
    File(PathBuf),
    /// A component uploaded to the master, by its lower-case hex sha256.
    Artifact(String),
}

/// One uri that follows the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// The uri as the task gave it (what messages quote).
    pub uri: String,
    pub source: Source,
    /// The checked file name in the sandbox.
    pub output_file: String,
    /// Keep (and look up) the download in the agent's fetcher cache.
    pub cache: bool,
}

/// A task's fetches in order, and the output name of its program, if it has one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchPlan {
    pub fetches: Vec<Fetch>,
    pub program: Option<String>,
}

/// A broken rule, with a message that says which and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn refused(message: impl Into<String>) -> Refused {
    Refused(message.into())
}

/// Checks an executor's `uris` and `program` (not its digest: that is the master's upload
/// store's business).
pub fn plan(executor: &ExecutorInfo) -> Result<FetchPlan, Refused> {
    if executor.uris.len() > MAX_URIS {
        return Err(refused(format!(
            "executor.uris: {} uris listed, at most {MAX_URIS} are allowed",
            executor.uris.len()
        )));
    }
    let mut names = HashSet::new();
    let mut fetches = Vec::with_capacity(executor.uris.len());
    for uri in &executor.uris {
        let fetch = parse(uri)?;
        if !names.insert(fetch.output_file.to_lowercase()) {
            return Err(refused(format!(
                "executor.uris: two uris write the same file {:?} (names compare without case)",
                fetch.output_file
            )));
        }
        fetches.push(fetch);
    }
    let program = match executor.program.as_str() {
        "" => None,
        name => {
            if !fetches.iter().any(|f| f.output_file == name) {
                return Err(refused(format!(
                    "executor.program: {name:?} is not the output file of any of executor.uris"
                )));
            }
            Some(name.to_string())
        }
    };
    Ok(FetchPlan { fetches, program })
}

/// Parses one uri and its output name.
pub fn parse(uri: &FetchUri) -> Result<Fetch, Refused> {
    let value = uri.value.as_str();
    if value.len() > MAX_URI_LEN {
        return Err(refused(format!(
            "uri of {} bytes is too long (at most {MAX_URI_LEN})",
            value.len()
        )));
    }
    if value.chars().any(char::is_control) || value.contains(' ') {
        return Err(refused(format!(
            "uri {value:?} holds spaces or control characters (percent-encode them)"
        )));
    }
    let (source, default_name) = parse_source(value)?;
    let output_file = if uri.output_file.is_empty() {
        default_name.ok_or_else(|| {
            refused(format!(
                "uri {value:?} has no file name in its path; set output_file"
            ))
        })?
    } else {
        uri.output_file.clone()
    };
    check_output_name(&output_file)
        .map_err(|why| refused(format!("uri {value:?}: output file {why}")))?;
    Ok(Fetch {
        uri: value.to_string(),
        source,
        output_file,
        cache: uri.cache,
    })
}

/// The source of a uri, and the name its path suggests (`None` when the path ends in `/`).
fn parse_source(value: &str) -> Result<(Source, Option<String>), Refused> {
    if let Some(hex) = value.strip_prefix(ARTIFACT_PREFIX) {
        let digest = parse_sha256(hex).ok_or_else(|| {
            refused(format!(
                "uri {value:?}: expected wasmesos://sha256:<64 hex digits>"
            ))
        })?;
        return Ok((Source::Artifact(digest.clone()), Some(digest)));
    }
    let Some((scheme, rest)) = value.split_once("://") else {
        return Err(refused(format!(
            "uri {value:?} has no scheme; use http://, https://, file:// or wasmesos://sha256:"
        )));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" => {
            let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
            if authority.is_empty() || authority.contains('@') {
                return Err(refused(format!(
                    "uri {value:?}: expected a host (and no user info) after {scheme}://"
                )));
            }
            let name = last_segment(path)?;
            Ok((Source::Http(value.to_string()), name))
        }
        "file" => {
            // file:///path has an empty host; file://localhost/path names the same file.
            let path = rest.strip_prefix("localhost").unwrap_or(rest);
            if !path.starts_with('/') || path.contains(['?', '#']) {
                return Err(refused(format!(
                    "uri {value:?}: expected file:///absolute/path (no host, query or fragment)"
                )));
            }
            let decoded = percent_decode(path)
                .ok_or_else(|| refused(format!("uri {value:?}: bad percent-encoding")))?;
            let name = last_segment(path)?;
            Ok((Source::File(local_path(&decoded)), name))
        }
        "wasmesos" => Err(refused(format!(
            "uri {value:?}: expected wasmesos://sha256:<64 hex digits>"
        ))),
        other => Err(refused(format!(
            "uri {value:?}: scheme {other:?} is not supported; use http, https, file or wasmesos"
        ))),
    }
}

/// A decoded `file://` path as this platform spells it: `/C:/dir/f` is `C:/dir/f` on Windows.
fn local_path(decoded: &str) -> PathBuf {
    if cfg!(windows) {
        let bytes = decoded.as_bytes();
        if bytes.len() >= 3 && bytes.get(2) == Some(&b':') {
            return PathBuf::from(decoded.get(1..).unwrap_or(decoded));
        }
    }
    PathBuf::from(decoded)
}

/// The percent-decoded last segment of a url path, without query or fragment.
fn last_segment(path: &str) -> Result<Option<String>, Refused> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segment = path.rsplit('/').next().unwrap_or("");
    if segment.is_empty() {
        return Ok(None);
    }
    percent_decode(segment)
        .map(Some)
        .ok_or_else(|| refused(format!("path segment {segment:?}: bad percent-encoding")))
}

/// Decodes `%XX` escapes; `None` for a broken escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = hex_value(bytes.next()?)?;
            let lo = hex_value(bytes.next()?)?;
            out.push(hi << 4 | lo);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// A lower-case sha256 in hex, or `None`.
fn parse_sha256(hex: &str) -> Option<String> {
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// Checks that `name` is one plain file name, the same on every platform.
pub fn check_output_name(name: &str) -> Result<(), Refused> {
    if name.is_empty() {
        return Err(refused("name is empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(refused(format!(
            "name of {} bytes is too long (at most {MAX_NAME_LEN})",
            name.len()
        )));
    }
    if name == "." || name == ".." {
        return Err(refused(format!("{name:?} is not a file name")));
    }
    if name.contains(['/', '\\']) {
        return Err(refused(format!(
            "{name:?} holds a path separator; it must be a plain name in the sandbox"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(refused(format!("{name:?} holds a control character")));
    }
    if name.contains([':', '*', '?', '"', '<', '>', '|']) {
        return Err(refused(format!(
            "{name:?} holds a character Windows forbids in names (: * ? \" < > |)"
        )));
    }
    if name.ends_with(['.', ' ']) {
        return Err(refused(format!("{name:?} ends in a dot or a space")));
    }
    if OUTPUT_NAMES
        .iter()
        .any(|taken| name.eq_ignore_ascii_case(taken))
    {
        return Err(refused(format!(
            "{name:?} is where the agent writes the task's output"
        )));
    }
    if is_windows_device(name) {
        return Err(refused(format!(
            "{name:?} is a reserved device name on Windows"
        )));
    }
    Ok(())
}

/// `CON`, `PRN`, `AUX`, `NUL`, `COM1`-`COM9`, `LPT1`-`LPT9`, in any case and with any
/// extension (`nul.txt` is the device too).
fn is_windows_device(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    let upper = stem.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" => true,
        _ => {
            let numbered = upper
                .strip_prefix("COM")
                .or_else(|| upper.strip_prefix("LPT"));
            numbered.is_some_and(|n| n.len() == 1 && n.bytes().all(|b| (b'1'..=b'9').contains(&b)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn uri(value: &str) -> FetchUri {
        FetchUri {
            value: value.into(),
            ..FetchUri::default()
        }
    }

    fn named(value: &str, output_file: &str) -> FetchUri {
        FetchUri {
            value: value.into(),
            output_file: output_file.into(),
            ..FetchUri::default()
        }
    }

    fn executor(uris: Vec<FetchUri>, program: &str) -> ExecutorInfo {
        ExecutorInfo {
            uris,
            program: program.into(),
            ..ExecutorInfo::default()
        }
    }

    fn refusal(uri: FetchUri) -> String {
        parse(&uri).expect_err("refused").0
    }

    #[test]
    fn each_scheme_parses_to_its_source_and_default_name() {
        let http = parse(&uri("http://example.com:8080/dl/app%20v2.wasm?x=1#top")).expect("http");
        assert_eq!(
            http.source,
            Source::Http("http://example.com:8080/dl/app%20v2.wasm?x=1#top".into())
        );
        assert_eq!(http.output_file, "app v2.wasm");
        let https = parse(&uri("HTTPS://example.com/data.csv")).expect("https");
        assert_eq!(https.output_file, "data.csv");
        let file = parse(&uri("file:///srv/data/in%25put.txt")).expect("file");
        assert_eq!(
            file.source,
            Source::File(PathBuf::from("/srv/data/in%put.txt"))
        );
        assert_eq!(file.output_file, "in%put.txt");
        let local = parse(&uri("file://localhost/srv/x")).expect("localhost");
        assert_eq!(local.source, Source::File(PathBuf::from("/srv/x")));
        let upper = DIGEST.to_ascii_uppercase();
        let artifact = parse(&uri(&format!("wasmesos://sha256:{upper}"))).expect("artifact");
        assert_eq!(artifact.source, Source::Artifact(DIGEST.into()));
        assert_eq!(artifact.output_file, DIGEST);
    }

    #[test]
    fn other_schemes_and_malformed_uris_are_refused() {
        assert!(refusal(uri("ftp://example.com/f")).contains("scheme \"ftp\" is not supported"));
        assert!(refusal(uri("hdfs://nn/f")).contains("not supported"));
        assert!(refusal(uri("/local/path")).contains("has no scheme"));
        assert!(refusal(uri("http:///no-host")).contains("expected a host"));
        assert!(refusal(uri("http://user:pw@h/f")).contains("no user info"));
        assert!(refusal(uri("file://otherhost/f")).contains("file:///absolute/path"));
        assert!(refusal(uri("wasmesos://sha256:abc")).contains("64 hex"));
        assert!(refusal(uri("wasmesos://sha1:abc")).contains("64 hex"));
        assert!(refusal(uri("http://h/a b")).contains("spaces"));
        assert!(refusal(uri("http://h/%zz")).contains("percent-encoding"));
        assert!(refusal(uri("http://h/%ff")).contains("percent-encoding"));
    }

    #[test]
    fn a_uri_longer_than_the_bound_is_refused() {
        let long = format!("http://h/{}", "a".repeat(MAX_URI_LEN));
        assert!(refusal(uri(&long)).contains("too long"));
        let fits = format!("http://h/{}", "a".repeat(200));
        assert!(parse(&uri(&fits)).is_ok());
    }

    #[test]
    fn a_path_without_a_name_needs_an_output_file() {
        assert!(refusal(uri("http://example.com/")).contains("set output_file"));
        assert!(refusal(uri("http://example.com")).contains("set output_file"));
        let given = parse(&named("http://example.com/", "index.html")).expect("named");
        assert_eq!(given.output_file, "index.html");
    }

    #[test]
    fn output_names_that_escape_or_differ_across_platforms_are_refused() {
        let bad = [
            ("", "empty"),
            (".", "not a file name"),
            ("..", "not a file name"),
            ("../etc/passwd", "separator"),
            ("a/b", "separator"),
            ("a\\b", "separator"),
            ("nul\0byte", "control"),
            ("tab\there", "control"),
            ("c:evil", "Windows forbids"),
            ("CON", "reserved"),
            ("nul.txt", "reserved"),
            ("com1", "reserved"),
            ("LPT9.log", "reserved"),
            ("trailing.", "dot or a space"),
            ("trailing ", "dot or a space"),
            ("stdout", "task's output"),
            ("StdErr", "task's output"),
        ];
        for (name, why) in bad {
            let err = check_output_name(name).expect_err(name).0;
            assert!(err.contains(why), "{name:?}: {err}");
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert!(
            check_output_name(&long)
                .expect_err("long")
                .0
                .contains("too long")
        );
        for good in [
            "app.wasm",
            "COM0",
            "console",
            "LPT10",
            ".hidden",
            "a..b",
            &"b".repeat(255),
        ] {
            assert!(check_output_name(good).is_ok(), "{good:?}");
        }
        let escape = named("http://h/f", "../../x");
        assert!(refusal(escape).contains("output file"));
        assert!(refusal(uri("http://h/dir/%2E%2E")).contains("not a file name"));
        assert!(refusal(uri("http://h/a%2Fb")).contains("separator"));
    }

    #[test]
    fn at_most_the_bound_of_uris_per_task() {
        let uris = |n: usize| {
            (0..n)
                .map(|i| uri(&format!("http://h/f{i}")))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            plan(&executor(uris(MAX_URIS), ""))
                .expect("fits")
                .fetches
                .len(),
            MAX_URIS
        );
        let err = plan(&executor(uris(MAX_URIS + 1), ""))
            .expect_err("too many")
            .0;
        assert!(err.contains("at most 64"), "{err}");
    }

    #[test]
    fn two_uris_with_one_output_name_are_refused_even_in_another_case() {
        let err = plan(&executor(
            vec![uri("http://a/x.wasm"), uri("http://b/x.wasm")],
            "",
        ))
        .expect_err("duplicate")
        .0;
        assert!(err.contains("same file"), "{err}");
        let case = vec![uri("http://a/Data"), named("http://b/other", "data")];
        assert!(plan(&executor(case, "")).is_err());
    }

    #[test]
    fn the_program_must_be_one_of_the_output_names() {
        let uris = vec![uri("http://h/app.wasm"), uri("http://h/in.txt")];
        let ok = plan(&executor(uris.clone(), "app.wasm")).expect("program");
        assert_eq!(ok.program.as_deref(), Some("app.wasm"));
        let err = plan(&executor(uris, "other.wasm")).expect_err("unknown").0;
        assert!(err.contains("executor.program"), "{err}");
        let none = plan(&executor(vec![], "")).expect("empty");
        assert_eq!(none, FetchPlan::default());
    }
}
