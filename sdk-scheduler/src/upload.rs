//! Executor uploads: hash, ask the master whether it has the digest, stream the bytes if not.

use std::path::Path;

use sha2::{Digest, Sha256};
use tracing::Instrument;
use wasmesos_detector::MasterService as Channel;
use wasmesos_proto::artifacts_client::ArtifactsClient;
use wasmesos_proto::{StatRequest, UploadChunk, UploadHeader};

use crate::Driver;
use crate::error::Error;

/// Bytes per upload message: big enough to keep per-message overhead low, far below the
/// 4 MiB gRPC message limit.
const CHUNK_BYTES: usize = 128 * 1024;

/// Called with (bytes sent so far, total bytes) as an upload proceeds.
pub type Progress = Box<dyn FnMut(u64, u64) + Send>;

/// What the master stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// Lower-case hex sha256: the `digest` tasks name.
    pub digest: String,
    pub size: u64,
    /// False when the master already had it and nothing was sent.
    pub created: bool,
}

/// The lower-case hex sha256 of `bytes`, as the master and agents compute it.
pub fn digest_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Driver {
    /// Uploads the component at `path` unless the master already has its digest.
    pub async fn upload_executor(
        &self,
        path: &Path,
        progress: Option<Progress>,
    ) -> Result<Uploaded, Error> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| Error::ReadExecutor {
                path: path.to_path_buf(),
                source,
            })?;
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        upload(self.channel(), &name, bytes, progress).await
    }

    /// Uploads component bytes unless the master already has their digest.
    pub async fn upload_executor_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
        progress: Option<Progress>,
    ) -> Result<Uploaded, Error> {
        upload(self.channel(), name, bytes, progress).await
    }
}

/// Uploads through any channel to a master (the driver's, or a bare one for tools).
pub async fn upload(
    channel: Channel,
    name: &str,
    bytes: Vec<u8>,
    mut progress: Option<Progress>,
) -> Result<Uploaded, Error> {
    let digest = digest_of(&bytes);
    let size = bytes.len() as u64;
    let span = tracing::debug_span!("upload", %digest, size, name);
    let mut client = ArtifactsClient::new(channel)
        .max_decoding_message_size(wasmesos_proto::limits::MAX_PUSH_BYTES)
        .max_encoding_message_size(wasmesos_proto::limits::MAX_CALL_BYTES);
    let stat = client
        .stat(StatRequest {
            digest: digest.clone(),
        })
        .instrument(span.clone())
        .await
        .map_err(|status| Error::rpc("stat", status))?
        .into_inner();
    if stat.exists {
        if let Some(report) = progress.as_mut() {
            report(size, size);
        }
        return Ok(Uploaded {
            digest,
            size,
            created: false,
        });
    }
    let header = UploadHeader {
        size,
        digest: digest.clone(),
        name: name.to_string(),
    };
    let chunks = chunks(header, bytes, progress);
    let response = client
        .upload(futures::stream::iter(chunks))
        .instrument(span)
        .await
        .map_err(|status| Error::rpc("upload", status))?
        .into_inner();
    Ok(Uploaded {
        digest: response.digest,
        size: response.size,
        created: response.created,
    })
}

/// The upload messages, cut lazily and reporting progress as the transport pulls each one.
/// An empty component still sends one (header-only) message so the master sees the header.
fn chunks(
    header: UploadHeader,
    bytes: Vec<u8>,
    mut progress: Option<Progress>,
) -> impl Iterator<Item = UploadChunk> + Send {
    let bytes = bytes::Bytes::from(bytes);
    let total = bytes.len() as u64;
    let mut header = Some(header);
    let mut offset = 0usize;
    std::iter::from_fn(move || {
        if offset >= bytes.len() && header.is_none() {
            return None;
        }
        let end = bytes.len().min(offset + CHUNK_BYTES);
        let data = bytes.slice(offset..end);
        offset = end;
        if let Some(report) = progress.as_mut() {
            report(offset as u64, total);
        }
        Some(UploadChunk {
            header: header.take(),
            data,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_chunk_alone_carries_the_header_and_progress_reaches_the_total() {
        let bytes = vec![7u8; CHUNK_BYTES * 2 + 5];
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = std::sync::Arc::clone(&seen);
        let progress: Progress = Box::new(move |sent, total| {
            if let Ok(mut seen) = record.lock() {
                seen.push((sent, total));
            }
        });
        let header = UploadHeader {
            size: bytes.len() as u64,
            digest: digest_of(&bytes),
            name: "x.wasm".into(),
        };
        let chunks: Vec<UploadChunk> = chunks(header, bytes.clone(), Some(progress)).collect();
        assert_eq!(chunks.len(), 3);
        assert!(chunks[0].header.is_some());
        assert!(chunks[1..].iter().all(|chunk| chunk.header.is_none()));
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.data.to_vec()).collect();
        assert_eq!(joined, bytes);
        let seen = seen.lock().map(|seen| seen.clone()).unwrap_or_default();
        let total = bytes.len() as u64;
        assert_eq!(seen.last(), Some(&(total, total)));
        assert!(seen.windows(2).all(|pair| pair[0].0 < pair[1].0));
    }

    #[test]
    fn digest_is_lower_hex_sha256() {
        assert_eq!(
            digest_of(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
