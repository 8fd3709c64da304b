//! Reading PEM files: certificates, CA bundles and private keys, with errors that name the
//! file and say what was expected in it.

use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

/// The bytes of `path`, which should hold `what`.
pub fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate in the PEM file `path`; at least one.
pub fn certificates(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = read(what, path)?;
    let bad = |why: String| Error::Pem {
        what,
        path: path.to_path_buf(),
        why,
    };
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| bad(format!("not valid PEM: {err}")))?;
    if certs.is_empty() {
        return Err(bad("holds no PEM certificate (BEGIN CERTIFICATE)".into()));
    }
    Ok(certs)
}

/// The private key in the PEM file `path`.
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let what = "private key";
    let bytes = read(what, path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|err| Error::Pem {
        what,
        path: path.to_path_buf(),
        why: match err {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "holds no PEM private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"
                    .into()
            }
            err => format!("not valid PEM: {err}"),
        },
    })
}

/// A trust store of the CA certificates in the PEM file `path`.
pub fn roots(what: &'static str, path: &Path) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(what, path)? {
        roots.add(cert).map_err(|err| Error::Pem {
            what,
            path: path.to_path_buf(),
            why: format!("not a usable CA certificate: {err}"),
        })?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_file_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("missing.pem");
        let err = certificates("certificate", &missing)
            .err()
            .map(|e| e.to_string());
        let expected = format!("cannot read certificate {}", missing.display());
        assert!(
            err.as_deref().is_some_and(|e| e.starts_with(&expected)),
            "{err:?}"
        );

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem\n").expect("write");
        let err = certificates("CA certificate", &empty)
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(
                |e| e.contains(&*empty.to_string_lossy()) && e.contains("no PEM certificate")
            ),
            "{err:?}"
        );
        let err = private_key(&empty).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("no PEM private key")),
            "{err:?}"
        );
    }
}
