//! Every malformed or misaddressed call is refused with Mesos's status code and message.

use hyper::StatusCode;
use serde_json::json;

use crate::client::{Framework, JSON, post, subscribe_call, subscribe_raw};
use crate::common::cluster;

const PATH: &str = "/api/v1/scheduler";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_and_headers_get_mesos_codes_and_messages() {
    let (cluster, authority) = cluster().await;
    let revive = json!({"type": "REVIVE", "framework_id": {"value": "nobody"}}).to_string();

    let no_type = post(&authority, PATH, &[], revive.clone().into_bytes()).await;
    assert_eq!(no_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_type.text(), "Expecting 'Content-Type' to be present");

    let text = post(
        &authority,
        PATH,
        &[("Content-Type", "text/plain")],
        revive.clone().into_bytes(),
    )
    .await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let garbage = post(
        &authority,
        PATH,
        &[("Content-Type", JSON)],
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert!(
        garbage.text().starts_with("Failed to parse body into JSON"),
        "{}",
        garbage.text()
    );

    let missing = post(
        &authority,
        PATH,
        &[("Content-Type", JSON)],
        br#"{"type":"SUBSCRIBE","subscribe":{}}"#.to_vec(),
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(
        missing.text().contains("framework_info"),
        "{}",
        missing.text()
    );

    let unknown = post(
        &authority,
        PATH,
        &[("Content-Type", JSON)],
        revive.into_bytes(),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.text(), "Framework cannot be found");

    let no_id = post(
        &authority,
        PATH,
        &[("Content-Type", JSON)],
        br#"{"type":"REVIVE"}"#.to_vec(),
    )
    .await;
    assert_eq!(no_id.status, StatusCode::BAD_REQUEST);
    assert!(no_id.text().contains("framework_id"), "{}", no_id.text());

    let not_acceptable = subscribe_raw(
        &authority,
        &[("Content-Type", JSON), ("Accept", "text/html")],
        subscribe_call("x", json!({})).to_string().into_bytes(),
    )
    .await;
    assert_eq!(not_acceptable.status, StatusCode::NOT_ACCEPTABLE);

    let with_stream = subscribe_raw(
        &authority,
        &[
            ("Content-Type", JSON),
            ("Mesos-Stream-Id", "0b7b9a8e-0000-4000-8000-000000000000"),
        ],
        subscribe_call("x", json!({})).to_string().into_bytes(),
    )
    .await;
    assert_eq!(with_stream.status, StatusCode::BAD_REQUEST);
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_need_the_current_stream_and_a_subscribed_framework() {
    let (cluster, authority) = cluster().await;
    let framework = Framework::subscribe(
        &authority,
        &subscribe_call("gone", json!({"failover_timeout": 600})),
    )
    .await;
    let id = json!({"value": framework.framework_id});

    let no_stream = post(
        &authority,
        PATH,
        &[("Content-Type", JSON)],
        json!({"type": "REVIVE", "framework_id": id})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(no_stream.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        no_stream.text(),
        "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
    );

    let wrong = post(
        &authority,
        PATH,
        &[
            ("Content-Type", JSON),
            ("Mesos-Stream-Id", "not-the-stream"),
        ],
        json!({"type": "REVIVE", "framework_id": id})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.text().contains("didn't match"), "{}", wrong.text());

    let no_payload = framework.call(json!({"type": "ACCEPT"})).await;
    assert_eq!(no_payload.status, StatusCode::BAD_REQUEST);
    assert!(
        no_payload.text().contains("'accept'"),
        "{}",
        no_payload.text()
    );

    // Once the stream closes the framework is known but not subscribed: 403. The master
    // learns of the closed connection asynchronously, so poll.
    let stream_id = framework.stream_id.clone();
    drop(framework);
    let forbidden = wasmesos_harness::eventually_some(
        "403 for a disconnected framework",
        crate::client::PATIENCE,
        async || {
            let answer = post(
                &authority,
                PATH,
                &[("Content-Type", JSON), ("Mesos-Stream-Id", &stream_id)],
                json!({"type": "REVIVE", "framework_id": id})
                    .to_string()
                    .into_bytes(),
            )
            .await;
            (answer.status == StatusCode::FORBIDDEN).then_some(answer)
        },
    )
    .await
    .expect("a 403");
    assert_eq!(forbidden.text(), "Framework is not subscribed");
    cluster.shutdown().await.expect("shutdown");
}
