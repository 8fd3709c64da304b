//! Loading components: bad input gets a clear error and never a panic; compilation happens
//! once per digest, in memory and across executors through the disk cache.

mod common;

use std::path::Path;

use common::{Sandbox, executor, run};
use wasmesos_guest_artifacts as guests;
use wasmesos_wasm_executor::{Error, Executor, ExecutorConfig, ProgramKind};

/// Deterministic noise (xorshift), so a failure can be reproduced.
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).expect("guest artifact exists")
}

#[tokio::test]
async fn random_bytes_are_an_invalid_component() {
    for seed in 1..20 {
        let err = executor()
            .load(&noise(4096, seed))
            .await
            .expect_err("noise loads");
        assert!(matches!(err, Error::InvalidComponent(_)), "{err}");
    }
}

#[tokio::test]
async fn noise_behind_a_component_header_is_an_invalid_component() {
    let mut bytes = vec![0, b'a', b's', b'm', 0x0d, 0, 1, 0];
    bytes.extend(noise(4096, 7));
    let err = executor().load(&bytes).await.expect_err("noise loads");
    assert!(matches!(err, Error::InvalidComponent(_)), "{err}");
}

#[tokio::test]
async fn an_empty_file_is_an_invalid_component() {
    let err = executor().load(&[]).await.expect_err("nothing loads");
    assert!(matches!(err, Error::InvalidComponent(_)), "{err}");
}

#[tokio::test]
async fn a_core_module_is_not_a_component() {
    let module = wat::parse_str("(module (func (export \"_start\")))").expect("valid WAT");
    let err = executor()
        .load(&module)
        .await
        .expect_err("a core module loads");
    assert!(matches!(err, Error::NotAComponent), "{err}");
    assert!(err.to_string().contains("core WebAssembly module"));
}

#[tokio::test]
async fn truncated_components_are_invalid() {
    let hello = read(guests::HELLO);
    for len in [9, 100, hello.len() / 2, hello.len() - 1] {
        let err = executor()
            .load(&hello[..len])
            .await
            .expect_err("a truncated component loads");
        assert!(matches!(err, Error::InvalidComponent(_)), "at {len}: {err}");
    }
}

#[tokio::test]
async fn unsupported_imports_are_named() {
    let err = executor()
        .load(&read(guests::UNSUPPORTED_IMPORT))
        .await
        .expect_err("a component with an unknown import loads");
    match &err {
        Error::UnsupportedImports(names) => {
            assert_eq!(names.len(), 1, "{names:?}");
            assert!(names[0].starts_with("acme:missing/thing"), "{names:?}");
        }
        other => panic!("expected UnsupportedImports, got {other}"),
    }
    assert!(err.to_string().contains("acme:missing/thing"));
}

#[tokio::test]
async fn every_unsupported_import_is_named_not_just_the_first() {
    let component = wat::parse_str(
        r#"(component
            (import "acme:one/a" (instance (export "f" (func))))
            (import "wasi:cli/environment@0.2.0" (instance
                (export "get-arguments" (func (result (list string))))))
            (import "acme:two/b@1.0.0" (instance (export "g" (func (param "x" u32)))))
        )"#,
    )
    .expect("valid WAT");
    let err = executor().load(&component).await.expect_err("loads");
    match err {
        Error::UnsupportedImports(names) => {
            assert_eq!(
                names,
                vec!["acme:one/a".to_string(), "acme:two/b@1.0.0".to_string()]
            );
        }
        other => panic!("expected UnsupportedImports, got {other}"),
    }
}

#[tokio::test]
async fn a_component_exporting_neither_world_is_rejected() {
    let component = wat::parse_str("(component)").expect("valid WAT");
    let err = executor().load(&component).await.expect_err("loads");
    assert!(matches!(err, Error::MissingWorld), "{err}");
}

#[tokio::test]
async fn the_world_is_recognised() {
    let hello = executor().load(&read(guests::HELLO)).await.expect("loads");
    let wordcount = executor()
        .load(&read(guests::WORDCOUNT))
        .await
        .expect("loads");
    assert_eq!(hello.kind(), ProgramKind::Command);
    assert_eq!(wordcount.kind(), ProgramKind::Executor);
    assert_eq!(hello.digest().as_str().len(), 64);
    assert_ne!(hello.digest(), wordcount.digest());
}

#[tokio::test]
async fn oversized_components_are_refused_before_compiling() {
    let executor = Executor::new(ExecutorConfig {
        max_component_bytes: 1024,
        ..ExecutorConfig::small()
    })
    .expect("executor");
    let err = executor
        .load(&read(guests::HELLO))
        .await
        .expect_err("loads");
    assert!(matches!(err, Error::TooLarge { limit: 1024, .. }), "{err}");
    let err = executor
        .load_file(Path::new(guests::HELLO))
        .await
        .expect_err("loads");
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert_eq!(executor.cache_stats().compiled, 0);
}

#[tokio::test]
async fn a_missing_file_is_an_io_error() {
    let err = executor()
        .load_file(Path::new("/nonexistent/wasmesos/guest.wasm"))
        .await
        .expect_err("loads");
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_loads_of_the_same_bytes_compile_once() {
    let executor = Executor::new(ExecutorConfig::small()).expect("executor");
    let bytes = read(guests::WORDCOUNT);
    let loads: Vec<_> = (0..16)
        .map(|_| {
            let executor = executor.clone();
            let bytes = bytes.clone();
            tokio::spawn(async move { executor.load(&bytes).await })
        })
        .collect();
    for load in loads {
        load.await.expect("joins").expect("loads");
    }
    let stats = executor.cache_stats();
    assert_eq!(stats.compiled, 1, "{stats:?}");
    assert_eq!(stats.memory_hits, 15, "{stats:?}");
}

#[tokio::test]
async fn a_second_executor_loads_from_the_disk_cache_without_compiling() {
    let cache = tempfile::tempdir().expect("temp dir");
    let config = ExecutorConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..ExecutorConfig::small()
    };
    let bytes = read(guests::WORDCOUNT);

    let first = Executor::new(config.clone()).expect("executor");
    first.load(&bytes).await.expect("loads");
    assert_eq!(first.cache_stats().compiled, 1);
    let artifacts = std::fs::read_dir(cache.path()).expect("cache dir").count();
    assert_eq!(artifacts, 1);

    let second = Executor::new(config).expect("executor");
    let program = second.load(&bytes).await.expect("loads from disk");
    let stats = second.cache_stats();
    assert_eq!(
        (stats.compiled, stats.loaded_from_disk),
        (0, 1),
        "{stats:?}"
    );

    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("from-disk");
    spec.data = b"one two three".to_vec();
    let report = second
        .launch(&program, spec)
        .expect("launches")
        .wait()
        .await;
    assert_eq!(
        report.outcome.reason_code(),
        "finished",
        "{:?}",
        report.outcome
    );
}

#[tokio::test]
async fn a_corrupt_cached_artifact_is_replaced_not_trusted() {
    let cache = tempfile::tempdir().expect("temp dir");
    let config = ExecutorConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..ExecutorConfig::small()
    };
    let bytes = read(guests::HELLO);
    Executor::new(config.clone())
        .expect("executor")
        .load(&bytes)
        .await
        .expect("loads");
    for entry in std::fs::read_dir(cache.path()).expect("cache dir") {
        let path = entry.expect("entry").path();
        std::fs::write(&path, b"not an artifact").expect("corrupt");
    }
    let executor = Executor::new(config).expect("executor");
    let program = executor.load(&bytes).await.expect("recompiles");
    assert_eq!(executor.cache_stats().compiled, 1);
    let report = run_on(&executor, &program).await;
    assert_eq!(
        report.outcome.reason_code(),
        "finished",
        "{:?}",
        report.outcome
    );
}

#[tokio::test]
async fn the_fuel_metered_variant_is_compiled_once_on_first_use() {
    let executor = Executor::new(ExecutorConfig::small()).expect("executor");
    let program = executor.load(&read(guests::HELLO)).await.expect("loads");
    assert_eq!(executor.cache_stats().compiled, 1);
    for round in 0..3 {
        let sandbox = Sandbox::new();
        let mut spec = sandbox.spec(&format!("fuel-{round}"));
        spec.limits.fuel = Some(1_000_000_000);
        let report = executor
            .launch(&program, spec)
            .expect("launches")
            .wait()
            .await;
        assert_eq!(
            report.outcome.reason_code(),
            "finished",
            "{:?}",
            report.outcome
        );
    }
    assert_eq!(executor.cache_stats().compiled, 2);
}

async fn run_on(
    executor: &Executor,
    program: &wasmesos_wasm_executor::Program,
) -> wasmesos_wasm_executor::Report {
    let sandbox = Sandbox::new();
    executor
        .launch(program, sandbox.spec("run-on"))
        .expect("launches")
        .wait()
        .await
}

#[tokio::test]
async fn launching_with_impossible_limits_is_an_error() {
    let hello = common::load(guests::HELLO).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("bad-cpus");
    spec.limits.cpus = Some(f64::NAN);
    assert!(matches!(
        executor().launch(&hello, spec),
        Err(Error::InvalidSpec(_))
    ));
    let mut spec = sandbox.spec("too-much-mem");
    spec.limits.mem_bytes = 1 << 40;
    assert!(matches!(
        executor().launch(&hello, spec),
        Err(Error::InvalidSpec(_))
    ));
    let report = run(&hello, sandbox.spec("still-fine")).await;
    assert_eq!(report.outcome.reason_code(), "finished");
}
