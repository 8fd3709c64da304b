//! Compiles the `.proto` files with protox (pure Rust), so building needs no system `protoc`.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "wasmesos/v1/common.proto",
    "wasmesos/v1/scheduler.proto",
    "wasmesos/v1/agent.proto",
    "wasmesos/v1/artifacts.proto",
    "wasmesos/v1/operator.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from("proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let files: Vec<PathBuf> = PROTOS.iter().map(|p| root.join(p)).collect();
    let descriptors = protox::compile(&files, [&root])?;
    tonic_prost_build::configure()
        .bytes(".wasmesos.v1.UploadChunk.data")
        .bytes(".wasmesos.v1.DownloadChunk.data")
        .compile_fds(descriptors)?;
    Ok(())
}
