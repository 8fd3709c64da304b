//! The crate's one error type: everything that can go wrong before a task runs.
//!
//! Once a task runs, what happens to it is an [`Outcome`](crate::Outcome), never an `Error`.

use std::path::PathBuf;

/// Why a component could not be loaded or a task could not be launched.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a valid WebAssembly component (random bytes, a truncated file, a
    /// component that fails validation).
    #[error("invalid component: {0}")]
    InvalidComponent(String),

    /// The bytes are a core WebAssembly module; tasks must be components.
    #[error(
        "not a component: this is a core WebAssembly module; build for wasm32-wasip2 \
         or wrap it with `wasm-tools component new`"
    )]
    NotAComponent,

    /// The component imports interfaces this host does not provide.
    #[error("the component imports interfaces this host does not provide: {}", .0.join(", "))]
    UnsupportedImports(Vec<String>),

    /// The component exports none of `wasi:cli/run` (a command), `run` (an executor) and
    /// `wasi:http/incoming-handler` (an HTTP service).
    #[error(
        "the component exports none of `wasi:cli/run` (a wasi:cli/command), \
         `run` (the wasmesos:executor world) and `wasi:http/incoming-handler` \
         (a wasi:http service)"
    )]
    MissingWorld,

    /// The program is started the wrong way: a service with `launch`, or a task with
    /// `serve`.
    #[error("this component is a {} and is started with `{start}`", kind.name())]
    WrongKind {
        /// What the program is.
        kind: crate::ProgramKind,
        /// The call that starts it: `Executor::serve` or `Executor::launch`.
        start: &'static str,
    },

    /// The component is larger than [`ExecutorConfig::max_component_bytes`](crate::ExecutorConfig).
    #[error("component is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// The component's size.
        size: u64,
        /// The configured limit.
        limit: u64,
    },

    /// A file could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "reading".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The on-disk compile cache could not be used.
    #[error("compile cache: {0}")]
    Cache(String),

    /// A directory whose contents would be trusted (the compile cache, a work dir) is not
    /// this user's alone, or cannot be created.
    #[error("unsafe directory {0}")]
    UnsafeDirectory(String),

    /// The configuration cannot be turned into an engine.
    #[error("invalid executor configuration: {0}")]
    Config(String),

    /// A [`TaskSpec`](crate::TaskSpec) asks for something impossible.
    #[error("invalid task spec: {0}")]
    InvalidSpec(String),

    /// A network grant is not in the one syntax [`AllowedAddr`](crate::AllowedAddr) reads.
    #[error(
        "network grant `{0}` is not `ip:port` or a bare `ip` (any port); IPv6 is written \
         `[::1]:80` with a port, `::1` or `[::1]` without; host names are not accepted"
    )]
    InvalidNetworkGrant(String),

    /// An operator's address rule is not in the syntax [`AddrRule`](crate::AddrRule) reads.
    #[error(
        "`{0}` is not an address rule: write an IP or a network (`10.0.0.5`, `10.0.0.0/8`, \
         `::/0`), optionally with a port or port range after a colon (`10.0.0.0/8:443`, \
         `0.0.0.0/0:8000-8999`); an IPv6 rule with ports goes in brackets (`[::1]:80`, \
         `[2001:db8::/32]:443`)"
    )]
    InvalidAddrRule(String),

    /// The task's sandbox could not be prepared.
    #[error("cannot prepare the sandbox: {0}")]
    Sandbox(String),

    /// `launch` was called outside a tokio runtime.
    #[error("launch must be called from within a tokio runtime")]
    NoRuntime,

    /// A fault in the host itself (wasmtime setup, a panicked worker).
    #[error("host fault: {0}")]
    Host(String),
}

impl Error {
    /// A stable, machine-readable name for the error, e.g. `unsupported_imports`.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Error::InvalidComponent(_) => "invalid_component",
            Error::NotAComponent => "not_a_component",
            Error::UnsupportedImports(_) => "unsupported_imports",
            Error::MissingWorld => "missing_world",
            Error::WrongKind { .. } => "wrong_kind",
            Error::TooLarge { .. } => "too_large",
            Error::Io { .. } => "io_error",
            Error::Cache(_) => "cache_error",
            Error::UnsafeDirectory(_) => "unsafe_directory",
            Error::Config(_) => "config_error",
            Error::InvalidSpec(_) => "invalid_spec",
            Error::InvalidNetworkGrant(_) => "invalid_network_grant",
            Error::InvalidAddrRule(_) => "invalid_address_rule",
            Error::Sandbox(_) => "sandbox_error",
            Error::NoRuntime | Error::Host(_) => "host_error",
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Renders a wasmtime error with its whole cause chain.
    pub(crate) fn host(err: &wasmtime::Error) -> Self {
        Error::Host(format!("{err:#}"))
    }
}
