//! `http://` and `https://` sources: one GET with reqwest over rustls, redirects limited,
//! the body streamed to the sandbox within the size cap whatever `Content-Length` says.

use std::error::Error as _;
use std::time::Duration;

use crate::Error;

use super::{Cause, Limit, finish, write_all};

/// Redirects followed before a fetch fails.
pub(super) const MAX_REDIRECTS: usize = 5;

/// Longest wait for a connection, within the fetch's own time limit.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The agent's one HTTP client (connections are pooled across fetches).
pub(super) fn client(timeout: Duration) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .timeout(timeout)
        .connect_timeout(timeout.min(CONNECT_TIMEOUT))
        .user_agent(concat!("wasmesos-agent/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| Error::Internal(format!("building the fetcher's HTTP client: {err}")))
}

/// GETs `url` into `file` (the temp file `name`); the bytes written.
pub(super) async fn download(
    client: &reqwest::Client,
    url: &str,
    mut file: tokio::fs::File,
    name: &str,
    limit: Limit,
) -> Result<u64, Cause> {
    let mut response = client.get(url).send().await.map_err(describe)?;
    let status = response.status();
    if !status.is_success() {
        return Err(Cause::new(format!("HTTP {status}")));
    }
    if let Some(announced) = response.content_length() {
        limit.check(announced)?;
    }
    let mut written: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        written = written.saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
        limit.check(written)?;
        write_all(&mut file, &chunk, name).await?;
    }
    finish(file, name).await?;
    Ok(written)
}

/// What went wrong, with the underlying causes (reqwest's own message is terse).
fn describe(err: reqwest::Error) -> Cause {
    if err.is_redirect() {
        return Cause::new(format!("more than {MAX_REDIRECTS} redirects"));
    }
    if err.is_timeout() {
        return Cause::new("timed out (the agent's --fetch-timeout)");
    }
    let err = err.without_url();
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Cause::new(message)
}
