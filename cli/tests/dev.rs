//! `wasmesos dev`, run as the real binary, and the `wordcount` component embedded in it.

use std::path::Path;
use std::process::{Command, Output};

use wasmesos_guest_artifacts as guests;

const BINARY: &str = env!("CARGO_BIN_EXE_wasmesos");
const COMMITTED_COMPONENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/wordcount.wasm");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `wasmesos exec --json` of a `wordcount` component on `data`: its result data.
fn count_with(component: &str, data: &Path) -> String {
    let data = data.to_str().expect("a UTF-8 temp path");
    let output = Command::new(BINARY)
        .args(["exec", "--json", "--data-file", data, component])
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let summary = text(&output.stderr);
    let line = summary.lines().last().unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(line).expect("a JSON summary");
    json["data"].as_str().expect("result data").to_owned()
}

#[test]
fn the_committed_component_counts_as_the_freshly_built_guest_does() {
    let dir = tempfile::tempdir().expect("temp dir");
    let samples: [&[u8]; 4] = [
        b"",
        b"one two  three\n\tfour\n",
        b"In the beginning God created the heaven and the earth.\n",
        wordcount_framework::BUNDLED_TEXT_CONTENTS,
    ];
    for (index, sample) in samples.iter().enumerate() {
        let data = dir.path().join(format!("sample-{index}.txt"));
        std::fs::write(&data, sample).expect("write sample");
        let committed = count_with(COMMITTED_COMPONENT, &data);
        let fresh = count_with(guests::WORDCOUNT, &data);
        assert_eq!(
            committed, fresh,
            "sample {index}: cli/assets/wordcount.wasm is stale; run scripts/demo-component.sh"
        );
        let expected = wordcount_framework::count_words(sample).to_string();
        assert_eq!(committed, expected, "sample {index}");
    }
}

fn dev_demo(extra: &[&str]) -> Output {
    Command::new(BINARY)
        .args(["dev", "--listen", "127.0.0.1:0", "--agents", "2"])
        .args(["--demo", "--exit-after-demo", "--lines", "500"])
        .args(extra)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

#[test]
fn dev_demo_counts_the_embedded_text_with_the_embedded_component_and_exits() {
    let output = dev_demo(&[]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let expected = wordcount_framework::count_words(wordcount_framework::BUNDLED_TEXT_CONTENTS);
    assert!(
        stdout.contains(&format!(
            "the total matches `wc -w` of the text ({expected})"
        )),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("wasmesos dev: agent ").count(),
        2,
        "{stdout}"
    );
    assert!(
        stdout.ends_with("wasmesos dev: shutting down\n"),
        "{stdout}"
    );
}

#[test]
fn dev_demo_takes_a_text_and_a_component_from_paths() {
    let dir = tempfile::tempdir().expect("temp dir");
    let book = dir.path().join("book.txt");
    std::fs::write(&book, "alpha beta\ngamma\n\ndelta epsilon zeta\n").expect("write text");
    let book = book.to_str().expect("a UTF-8 temp path");
    let output = dev_demo(&["--demo-text", book, "--demo-component", guests::WORDCOUNT]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout.contains("the total matches `wc -w` of the text (6)"),
        "{stdout}"
    );
}

#[test]
fn a_demo_text_that_cannot_be_read_is_one_error_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.txt");
    let missing = missing.to_str().expect("a UTF-8 temp path");
    let output = dev_demo(&["--demo-text", missing]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("wasmesos dev: cannot read") && stderr.contains("missing.txt"),
        "{stderr}"
    );
}
