//! TLS for wasmesos's ports. The master and the agent each serve gRPC and HTTP on one port;
//! with a certificate they serve it over TLS only, through [`serve`]: rustls (ring), ALPN
//! `h2` and `http/1.1` so gRPC clients, browsers and curl share the port, one handshake per
//! connection in its own task with a deadline, and a failed handshake costs only that
//! connection. A plain-HTTP client that reaches a TLS port gets an answer that says so
//! (HTTP 400, or gRPC UNAVAILABLE), never the API.
//!
//! Clients (agents, the scheduler SDK, the CLI, the master reading agents' files) describe
//! what they trust with [`ClientTls`] and load it once into a [`ClientConfig`], which puts
//! TLS on `https://` endpoints and leaves `http://` ones alone.
//!
//! Every certificate and key is read here ([`pem`]), so a missing, unreadable or empty file
//! is an [`Error`] that names its path. This crate never decides who must present a client
//! certificate: a server says which request paths need one ([`ServerTls::require_client_cert_for`]).
#![cfg_attr(not(test), warn(clippy::expect_used))]
#![forbid(unsafe_code)]

mod client;
mod error;
pub mod pem;
mod server;

use std::path::PathBuf;

pub use client::{ClientConfig, ClientTls, explain_failure};
pub use error::Error;
pub use server::{HANDSHAKE_TIMEOUT, ServerTls, serve};

/// A certificate chain and its private key, as PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The certificate, followed by any intermediates.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The URL scheme of a port served with `identity`: `https` with one, else `http`.
pub fn scheme(identity: Option<&Identity>) -> &'static str {
    if identity.is_some() { "https" } else { "http" }
}
