//! Odd requests — malformed JSON, wrong types, strange ids and paths, bad flags — get
//! Marathon's 4xx answers with a JSON message, never a 5xx or a panic. The router is called
//! in process over a real state file; no cluster is needed, since no task is launched.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tower::ServiceExt;
use wasmesos_marathon::api::{Ctx, router};
use wasmesos_marathon::durable::Durable;
use wasmesos_marathon::events::EventBus;
use wasmesos_marathon::state::State;

fn app_router(dir: &std::path::Path) -> axum::Router {
    let store = Durable::open(dir, "marathon.redb").expect("store");
    let state = State::load(store, EventBus::default()).expect("state");
    router(Arc::new(Ctx {
        state: Arc::new(Mutex::new(state)),
        kick: Arc::new(Notify::new()),
        leader: "127.0.0.1:8080".into(),
        master_url: "http://127.0.0.1:5050".into(),
        framework_name: "marathon".into(),
        zk: None,
    }))
}

async fn call(router: &axum::Router, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("a request");
    let response = router.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn odd_requests_get_marathons_client_errors() {
    let dir = tempfile::tempdir().expect("dir");
    let router = app_router(dir.path());
    let digest = "ab".repeat(32);
    let good = json!({"id": "/a", "cmd": format!("wasmesos://sha256:{digest}")}).to_string();
    let cases: Vec<(&str, String, String)> = vec![
        ("POST", "/v2/apps".into(), "".into()),
        ("POST", "/v2/apps".into(), "null".into()),
        ("POST", "/v2/apps".into(), "\"text\"".into()),
        ("POST", "/v2/apps".into(), "{\"id\": 5}".into()),
        (
            "POST",
            "/v2/apps".into(),
            "{\"id\": \"/x\", \"instances\": -5, \"cmd\": \"a\"}".into(),
        ),
        (
            "POST",
            "/v2/apps".into(),
            "{\"id\": \"/x\", \"instances\": 1e30}".into(),
        ),
        (
            "POST",
            "/v2/apps".into(),
            "{\"id\": \"/x\", \"cpus\": 1e309}".into(),
        ),
        (
            "POST",
            "/v2/apps".into(),
            "{\"id\": \"/x\", \"env\": {\"A\": {\"secret\": \"s\"}}}".into(),
        ),
        (
            "POST",
            "/v2/apps".into(),
            "{\"id\": \"/x\", \"constraints\": [[1]]}".into(),
        ),
        (
            "POST",
            "/v2/apps".into(),
            "{\"id\": \"/x\", \"healthChecks\": [{\"protocol\": \"SMTP\"}]}".into(),
        ),
        (
            "POST",
            "/v2/apps".into(),
            "{\"id\": \"/x\", \"killSelection\": \"RANDOM\"}".into(),
        ),
        (
            "POST",
            "/v2/apps".into(),
            "{\"id\": \"/x\", \"upgradeStrategy\": {\"minimumHealthCapacity\": -1}}".into(),
        ),
        (
            "POST",
            "/v2/apps".into(),
            "{\"id\": \"/x\", \"portDefinitions\": [{\"port\": 70000}]}".into(),
        ),
        (
            "POST",
            "/v2/apps".into(),
            "{\"id\": \"/x\", \"fetch\": [{\"uri\": \"ftp://h/a\"}], \"cmd\": \"a\"}".into(),
        ),
        (
            "POST",
            "/v2/apps".into(),
            format!("{{\"id\": \"/{}\"}}", "a/".repeat(400)),
        ),
        ("POST", "/v2/apps".into(), "[".repeat(10_000)),
        ("GET", "/v2/apps/%2e%2e/%2e%2e".into(), String::new()),
        ("GET", "/v2/apps/UPPER".into(), String::new()),
        ("GET", "/v2/apps//".into(), String::new()),
        ("DELETE", "/v2/apps/a/tasks/..".into(), String::new()),
        ("PUT", "/v2/apps/a?force=sure".into(), good.clone()),
        ("PUT", "/v2/apps/b".into(), good.clone()),
        ("POST", "/v2/apps/a/restart".into(), String::new()),
        ("POST", "/v2/tasks/delete".into(), "{\"ids\": \"x\"}".into()),
        ("DELETE", "/v2/queue/nope".into(), String::new()),
        ("GET", "/v2/groups/%FF".into(), String::new()),
        ("GET", "/nowhere".into(), String::new()),
    ];
    for (method, uri, body) in cases {
        let (status, answer) = call(&router, method, &uri, &body).await;
        assert!(
            status.is_client_error(),
            "{method} {uri} {body:.80}: {status} {answer}"
        );
        if status != StatusCode::METHOD_NOT_ALLOWED {
            assert!(answer["message"].is_string(), "{method} {uri}: {answer}");
        }
    }
    // And the well-formed ones still work on the same state.
    let (status, created) = call(&router, "POST", "/v2/apps", &good).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, _) = call(
        &router,
        "PUT",
        "/v2/apps/a?force=True",
        "{\"instances\": 0}",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, locked) = call(&router, "DELETE", "/v2/apps/a", "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{locked}");
    assert!(locked["deployments"][0]["id"].is_string());
}
