//! `--json`: the master's own HTTP JSON (`GET /state`, `/agents`, `/frameworks`), fetched
//! over the channel the gRPC calls use, so the CLI prints exactly the schema the HTTP API
//! serves (documented in the README) and writes none of its own.

use anyhow::Context;
use http_body_util::BodyExt;
use serde_json::Value;
use tonic::codegen::Service;
use tonic::codegen::http::Request;

use super::{MasterArg, View};

/// The view as the master serves it: `/state` whole, `/agents`, `/frameworks`, and for
/// tasks `/state`'s `tasks` (every task, where `/tasks` would page them).
pub async fn fetch(master: &MasterArg, view: View) -> anyhow::Result<Value> {
    let path = match view {
        View::All | View::Tasks => "/state",
        View::Agents => "/agents",
        View::Frameworks => "/frameworks",
    };
    let value = get_json(master, path).await?;
    if view != View::Tasks {
        return Ok(value);
    }
    match value {
        Value::Object(mut state) => state
            .remove("tasks")
            .context("the master's /state has no tasks"),
        _ => anyhow::bail!("the master's /state is not a JSON object"),
    }
}

/// `GET path` on the master; a status other than 2xx is an error carrying the body.
async fn get_json(master: &MasterArg, path: &str) -> anyhow::Result<Value> {
    let failed = |err: &dyn std::fmt::Display| anyhow::anyhow!("GET {path}: {err}");
    let mut channel = master.channel().await?;
    let request = Request::get(path)
        .body(tonic::body::Body::empty())
        .map_err(|err| failed(&err))?;
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .map_err(|err| failed(&err))?;
    let response = channel.call(request).await.map_err(|err| failed(&err))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|err| failed(&err))?
        .to_bytes();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        return Err(failed(&format_args!("{status}: {}", text.trim())));
    }
    serde_json::from_slice(&body).with_context(|| format!("GET {path}: the answer is not JSON"))
}
