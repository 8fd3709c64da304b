//! Mesos's `/files/browse?path=` and `/files/read?path=&offset=&length=` (its
//! `src/files/files.cpp`), for the sandbox paths `/master/state` reports as a task's
//! `directory` ([`crate::mesos::sandbox`]). A sandbox holds the two files an agent serves,
//! `stdout` and `stderr`, read through `Operator.ReadTaskFile` as `/files/read?task_id=`
//! does. Errors are Mesos's: 400 with its plain-text message, 404 with an empty body.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wasmesos_proto::v1::{ReadFileResponse, SandboxFile};

use super::{HttpState, Problem};
use crate::mesos::sandbox::{self, SandboxPath};

/// Mesos caps one read at 16 pages.
const MESOS_MAX_READ: u64 = 16 * 4096;

/// The files of every sandbox, in Mesos's (path) order.
const FILES: [(&str, SandboxFile); 2] = [
    ("stderr", SandboxFile::Stderr),
    ("stdout", SandboxFile::Stdout),
];

/// A Mesos files answer: a status and a plain-text body.
pub(super) struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            self.0,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.1,
        )
            .into_response()
    }
}

fn bad_request(message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, message.into())
}

fn not_found() -> Refusal {
    Refusal(StatusCode::NOT_FOUND, String::new())
}

impl From<Problem> for Refusal {
    fn from(problem: Problem) -> Self {
        if problem.status == StatusCode::NOT_FOUND {
            return not_found();
        }
        Refusal(problem.status, format!("{}.\n", problem.message))
    }
}

/// A query parameter's value (the last one given, as Mesos's query map keeps).
fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// `path`, which Mesos requires non-empty.
fn path_param(query: &[(String, String)]) -> Result<&str, Refusal> {
    match param(query, "path") {
        Some(path) if !path.is_empty() => Ok(path),
        _ => Err(bad_request("Expecting 'path=value' in query.\n")),
    }
}

/// `body` as JSON, or as `jsonp(body);` when the caller asked for JSONP.
fn answer(body: &Value, jsonp: Option<&str>) -> Response {
    match jsonp {
        Some(callback) => (
            [(header::CONTENT_TYPE, "text/javascript")],
            format!("{callback}({body});"),
        )
            .into_response(),
        None => (
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response(),
    }
}

/// The sandbox `path` names, if it is a known task's on its agent.
fn known<'a>(state: &HttpState, path: &'a str) -> Result<SandboxPath<'a>, Refusal> {
    let parsed = sandbox::parse(path).ok_or_else(not_found)?;
    let snapshot = state.snapshot();
    state
        .security
        .check_sandbox(&state.caller, &snapshot, parsed.framework_id)
        .map_err(|err| Refusal(StatusCode::FORBIDDEN, format!("{err}.\n")))?;
    let listed = snapshot.tasks.iter().any(|t| {
        t.task_id == parsed.task_id
            && t.framework_id == parsed.framework_id
            && t.agent_id == parsed.agent_id
    });
    if listed { Ok(parsed) } else { Err(not_found()) }
}

fn sandbox_file(name: &str) -> Result<SandboxFile, Refusal> {
    FILES
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, file)| *file)
        .ok_or_else(not_found)
}

/// One read of a task's file through the operator service, as `/files/read?task_id=` reads.
async fn read_agent(
    state: &HttpState,
    task_id: &str,
    file: SandboxFile,
    offset: i64,
    length: u64,
) -> Result<ReadFileResponse, Refusal> {
    Ok(super::files::read_chunk(state, task_id, file, offset, length).await?)
}

/// `GET /files/browse?path=`: a sandbox directory lists `stderr` and `stdout`, with their
/// sizes as the agent reports them now.
pub(super) async fn browse(state: &HttpState, query: &[(String, String)]) -> Response {
    match browse_listing(state, query).await {
        Ok(listing) => answer(&listing, param(query, "jsonp")),
        Err(refusal) => refusal.into_response(),
    }
}

async fn browse_listing(state: &HttpState, query: &[(String, String)]) -> Result<Value, Refusal> {
    let path = path_param(query)?;
    let sandbox = known(state, path)?;
    if sandbox.file.is_some() {
        // Mesos lists nothing in a path that is a file.
        return Ok(json!([]));
    }
    let directory = sandbox::directory(sandbox.agent_id, sandbox.framework_id, sandbox.task_id);
    let mtime = state
        .snapshot()
        .tasks
        .iter()
        .find(|t| t.task_id == sandbox.task_id && t.framework_id == sandbox.framework_id)
        .map_or(0.0, |t| t.updated_time.floor());
    let mut listing = Vec::with_capacity(FILES.len());
    for (name, file) in FILES {
        // One byte from the end: the answer carries the file's size.
        let read = read_agent(state, sandbox.task_id, file, -1, 1).await?;
        listing.push(json!({
            "path": format!("{directory}/{name}"),
            "nlink": 1,
            "size": read.size,
            "mtime": mtime,
            "mode": "-rw-r--r--",
            "uid": "",
            "gid": "",
        }));
    }
    Ok(Value::Array(listing))
}

/// `GET /files/read?path=&offset=&length=`: Mesos's `{"data", "offset"}`; no `offset`
/// (or -1) answers the file's size as `offset` with empty data.
pub(super) async fn read(state: &HttpState, query: &[(String, String)]) -> Response {
    match read_chunk(state, query).await {
        Ok(chunk) => answer(&chunk, param(query, "jsonp")),
        Err(refusal) => refusal.into_response(),
    }
}

async fn read_chunk(state: &HttpState, query: &[(String, String)]) -> Result<Value, Refusal> {
    let path = path_param(query)?;
    let offset: i64 = match param(query, "offset") {
        None => -1,
        Some(text) => text
            .parse()
            .map_err(|err| bad_request(format!("Failed to parse offset: {err}.\n")))?,
    };
    if offset < -1 {
        return Err(bad_request(format!(
            "Negative offset provided: {offset}.\n"
        )));
    }
    let length: Option<u64> = match param(query, "length") {
        None => None,
        Some(text) => {
            let length: i64 = text
                .parse()
                .map_err(|err| bad_request(format!("Failed to parse length: {err}.\n")))?;
            if length < -1 {
                return Err(bad_request(format!(
                    "Negative length provided: {length}.\n"
                )));
            }
            u64::try_from(length).ok()
        }
    };
    let sandbox = known(state, path)?;
    let Some(name) = sandbox.file else {
        return Err(bad_request("Cannot read a directory.\n"));
    };
    let file = sandbox_file(name)?;
    if offset == -1 {
        let read = read_agent(state, sandbox.task_id, file, -1, 1).await?;
        return Ok(json!({"data": "", "offset": read.size}));
    }
    let wanted = length.unwrap_or(MESOS_MAX_READ).min(MESOS_MAX_READ);
    if wanted == 0 {
        return Ok(json!({"data": "", "offset": offset}));
    }
    let read = read_agent(state, sandbox.task_id, file, offset, wanted).await?;
    // Past the end the agent answers nothing, as Mesos does.
    let data = if read.offset == u64::try_from(offset).unwrap_or(u64::MAX) {
        String::from_utf8_lossy(&read.data).into_owned()
    } else {
        String::new()
    };
    Ok(json!({"data": data, "offset": offset}))
}
