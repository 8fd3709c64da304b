//! One service through its life: created, healthy, reachable on its port, scaled, a task
//! killed and replaced, upgraded by a rolling deployment within its strategy's bounds,
//! Marathon killed -9 and restarted without duplicates, deleted.

use serde_json::{Value, json};
use wasmesos_harness::eventually;
use wasmesos_test_support::http_get;

use crate::common::{DEADLINE, Env, settled, task_ids};

const APP: &str = "/shop/web";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_is_kept_running_scaled_replaced_upgraded_and_survives_a_marathon_crash() {
    let mut env = Env::start().await;

    // Created: 201, Marathon's defaults filled in, a deployment under way.
    let (status, created) = env
        .call("POST", "/v2/apps", Some(&env.hello_app("//shop/web", 1)))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], APP);
    assert_eq!(created["backoffFactor"], 1.15);
    assert_eq!(created["killSelection"], "YOUNGEST_FIRST");
    assert_eq!(created["tasksRunning"], 0);
    assert_eq!(created["deployments"].as_array().map(Vec::len), Some(1));
    assert!(created["portDefinitions"][0]["port"].as_u64() >= Some(10_000));
    let (status, again) = env
        .call("POST", "/v2/apps", Some(&env.hello_app(APP, 1)))
        .await;
    assert_eq!(status, 409, "{again}");

    // Running, healthy, and serving on the port Marathon reports.
    let app = env
        .app_when("one healthy task", APP, |app| settled(app, 1))
        .await;
    let task = &app["tasks"][0];
    assert_eq!(task["state"], "TASK_RUNNING");
    assert_eq!(task["healthCheckResults"][0]["alive"], true);
    assert!(
        task["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("shop_web."))
    );
    let port = task["ports"][0].as_u64().expect("a port");
    let (code, body) = http_get(("127.0.0.1", port as u16), "/")
        .await
        .expect("the service answers");
    assert_eq!((code, body.as_str()), (200, "hello from wasmesos\n"));
    let (_, env_text) = http_get(("127.0.0.1", port as u16), "/env")
        .await
        .expect("env");
    assert!(env_text.contains("MARATHON_APP_ID=/shop/web"), "{env_text}");
    assert!(env_text.contains(&format!("PORT0={port}")), "{env_text}");

    // Scaled up, then a task killed (replaced) and one killed with scale (not replaced).
    let (status, change) = env
        .call(
            "PUT",
            &format!("/v2/apps{APP}"),
            Some(&json!({"instances": 3})),
        )
        .await;
    assert_eq!(status, 200, "{change}");
    assert!(change["deploymentId"].is_string() && change["version"].is_string());
    let app = env
        .app_when("three healthy tasks", APP, |app| settled(app, 3))
        .await;
    let victim = task_ids(&app)[0].clone();
    let (status, killed) = env
        .call("DELETE", &format!("/v2/apps{APP}/tasks/{victim}"), None)
        .await;
    assert_eq!(status, 200, "{killed}");
    assert_eq!(killed["task"]["id"], victim.as_str());
    let app = env
        .app_when("the killed task replaced", APP, |app| {
            settled(app, 3) && !task_ids(app).contains(&victim)
        })
        .await;
    assert_eq!(app["instances"], 3);
    let victim = task_ids(&app)[0].clone();
    let (status, scaled) = env
        .call(
            "DELETE",
            &format!("/v2/apps{APP}/tasks/{victim}?scale=True"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{scaled}");
    assert!(scaled["deploymentId"].is_string(), "{scaled}");
    let app = env
        .app_when("two tasks after a kill with scale", APP, |app| {
            settled(app, 2)
        })
        .await;
    assert_eq!(app["instances"], 2);
    assert!(!task_ids(&app).contains(&victim));

    // A rolling upgrade: never more than 3 tasks (2 + 50%), never fewer than 1 healthy.
    let old = task_ids(&app);
    let (status, change) = env
        .call(
            "PUT",
            &format!("/v2/apps{APP}"),
            Some(&json!({"env": {"COLOR": "blue"}})),
        )
        .await;
    assert_eq!(status, 200, "{change}");
    let (_, deployments) = env.call("GET", "/v2/deployments", None).await;
    let listed = deployments.as_array().is_some_and(|list| {
        list.iter()
            .any(|d| d["id"] == change["deploymentId"] && d["affectedApps"][0] == APP)
    });
    assert!(listed, "{deployments}");
    let (status, locked) = env
        .call(
            "PUT",
            &format!("/v2/apps{APP}"),
            Some(&json!({"cpus": 0.2})),
        )
        .await;
    assert_eq!(status, 409, "{locked}");
    assert_eq!(locked["deployments"][0]["id"], change["deploymentId"]);
    let mut samples = 0;
    let mut upgraded = Value::Null;
    eventually("the rolling upgrade", DEADLINE, async || {
        let (_, body) = env.call("GET", &format!("/v2/apps{APP}"), None).await;
        let app = &body["app"];
        let tasks = app["tasks"].as_array().map_or(0, Vec::len);
        assert!(tasks <= 3, "over maximumOverCapacity: {app}");
        assert!(
            app["tasksHealthy"].as_u64() >= Some(1),
            "under minimumHealthCapacity: {app}"
        );
        samples += 1;
        let done = settled(app, 2) && task_ids(app).iter().all(|id| !old.contains(id));
        if done {
            upgraded = app.clone();
        }
        done
    })
    .await
    .expect("upgraded");
    assert!(samples > 1, "the upgrade was observed while it ran");
    assert_eq!(upgraded["env"]["COLOR"], "blue");
    let port = upgraded["tasks"][0]["ports"][0].as_u64().expect("a port") as u16;
    let (_, env_text) = http_get(("127.0.0.1", port), "/env").await.expect("env");
    assert!(env_text.contains("COLOR=blue"), "{env_text}");

    // kill -9 and restart: same framework, the same two tasks adopted, none launched.
    let (_, info) = env.call("GET", "/v2/info", None).await;
    let before = task_ids(&upgraded);
    let restarted_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs_f64();
    env.restart_marathon().await;
    let (_, info_after) = env.call("GET", "/v2/info", None).await;
    assert_eq!(info_after["frameworkId"], info["frameworkId"]);
    let app = env
        .app_when("the tasks reconciled after the restart", APP, |app| {
            settled(app, 2)
        })
        .await;
    assert_eq!(
        task_ids(&app),
        before,
        "the running tasks are kept, not replaced"
    );
    let launched_since = env.tasks_launched_at_master_since(restarted_at).await;
    assert!(
        launched_since.is_empty(),
        "launched again after the restart: {launched_since:?}"
    );
    eventually(
        "the master running exactly those tasks",
        DEADLINE,
        async || {
            let mut at_master = env.live_tasks_at_master().await;
            at_master.sort();
            at_master == before
        },
    )
    .await
    .expect("no task launched twice");

    // Deleted: its tasks end, and it is gone.
    let (status, deleted) = env.call("DELETE", &format!("/v2/apps{APP}"), None).await;
    assert_eq!(status, 200, "{deleted}");
    eventually("the tasks killed", DEADLINE, async || {
        env.live_tasks_at_master().await.is_empty()
    })
    .await
    .expect("no task left");
    let (status, gone) = env.call("GET", &format!("/v2/apps{APP}"), None).await;
    assert_eq!(
        (status, gone),
        (404, json!({"message": "App '/shop/web' does not exist"}))
    );
}

/// A task failing its health check is killed by its agent and replaced by Marathon, which
/// reports the failure; the unhealthy kill reaches `/v2/events`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_task_is_killed_and_replaced() {
    let env = Env::start().await;
    let mut app = env.hello_app("/sick", 1);
    app["healthChecks"] = json!([{"protocol": "HTTP", "path": "/missing", "gracePeriodSeconds": 0,
                                  "intervalSeconds": 1, "timeoutSeconds": 1, "delaySeconds": 0,
                                  "maxConsecutiveFailures": 1}]);
    let (status, created) = env.call("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(status, 201, "{created}");
    let first = env
        .app_when("a first task", "/sick", |app| !task_ids(app).is_empty())
        .await;
    let first = task_ids(&first)[0].clone();
    // Each replacement fails its check too, so by the time this looks the last failure may
    // be a later task's: what must hold is that the first is gone and another runs.
    let app = env
        .app_when("the unhealthy task replaced", "/sick", |app| {
            let tasks = task_ids(app);
            !app["lastTaskFailure"].is_null() && !tasks.is_empty() && !tasks.contains(&first)
        })
        .await;
    assert_eq!(app["lastTaskFailure"]["state"], "TASK_KILLED", "{app}");
    assert_eq!(app["instances"], 1);
}
