//! `/files/read?task_id=`: a task's stdout or stderr, read from its agent through
//! `Operator.ReadTaskFile`, as one capped JSON chunk or (`follow=true`) as a plain-text
//! stream that ends once the task is terminal and the file is drained. The task's agent is
//! found in the published state snapshot, not by asking the actor. A query with `path`
//! instead is Mesos's `/files/read` ([`super::mesos_files`]).

use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tonic::Request;
use wasmesos_proto::v1::operator_server::Operator;
use wasmesos_proto::v1::{ReadFileRequest, ReadFileResponse, SandboxFile};

use super::{HttpState, Problem};

/// The most bytes one read returns, whatever `length` asks for.
pub(crate) const MAX_READ: u64 = 1024 * 1024;
/// How often a followed file is read again while its task runs and it has no new bytes.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// Which file, where, how much.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadQuery {
    task_id: String,
    /// `stdout` (the default) or `stderr`.
    file: Option<String>,
    /// Byte offset; negative counts from the end.
    #[serde(default)]
    offset: i64,
    /// At most this many bytes (capped at [`MAX_READ`]); 0 or absent means the cap.
    #[serde(default)]
    length: u64,
    #[serde(default)]
    follow: bool,
}

/// One chunk, as JSON.
#[derive(Debug, Serialize)]
pub(super) struct Chunk {
    /// The bytes as text (invalid UTF-8 replaced).
    data: String,
    /// Where `data` starts in the file.
    offset: u64,
    /// How many bytes were read (before any replacement).
    length: u64,
    /// Where the next read should start.
    next_offset: u64,
    /// The file's size when read.
    size: u64,
    /// Whether the task still runs, so the file may grow.
    growing: bool,
}

/// `GET /files/read`: Mesos's form when the query has `path`, else wasmesos's.
pub(super) async fn read(
    State(state): State<HttpState>,
    Extension(caller): Extension<crate::auth::Caller>,
    uri: Uri,
) -> Response {
    let state = state.for_caller(caller);
    let pairs = Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|Query(pairs)| pairs)
        .unwrap_or_default();
    if pairs.iter().any(|(key, _)| key == "path") {
        return super::mesos_files::read(&state, &pairs).await;
    }
    match read_task_file(state, Query::try_from_uri(&uri)).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

/// `GET /files/browse?path=`, Mesos's.
pub(super) async fn browse(
    State(state): State<HttpState>,
    Extension(caller): Extension<crate::auth::Caller>,
    uri: Uri,
) -> Response {
    let state = state.for_caller(caller);
    let pairs = Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|Query(pairs)| pairs)
        .unwrap_or_default();
    super::mesos_files::browse(&state, &pairs).await
}

async fn read_task_file(
    state: HttpState,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(|err| Problem::bad_request(err.body_text()))?;
    if query.task_id.is_empty() {
        return Err(Problem::bad_request("task_id is required"));
    }
    let file = sandbox_file(query.file.as_deref())?;
    let length = capped(query.length);
    let first = read_chunk(&state, &query.task_id, file, query.offset, length).await?;
    if !query.follow {
        return Ok(Json(chunk_json(first)).into_response());
    }
    let follower = Follower {
        state,
        task_id: query.task_id,
        file,
        pending: Some(first),
        offset: 0,
        done: false,
    };
    let body = Body::from_stream(futures::stream::unfold(follower, Follower::next));
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}

fn sandbox_file(name: Option<&str>) -> Result<SandboxFile, Problem> {
    match name.unwrap_or("stdout") {
        "stdout" => Ok(SandboxFile::Stdout),
        "stderr" => Ok(SandboxFile::Stderr),
        other => Err(Problem::bad_request(format!(
            "file must be stdout or stderr, not {other:?}"
        ))),
    }
}

fn capped(length: u64) -> u64 {
    if length == 0 {
        MAX_READ
    } else {
        length.min(MAX_READ)
    }
}

pub(super) async fn read_chunk(
    state: &HttpState,
    task_id: &str,
    file: SandboxFile,
    offset: i64,
    length: u64,
) -> Result<ReadFileResponse, Problem> {
    let request = ReadFileRequest {
        task_id: task_id.to_string(),
        file: file as i32,
        offset,
        length,
    };
    let mut request = Request::new(request);
    request.extensions_mut().insert(state.caller.clone());
    let response = state.operator.read_task_file(request).await?;
    Ok(response.into_inner())
}

fn chunk_json(chunk: ReadFileResponse) -> Chunk {
    Chunk {
        data: String::from_utf8_lossy(&chunk.data).into_owned(),
        offset: chunk.offset,
        length: chunk.data.len() as u64,
        next_offset: next_offset(&chunk),
        size: chunk.size,
        growing: chunk.growing,
    }
}

/// Where the read after `chunk` starts. The offset is the agent's word: one past `u64::MAX`
/// stays there (following then stops: the file is too large), it does not wrap or panic.
fn next_offset(chunk: &ReadFileResponse) -> u64 {
    chunk.offset.saturating_add(chunk.data.len() as u64)
}

/// The state of one followed file.
struct Follower {
    state: HttpState,
    task_id: String,
    file: SandboxFile,
    /// A chunk read but not yet sent (the first one, read before the answer started).
    pending: Option<ReadFileResponse>,
    offset: u64,
    done: bool,
}

impl Follower {
    /// The next bytes of the file; waits while the task runs and nothing is new, and ends
    /// once a read of a terminal task's file comes back empty. A failed read ends the
    /// stream early (the status line is already sent): the client sees a short body.
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        if self.done {
            return None;
        }
        loop {
            let chunk = match self.pending.take() {
                Some(chunk) => chunk,
                None => match self.read_next().await {
                    Ok(chunk) => chunk,
                    Err(problem) => {
                        tracing::warn!(task_id = %self.task_id, err = %problem.message,
                            "following a task file failed");
                        self.done = true;
                        return Some((Err(std::io::Error::other(problem.message)), self));
                    }
                },
            };
            self.offset = next_offset(&chunk);
            if !chunk.data.is_empty() {
                return Some((Ok(Bytes::from(chunk.data)), self));
            }
            if !chunk.growing {
                return None;
            }
            tokio::time::sleep(FOLLOW_POLL).await;
        }
    }

    async fn read_next(&self) -> Result<ReadFileResponse, Problem> {
        let offset = i64::try_from(self.offset)
            .map_err(|_| Problem::bad_request("the file is too large to follow"))?;
        read_chunk(&self.state, &self.task_id, self.file, offset, MAX_READ).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agents_offset_at_the_end_of_the_range_neither_wraps_nor_panics() {
        let chunk = ReadFileResponse {
            data: b"xy".to_vec(),
            offset: u64::MAX - 1,
            size: u64::MAX,
            growing: true,
        };
        assert_eq!(next_offset(&chunk), u64::MAX);
        let json = chunk_json(chunk);
        assert_eq!((json.length, json.next_offset), (2, u64::MAX));
    }
}
