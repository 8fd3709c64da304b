//! Artifacts over gRPC: every kind of bad upload gets a clear INVALID_ARGUMENT; a good
//! component is stored, found, and downloaded byte for byte.

mod common;

use common::*;
use tokio_stream::StreamExt;
use tonic::Code;
use wasmesos_proto::v1::{DownloadRequest, StatRequest, UploadChunk, UploadHeader};

fn assert_invalid(result: Result<impl std::fmt::Debug, tonic::Status>, needle: &str) {
    match result {
        Err(status) => {
            assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
            assert!(
                status.message().contains(needle),
                "{needle:?} not in {:?}",
                status.message()
            );
        }
        Ok(ok) => panic!("expected INVALID_ARGUMENT ({needle}), got {ok:?}"),
    }
}

#[tokio::test]
async fn a_good_component_is_stored_once_and_downloads_intact() {
    let master = start(|_| {}).await;
    let bytes = read_guest(wasmesos_guest_artifacts::HELLO);
    let digest = sha256_hex(&bytes);
    let first = master
        .upload(&bytes, bytes.len() as u64, &digest)
        .await
        .expect("upload");
    assert_eq!(first.digest, digest);
    assert_eq!(first.size, bytes.len() as u64);
    assert!(first.created);
    let again = master.upload(&bytes, 0, "").await.expect("upload again");
    assert!(!again.created);

    let stat = master
        .artifacts()
        .stat(StatRequest {
            digest: digest.clone(),
        })
        .await
        .expect("stat")
        .into_inner();
    assert!(stat.exists);
    assert_eq!(stat.size, bytes.len() as u64);

    let mut chunks = master
        .artifacts()
        .download(DownloadRequest {
            digest: digest.clone(),
        })
        .await
        .expect("download")
        .into_inner();
    let mut downloaded = Vec::new();
    let mut total = None;
    while let Some(chunk) = within(chunks.next()).await {
        let chunk = chunk.expect("chunk");
        total.get_or_insert(chunk.total_size);
        downloaded.extend_from_slice(&chunk.data);
    }
    assert_eq!(total, Some(bytes.len() as u64));
    assert_eq!(sha256_hex(&downloaded), digest);
    assert!(
        master
            .handle
            .work_dir
            .join("artifacts")
            .join(format!("{digest}.wasm"))
            .is_file()
    );
}

#[tokio::test]
async fn an_executor_component_with_the_host_interface_is_accepted() {
    let master = start(|_| {}).await;
    let bytes = read_guest(wasmesos_guest_artifacts::WORDCOUNT);
    master
        .upload(&bytes, bytes.len() as u64, "")
        .await
        .expect("wordcount uploads");
}

#[tokio::test]
async fn garbage_is_not_a_component() {
    let master = start(|_| {}).await;
    let garbage = b"#!/bin/sh\necho definitely not wasm\n".repeat(10);
    assert_invalid(
        master.upload(&garbage, garbage.len() as u64, "").await,
        "not a WebAssembly component",
    );
    assert_invalid(
        master.upload(&[], 0, "").await,
        "not a WebAssembly component",
    );
}

#[tokio::test]
async fn a_core_module_is_refused_with_a_hint() {
    let master = start(|_| {}).await;
    let module = wat::parse_str("(module (func (export \"_start\")))").expect("wat");
    assert_invalid(
        master.upload(&module, module.len() as u64, "").await,
        "core module",
    );
}

#[tokio::test]
async fn a_component_importing_what_agents_lack_is_refused_naming_the_import() {
    let master = start(|_| {}).await;
    let bytes = read_guest(wasmesos_guest_artifacts::UNSUPPORTED_IMPORT);
    assert_invalid(
        master.upload(&bytes, bytes.len() as u64, "").await,
        "acme:missing",
    );
}

#[tokio::test]
async fn oversized_uploads_are_refused_whether_announced_or_not() {
    let master = start(|config| config.max_artifact_size = 1024).await;
    let bytes = read_guest(wasmesos_guest_artifacts::HELLO);
    assert!(bytes.len() > 1024);
    assert_invalid(
        master.upload(&bytes, bytes.len() as u64, "").await,
        "more than the 1024 bytes",
    );
    // The header lies (or says nothing): the cap still holds as bytes arrive.
    assert_invalid(
        master.upload(&bytes, 0, "").await,
        "more than the 1024 bytes",
    );
    assert_invalid(
        master.upload(&bytes, 100, "").await,
        "more than the 1024 bytes",
    );
}

#[tokio::test]
async fn digest_and_size_mismatches_are_refused() {
    let master = start(|_| {}).await;
    let bytes = read_guest(wasmesos_guest_artifacts::HELLO);
    let wrong = "0".repeat(64);
    assert_invalid(
        master.upload(&bytes, bytes.len() as u64, &wrong).await,
        "digest mismatch",
    );
    assert_invalid(
        master.upload(&bytes, bytes.len() as u64, "xyz").await,
        "digest",
    );
    assert_invalid(
        master.upload(&bytes, bytes.len() as u64 + 1, "").await,
        "header.size",
    );
    let stat = master
        .artifacts()
        .stat(StatRequest {
            digest: sha256_hex(&bytes),
        })
        .await
        .expect("stat")
        .into_inner();
    assert!(!stat.exists, "nothing was stored");
}

#[tokio::test]
async fn headers_must_come_first_and_only_once() {
    let master = start(|_| {}).await;
    let no_header = vec![UploadChunk {
        header: None,
        data: b"\0asm".to_vec().into(),
    }];
    assert_invalid(
        master
            .artifacts()
            .upload(tokio_stream::iter(no_header))
            .await,
        "first chunk must carry the header",
    );
    let header = UploadHeader::default();
    let two_headers = vec![
        UploadChunk {
            header: Some(header.clone()),
            data: Default::default(),
        },
        UploadChunk {
            header: Some(header),
            data: Default::default(),
        },
    ];
    assert_invalid(
        master
            .artifacts()
            .upload(tokio_stream::iter(two_headers))
            .await,
        "only the first chunk",
    );
    assert_invalid(
        master
            .artifacts()
            .upload(tokio_stream::iter(Vec::<UploadChunk>::new()))
            .await,
        "no chunk",
    );
}

#[tokio::test]
async fn unknown_and_malformed_digests() {
    let master = start(|_| {}).await;
    let missing = master
        .artifacts()
        .download(DownloadRequest {
            digest: "e".repeat(64),
        })
        .await;
    assert_eq!(missing.err().map(|s| s.code()), Some(Code::NotFound));
    for bad in ["", "../../etc/passwd", "g".repeat(64).as_str()] {
        let result = master
            .artifacts()
            .download(DownloadRequest { digest: bad.into() })
            .await;
        assert_eq!(
            result.err().map(|s| s.code()),
            Some(Code::InvalidArgument),
            "{bad:?}"
        );
        let result = master
            .artifacts()
            .stat(StatRequest { digest: bad.into() })
            .await;
        assert_eq!(
            result.err().map(|s| s.code()),
            Some(Code::InvalidArgument),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn every_example_guest_but_the_unsupported_import_passes_validation() {
    let master = start(|_| {}).await;
    for (name, path) in wasmesos_guest_artifacts::ALL {
        let bytes = read_guest(path);
        let result = master.upload(&bytes, bytes.len() as u64, "").await;
        if *path == wasmesos_guest_artifacts::UNSUPPORTED_IMPORT {
            assert!(result.is_err(), "{name} should be refused");
        } else {
            assert!(result.is_ok(), "{name}: {result:?}");
        }
    }
}
