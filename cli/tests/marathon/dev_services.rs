//! `wasmesos dev --services` as a user runs it (one process: master, agent, Marathon), driven
//! with `wasmesos apps`: list, show, scale, restart, delete, and their errors. The master
//! learns Marathon's URL from its `webui_url`, which the web UI links.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use wasmesos_harness::TestFramework;
use wasmesos_test_support::eventually;

use super::common::{Api, BINARY, DEADLINE, free_ports, hello_app, settled, task_ids};

/// `wasmesos dev --services` running, with what it printed at start.
struct Dev {
    child: Child,
    master: String,
    marathon: String,
    chronos: String,
    state_dir: PathBuf,
}

async fn start_dev() -> Dev {
    let resources = format!("cpus:4;mem:4GiB;disk:4GiB;{}", free_ports(6));
    let mut child = Command::new(BINARY)
        .args(["dev", "--listen", "127.0.0.1:0", "--agents", "1"])
        .args(["--resources", &resources, "--services"])
        .args(["--service-listen", "marathon=127.0.0.1:0"])
        .args(["--service-listen", "chronos=127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("wasmesos dev starts");
    let stdout = child.stdout.take().expect("a stdout pipe");
    let mut lines = BufReader::new(stdout).lines();
    let (mut master, mut marathon, mut chronos) = (None, None, None);
    let startup = async {
        while let Some(line) = lines.next_line().await.expect("dev's output") {
            if let Some(rest) = line.strip_prefix("wasmesos dev: master listening on ") {
                master = Some(rest.trim().to_string());
            }
            if let Some(rest) = line.strip_prefix("wasmesos dev: marathon at ") {
                let (url, state) = rest.split_once(" (state in ").expect("a state dir");
                marathon = Some((url.to_string(), state.trim_end_matches(')').to_string()));
            }
            if let Some(rest) = line.strip_prefix("wasmesos dev: chronos at ") {
                let url = rest.split_once(" (state in ").map_or(rest, |(url, _)| url);
                chronos = Some(url.to_string());
            }
            if master.is_some() && marathon.is_some() && chronos.is_some() {
                return;
            }
        }
        panic!("wasmesos dev exited before printing its master, Marathon and Chronos");
    };
    tokio::time::timeout(wasmesos_test_support::scaled(DEADLINE), startup)
        .await
        .expect("dev --services starts in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (marathon, state_dir) = marathon.expect("Marathon's URL");
    Dev {
        child,
        master: master.expect("the master's URL"),
        marathon,
        chronos: chronos.expect("Chronos's URL"),
        state_dir: PathBuf::from(state_dir),
    }
}

/// `wasmesos jobs ARGS` against `chronos`: exit code, stdout, stderr.
async fn jobs(chronos: &str, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BINARY)
        .arg("jobs")
        .args(args)
        .env("WASMESOS_CHRONOS", chronos)
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("wasmesos jobs runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `wasmesos apps ARGS` against `marathon` (through WASMESOS_MARATHON): exit code, stdout,
/// stderr.
async fn apps(marathon: &str, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BINARY)
        .arg("apps")
        .args(args)
        .env("WASMESOS_MARATHON", marathon)
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("wasmesos apps runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn ok(marathon: &str, args: &[&str]) -> String {
    let (code, stdout, stderr) = apps(marathon, args).await;
    assert_eq!(code, 0, "wasmesos apps {args:?}: {stdout}{stderr}");
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_services_runs_marathon_and_apps_drives_it() {
    let mut dev = start_dev().await;
    let api = Api::new(&dev.marathon);
    eventually(
        "Marathon's state file under the dev dir",
        DEADLINE,
        async || dev.state_dir.join("marathon.redb").exists(),
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    let webui = eventually(
        "the master to know Marathon's webui_url",
        DEADLINE,
        async || marathon_webui_url(&dev.master).await.as_deref() == Some(dev.marathon.as_str()),
    )
    .await;
    webui.unwrap_or_else(|err| panic!("{err}"));

    assert_eq!(ok(&dev.marathon, &[]).await, "(none)\n");
    let hello = TestFramework::upload_component(&dev.master, wasmesos_guest_artifacts::HTTP_HELLO)
        .await
        .expect("upload");
    let (status, _) = api
        .call("POST", "/v2/apps", Some(&hello_app(&hello, "/dev/web", 1)))
        .await;
    assert_eq!(status, 201);
    api.app_when("/dev/web healthy", "/dev/web", |app| settled(app, 1))
        .await;
    let listed = ok(&dev.marathon, &[]).await;
    let row: Vec<&str> = listed
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(row[..5], ["/dev/web", "1", "1", "1", "0"], "{listed}");

    let scaled = ok(&dev.marathon, &["scale", "dev/web", "2"]).await;
    assert!(scaled.starts_with("deployment "), "{scaled}");
    api.app_when("two healthy instances", "/dev/web", |app| settled(app, 2))
        .await;
    let shown = ok(&dev.marathon, &["show", "/dev/web"]).await;
    assert_eq!(shown.matches(" healthy ").count(), 2, "{shown}");
    let json: Value =
        serde_json::from_str(&ok(&dev.marathon, &["show", "/dev/web", "--json"]).await)
            .expect("--json prints JSON");
    assert_eq!(json["app"]["instances"], 2);

    // More instances than the agent has ports: the deployment cannot finish, and a second
    // change is refused until --force replaces it.
    ok(&dev.marathon, &["scale", "/dev/web", "50"]).await;
    let (code, _, stderr) = apps(&dev.marathon, &["scale", "/dev/web", "2"]).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("409") && stderr.contains("--force overrides"),
        "{stderr}"
    );
    ok(&dev.marathon, &["scale", "/dev/web", "2", "--force"]).await;
    let app = api
        .app_when("back to two healthy instances", "/dev/web", |app| {
            settled(app, 2)
        })
        .await;

    let before = task_ids(&app);
    ok(&dev.marathon, &["restart", "/dev/web"]).await;
    api.app_when("every task replaced, healthy", "/dev/web", |app| {
        settled(app, 2) && task_ids(app).iter().all(|id| !before.contains(id))
    })
    .await;

    ok(&dev.marathon, &["delete", "/dev/web"]).await;
    let gone = eventually("/dev/web deleted", DEADLINE, async || {
        api.call("GET", "/v2/apps/dev/web", None).await.0 == 404
    })
    .await;
    gone.unwrap_or_else(|err| panic!("{err}"));
    let (code, _, stderr) = apps(&dev.marathon, &["show", "/dev/web"]).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("404") && stderr.contains("App '/dev/web' does not exist"),
        "{stderr}"
    );
    let (code, _, stderr) = apps(&dev.marathon, &["scale", "/dev/web", "-1"]).await;
    assert_eq!(code, 2, "a negative count is a usage error: {stderr}");

    // Chronos runs beside it, and `wasmesos jobs` drives it.
    let job = serde_json::json!({
        "name": "yearly", "command": format!("wasmesos://sha256:{}", "ab".repeat(32)),
        "schedule": "R/2030-01-01T00:00:00Z/P1Y"
    });
    let created = reqwest::Client::new()
        .post(format!("{}/v1/scheduler/iso8601", dev.chronos))
        .header("content-type", "application/json")
        .body(job.to_string())
        .send()
        .await
        .expect("POST a job");
    let status = created.status();
    let said = created.text().await.unwrap_or_default();
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT, "{said}");
    let (code, listed, stderr) = jobs(&dev.chronos, &[]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        listed.contains("yearly") && listed.contains("P1Y"),
        "{listed}"
    );
    let (code, _, stderr) = jobs(&dev.chronos, &["show", "nope"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("400"), "{stderr}");
    let (code, said, stderr) = jobs(&dev.chronos, &["delete", "yearly"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(said.contains("deleted"), "{said}");
    let (code, listed, stderr) = jobs(&dev.chronos, &["--json"]).await;
    assert_eq!((code, listed.trim()), (0, "[]"), "{stderr}");

    stop(&mut dev).await;
}

#[tokio::test]
async fn apps_without_a_marathon_says_how_to_start_one() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", unused.local_addr().expect("bound"));
    drop(unused);
    let (code, _, stderr) = apps(&url, &[]).await;
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with(&format!("wasmesos apps: cannot reach Marathon at {url}"))
            && stderr.contains("refused")
            && stderr.contains("wasmesos dev --services"),
        "{stderr}"
    );
    let (code, _, stderr) = apps("127.0.0.1:8080", &[]).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("expected an http:// or https:// URL"),
        "{stderr}"
    );
}

/// `webui_url` of the framework named `marathon` at the master (`GET /frameworks`).
async fn marathon_webui_url(master: &str) -> Option<String> {
    let body = reqwest::get(format!("{master}/frameworks"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let frameworks: Value = serde_json::from_str(&body).ok()?;
    frameworks
        .as_array()?
        .iter()
        .find(|f| f["name"] == "marathon")
        .and_then(|f| f["webui_url"].as_str())
        .map(str::to_string)
}

/// Ctrl-C (SIGINT on Unix): Marathon and the cluster stop cleanly, with exit code 0.
async fn stop(dev: &mut Dev) {
    #[cfg(unix)]
    {
        let pid = dev.child.id().expect("dev still runs").to_string();
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .await
            .expect("kill runs");
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(60), dev.child.wait())
            .await
            .expect("dev stops within a minute")
            .expect("dev's exit status");
        assert!(status.success(), "{status}");
    }
    #[cfg(not(unix))]
    {
        let _ = Duration::ZERO;
        dev.child.kill().await.expect("kill dev");
    }
}
