//! The WASI context of one task: the sandbox dir as its only preopen, exactly the env and args
//! it was given, no stdin, output to capped files, and only the network it was granted.
//!
//! A service builds one such context per request, all writing to the same two streams and
//! sharing one handle on the sandbox dir, opened when the service starts.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use wasmtime_wasi::filesystem::WasiFilesystemCtx;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use crate::output::{CappedOutput, HostStream, OutputMemory, OutputPath};
use crate::spec::{NetworkPolicy, TaskSpec};

/// File names of the captured streams inside the sandbox.
pub const STDOUT_FILE: &str = "stdout";
/// See [`STDOUT_FILE`].
pub const STDERR_FILE: &str = "stderr";

pub(crate) struct Sandbox {
    pub(crate) wasi: WasiCtx,
    pub(crate) stdout: CappedOutput,
    pub(crate) stderr: CappedOutput,
}

/// Builds the task's WASI context and its output streams, creating the sandbox dir if needed.
pub(crate) fn build(spec: &TaskSpec) -> Result<Sandbox, String> {
    let (stdout, stderr) = streams(spec)?;
    let wasi = wasi_ctx(spec, &stdout, &stderr)?;
    Ok(Sandbox {
        wasi,
        stdout,
        stderr,
    })
}

/// The task's stdout and stderr, capped, in memory or in the sandbox dir as its spec says.
pub(crate) fn streams(spec: &TaskSpec) -> Result<(CappedOutput, CappedOutput), String> {
    let tee = |stream| spec.output.tee.then_some(stream);
    let memory = spec.output.memory.as_ref();
    let memory_limit = memory.map_or(0, OutputMemory::limit_bytes);
    let dir: Arc<Path> = Arc::from(spec.sandbox_dir.as_path());
    let path = |name| OutputPath {
        dir: Arc::clone(&dir),
        name,
    };
    let stdout = CappedOutput::new(
        path(STDOUT_FILE),
        spec.output.cap_bytes,
        tee(HostStream::Stdout),
        memory_limit,
    );
    let stderr = CappedOutput::new(
        path(STDERR_FILE),
        spec.output.cap_bytes,
        tee(HostStream::Stderr),
        memory_limit,
    );
    if let Some(memory) = memory
        && !memory.attach(&stdout, &stderr)
    {
        return Err("the task's output memory handle already serves another task".into());
    }
    Ok((stdout, stderr))
}

/// A WASI context writing to `stdout` and `stderr`, with the sandbox dir preopened at `/`
/// (created if it does not exist).
pub(crate) fn wasi_ctx(
    spec: &TaskSpec,
    stdout: &CappedOutput,
    stderr: &CappedOutput,
) -> Result<WasiCtx, String> {
    let mut builder = builder(spec, stdout, stderr);
    preopen(&mut builder, &spec.sandbox_dir)?;
    Ok(builder.build())
}

/// The sandbox dir opened once, to be shared by the WASI contexts of a service's requests
/// ([`wasi_ctx_sharing`]).
pub(crate) fn open_shared(spec: &TaskSpec) -> Result<WasiFilesystemCtx, String> {
    let mut builder = WasiCtxBuilder::new();
    preopen(&mut builder, &spec.sandbox_dir)?;
    Ok(builder.build().filesystem().clone())
}

/// A context like [`wasi_ctx`]'s whose sandbox preopen is `shared`'s: the same directory
/// handle with the same permissions, so a request costs no `open` of the sandbox dir.
pub(crate) fn wasi_ctx_sharing(
    spec: &TaskSpec,
    stdout: &CappedOutput,
    stderr: &CappedOutput,
    shared: &WasiFilesystemCtx,
) -> WasiCtx {
    let mut wasi = builder(spec, stdout, stderr).build();
    *wasi.filesystem() = shared.clone();
    wasi
}

/// Everything of a task's WASI context but its preopen.
fn builder(spec: &TaskSpec, stdout: &CappedOutput, stderr: &CappedOutput) -> WasiCtxBuilder {
    let mut builder = WasiCtxBuilder::new();
    builder
        .arg(&spec.name)
        .args(&spec.args)
        .envs(&spec.env)
        .initial_cwd("/")
        .stdout(stdout.clone())
        .stderr(stderr.clone());
    apply_network(&mut builder, &spec.network);
    builder
}

/// Preopens `dir` at `/`, creating it first if it does not exist. Opening first costs no
/// system call beyond the open itself when the dir is there; a `mkdir` of an existing dir is
/// one of the dearest steps of a launch.
fn preopen(builder: &mut WasiCtxBuilder, dir: &Path) -> Result<(), String> {
    let describe = |err: &dyn std::fmt::Display| format!("cannot open {}: {err}", dir.display());
    match builder.preopened_dir(dir, "/", FsPerms::ReadWrite) {
        Ok(_) => return Ok(()),
        Err(err) if !is_not_found(&err) => return Err(describe(&format_args!("{err:#}"))),
        Err(_) => {}
    }
    std::fs::create_dir_all(dir).map_err(|err| describe(&err))?;
    builder
        .preopened_dir(dir, "/", FsPerms::ReadWrite)
        .map(|_| ())
        .map_err(|err| describe(&format_args!("{err:#}")))
}

fn is_not_found(err: &wasmtime::Error) -> bool {
    err.downcast_ref::<std::io::Error>()
        .is_some_and(|err| err.kind() == std::io::ErrorKind::NotFound)
}

fn apply_network(builder: &mut WasiCtxBuilder, policy: &NetworkPolicy) {
    builder.allow_ip_name_lookup(policy.allow_name_lookup);
    if policy.denies_all() {
        builder.allow_tcp(false).allow_udp(false);
        return;
    }
    let policy = Arc::new(policy.clone());
    builder
        .allow_tcp(true)
        .allow_udp(true)
        .socket_addr_check(move |addr: SocketAddr, usage: SocketAddrUse| {
            // A connection accepted on a listener names its remote peer: whoever reaches a
            // port the task was granted to listen on may talk to it, as to any service.
            let allowed = match usage {
                SocketAddrUse::TcpAccept => true,
                SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => policy.permits(addr, true),
                _ => policy.permits(addr, false),
            };
            if !allowed {
                tracing::debug!(%addr, ?usage, "socket address denied by the task's network policy");
            }
            Box::pin(std::future::ready(allowed))
        });
}
