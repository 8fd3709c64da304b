//! The agent's TLS: its own port served over TLS only (through `wasmesos_tls::serve`, as
//! the master's), the CA that verifies the master, and the agent's client certificate for
//! a master that requires one (mutual TLS). One certificate serves both: the agent's
//! `--tls-cert` is what the master sees when it calls the agent and when the agent calls it.

use std::path::PathBuf;

use wasmesos_detector::{ClientConfig, ClientTls, Identity};
use wasmesos_tls::ServerTls;

use crate::Error;

/// The agent's TLS settings; all off by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentTls {
    /// Serve the agent's port over TLS only with this certificate and key, advertise an
    /// `https://` address, and present them to the master as the agent's client
    /// certificate (`--tls-cert`, `--tls-key`).
    pub identity: Option<Identity>,
    /// The CA that verifies an `https://` master (`--tls-ca`); `None` trusts the system's
    /// roots.
    pub ca: Option<PathBuf>,
}

impl AgentTls {
    /// `https` when the agent serves TLS, else `http`.
    pub(crate) fn scheme(&self) -> &'static str {
        wasmesos_tls::scheme(self.identity.as_ref())
    }

    /// The TLS of the agent's port, loaded; `None` serves plain HTTP.
    pub(crate) fn server(&self) -> Result<Option<ServerTls>, Error> {
        let Some(identity) = &self.identity else {
            return Ok(None);
        };
        Ok(Some(ServerTls::load(identity, None)?))
    }

    /// The TLS of the agent's calls to the master, loaded.
    pub(crate) fn master(&self) -> Result<ClientConfig, Error> {
        let client = ClientTls {
            ca: self.ca.clone(),
            identity: self.identity.clone(),
        };
        Ok(client.load()?)
    }
}
