//! Executor components stored by sha256 digest under `work_dir/artifacts/<digest>.wasm`.
//!
//! Bytes are checked before they are stored (size cap, digest, component validity, imports),
//! and written to a temp file that is renamed into place, so a reader never sees half a file.

mod validate;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use validate::{HOST_INTERFACE, TYPES_INTERFACE, is_supported_import, validate_component};

use crate::Error;

/// What a successful [`ArtifactStore::store`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Lower-case hex sha256 of the bytes.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// False when the digest was already stored.
    pub created: bool,
}

/// The directory of stored components. Cheap to clone; all methods are blocking file I/O, so
/// async callers run them on the blocking pool.
#[derive(Clone, Debug)]
pub struct ArtifactStore {
    dir: PathBuf,
    max_size: u64,
}

impl ArtifactStore {
    /// Opens (creating if needed) the store in `dir`, accepting artifacts up to `max_size`.
    pub fn open(dir: impl Into<PathBuf>, max_size: u64) -> Result<Self, Error> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| storage(&dir, source))?;
        Ok(Self { dir, max_size })
    }

    /// The largest artifact accepted.
    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// The digests already stored, found by scanning the directory.
    pub fn digests(&self) -> Result<Vec<String>, Error> {
        let entries = fs::read_dir(&self.dir).map_err(|source| storage(&self.dir, source))?;
        let mut digests = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| storage(&self.dir, source))?;
            let name = entry.file_name();
            let Some(digest) = name.to_str().and_then(|n| n.strip_suffix(".wasm")) else {
                continue;
            };
            if parse_digest(digest).is_ok() {
                digests.push(digest.to_string());
            }
        }
        digests.sort();
        Ok(digests)
    }

    /// Where the artifact with this digest lives (whether or not it exists).
    pub fn path_of(&self, digest: &str) -> Result<PathBuf, Error> {
        let digest = parse_digest(digest)?;
        Ok(self.dir.join(format!("{digest}.wasm")))
    }

    /// The artifact's size, or `None` when it is not stored.
    pub fn stat(&self, digest: &str) -> Result<Option<u64>, Error> {
        let path = self.path_of(digest)?;
        match fs::metadata(&path) {
            Ok(meta) => Ok(Some(meta.len())),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(storage(&path, source)),
        }
    }

    /// Reads a stored artifact.
    pub fn read(&self, digest: &str) -> Result<Vec<u8>, Error> {
        let path = self.path_of(digest)?;
        fs::read(&path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => Error::NotFound(format!("no artifact with digest {digest}")),
            _ => storage(&path, source),
        })
    }

    /// Checks `bytes` (size, `expected` digest when given, component validity and imports)
    /// and stores them under their digest.
    pub fn store(&self, bytes: &[u8], expected: Option<&str>) -> Result<Stored, Error> {
        let size = bytes.len() as u64;
        if size > self.max_size {
            return Err(Error::ArtifactTooLarge {
                size,
                max: self.max_size,
            });
        }
        let digest = sha256_hex(bytes);
        if let Some(expected) = expected {
            let expected = parse_digest(expected)?;
            if expected != digest {
                return Err(Error::DigestMismatch {
                    expected,
                    actual: digest,
                });
            }
        }
        validate_component(bytes)?;
        let path = self.path_of(&digest)?;
        let created = !path.exists();
        if created {
            self.write_atomically(&path, bytes)?;
        }
        Ok(Stored {
            digest,
            size,
            created,
        })
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        let temp = self
            .dir
            .join(format!(".upload-{}.tmp", uuid::Uuid::new_v4()));
        let written = fs::File::create(&temp).and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
        let result = written.and_then(|()| fs::rename(&temp, path));
        if let Err(source) = result {
            let _ = fs::remove_file(&temp);
            // A concurrent upload of the same bytes may have won the rename (Windows refuses
            // to replace an existing file); the content is identical, so that is success.
            if path.exists() {
                return Ok(());
            }
            return Err(storage(path, source));
        }
        Ok(())
    }
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Normalizes a digest to 64 lower-case hex characters, or explains what is wrong with it.
pub fn parse_digest(digest: &str) -> Result<String, Error> {
    let is_hex = digest.bytes().all(|b| b.is_ascii_hexdigit());
    if digest.len() != 64 || !is_hex {
        return Err(crate::error::invalid(
            "digest",
            format!("{digest:?} is not a sha256 in hex (64 characters 0-9a-f)"),
        ));
    }
    Ok(digest.to_ascii_lowercase())
}

fn storage(path: &Path, source: io::Error) -> Error {
    Error::Storage {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_COMPONENT: &str = "(component)";

    fn store(max: u64) -> (tempfile::TempDir, ArtifactStore) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ArtifactStore::open(dir.path().join("artifacts"), max).expect("open store");
        (dir, store)
    }

    #[test]
    fn stores_once_and_finds_it_again() {
        let (_dir, store) = store(1 << 20);
        let bytes = wat::parse_str(EMPTY_COMPONENT).expect("wat");
        let first = store.store(&bytes, None).expect("first upload");
        assert!(first.created);
        assert_eq!(first.digest, sha256_hex(&bytes));
        let again = store
            .store(&bytes, Some(&first.digest.to_uppercase()))
            .expect("again");
        assert!(!again.created);
        assert_eq!(store.digests().expect("scan"), vec![first.digest.clone()]);
        assert_eq!(store.stat(&first.digest).expect("stat"), Some(first.size));
        assert_eq!(store.read(&first.digest).expect("read"), bytes);
    }

    #[test]
    fn refuses_oversized_mismatched_and_malformed_digests() {
        let bytes = wat::parse_str(EMPTY_COMPONENT).expect("wat");
        let (_dir, store) = store(bytes.len() as u64 - 1);
        assert!(matches!(
            store.store(&bytes, None),
            Err(Error::ArtifactTooLarge { .. })
        ));
        let (_dir, store) = store_with_room();
        let wrong = "0".repeat(64);
        assert!(matches!(
            store.store(&bytes, Some(&wrong)),
            Err(Error::DigestMismatch { .. })
        ));
        assert!(matches!(
            store.store(&bytes, Some("../../etc/passwd")),
            Err(Error::InvalidArgument(_))
        ));
        assert!(store.path_of("../x").is_err());
        assert!(store.digests().expect("scan").is_empty());
    }

    fn store_with_room() -> (tempfile::TempDir, ArtifactStore) {
        store(1 << 20)
    }

    #[test]
    fn unknown_digests_are_absent_not_errors() {
        let (_dir, store) = store(1 << 20);
        let digest = "a".repeat(64);
        assert_eq!(store.stat(&digest).expect("stat"), None);
        assert!(matches!(store.read(&digest), Err(Error::NotFound(_))));
    }
}
