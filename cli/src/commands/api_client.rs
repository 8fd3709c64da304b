//! The REST APIs of the frameworks the CLI drives (Marathon for `wasmesos apps`, Chronos for
//! `wasmesos jobs`): one JSON request, and the framework's error body (`{"message": …}`, as
//! both write it) turned into one line.

use anyhow::{Context, anyhow};
use reqwest::Method;
use serde_json::Value;

/// Which framework an [`ApiClient`] talks to, for its error messages.
pub struct Framework {
    /// As users know it: `Marathon`.
    pub name: &'static str,
    /// The flag that names its URL: `--marathon`.
    pub flag: &'static str,
    /// The variable that does: `WASMESOS_MARATHON`.
    pub env: &'static str,
    /// The command that runs one alone: `wasmesos marathon`.
    pub command: &'static str,
    /// Added to a 409 (Marathon's deployments).
    pub conflict_hint: &'static str,
}

/// A framework's API at `base` (`http://host:port`, no trailing slash).
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
    framework: &'static Framework,
}

impl ApiClient {
    pub fn new(framework: &'static Framework, url: &str) -> anyhow::Result<Self> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            anyhow::bail!(
                "{} {url:?}: expected an http:// or https:// URL",
                framework.flag
            );
        }
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("cannot build an HTTP client")?;
        Ok(ApiClient {
            base,
            http,
            framework,
        })
    }

    /// `METHOD path` with an optional JSON body; the answer's JSON (null for an empty one,
    /// as Chronos's 204s), or an error naming the call, the status and the framework's
    /// message.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let what = format!("{method} {path}");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let who = self.framework;
        let response = request.send().await.map_err(|err| {
            anyhow!(
                "cannot reach {} at {} ({}); start one with `wasmesos dev --services` \
                 or `{}`, or name it with {} URL ({})",
                who.name,
                self.base,
                root_cause(&err),
                who.command,
                who.flag,
                who.env
            )
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("{what}: reading the answer"))?;
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if !status.is_success() {
            let message = json
                .as_ref()
                .and_then(|v| v.get("message"))
                .and_then(Value::as_str)
                .map_or_else(|| text.trim().to_string(), str::to_string);
            let hint = if status == reqwest::StatusCode::CONFLICT {
                who.conflict_hint
            } else {
                ""
            };
            return Err(anyhow!("{what}: {status}: {message}{hint}"));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        json.with_context(|| format!("{what}: the answer is not JSON: {}", text.trim()))
    }
}

/// The innermost cause of a failed request ("Connection refused"), which reqwest's own
/// message leaves out.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST: Framework = Framework {
        name: "Marathon",
        flag: "--marathon",
        env: "WASMESOS_MARATHON",
        command: "wasmesos marathon",
        conflict_hint: "",
    };

    #[test]
    fn only_http_urls_name_a_framework() {
        assert!(ApiClient::new(&TEST, "http://127.0.0.1:8080/").is_ok());
        let err = ApiClient::new(&TEST, "127.0.0.1:8080")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("--marathon") && e.contains("expected an http://")));
    }
}
