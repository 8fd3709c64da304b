//! The master's TLS: its port served over TLS only (gRPC and HTTP alike, through
//! `wasmesos_tls::serve`), client certificates verified against a CA and required of
//! agents, and the TLS of the master's own calls to `https://` agents.
//!
//! The rule for client certificates, with a client CA: any client may connect without one
//! (frameworks, the CLI, browsers); a client that presents one must present one the CA
//! signed, or its handshake fails; and the agents' service (`AgentChannel`: registration,
//! heartbeats, status updates) answers only connections that presented one.

use std::path::PathBuf;

use wasmesos_detector::{ClientConfig, ClientTls, Identity};
use wasmesos_proto::v1::agent_channel_server::SERVICE_NAME as AGENT_CHANNEL;
use wasmesos_tls::ServerTls;

use crate::Error;

/// The master's TLS settings; all off by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MasterTls {
    /// Serve the port over TLS only, with this certificate and key (`--tls-cert`,
    /// `--tls-key`); the master then advertises an `https://` address.
    pub identity: Option<Identity>,
    /// Verify client certificates against this CA and require one of agents
    /// (`--tls-client-ca`); needs `identity`.
    pub client_ca: Option<PathBuf>,
    /// The CA that verifies `https://` agents' certificates when the master reads their
    /// task files (`--tls-ca`); `None` trusts the system's roots.
    pub ca: Option<PathBuf>,
}

impl MasterTls {
    /// Checks the combination (the files are read when the master starts).
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.client_ca.is_some() && self.identity.is_none() {
            return Err(Error::InvalidConfig(
                "tls.client_ca: verifying client certificates needs the master's own \
                 certificate and key (tls_cert, tls_key)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// `https` when the master serves TLS, else `http`.
    pub(crate) fn scheme(&self) -> &'static str {
        wasmesos_tls::scheme(self.identity.as_ref())
    }

    /// The TLS of the master's port, loaded; `None` serves plain HTTP.
    pub(crate) fn server(&self) -> Result<Option<ServerTls>, Error> {
        let Some(identity) = &self.identity else {
            return Ok(None);
        };
        let tls = ServerTls::load(identity, self.client_ca.as_deref())?;
        Ok(Some(
            tls.require_client_cert_for(format!("/{AGENT_CHANNEL}/")),
        ))
    }

    /// The TLS of the master's calls to `https://` agents, loaded.
    pub(crate) fn agents(&self) -> Result<ClientConfig, Error> {
        let client = ClientTls {
            ca: self.ca.clone(),
            identity: None,
        };
        Ok(client.load()?)
    }
}
