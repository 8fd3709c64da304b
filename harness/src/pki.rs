//! [`TestPki`]: a throwaway certificate authority for TLS tests, made at run time in a
//! temp dir, with certificates for the loopback names (`localhost`, `127.0.0.1`, `::1`)
//! that serve as both server and client certificates.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tempfile::TempDir;
use wasmesos_detector::Identity;

use crate::Error;

/// A CA (`ca.pem`) and the certificates it issued, in a temp dir removed on drop.
pub struct TestPki {
    dir: TempDir,
    ca: PathBuf,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").field("ca", &self.ca).finish()
    }
}

impl TestPki {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix("wasmesos-pki-")
            .tempdir()
            .map_err(|err| Error::io("creating the PKI dir", err))?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().map_err(cert_error)?;
        let issuer = CertifiedIssuer::self_signed(params, key).map_err(cert_error)?;
        let ca = dir.path().join("ca.pem");
        write(&ca, &issuer.pem())?;
        Ok(Self { dir, ca, issuer })
    }

    /// The CA certificate's PEM file.
    pub fn ca(&self) -> &Path {
        &self.ca
    }

    /// A certificate and key for the loopback names, for serving and as a client,
    /// signed by this CA; written as `<name>.pem` and `<name>-key.pem`.
    pub fn issue(&self, name: &str) -> Result<Identity, Error> {
        let names = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
        let mut params = CertificateParams::new(names).map_err(cert_error)?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().map_err(cert_error)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(cert_error)?;
        let identity = Identity {
            cert: self.dir.path().join(format!("{name}.pem")),
            key: self.dir.path().join(format!("{name}-key.pem")),
        };
        write(&identity.cert, &cert.pem())?;
        write(&identity.key, &key.serialize_pem())?;
        Ok(identity)
    }
}

fn write(path: &Path, pem: &str) -> Result<(), Error> {
    std::fs::write(path, pem).map_err(|err| Error::io(format!("writing {}", path.display()), err))
}

fn cert_error(err: rcgen::Error) -> Error {
    Error::Process {
        name: "test PKI".into(),
        message: err.to_string(),
    }
}
