//! Two Marathons on one ZooKeeper path: the first leads, the second proxies the API to it;
//! `kill -9` of the leader hands the app to the second, which adopts its running tasks
//! (exactly `instances` of them, none launched again) and takes new apps; without ZooKeeper
//! it stops.

use serde_json::Value;
use wasmesos_harness::{ZooKeeper, eventually, eventually_some};

use crate::common::{Api, DEADLINE, Env, settled, start_marathon, task_ids};

const APP: &str = "/ha/web";
const INSTANCES: u64 = 2;

/// Waits until the master runs exactly `tasks` of Marathon's (its view lags by ~100 ms).
async fn master_runs(env: &Env, tasks: &[String]) {
    let ran = eventually(
        "the master running exactly those tasks",
        DEADLINE,
        async || {
            let mut at_master = env.live_tasks_at_master().await;
            at_master.sort();
            at_master == tasks
        },
    )
    .await;
    if let Err(err) = ran {
        panic!("{err}: {:?}", env.live_tasks_at_master().await);
    }
}

/// `GET /v2/leader` at `api`, once it names `leader` and the API answers (the leader has
/// loaded its state).
async fn leader_is(api: &Api, leader: &str) -> Value {
    eventually_some(
        &format!("{} to name {leader} leader", api.url),
        DEADLINE,
        async || {
            let (status, body) = api.call("GET", "/v2/leader", None).await;
            let (serving, _) = api.call("GET", "/v2/apps", None).await;
            (status == 200 && body["leader"] == leader && serving == 200).then_some(body)
        },
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"))
}

fn host_port(api: &Api) -> &str {
    api.url.trim_start_matches("http://")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_proxies_then_takes_over_the_apps_of_a_killed_leader() {
    if let Some(why) = ZooKeeper::unavailable() {
        println!("skipped: {why}");
        return;
    }
    let mut zookeeper = ZooKeeper::start().await.expect("ZooKeeper");
    let zk = zookeeper.url("/marathon");
    let mut env = Env::start_on(Some(&zk)).await;
    leader_is(&env.api, host_port(&env.api)).await;
    let mut follower = start_marathon(
        &env.cluster.master_url(),
        &env.cluster.dir().join("marathon-2"),
        "127.0.0.1:0",
        Some(&zk),
    )
    .await;
    let second = Api::new(&follower.url);
    // Every node names the leader, in Marathon's format.
    let leader = env.url.trim_start_matches("http://").to_owned();
    leader_is(&second, &leader).await;
    // `/v2/info` says it runs HA, and on which ZooKeeper group.
    let (status, info) = second.call("GET", "/v2/info", None).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["marathon_config"]["ha"], true, "{info}");
    assert_eq!(info["zookeeper_config"]["zk"], zk.as_str(), "{info}");
    assert_eq!(info["zookeeper_config"]["zk_path"], "/marathon", "{info}");

    // Created through the leader, answered through the follower (proxied).
    let (status, created) = env
        .call(
            "POST",
            "/v2/apps",
            Some(&env.hello_app(APP, INSTANCES as u32)),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let app = second
        .app_when("the app running, seen through the follower", APP, |app| {
            settled(app, INSTANCES)
        })
        .await;
    let running = task_ids(&app);
    let (status, apps) = second.call("GET", "/v2/apps", None).await;
    assert_eq!(status, 200, "{apps}");
    assert_eq!(apps["apps"][0]["id"], APP, "{apps}");
    // A write through the follower reaches the leader too, with Marathon's answers.
    let (status, again) = second
        .call("POST", "/v2/apps", Some(&env.hello_app(APP, 1)))
        .await;
    assert_eq!(status, 409, "{again}");
    master_runs(&env, &running).await;
    let (_, info) = second.call("GET", "/v2/info", None).await;
    assert!(info["frameworkId"].is_string(), "{info}");

    // The leader dies; the follower leads, as the same framework, adopts both tasks and
    // launches none.
    let killed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs_f64();
    env.marathon.kill().await.expect("kill -9 the leader");
    leader_is(&second, host_port(&second)).await;
    let app = second
        .app_when("the app adopted by the new leader", APP, |app| {
            settled(app, INSTANCES) && app["tasksUnhealthy"] == 0
        })
        .await;
    assert_eq!(task_ids(&app), running, "the same tasks, adopted");
    let (_, info_after) = second.call("GET", "/v2/info", None).await;
    assert_eq!(info_after["frameworkId"], info["frameworkId"]);
    assert_eq!(info_after["leader"], host_port(&second));
    let relaunched = env.tasks_launched_at_master_since(killed_at).await;
    assert!(relaunched.is_empty(), "launched again: {relaunched:?}");
    master_runs(&env, &running).await;

    // The new leader takes new apps.
    let (status, created) = second
        .call("POST", "/v2/apps", Some(&env.hello_app("/ha/other", 1)))
        .await;
    assert_eq!(status, 201, "{created}");
    second
        .app_when("the new app running", "/ha/other", |app| settled(app, 1))
        .await;
    let app = second
        .app_when("the first app unchanged", APP, |app| {
            settled(app, INSTANCES)
        })
        .await;
    assert_eq!(task_ids(&app), running);

    // Without ZooKeeper the leader can no longer be sure it leads: it stops, non-zero.
    zookeeper.kill().await.expect("kill ZooKeeper");
    let status = follower
        .wait_exit(DEADLINE)
        .await
        .expect("the leader exits");
    assert!(!status.success(), "{status:?}");
}
