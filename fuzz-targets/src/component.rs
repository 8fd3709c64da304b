//! Uploaded component bytes, as the master's artifact store checks them before storing.

use wasmesos_master::artifacts::{parse_digest, sha256_hex, validate_component};

/// Validates `data` as an uploaded component, and reads its digest back as a client would
/// name it.
pub fn component_validation(data: &[u8]) {
    let _ = validate_component(data);
    let digest = sha256_hex(data);
    assert_eq!(parse_digest(&digest).ok(), Some(digest));
}
