//! `Artifacts`: upload (validated, stored by digest), download and stat of executor
//! components.

use bytes::Bytes;
use futures::Stream;
use std::pin::Pin;
use tonic::{Request, Response, Status, Streaming};
use wasmesos_proto::v1::artifacts_server::Artifacts;
use wasmesos_proto::v1::{
    DownloadChunk, DownloadRequest, StatRequest, StatResponse, UploadChunk, UploadHeader,
    UploadResponse,
};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::Error;
use crate::actor::Actor;
use crate::artifacts::{ArtifactStore, parse_digest};
use crate::auth::Caller;
use crate::error::invalid;

/// Most bytes reserved for an upload before they arrive.
const PREALLOCATE_MAX: u64 = 1024 * 1024;

/// Bytes per download chunk, well under gRPC's default 4 MiB message limit.
const DOWNLOAD_CHUNK: usize = 256 * 1024;

/// The artifact service.
pub(crate) struct ArtifactsService {
    pub(crate) actor: Actor,
    pub(crate) store: ArtifactStore,
    /// Bytes of new components each principal uploaded since the master started, for
    /// `max_upload_bytes_per_principal` (one entry per principal that uploaded: principals
    /// come from the credentials file, so the map is bounded by it, plus the anonymous one).
    pub(crate) uploaded: Mutex<HashMap<Option<Arc<str>>, u64>>,
}

type DownloadStream = Pin<Box<dyn Stream<Item = Result<DownloadChunk, Status>> + Send>>;

impl ArtifactsService {
    /// Receives the chunks, enforcing the header rules and the size cap as bytes arrive.
    async fn receive(
        &self,
        mut chunks: Streaming<UploadChunk>,
    ) -> Result<(UploadHeader, Vec<u8>), Error> {
        let max = self.store.max_size();
        let first = chunks
            .message()
            .await
            .map_err(|status| invalid("upload", status.message()))?
            .ok_or_else(|| invalid("upload", "the stream carried no chunk"))?;
        let header = first
            .header
            .ok_or_else(|| invalid("header", "the first chunk must carry the header"))?;
        if header.size > max {
            return Err(Error::ArtifactTooLarge {
                size: header.size,
                max,
            });
        }
        if !header.digest.is_empty() {
            parse_digest(&header.digest)?;
        }
        // The announced size is only a hint: reserving all of it up front would let a client
        // that announces the cap and sends nothing pin that much memory per upload.
        let mut bytes = Vec::with_capacity(header.size.min(PREALLOCATE_MAX) as usize);
        bytes.extend_from_slice(&first.data);
        while let Some(chunk) = chunks
            .message()
            .await
            .map_err(|status| invalid("upload", status.message()))?
        {
            if chunk.header.is_some() {
                return Err(invalid(
                    "header",
                    "only the first chunk may carry the header",
                ));
            }
            bytes.extend_from_slice(&chunk.data);
            if bytes.len() as u64 > max {
                return Err(Error::ArtifactTooLarge {
                    size: bytes.len() as u64,
                    max,
                });
            }
        }
        if header.size != 0 && header.size != bytes.len() as u64 {
            return Err(invalid(
                "header.size",
                format!(
                    "announced {} bytes but {} arrived",
                    header.size,
                    bytes.len()
                ),
            ));
        }
        Ok((header, bytes))
    }

    /// What `caller` may still upload, if it has a quota.
    fn upload_room(&self, caller: &Caller) -> Option<u64> {
        let quota = self.actor.security().max_upload_bytes_per_principal?;
        let uploaded = self.uploaded.lock().unwrap_or_else(PoisonError::into_inner);
        let used = uploaded.get(&caller.principal).copied().unwrap_or(0);
        Some(quota.saturating_sub(used))
    }

    /// Whether the store already holds these bytes (an upload of them costs no quota).
    async fn holds(&self, bytes: &[u8]) -> Result<bool, Error> {
        let digest = crate::artifacts::sha256_hex(bytes);
        let store = self.store.clone();
        let size = tokio::task::spawn_blocking(move || store.stat(&digest))
            .await
            .map_err(|err| {
                Error::Serve(std::io::Error::other(format!("stat task failed: {err}")))
            })??;
        Ok(size.is_some())
    }

    /// Receives, validates and stores one upload, and tells the core its digest.
    async fn store_upload(
        &self,
        caller: &Caller,
        chunks: Streaming<UploadChunk>,
    ) -> Result<UploadResponse, Error> {
        let (header, bytes) = self.receive(chunks).await?;
        if let Some(room) = self.upload_room(caller)
            && bytes.len() as u64 > room
            && !self.holds(&bytes).await?
        {
            return Err(Error::Limit(format!(
                "this upload of {} bytes is more than the {room} bytes left of {}'s upload \
                 quota (--max-upload-bytes-per-principal)",
                bytes.len(),
                caller.principal().map_or_else(
                    || "the anonymous callers".to_string(),
                    |p| format!("principal {p:?}")
                )
            )));
        }
        let store = self.store.clone();
        let expected = (!header.digest.is_empty()).then_some(header.digest);
        let stored = tokio::task::spawn_blocking(move || store.store(&bytes, expected.as_deref()))
            .await
            .map_err(|err| {
                Error::Serve(std::io::Error::other(format!("upload task failed: {err}")))
            })??;
        tracing::Span::current().record("digest", stored.digest.as_str());
        tracing::info!(size = stored.size, created = stored.created, name = %header.name, "artifact stored");
        if stored.created {
            let mut uploaded = self.uploaded.lock().unwrap_or_else(PoisonError::into_inner);
            let used = uploaded.entry(caller.principal.clone()).or_insert(0);
            *used = used.saturating_add(stored.size);
        }
        self.actor.artifact_stored(stored.digest.clone()).await?;
        Ok(UploadResponse {
            digest: stored.digest,
            size: stored.size,
            created: stored.created,
        })
    }
}

#[tonic::async_trait]
impl Artifacts for ArtifactsService {
    #[tracing::instrument(name = "Artifacts.Upload", skip_all, fields(digest = tracing::field::Empty))]
    async fn upload(
        &self,
        request: Request<Streaming<UploadChunk>>,
    ) -> Result<Response<UploadResponse>, Status> {
        let caller = Caller::of(&request);
        let answer = self.store_upload(&caller, request.into_inner()).await;
        let metrics = self.actor.metrics();
        match &answer {
            Ok(stored) => {
                metrics.uploads.inc();
                metrics.upload_bytes.add(stored.size);
            }
            Err(_) => metrics.uploads_rejected.inc(),
        }
        Ok(Response::new(answer?))
    }

    type DownloadStream = DownloadStream;

    #[tracing::instrument(name = "Artifacts.Download", skip_all,
        fields(digest = %request.get_ref().digest))]
    async fn download(
        &self,
        request: Request<DownloadRequest>,
    ) -> Result<Response<Self::DownloadStream>, Status> {
        let digest = parse_digest(&request.into_inner().digest)?;
        let store = self.store.clone();
        let bytes = tokio::task::spawn_blocking(move || store.read(&digest))
            .await
            .map_err(|err| Status::internal(format!("download task failed: {err}")))??;
        let total_size = bytes.len() as u64;
        let bytes = Bytes::from(bytes);
        let chunks: Vec<Result<DownloadChunk, Status>> = (0..bytes.len().max(1))
            .step_by(DOWNLOAD_CHUNK)
            .enumerate()
            .map(|(i, start)| {
                let end = start.saturating_add(DOWNLOAD_CHUNK).min(bytes.len());
                Ok(DownloadChunk {
                    data: bytes.slice(start.min(end)..end),
                    total_size: if i == 0 { total_size } else { 0 },
                })
            })
            .collect();
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
    }

    #[tracing::instrument(name = "Artifacts.Stat", skip_all, fields(digest = %request.get_ref().digest))]
    async fn stat(&self, request: Request<StatRequest>) -> Result<Response<StatResponse>, Status> {
        let digest = parse_digest(&request.into_inner().digest)?;
        let store = self.store.clone();
        let size = tokio::task::spawn_blocking(move || store.stat(&digest))
            .await
            .map_err(|err| Status::internal(format!("stat task failed: {err}")))??;
        Ok(Response::new(StatResponse {
            exists: size.is_some(),
            size: size.unwrap_or(0),
        }))
    }
}
