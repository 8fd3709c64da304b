//! A minimal Chrome DevTools Protocol client: commands go out as JSON over one WebSocket,
//! answers come back matched by id, events are ignored. Flat sessions (`sessionId` on each
//! message) reach a page through the browser's own endpoint, so no HTTP client is needed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use futures::SinkExt;
use futures::stream::{SplitSink, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wasmesos_harness::scaled;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Waiters = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// The longest one command may take; Chromium answers in milliseconds when healthy.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A connection to the browser.
pub struct Cdp {
    sink: Mutex<SplitSink<Socket, Message>>,
    waiters: Waiters,
    next_id: AtomicU64,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Cdp {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Cdp {
    pub async fn connect(url: &str) -> anyhow::Result<Cdp> {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .with_context(|| format!("connecting to DevTools at {url}"))?;
        let (sink, mut stream) = socket.split();
        let waiters: Waiters = Arc::default();
        let answers = Arc::clone(&waiters);
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message {
                    deliver(&answers, text.as_str()).await;
                }
            }
            // The browser went away: fail every command still waiting.
            for (_, waiter) in answers.lock().await.drain() {
                let _ = waiter.send(Err("the DevTools connection closed".to_string()));
            }
        });
        Ok(Cdp {
            sink: Mutex::new(sink),
            waiters,
            next_id: AtomicU64::new(1),
            reader,
        })
    }

    /// Sends `method` (to the page `session`, or the browser) and returns its `result`.
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> anyhow::Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().await.insert(id, tx);
        self.sink
            .lock()
            .await
            .send(Message::text(message.to_string()))
            .await
            .with_context(|| format!("sending {method}"))?;
        let answer = tokio::time::timeout(scaled(COMMAND_TIMEOUT), rx)
            .await
            .with_context(|| format!("{method} got no answer in {:?}", scaled(COMMAND_TIMEOUT)))?
            .with_context(|| format!("{method}: the reader stopped"))?;
        answer.map_err(|err| anyhow!("{method} failed: {err}"))
    }
}

async fn deliver(waiters: &Waiters, text: &str) {
    let Ok(message) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let Some(id) = message.get("id").and_then(Value::as_u64) else {
        return; // an event
    };
    let Some(waiter) = waiters.lock().await.remove(&id) else {
        return;
    };
    let answer = match message.get("error") {
        Some(error) => Err(error.to_string()),
        None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
    };
    let _ = waiter.send(answer);
}

/// One browser tab.
pub struct Page {
    cdp: Cdp,
    session: String,
}

impl Page {
    /// Opens a new tab of `width`×`height` CSS pixels at `url`.
    pub async fn open(cdp: Cdp, url: &str, width: u32, height: u32) -> anyhow::Result<Page> {
        let target = cdp
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await?;
        let target_id = target["targetId"]
            .as_str()
            .context("no targetId")?
            .to_string();
        let attached = cdp
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await?;
        let session = attached["sessionId"]
            .as_str()
            .context("no sessionId")?
            .to_string();
        let page = Page { cdp, session };
        page.call("Page.enable", json!({})).await?;
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await?;
        let navigated = page.call("Page.navigate", json!({ "url": url })).await?;
        if let Some(error) = navigated.get("errorText").and_then(Value::as_str) {
            bail!("navigating to {url}: {error}");
        }
        Ok(page)
    }

    async fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.cdp.call(Some(&self.session), method, params).await
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its JSON value.
    pub async fn eval(&self, expression: &str) -> anyhow::Result<Value> {
        let answer = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await?;
        if let Some(details) = answer.get("exceptionDetails") {
            bail!("{expression} threw: {details}");
        }
        Ok(answer["result"]
            .get("value")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Renders the page as a system in dark mode would (`prefers-color-scheme: dark`).
    pub async fn prefer_dark(&self) -> anyhow::Result<()> {
        let feature = json!([{ "name": "prefers-color-scheme", "value": "dark" }]);
        self.call("Emulation.setEmulatedMedia", json!({ "features": feature }))
            .await?;
        Ok(())
    }

    /// Saves what the tab shows as a PNG at `path`.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await?;
        let data = shot["data"].as_str().context("no screenshot data")?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .context("screenshot data is not base64")?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }
}
