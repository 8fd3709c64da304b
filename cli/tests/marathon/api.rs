//! Bad requests get Marathon's answers: 400 for malformed JSON, 422 with `details` naming
//! the field, 404 and 409 with Marathon's messages; never a panic. Groups, `/ping`,
//! `/v2/leader`, and `/v2/events` streaming Marathon's event types.

use serde_json::json;

use crate::common::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_marathons_errors_and_events_stream() {
    let env = Env::start().await;
    let mut events = reqwest::Client::new()
        .get(format!(
            "{}/v2/events?event_type=event_stream_attached&event_type=api_post_event",
            env.url
        ))
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("the event stream");
    assert_eq!(events.status(), 200);
    let first = tokio::time::timeout(crate::common::DEADLINE, events.chunk())
        .await
        .expect("an event within the deadline")
        .expect("readable")
        .expect("an event");
    let first = String::from_utf8_lossy(&first);
    assert!(first.contains("event: event_stream_attached"), "{first}");
    let (status, body) = env.call_raw("POST", "/v2/apps", "{\"id\": ").await;
    assert_eq!((status, &body["message"]), (400, &json!("Invalid JSON")));
    let (status, body) = env.call_raw("POST", "/v2/apps", "[1, 2]").await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = env
        .call("POST", "/v2/apps", Some(&json!({"cmd": "x.wasm"})))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["details"][0]["path"], "/id");
    let mut app = env.hello_app("/bad", 1);
    app["cpus"] = json!("lots");
    let (status, body) = env.call("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(
        (status, &body["details"][0]["path"]),
        (422, &json!("/cpus")),
        "{body}"
    );
    app["cpus"] = json!(-1);
    let (status, body) = env.call("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(
        (status, &body["message"]),
        (422, &json!("Object is not valid"))
    );
    assert_eq!(body["details"][0]["path"], "/cpus");
    app["cpus"] = json!(0.1);
    app["id"] = json!("/Bad_Id");
    let (status, body) = env.call("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(
        (status, &body["details"][0]["path"]),
        (422, &json!("/id")),
        "{body}"
    );
    app["id"] = json!("/bad");
    app["constraints"] = json!([["hostname", "NEAR"]]);
    let (status, body) = env.call("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(
        (status, &body["details"][0]["path"]),
        (422, &json!("/constraints")),
        "{body}"
    );
    app["constraints"] = json!([]);
    app["cmd"] = json!("http-hello.wasm | tee log");
    let (status, body) = env.call("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(
        (status, &body["details"][0]["path"]),
        (422, &json!("/cmd")),
        "{body}"
    );

    let (status, body) = env.call("GET", "/v2/apps/nope", None).await;
    assert_eq!(
        (status, body),
        (404, json!({"message": "App '/nope' does not exist"}))
    );
    let (status, _) = env.call("DELETE", "/v2/apps/nope", None).await;
    assert_eq!(status, 404);
    let (status, body) = env.call("DELETE", "/v2/deployments/x", None).await;
    assert_eq!(
        (status, &body["message"]),
        (404, &json!("DeploymentPlan x does not exist"))
    );
    let (status, _) = env.call("DELETE", "/v2/apps/a/tasks/a.nope", None).await;
    assert_eq!(status, 404);
    let (status, body) = env.call("DELETE", "/v2/apps/nope?force=maybe", None).await;
    assert_eq!(status, 400, "{body}");
    // Just over the 1 MiB bound (a loopback socket takes it whole before the answer).
    let huge = format!(
        "{{\"id\": \"/big\", \"cmd\": \"{}\"}}",
        "a".repeat((1 << 20) + 1024)
    );
    let (status, _) = env.call_raw("POST", "/v2/apps", &huge).await;
    assert_eq!(status, 413);

    // Groups: an app in a group shows in the tree; an unknown group is a 404.
    let (status, _) = env
        .call("POST", "/v2/apps", Some(&env.hello_app("/g/h/app", 0)))
        .await;
    assert_eq!(status, 201);
    let (status, root) = env.call("GET", "/v2/groups", None).await;
    assert_eq!(status, 200);
    assert_eq!(root["groups"][0]["id"], "/g");
    assert_eq!(root["groups"][0]["groups"][0]["apps"][0]["id"], "/g/h/app");
    let (status, _) = env.call("GET", "/v2/groups/nope", None).await;
    assert_eq!(status, 404);
    let mut seen = String::new();
    while !seen.contains("\n\n") {
        let chunk = tokio::time::timeout(crate::common::DEADLINE, events.chunk())
            .await
            .expect("an event within the deadline")
            .expect("readable")
            .expect("an event");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: api_post_event\ndata: {"), "{seen}");
    assert!(seen.contains("\"eventType\":\"api_post_event\""), "{seen}");
    assert!(seen.contains("/g/h/app"), "{seen}");
    // UNIQUE hostname on one agent: one task runs, the other waits in the queue.
    let mut unique = env.hello_app("/uniq", 2);
    unique["constraints"] = json!([["hostname", "UNIQUE"]]);
    let (status, body) = env.call("POST", "/v2/apps", Some(&unique)).await;
    assert_eq!(status, 201, "{body}");
    let app = env
        .app_when("one task of two", "/uniq", |app| app["tasksRunning"] == 1)
        .await;
    assert_eq!(app["constraints"], json!([["hostname", "UNIQUE"]]));
    let (_, queue) = env.call("GET", "/v2/queue", None).await;
    let waiting = queue["queue"].as_array().and_then(|items| {
        items
            .iter()
            .find(|item| item["app"]["id"] == "/uniq")
            .map(|item| item["count"].clone())
    });
    assert_eq!(waiting, Some(json!(1)), "{queue}");
    assert_eq!(
        app["tasks"].as_array().map(Vec::len),
        Some(1),
        "never two on one host"
    );

    let (status, body) = env.call("GET", "/v2/ping", None).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = env.call("GET", "/ping", None).await;
    assert_eq!(
        (status, body),
        (200, serde_json::Value::Null),
        "pong is text"
    );
    let (status, leader) = env.call("GET", "/v2/leader", None).await;
    assert_eq!(status, 200);
    assert_eq!(leader["leader"], env.url.trim_start_matches("http://"));
}
