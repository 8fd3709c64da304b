//! The `--tls-*` flags that `wasmesos master` and `wasmesos agent` share: the certificate
//! and key of their port and the CA that verifies the servers they call, read through the
//! settings layers (`tls_cert`, `tls_key`, `tls_ca` in the file, `WASMESOS_<COMMAND>_TLS_*`
//! in the environment) and printed back by `--print-config`.

use std::path::PathBuf;

use anyhow::bail;
use wasmesos_detector::Identity;

use crate::settings::{Layers, Printed};

/// A server's certificate and the CA it trusts as a client.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Serve this port over TLS only, with this PEM certificate (chain); needs --tls-key.
    /// gRPC and HTTP stay on the one port; its URL becomes https://.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// A PEM file of the CA that verifies the https:// servers this process calls
    /// [default: the system's roots].
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
}

/// A path setting's value.
pub fn path(text: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(text))
}

impl TlsArgs {
    /// The certificate and key from every layer; both or neither.
    pub fn identity(&self, l: &mut Layers) -> anyhow::Result<Option<Identity>> {
        let cert = l.one("tls_cert", self.tls_cert.clone(), path)?;
        let key = l.one("tls_key", self.tls_key.clone(), path)?;
        match (cert, key) {
            (Some(cert), Some(key)) => Ok(Some(Identity { cert, key })),
            (None, None) => Ok(None),
            (Some(_), None) => {
                bail!("--tls-cert needs --tls-key (tls_key), the certificate's private key")
            }
            (None, Some(_)) => {
                bail!("--tls-key needs --tls-cert (tls_cert), the certificate it belongs to")
            }
        }
    }

    /// The CA from every layer.
    pub fn ca(&self, l: &mut Layers) -> anyhow::Result<Option<PathBuf>> {
        l.one("tls_ca", self.tls_ca.clone(), path)
    }
}

/// `tls_cert`, `tls_key` and `tls_ca` as `--config` reads them back.
pub fn print(printed: Printed, identity: Option<&Identity>, ca: Option<&PathBuf>) -> Printed {
    printed
        .optional(
            "tls_cert",
            identity.map(|identity| identity.cert.display()),
            "plain HTTP",
        )
        .optional(
            "tls_key",
            identity.map(|identity| identity.key.display()),
            "plain HTTP",
        )
        .optional("tls_ca", ca.map(|ca| ca.display()), "the system's roots")
}
