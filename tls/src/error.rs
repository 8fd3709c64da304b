//! What can go wrong while loading certificates and keys or setting up TLS.

use std::path::PathBuf;

/// TLS errors; each names the file at fault where there is one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A certificate, key or CA file cannot be read.
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file holds no PEM item of the kind expected, or a malformed one.
    #[error("{what} {path}: {why}")]
    Pem {
        what: &'static str,
        path: PathBuf,
        why: String,
    },
    /// rustls refused the certificate, the key or the CA.
    #[error("{what}: {why}")]
    Config { what: String, why: String },
}
