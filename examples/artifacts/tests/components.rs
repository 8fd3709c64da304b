//! Every guest the executor's tests rely on was built, and built as a component.

use std::path::Path;

/// The binary header of a component: the `\0asm` magic, then version 0x0d and layer 1.
/// A core module has the same magic followed by version 1, layer 0.
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// Named one by one so that a renamed or missing guest fails to compile here.
const EXPECTED: [(&str, &str); 19] = [
    ("hello", wasmesos_guest_artifacts::HELLO),
    ("wordcount", wasmesos_guest_artifacts::WORDCOUNT),
    ("spin", wasmesos_guest_artifacts::SPIN),
    ("sleepy", wasmesos_guest_artifacts::SLEEPY),
    ("memory-bomb", wasmesos_guest_artifacts::MEMORY_BOMB),
    ("fuel-bomb", wasmesos_guest_artifacts::FUEL_BOMB),
    ("deep-recursion", wasmesos_guest_artifacts::DEEP_RECURSION),
    ("stdout-flood", wasmesos_guest_artifacts::STDOUT_FLOOD),
    ("status-flood", wasmesos_guest_artifacts::STATUS_FLOOD),
    ("disk-filler", wasmesos_guest_artifacts::DISK_FILLER),
    ("fs-escape", wasmesos_guest_artifacts::FS_ESCAPE),
    ("env-probe", wasmesos_guest_artifacts::ENV_PROBE),
    ("socket-attempt", wasmesos_guest_artifacts::SOCKET_ATTEMPT),
    ("messenger", wasmesos_guest_artifacts::MESSENGER),
    ("trap", wasmesos_guest_artifacts::TRAP),
    (
        "unsupported-import",
        wasmesos_guest_artifacts::UNSUPPORTED_IMPORT,
    ),
    ("http-hello", wasmesos_guest_artifacts::HTTP_HELLO),
    ("http-kv", wasmesos_guest_artifacts::HTTP_KV),
    ("tcp-greeter", wasmesos_guest_artifacts::TCP_GREETER),
];

#[test]
fn every_guest_is_a_component_file() {
    for (name, path) in wasmesos_guest_artifacts::ALL {
        let bytes = std::fs::read(path).unwrap_or_else(|err| panic!("{name}: {path}: {err}"));
        assert!(
            bytes.starts_with(&COMPONENT_HEADER),
            "{name} ({path}) does not start with the component header: {:02x?}",
            &bytes[..bytes.len().min(8)]
        );
    }
}

#[test]
fn all_lists_exactly_the_expected_guests() {
    let mut expected = EXPECTED.to_vec();
    expected.sort();
    assert_eq!(wasmesos_guest_artifacts::ALL, expected.as_slice());
}

#[test]
fn paths_are_absolute_and_named_after_the_guest() {
    for (name, path) in wasmesos_guest_artifacts::ALL {
        let path = Path::new(path);
        assert!(path.is_absolute(), "{name}: {} is relative", path.display());
        let stem = path.file_stem().and_then(|stem| stem.to_str());
        assert_eq!(
            stem.map(|stem| stem.replace('_', "-")).as_deref(),
            Some(*name)
        );
    }
}

/// Executors export the `wasmesos:executor` world's `run` and import its `host` interface;
/// the unsupported-import guest imports the interface no host provides. The names appear
/// verbatim in a component's type section.
#[test]
fn guests_import_the_interfaces_they_are_built_for() {
    for path in [
        wasmesos_guest_artifacts::WORDCOUNT,
        wasmesos_guest_artifacts::MESSENGER,
    ] {
        assert!(contains(path, b"wasmesos:executor/host@0.1.0"), "{path}");
        assert!(
            !contains(path, b"wasi:cli/run@"),
            "{path} is also a command"
        );
    }
    assert!(contains(wasmesos_guest_artifacts::HELLO, b"wasi:cli/run@"));
    assert!(contains(
        wasmesos_guest_artifacts::UNSUPPORTED_IMPORT,
        b"acme:missing/thing"
    ));
}

fn contains(path: &str, needle: &[u8]) -> bool {
    let bytes = std::fs::read(path).unwrap_or_else(|err| panic!("{path}: {err}"));
    bytes.windows(needle.len()).any(|window| window == needle)
}
