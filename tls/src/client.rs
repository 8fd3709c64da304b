//! The client side: what a caller of a wasmesos server trusts and who it is, loaded once
//! into a [`ClientConfig`] that every `https://` endpoint it builds takes.

use std::path::PathBuf;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use crate::{Error, Identity, pem};

/// How a client verifies the servers it calls and, for mutual TLS, proves who it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// A PEM file of the CA certificates that verify servers; `None` trusts the operating
    /// system's roots instead.
    pub ca: Option<PathBuf>,
    /// A certificate and key presented to servers that ask for one (mutual TLS).
    pub identity: Option<Identity>,
}

impl ClientTls {
    /// Reads and checks the files now, so a bad one fails here naming its path rather than
    /// at the first connection.
    pub fn load(&self) -> Result<ClientConfig, Error> {
        let mut tls = ClientTlsConfig::new();
        tls = match &self.ca {
            Some(ca) => {
                let what = "CA certificate";
                pem::certificates(what, ca)?;
                tls.ca_certificate(Certificate::from_pem(pem::read(what, ca)?))
            }
            None => tls.with_native_roots(),
        };
        if let Some(identity) = &self.identity {
            let what = "client certificate";
            pem::certificates(what, &identity.cert)?;
            pem::private_key(&identity.key)?;
            tls = tls.identity(tonic::transport::Identity::from_pem(
                pem::read(what, &identity.cert)?,
                pem::read("private key", &identity.key)?,
            ));
        }
        Ok(ClientConfig { tls })
    }
}

/// Loaded client settings, cheap to clone: TLS for the `https://` endpoints a client builds.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    tls: ClientTlsConfig,
}

impl Default for ClientConfig {
    /// The operating system's roots, and no client certificate.
    fn default() -> Self {
        Self {
            tls: ClientTlsConfig::new().with_native_roots(),
        }
    }
}

impl ClientConfig {
    /// `endpoint` with TLS when its URL is `https://`; unchanged otherwise.
    pub fn endpoint(&self, endpoint: Endpoint) -> Result<Endpoint, tonic::transport::Error> {
        if endpoint.uri().scheme_str() == Some("https") {
            endpoint.tls_config(self.tls.clone())
        } else {
            Ok(endpoint)
        }
    }
}

/// What to do about a failed connection, when its message (`error` and its causes on one
/// line) shows a TLS cause: rustls names the problem, not the flag that fixes it.
pub fn explain_failure(error: &str) -> Option<&'static str> {
    let has = |needle: &str| error.contains(needle);
    if has("UnknownIssuer") || has("BadSignature") {
        Some(
            "the server's certificate is not signed by a CA this client trusts: give the CA that signed it with --tls-ca (or WASMESOS_TLS_CA)",
        )
    } else if has("NotValidForName") {
        Some(
            "the server's certificate does not name the host in the URL: connect by a name or address its certificate lists",
        )
    } else if has("Expired") || has("NotValidYet") {
        Some("the server's certificate is outside its validity period")
    } else if has("CertificateRequired") || has("certificate required") {
        Some("the server requires a client certificate")
    } else if has("InvalidContentType") || has("corrupt message") {
        Some("the server does not speak TLS: use an http:// URL")
    } else {
        None
    }
}
