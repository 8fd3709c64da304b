//! Marathon's REST API as `wasmesos apps` calls it: one JSON request, and Marathon's error
//! body (`{"message": …}`) turned into one line.

use anyhow::{Context, anyhow};
use reqwest::Method;
use serde_json::Value;

/// A Marathon at `base` (`http://host:port`, no trailing slash).
pub struct Marathon {
    base: String,
    http: reqwest::Client,
}

impl Marathon {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            anyhow::bail!("--marathon {url:?}: expected an http:// or https:// URL");
        }
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("cannot build an HTTP client")?;
        Ok(Marathon { base, http })
    }

    /// `METHOD path` with an optional JSON body; the answer's JSON, or an error naming the
    /// call, the status and Marathon's message.
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
        let response = request.send().await.map_err(|err| {
            anyhow!(
                "cannot reach Marathon at {} ({}); start one with `wasmesos dev --services` \
                 or `wasmesos marathon`, or name it with --marathon URL (WASMESOS_MARATHON)",
                self.base,
                root_cause(&err)
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
                " (--force overrides a deployment in progress)"
            } else {
                ""
            };
            return Err(anyhow!("{what}: {status}: {message}{hint}"));
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

/// An app id as a path: `/web` for `web` or `/web`, `/prod/web` for `prod/web`.
pub fn app_path(id: &str) -> String {
    format!("/{}", id.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_absolute_paths() {
        assert_eq!(app_path("web"), "/web");
        assert_eq!(app_path("/prod/web"), "/prod/web");
        assert_eq!(app_path("//web"), "/web");
    }

    #[test]
    fn only_http_urls_name_a_marathon() {
        assert!(Marathon::new("http://127.0.0.1:8080/").is_ok());
        let err = Marathon::new("127.0.0.1:8080").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("expected an http://")));
    }
}
