//! Jobs through their lives over HTTP: a repeating job runs its count, a dependent job runs
//! after its parent, a manual run, deletion, a failing job retried and counted once,
//! schedules in time zones, and requests Chronos refuses with its status.

use std::time::Duration;

use serde_json::{Value, json};
use wasmesos_sdk_scheduler::time::Timestamp;

use crate::common::{Env, schedule};

fn count(job: &Value, key: &str) -> u64 {
    job[key].as_u64().unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_dependent_and_manual_runs_then_deletion() {
    let env = Env::start().await;
    // R3 every second: three runs, then Chronos disables the job.
    env.add(&env.job("tick", "", &schedule(3, Duration::from_secs(1), "PT1S")))
        .await;
    // A dependent job runs after each success of its parent.
    let mut child = env.job("tock", "", "");
    child.as_object_mut().expect("object").remove("schedule");
    child["parents"] = json!(["tick"]);
    env.add(&child).await;
    let tick = env
        .job_when("tick to run three times", "tick", |j| {
            count(j, "successCount") == 3 && j["disabled"] == true
        })
        .await;
    assert_eq!(count(&tick, "errorCount"), 0);
    assert_eq!(tick["lastError"], "", "never null");
    assert!(
        tick["schedule"]
            .as_str()
            .is_some_and(|s| s.starts_with("R0/")),
        "{tick}"
    );
    let tock = env
        .job_when("tock to run after each tick", "tock", |j| {
            count(j, "successCount") == 3
        })
        .await;
    assert!(
        tock["lastSuccess"].as_str() >= tick["lastSuccess"].as_str(),
        "{tock} after {tick}"
    );
    assert_eq!(tock["parents"], json!(["tick"]));
    let ticks = env.tasks_at_master_when("tick", 3).await;
    assert_eq!(ticks.len(), 3, "exactly three runs: {ticks:?}");
    let (status, csv) = env.call("GET", "/v1/scheduler/graph/csv", None).await;
    assert_eq!(status, 200);
    assert!(
        csv.contains("node,tick,success,idle") && csv.contains("link,tick,tock"),
        "{csv}"
    );

    // Run now: a job scheduled far in the future runs once on PUT.
    env.add(&env.job("later", "", "R/2100-01-01T00:00:00Z/P1D"))
        .await;
    let (status, body) = env.call("PUT", "/v1/scheduler/job/later", None).await;
    assert_eq!((status, body.as_str()), (204, ""));
    env.job_when("the manual run", "later", |j| count(j, "successCount") == 1)
        .await;
    let (status, found) = env
        .call("GET", "/v1/scheduler/jobs/search?name=LAT", None)
        .await;
    let found: Vec<Value> = serde_json::from_str(&found).expect("a list");
    assert_eq!((status, found.len()), (200, 1));
    assert_eq!(found[0]["name"], "later");

    // Deleting a parent hands its schedule to the child; a deleted job is unknown.
    for name in ["tick", "later"] {
        let (status, body) = env
            .call("DELETE", &format!("/v1/scheduler/job/{name}"), None)
            .await;
        assert_eq!((status, body.as_str()), (204, ""));
    }
    let tock = env
        .job_when("tock rewired", "tock", |j| j.get("schedule").is_some())
        .await;
    assert!(tock.get("parents").is_none(), "{tock}");
    let (status, body) = env.call("GET", "/v1/scheduler/jobs", None).await;
    let names: Vec<Value> = serde_json::from_str::<Vec<Value>>(&body)
        .expect("a list")
        .iter()
        .map(|j| j["name"].clone())
        .collect();
    assert_eq!((status, names), (200, vec![json!("tock")]));
    let (status, body) = env.call("DELETE", "/v1/scheduler/job/later", None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not found"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_is_retried_then_counts_one_error() {
    let env = Env::start().await;
    let mut job = env.job("flaky", "--exit 3", &schedule(1, Duration::ZERO, "PT1H"));
    job["retries"] = json!(2);
    env.add(&job).await;
    let flaky = env
        .job_when("one error after the retries", "flaky", |j| {
            count(j, "errorCount") == 1
        })
        .await;
    assert_eq!(count(&flaky, "successCount"), 0);
    assert_eq!(flaky["lastSuccess"], "");
    assert!(
        flaky["lastError"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z')),
        "{flaky}"
    );
    let tasks = env.tasks_at_master_when("flaky", 3).await;
    let attempts: Vec<&str> = tasks.iter().filter_map(|t| t.split('_').nth(2)).collect();
    assert_eq!(
        attempts,
        vec!["0", "1", "2"],
        "the run and two retries: {tasks:?}"
    );
    // A POST that leaves the counters out resets them.
    env.add(&job).await;
    let reset = env
        .job_when("counters reset", "flaky", |j| count(j, "errorCount") == 0)
        .await;
    assert_eq!(reset["lastError"], "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_requests_get_chronos_status_and_message() {
    let env = Env::start().await;
    let refused = [
        (
            "POST",
            "/v1/scheduler/iso8601",
            Some("{\"name\": ".to_owned()),
        ),
        ("POST", "/v1/scheduler/iso8601", Some("[1, 2]".to_owned())),
        (
            "POST",
            "/v1/scheduler/iso8601",
            Some(env.job("bad", "", "R/yesterday/PT1S").to_string()),
        ),
        (
            "POST",
            "/v1/scheduler/iso8601",
            Some(
                env.job("bad name", "", "R/2020-01-01T00:00:00Z/PT1S")
                    .to_string(),
            ),
        ),
        (
            "POST",
            "/v1/scheduler/iso8601",
            Some(
                env.job("zero", "", "R/2020-01-01T00:00:00Z/PT0S")
                    .to_string(),
            ),
        ),
        (
            "POST",
            "/v1/scheduler/dependency",
            Some(json!({"name": "orphan", "command": "x", "parents": ["nobody"]}).to_string()),
        ),
        ("PUT", "/v1/scheduler/job/nobody", None),
        ("DELETE", "/v1/scheduler/job/nobody", None),
        ("DELETE", "/v1/scheduler/task/kill/nobody", None),
        ("GET", "/v1/scheduler/job/nobody", None),
    ];
    for (method, path, body) in refused {
        let (status, answer) = env.call_raw(method, path, body.clone()).await;
        let answer: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
        assert_eq!(status, 400, "{method} {path} {body:?}: {answer}");
        assert_eq!(answer["status"], "Bad Request", "{answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
    // Unknown keys are ignored, as Chronos does.
    let mut job = env.job("extra", "", "R/2100-01-01T00:00:00Z/P1D");
    job["async"] = json!(false);
    job["container"] = json!({"type": "DOCKER", "image": "x"});
    env.add(&job).await;
    let (status, body) = env.call("GET", "/leader", None).await;
    assert_eq!(status, 200, "{body}");
}

/// `scheduleTimeZone` as Chronos reads it: the start's local fields are read in the zone
/// (whatever offset the start was written with), the rewritten schedule carries the zone's
/// offset, and a zone Chronos does not know is no error: it is GMT there, UTC here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_run_in_their_time_zone_and_an_unknown_zone_is_utc() {
    let env = Env::start().await;
    let at = Timestamp::now().plus(Duration::from_secs(2));
    let kolkata = Timestamp(at.0 + 330 * 60_000).iso(); // at's local time, written as UTC
    let unknown = at.iso().replace('Z', "+05:00"); // at's UTC time, written at +05:00
    for (name, start, zone) in [
        ("in-kolkata", kolkata, "Asia/Kolkata"),
        ("in-no-zone", unknown, "Mars/Olympus"),
    ] {
        let mut job = env.job(name, "", &format!("R1/{start}/PT1S"));
        job["scheduleTimeZone"] = json!(zone);
        let (status, body) = env.call("POST", "/v1/scheduler/iso8601", Some(&job)).await;
        assert_eq!((status, body.as_str()), (204, ""), "{zone}: {body}");
    }
    // Read any other way, the starts would be hours in the past, beyond the epsilon, and
    // never run.
    for (name, offset, zone) in [
        ("in-kolkata", "+05:30", "Asia/Kolkata"),
        ("in-no-zone", "Z", "Mars/Olympus"),
    ] {
        let job = env
            .job_when("the zoned run", name, |j| count(j, "successCount") == 1)
            .await;
        let schedule = job["schedule"].as_str().unwrap_or_default();
        assert!(
            schedule.starts_with("R0/") && schedule.ends_with(&format!("{offset}/PT1S")),
            "{job}"
        );
        assert_eq!(job["scheduleTimeZone"], zone, "kept as given: {job}");
    }
}
