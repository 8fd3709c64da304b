//! TLS for connections to a master: an `https://` master gets the client's TLS settings
//! (the CA that verifies it, and a client certificate for mutual TLS); a failure that TLS
//! explains says which flag fixes it.

use tonic::transport::Endpoint;
pub use wasmesos_tls::{ClientConfig, ClientTls, Error as TlsError, Identity};

use crate::Error;
use crate::channel::one_line;

/// `endpoint` (of `url`) with TLS when `url` is `https://`.
pub(crate) fn secure(endpoint: Endpoint, url: &str, tls: &ClientConfig) -> Result<Endpoint, Error> {
    tls.endpoint(endpoint).map_err(|err| Error::BadUrl {
        url: url.to_string(),
        why: one_line(&err),
    })
}

/// `reason` followed by what to do about it, when TLS explains it.
pub(crate) fn with_hint(reason: String) -> String {
    match wasmesos_tls::explain_failure(&reason) {
        Some(hint) => format!("{reason} ({hint})"),
        None => reason,
    }
}
