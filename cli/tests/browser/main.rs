//! The web UI in a real browser against a real cluster: `wasmesos master` and `wasmesos
//! agent` as child processes, headless Chromium driven over the DevTools protocol, tasks
//! launched through the scheduler API. The page is loaded once; everything it shows after
//! that arrived over `/events` and `/files/read` (a marker set on `window` at the start must
//! survive to the end, so a reload would fail the test).
//!
//! Screenshots go to `$CARGO_TARGET_TMPDIR/ui-screenshots/`. Without Chromium the test fails
//! with one line saying how to install it.

mod cdp;
mod chromium;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use wasmesos_guest_artifacts as guests;
use wasmesos_harness::{ProcessCluster, TestFramework, eventually};
use wasmesos_sdk_scheduler::{DriverConfig, TaskBuilder};

use cdp::{Cdp, Page};
use chromium::Chromium;

const BINARY: &str = env!("CARGO_BIN_EXE_wasmesos");
const PATIENCE: Duration = Duration::from_secs(60);
const MIB: u64 = 1 << 20;
/// The `webui_url` the test framework subscribes with (nothing listens there).
const FRAMEWORK_UI: &str = "http://127.0.0.1:9/framework-ui/";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_shows_tasks_live_and_tails_their_logs() {
    let browser = match chromium::binary() {
        Ok(binary) => binary,
        Err(why) => panic!("{why}"),
    };
    if let Err(err) = run(&browser).await {
        panic!("{err:#}");
    }
}

async fn run(browser: &Path) -> anyhow::Result<()> {
    let mut cluster = ProcessCluster::start(
        Path::new(BINARY),
        1,
        "cpus:4;mem:4GiB;disk:4GiB",
        &["--agent-heartbeat-interval", "200ms"],
        &[],
    )
    .await
    .context("a master and an agent as processes")?;
    let chromium = Chromium::launch(browser).await?;
    let cdp = Cdp::connect(&chromium.devtools_url).await?;
    let url = format!("{}/#/tasks", cluster.master_url());
    let page = Page::open(cdp, &url, 1400, 1000).await?;
    let shots = screenshot_dir()?;

    wait_for(
        &page,
        "the live badge",
        "document.getElementById('live')?.dataset.status === 'live'",
    )
    .await?;
    page.eval("window.__loadedOnce = 'wasmesos-ui-test'")
        .await?;

    let mut config = DriverConfig::new(cluster.master_url(), "ui-browser-test");
    config.framework.webui_url = FRAMEWORK_UI.into();
    let mut framework = TestFramework::with_config(config)
        .await
        .context("subscribing a framework")?;
    // A framework's URL is its own choice: one that is not http(s) must never become a link.
    let mut hostile = DriverConfig::new(cluster.master_url(), "ui-hostile-url");
    hostile.framework.webui_url = "javascript:alert(1)".into();
    let hostile = TestFramework::with_config(hostile)
        .await
        .context("subscribing a framework with a javascript: URL")?;
    check_framework_links(&page).await?;
    // It would hold the agent's offers, which the tasks below need.
    hostile
        .teardown()
        .await
        .context("tearing down the second framework")?;
    page.eval("location.hash = '#/tasks'").await?;
    let sleepy = upload(&framework, guests::SLEEPY).await?;
    let hello = upload(&framework, guests::HELLO).await?;

    // A task that runs for a few seconds: the page must show it running, then finished.
    framework
        .launch_one(small_task("ui-sleepy", &sleepy).arg("3000"))
        .await
        .context("launching ui-sleepy")?;
    wait_for_row_state(&page, "ui-sleepy", "RUNNING").await?;
    page.screenshot(&shots.join("tasks-running.png")).await?;

    // Its detail page follows stdout while it runs: `awake` appears when it wakes up.
    click_task(&page, "ui-sleepy").await?;
    wait_for(
        &page,
        "ui-sleepy's stdout tail",
        "document.getElementById('stdout')?.textContent.includes('awake')",
    )
    .await?;
    wait_for(
        &page,
        "ui-sleepy finished on its detail page",
        "document.getElementById('task-info')?.dataset.state === 'FINISHED'",
    )
    .await?;
    wait_for(
        &page,
        "the stdout tail to complete",
        "document.getElementById('stdout-status')?.dataset.status === 'complete'",
    )
    .await?;

    // A quick task with known output on both streams.
    page.eval("location.hash = '#/tasks'").await?;
    let marker = format!("ui-marker-{}", std::process::id());
    framework
        .launch_one(small_task("ui-hello", &hello).ports(2).args([
            marker.as_str(),
            "--stderr",
            "ui-stderr-line",
        ]))
        .await
        .context("launching ui-hello")?;
    wait_for_row_state(&page, "ui-hello", "FINISHED").await?;
    wait_for_row_state(&page, "ui-sleepy", "FINISHED").await?;
    // Its two ports, chosen from the agent's default range, in the ports column.
    let ports = "document.querySelector('tr[data-task-id=\"ui-hello\"]')?.textContent.includes('[31000-31001]')";
    wait_for(&page, "ui-hello's ports", ports).await?;
    page.screenshot(&shots.join("tasks.png")).await?;

    click_task(&page, "ui-hello").await?;
    let stdout_has_marker =
        format!("document.getElementById('stdout')?.textContent.includes('arg[1]={marker}')");
    wait_for(&page, "the marker in ui-hello's stdout", &stdout_has_marker).await?;
    wait_for(
        &page,
        "ui-hello's stderr",
        "document.getElementById('stderr')?.textContent.includes('ui-stderr-line')",
    )
    .await?;
    let detail = shots.join("task-detail.png");
    page.screenshot(&detail).await?;

    check_overview_and_frameworks(&page, &shots).await?;
    let same_page = page.eval("window.__loadedOnce").await?;
    if same_page != "wasmesos-ui-test" {
        bail!("the page reloaded during the test (marker now {same_page})");
    }
    check_same_origin(&page).await?;
    check_agent_out_of_service(&page, &cluster).await?;
    framework
        .teardown()
        .await
        .context("tearing down the framework")?;
    wait_for(
        &page,
        "the header's link to go with its framework",
        "document.querySelectorAll('#services a').length === 0",
    )
    .await?;
    check_machine_modes(&page, &cluster).await?;

    // The master dies: the badge must stop claiming the view is live.
    cluster.master.kill().await?;
    let not_live =
        "['reconnecting', 'offline'].includes(document.getElementById('live')?.dataset.status)";
    wait_for(&page, "the badge to leave `live`", not_live).await?;
    page.screenshot(&shots.join("master-gone.png")).await?;
    println!("UI screenshots: {}", shots.display());
    Ok(())
}

async fn check_overview_and_frameworks(page: &Page, shots: &Path) -> anyhow::Result<()> {
    page.eval("location.hash = '#/overview'").await?;
    wait_for(
        page,
        "three resource cards with charts",
        "document.querySelectorAll('[data-resource] svg.chart').length === 6",
    )
    .await?;
    // The agent's 4 cpus show as the cluster total.
    let total_cpus =
        "document.querySelector('[data-resource=\"cpus\"] dd')?.textContent === '4.00'";
    wait_for(page, "4.00 cpus in total", total_cpus).await?;
    page.screenshot(&shots.join("overview.png")).await?;
    page.prefer_dark().await?;
    let dark = "getComputedStyle(document.body).backgroundColor === 'rgb(20, 20, 23)'";
    wait_for(page, "the dark palette", dark).await?;
    page.screenshot(&shots.join("overview-dark.png")).await?;
    page.eval("location.hash = '#/frameworks'").await?;
    let bar = "[...document.querySelectorAll('tr[data-framework-id]')].some(r => r.textContent.includes('ui-browser-test') && r.querySelector('.bar'))";
    wait_for(page, "the framework's share bar", bar).await?;
    page.screenshot(&shots.join("frameworks.png")).await?;
    page.eval("location.hash = '#/agents'").await?;
    let ports = "[...document.querySelectorAll('tr[data-agent-id]')].some(r => r.textContent.includes('of [31000-32000]'))";
    wait_for(page, "the agent's ports", ports).await?;
    page.screenshot(&shots.join("agents.png")).await?;
    Ok(())
}

/// An agent an operator deactivates shows as such on the agents page.
async fn check_agent_out_of_service(page: &Page, cluster: &ProcessCluster) -> anyhow::Result<()> {
    let agent_id = cluster.agents[0]
        .agent_id
        .clone()
        .context("the agent's id")?;
    let out = std::process::Command::new(BINARY)
        .args(["agents", "deactivate", &agent_id])
        .env("WASMESOS_MASTER", cluster.master_url())
        .output()
        .context("wasmesos agents deactivate")?;
    if !out.status.success() {
        bail!("deactivate: {}", String::from_utf8_lossy(&out.stderr));
    }
    page.eval("location.hash = '#/agents'").await?;
    let pill = "[...document.querySelectorAll('tr[data-agent-id] .pill')].some(p => p.textContent === 'deactivated')";
    wait_for(page, "the agent shown deactivated", pill).await?;
    Ok(())
}

/// The agents page shows machine modes: the agent's machine scheduled for maintenance is
/// DRAINING with its window, in its row and in the maintenance table; taken down, DOWN.
async fn check_machine_modes(page: &Page, cluster: &ProcessCluster) -> anyhow::Result<()> {
    let maintenance = |args: &[&str]| -> anyhow::Result<()> {
        let out = std::process::Command::new(BINARY)
            .arg("maintenance")
            .args(args)
            .env("WASMESOS_MASTER", cluster.master_url())
            .output()
            .context("wasmesos maintenance")?;
        if !out.status.success() {
            bail!(
                "maintenance {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    };
    page.eval("location.hash = '#/agents'").await?;
    wait_for(
        page,
        "every machine UP",
        "document.querySelector('tr[data-agent-id] [data-mode=\"UP\"]') !== null",
    )
    .await?;
    // The agents announce themselves at 127.0.0.1.
    maintenance(&[
        "schedule",
        "add",
        "127.0.0.1",
        "--start",
        "+1h",
        "--duration",
        "2h",
    ])?;
    let draining = "(() => { const cell = document.querySelector('tr[data-agent-id] [data-mode=\"DRAINING\"]')?.parentElement; return !!cell && cell.textContent.includes('for 2h 00m'); })()";
    wait_for(
        page,
        "the agent's machine DRAINING with its window",
        draining,
    )
    .await?;
    wait_for(
        page,
        "the machine DRAINING in the maintenance table",
        "document.querySelector('tr[data-machine=\"127.0.0.1\"] [data-mode=\"DRAINING\"]') !== null",
    )
    .await?;
    maintenance(&["down", "127.0.0.1"])?;
    wait_for(
        page,
        "the machine DOWN in the maintenance table",
        "document.querySelector('tr[data-machine=\"127.0.0.1\"] [data-mode=\"DOWN\"]') !== null",
    )
    .await?;
    Ok(())
}

/// A framework's `webui_url` is linked from the header and its row (Mesos's UI links
/// Marathon this way); a `javascript:` one nowhere.
async fn check_framework_links(page: &Page) -> anyhow::Result<()> {
    page.eval("location.hash = '#/frameworks'").await?;
    let header = format!(
        "[...document.querySelectorAll('#services a')].map(a => a.textContent + ' ' + a.href).join('|') === 'ui-browser-test ↗ {FRAMEWORK_UI}'"
    );
    wait_for(page, "one header link, to the framework's UI", &header).await?;
    let row = format!(
        "[...document.querySelectorAll('tr[data-framework-id] a.webui')].map(a => a.href).join('|') === '{FRAMEWORK_UI}'"
    );
    wait_for(page, "the framework row's link", &row).await?;
    let hostile_row = "[...document.querySelectorAll('tr[data-framework-id]')].some(r => r.textContent.includes('ui-hostile-url'))";
    wait_for(page, "the second framework's row", hostile_row).await?;
    let scripts = page
        .eval(
            "[...document.querySelectorAll('a')].filter(a => a.protocol === 'javascript:').length",
        )
        .await?;
    if scripts != 0 {
        bail!("{scripts} javascript: links on the page");
    }
    Ok(())
}

/// Everything the page loaded came from the master: the UI works offline.
async fn check_same_origin(page: &Page) -> anyhow::Result<()> {
    let foreign = page
        .eval("performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(location.origin))")
        .await?;
    if foreign.as_array().is_none_or(|list| !list.is_empty()) {
        bail!("the page loaded from other origins: {foreign}");
    }
    Ok(())
}

fn small_task(task_id: &str, digest: &str) -> TaskBuilder {
    TaskBuilder::new(task_id, digest).cpus(0.1).mem(64 * MIB)
}

async fn upload(framework: &TestFramework, path: &str) -> anyhow::Result<String> {
    let uploaded = framework
        .driver
        .upload_executor(Path::new(path), None)
        .await
        .with_context(|| format!("uploading {path}"))?;
    Ok(uploaded.digest)
}

async fn click_task(page: &Page, task_id: &str) -> anyhow::Result<()> {
    let link = format!("document.querySelector('tr[data-task-id=\"{task_id}\"] a')");
    wait_for(page, &format!("a link to {task_id}"), &format!("!!{link}")).await?;
    page.eval(&format!("{link}.click()")).await?;
    let opened =
        format!("location.hash === '#/task/{task_id}' && !!document.getElementById('stdout')");
    wait_for(page, &format!("{task_id}'s detail page"), &opened).await
}

async fn wait_for_row_state(page: &Page, task_id: &str, state: &str) -> anyhow::Result<()> {
    let check = format!(
        "document.querySelector('tr[data-task-id=\"{task_id}\"]')?.dataset.state === '{state}'"
    );
    wait_for(
        page,
        &format!("{task_id} {state} in the tasks table"),
        &check,
    )
    .await
}

/// Polls `expression` in the page until it is `true`, for at most [`PATIENCE`] (scaled by
/// `WASMESOS_TEST_PATIENCE`). An evaluation that fails ends the wait with its error.
async fn wait_for(page: &Page, what: &str, expression: &str) -> anyhow::Result<()> {
    let mut failed = None;
    let waited = eventually(what, PATIENCE, async || match page.eval(expression).await {
        Ok(value) => value == Value::Bool(true),
        Err(err) => {
            failed = Some(err);
            true
        }
    })
    .await;
    if let Some(err) = failed {
        return Err(err);
    }
    if let Err(timeout) = waited {
        let shown = page
            .eval("document.getElementById('view')?.innerText.slice(0, 2000)")
            .await?;
        bail!(
            "{timeout}; the page shows:\n{}",
            shown.as_str().unwrap_or("")
        );
    }
    Ok(())
}

fn screenshot_dir() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
