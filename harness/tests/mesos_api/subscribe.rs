//! SUBSCRIBE: the stream's headers, SUBSCRIBED then HEARTBEAT then OFFERS in Mesos's shapes,
//! protobuf streams, and failover with the same framework id.

use hyper::StatusCode;
use prost::Message;
use serde_json::json;
use wasmesos_proto::mesos::v1::scheduler::{Call, Event, call, event};
use wasmesos_proto::mesos::v1::{FrameworkId, FrameworkInfo};

use crate::client::{Framework, JSON, PROTOBUF, subscribe_call, subscribe_raw};
use crate::common::cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_streams_subscribed_heartbeat_then_offers_in_mesos_json() {
    let (cluster, authority) = cluster().await;
    let call = subscribe_call("raw", json!({}));
    let mut events = subscribe_raw(
        &authority,
        &[("Content-Type", JSON), ("Accept", JSON)],
        call.to_string().into_bytes(),
    )
    .await;
    assert_eq!(events.status, StatusCode::OK);
    assert_eq!(events.headers["content-type"], JSON);
    assert!(events.headers.get("content-length").is_none());
    assert_eq!(events.headers["transfer-encoding"], "chunked");
    let stream_id = events.stream_id();
    assert!(uuid::Uuid::parse_str(&stream_id).is_ok(), "{stream_id}");

    let subscribed = events.next().await.expect("SUBSCRIBED");
    assert_eq!(subscribed["type"], "SUBSCRIBED");
    let body = &subscribed["subscribed"];
    assert!(
        body["framework_id"]["value"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(
        body["heartbeat_interval_seconds"]
            .as_f64()
            .is_some_and(|s| s > 0.0)
    );
    let master = &body["master_info"];
    assert_eq!(
        master["ip"], 16_777_343,
        "127.0.0.1 in network order: {master}"
    );
    let port = master["port"].as_u64().expect("a port");
    assert_eq!(master["pid"], format!("master@127.0.0.1:{port}"));
    assert_eq!(authority, format!("127.0.0.1:{port}"));

    let heartbeat = events.next().await.expect("HEARTBEAT");
    assert_eq!(heartbeat, json!({"type": "HEARTBEAT"}));

    let offers = events.offers().await;
    let offer = &offers[0];
    assert!(offer["id"]["value"].is_string());
    assert_eq!(offer["framework_id"], body["framework_id"]);
    assert_eq!(offer["allocation_info"]["role"], "*");
    let mem = offer["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "mem"))
        .expect("mem offered");
    assert_eq!(mem["type"], "SCALAR");
    let mb = mem["scalar"]["value"].as_f64().expect("mem");
    assert!(mb > 0.0 && mb < 1_048_576.0, "mem in MB, not bytes: {mb}");
    assert_eq!(mem["role"], "*");
    drop(events);
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_calls_get_a_protobuf_stream() {
    let (cluster, authority) = cluster().await;
    let call = Call {
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: FrameworkInfo {
                user: "test".into(),
                name: "proto".into(),
                ..Default::default()
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut events = subscribe_raw(
        &authority,
        &[("Content-Type", PROTOBUF), ("Accept", PROTOBUF)],
        call.encode_to_vec(),
    )
    .await;
    assert_eq!(events.status, StatusCode::OK);
    assert_eq!(events.headers["content-type"], PROTOBUF);
    let record = events.next_record().await.expect("SUBSCRIBED");
    let subscribed = Event::decode(record).expect("a protobuf event");
    assert_eq!(subscribed.r#type, Some(event::Type::Subscribed as i32));
    let id = subscribed
        .subscribed
        .expect("subscribed")
        .framework_id
        .value;
    let record = events.next_record().await.expect("HEARTBEAT");
    assert_eq!(
        Event::decode(record).expect("an event").r#type,
        Some(event::Type::Heartbeat as i32)
    );
    // A protobuf REVIVE on the stream is accepted.
    let revive = Call {
        framework_id: Some(FrameworkId { value: id }),
        r#type: Some(call::Type::Revive as i32),
        ..Default::default()
    };
    let answer = crate::client::post(
        &authority,
        "/api/v1/scheduler",
        &[
            ("Content-Type", PROTOBUF),
            ("Mesos-Stream-Id", &events.stream_id()),
        ],
        revive.encode_to_vec(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
    drop(events);
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_framework_fails_over_with_its_id_and_the_old_stream_id_is_refused() {
    let (cluster, authority) = cluster().await;
    let first = Framework::subscribe(
        &authority,
        &subscribe_call("failover", json!({"failover_timeout": 600})),
    )
    .await;
    let id = first.framework_id.clone();
    let old_stream = first.stream_id.clone();
    drop(first);

    let call = subscribe_call(
        "failover",
        json!({"failover_timeout": 600, "id": {"value": id}}),
    );
    let mut second = Framework::subscribe(&authority, &call).await;
    assert_eq!(second.framework_id, id, "the same framework after failover");
    assert_ne!(second.stream_id, old_stream);
    second.events.offers().await;

    let stale = crate::client::call(
        &authority,
        &old_stream,
        &json!({"type": "REVIVE", "framework_id": {"value": id}}),
    )
    .await;
    assert_eq!(stale.status, StatusCode::BAD_REQUEST);
    assert!(
        stale.text().contains("didn't match the stream ID"),
        "{}",
        stale.text()
    );
    second.accepted(json!({"type": "REVIVE"})).await;
    cluster.shutdown().await.expect("shutdown");
}
