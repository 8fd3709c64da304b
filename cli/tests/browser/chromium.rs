//! Headless Chromium as a child process, with its DevTools endpoint read from stderr.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use wasmesos_harness::scaled;

/// Where Debian's `chromium` package puts the browser; `CHROMIUM` overrides it.
const DEFAULT_BINARY: &str = "/usr/bin/chromium";
const STARTUP: Duration = Duration::from_secs(60);

/// A running headless browser; dropping it kills the process and deletes its profile.
pub struct Chromium {
    pub devtools_url: String,
    _child: Child,
    _profile: TempDir,
}

/// The browser binary, or a one-line reason why there is none.
pub fn binary() -> Result<PathBuf, String> {
    let path =
        std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from(DEFAULT_BINARY), PathBuf::from);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "the browser test needs Chromium at {} (run `apt-get install chromium`, or set CHROMIUM=/path/to/chrome); CI's .ci/run installs it",
            path.display()
        ))
    }
}

impl Chromium {
    pub async fn launch(binary: &std::path::Path) -> anyhow::Result<Chromium> {
        let profile = tempfile::Builder::new()
            .prefix("wasmesos-chromium-")
            .tempdir()
            .context("creating a browser profile dir")?;
        let mut child = Command::new(binary)
            .arg("--headless=new")
            // Chromium refuses to run as root without this, and test containers often lack
            // the user namespaces its sandbox needs. The page is our own local UI.
            .arg("--no-sandbox")
            .args(["--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
            .args([
                "--no-default-browser-check",
                "--disable-extensions",
                "--mute-audio",
            ])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
            ])
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let mut lines = BufReader::new(stderr).lines();
        let url = tokio::time::timeout(scaled(STARTUP), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.trim().strip_prefix("DevTools listening on ") {
                    return Ok(url.to_string());
                }
            }
            bail!("Chromium exited before it printed its DevTools address")
        })
        .await
        .context("Chromium did not start its DevTools server in time")??;
        // Keep draining stderr so a full pipe never blocks the browser.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Chromium {
            devtools_url: url,
            _child: child,
            _profile: profile,
        })
    }
}
