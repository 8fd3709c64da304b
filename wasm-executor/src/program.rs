//! Loaded components: validation, the world they target, and their pre-instantiated form.

use std::sync::Arc;

use tokio::sync::OnceCell;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::Error;
use crate::cache::Digest;
use crate::host::bindings::ExecutorPre;
use crate::imports::unsupported_imports;
use crate::store::TaskState;

/// Which world a component targets, and so how it is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramKind {
    /// A `wasi:cli/command`: `run` is called, its exit code is the result.
    Command,
    /// The `wasmesos:executor` world: `run(task-info)` is called, its `result` is the result.
    Executor,
    /// A `wasi:http` service: it exports `wasi:http/incoming-handler`, and each request is
    /// handled by an instance of its own. Started with
    /// [`Executor::serve`](crate::Executor::serve), never with `launch`.
    HttpService,
}

impl ProgramKind {
    /// A stable name: `command`, `executor` or `http_service`.
    pub fn name(self) -> &'static str {
        match self {
            ProgramKind::Command => "command",
            ProgramKind::Executor => "executor",
            ProgramKind::HttpService => "http_service",
        }
    }
}

/// A validated, compiled component, ready to launch any number of times.
#[derive(Clone)]
pub struct Program {
    pub(crate) inner: Arc<ProgramInner>,
}

pub(crate) struct ProgramInner {
    pub(crate) digest: Digest,
    pub(crate) kind: ProgramKind,
    /// Kept to compile the fuel-metered variant the first time a task asks for fuel.
    pub(crate) bytes: Arc<[u8]>,
    pub(crate) plain: Prepared,
    pub(crate) fuel: OnceCell<Prepared>,
}

impl Program {
    /// The sha256 of the component's bytes.
    pub fn digest(&self) -> &Digest {
        &self.inner.digest
    }

    /// The world the component targets.
    pub fn kind(&self) -> ProgramKind {
        self.inner.kind
    }
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("digest", &self.inner.digest)
            .field("kind", &self.inner.kind)
            .finish()
    }
}

/// A component pre-instantiated against one engine's linker.
#[derive(Clone)]
pub(crate) enum Prepared {
    Command(CommandPre<TaskState>),
    Executor(ExecutorPre<TaskState>),
    Http(ProxyPre<TaskState>),
}

impl Prepared {
    pub(crate) fn engine(&self) -> &wasmtime::Engine {
        match self {
            Prepared::Command(pre) => pre.engine(),
            Prepared::Executor(pre) => pre.engine(),
            Prepared::Http(pre) => pre.engine(),
        }
    }
}

/// Cheap checks on raw bytes before anything is compiled.
pub(crate) fn check_bytes(bytes: &[u8], max_bytes: u64) -> Result<(), Error> {
    let size = bytes.len() as u64;
    if size > max_bytes {
        return Err(Error::TooLarge {
            size,
            limit: max_bytes,
        });
    }
    match bytes {
        [0, b'a', b's', b'm', _, _, 0, 0, ..] => Err(Error::NotAComponent),
        [0, b'a', b's', b'm', _, _, 1, 0, ..] => Ok(()),
        [0, b'a', b's', b'm', ..] => Err(Error::InvalidComponent(
            "unknown WebAssembly binary version or layer".into(),
        )),
        _ => Err(Error::InvalidComponent(
            "not a WebAssembly binary (no `\\0asm` header)".into(),
        )),
    }
}

/// The world `component` targets, from its exports: the executor world first, then the
/// HTTP handler, then `wasi:cli/run`. A Rust binary built for `wasm32-wasip2` that exports
/// the handler also exports `wasi:cli/run` (its `main`): it is a service.
fn kind_of(engine: &wasmtime::Engine, component: &Component) -> Result<ProgramKind, Error> {
    let ty = component.component_type();
    let (mut command, mut http) = (false, false);
    for (name, item) in ty.exports(engine) {
        if name == "run" && matches!(item.ty, ComponentItem::ComponentFunc(_)) {
            return Ok(ProgramKind::Executor);
        }
        http |= is_wasi_http_handler(name);
        command |= is_wasi_cli_run(name);
    }
    match (http, command) {
        (true, _) => Ok(ProgramKind::HttpService),
        (false, true) => Ok(ProgramKind::Command),
        (false, false) => Err(Error::MissingWorld),
    }
}

fn is_wasi_cli_run(name: &str) -> bool {
    name.strip_prefix("wasi:cli/run@0.2.").is_some()
}

fn is_wasi_http_handler(name: &str) -> bool {
    name.strip_prefix("wasi:http/incoming-handler@0.2.")
        .is_some()
}

/// Pre-instantiates `component` against `linker`: first its imports (naming any the host
/// lacks), then the world its exports target.
pub(crate) fn prepare(
    linker: &Linker<TaskState>,
    component: &Component,
) -> Result<(ProgramKind, Prepared), Error> {
    let pre: InstancePre<TaskState> = linker.instantiate_pre(component).map_err(|err| {
        match unsupported_imports(linker, component) {
            missing if !missing.is_empty() => Error::UnsupportedImports(missing),
            _ => Error::InvalidComponent(format!("{err:#}")),
        }
    })?;
    let kind = kind_of(linker.engine(), component)?;
    let wrong_type = |err: wasmtime::Error| {
        let export = match kind {
            ProgramKind::HttpService => "`handle`",
            ProgramKind::Command | ProgramKind::Executor => "`run`",
        };
        Error::InvalidComponent(format!("its {export} export has the wrong type: {err:#}"))
    };
    let prepared = match kind {
        ProgramKind::Command => Prepared::Command(CommandPre::new(pre).map_err(wrong_type)?),
        ProgramKind::Executor => Prepared::Executor(ExecutorPre::new(pre).map_err(wrong_type)?),
        ProgramKind::HttpService => Prepared::Http(ProxyPre::new(pre).map_err(wrong_type)?),
    };
    Ok((kind, prepared))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_headers() {
        let core = [0, b'a', b's', b'm', 1, 0, 0, 0];
        let component = [0, b'a', b's', b'm', 0x0d, 0, 1, 0];
        assert!(matches!(check_bytes(&core, 100), Err(Error::NotAComponent)));
        assert!(check_bytes(&component, 100).is_ok());
        assert!(matches!(
            check_bytes(b"hello", 100),
            Err(Error::InvalidComponent(_))
        ));
        assert!(matches!(
            check_bytes(&[], 100),
            Err(Error::InvalidComponent(_))
        ));
        assert!(matches!(
            check_bytes(&component, 4),
            Err(Error::TooLarge { size: 8, limit: 4 })
        ));
    }

    #[test]
    fn names_of_the_command_world() {
        assert!(is_wasi_cli_run("wasi:cli/run@0.2.0"));
        assert!(is_wasi_cli_run("wasi:cli/run@0.2.6"));
        assert!(!is_wasi_cli_run("wasi:cli/run@0.3.0"));
        assert!(!is_wasi_cli_run("run"));
    }

    #[test]
    fn names_of_the_http_handler() {
        assert!(is_wasi_http_handler("wasi:http/incoming-handler@0.2.0"));
        assert!(is_wasi_http_handler("wasi:http/incoming-handler@0.2.12"));
        assert!(!is_wasi_http_handler("wasi:http/incoming-handler@0.3.0"));
        assert!(!is_wasi_http_handler("wasi:http/outgoing-handler@0.2.0"));
    }
}
