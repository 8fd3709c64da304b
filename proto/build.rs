//! Compiles the `.proto` files with protox (pure Rust), so building needs no system `protoc`.
//!
//! Two sets: wasmesos's own protocol (messages and gRPC services) and Apache Mesos 1.11's v1
//! messages (vendored unchanged under `proto/mesos/v1/`), which the master's Mesos HTTP API
//! decodes and encodes. The Mesos set is also written as an encoded `FileDescriptorSet`
//! (`mesos_descriptor.bin`) for reflection: Mesos's JSON is written field by field from it.

use std::path::{Path, PathBuf};

const PROTOS: &[&str] = &[
    "wasmesos/v1/maintenance.proto",
    "wasmesos/v1/common.proto",
    "wasmesos/v1/scheduler.proto",
    "wasmesos/v1/agent.proto",
    "wasmesos/v1/artifacts.proto",
    "wasmesos/v1/operator.proto",
];

const MESOS_PROTOS: &[&str] = &[
    "mesos/v1/mesos.proto",
    "mesos/v1/scheduler/scheduler.proto",
    "mesos/v1/master/master.proto",
    "mesos/v1/maintenance/maintenance.proto",
    "mesos/v1/quota/quota.proto",
    "mesos/v1/allocator/allocator.proto",
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
    compile_mesos(&root)
}

fn compile_mesos(root: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use prost::Message;
    let files: Vec<PathBuf> = MESOS_PROTOS.iter().map(|p| root.join(p)).collect();
    let descriptors = protox::compile(&files, [root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("mesos_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(false)
        .compile_fds(descriptors)?;
    Ok(())
}
