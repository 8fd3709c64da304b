//! Whatever a peer sends, the master answers with a status code and keeps serving: malformed
//! requests get INVALID_ARGUMENT naming the field, unknown callers FAILED_PRECONDITION,
//! unknown ids NOT_FOUND, and bytes that are not protobuf at all INTERNAL (tonic's decoder,
//! following gRPC's status code guide) rather than a crash.

mod common;

use common::*;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use wasmesos_proto::v1::{
    AcceptRequest, AgentInfo, ExecutorMessageRequest, FrameworkInfo, GetStateRequest,
    HeartbeatRequest, KillRequest, KillTaskRequest, ReadFileRequest, RegisterRequest, Resource,
    Resources, StatusUpdates, SubscribeRequest, TaskStatus, event,
};

fn code<T>(result: Result<T, tonic::Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

fn message<T>(result: Result<T, tonic::Status>) -> String {
    result
        .err()
        .map(|s| s.message().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn scheduler_calls_with_missing_fields_are_invalid_arguments() {
    let master = start(|_| {}).await;
    let mut scheduler = master.scheduler();
    let result = scheduler.subscribe(SubscribeRequest::default()).await;
    assert_eq!(code(result), Code::InvalidArgument);
    let nameless = SubscribeRequest {
        framework: Some(FrameworkInfo::default()),
        heartbeat_interval_seconds: 0.0,
    };
    let result = scheduler.subscribe(nameless).await;
    assert!(message(result).contains("framework.name"));
    let negative_heartbeat = SubscribeRequest {
        framework: Some(FrameworkInfo {
            name: "x".into(),
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: -3.0,
    };
    assert_eq!(
        code(scheduler.subscribe(negative_heartbeat).await),
        Code::InvalidArgument
    );
    let result = scheduler.accept(AcceptRequest::default()).await;
    assert!(message(result).contains("framework_id"));
}

#[tokio::test]
async fn an_endless_heartbeat_interval_is_capped_at_an_hour() {
    let master = start(|_| {}).await;
    // Fits a Duration, but not an Instant's reach: the heartbeat ticker used to panic on it.
    let endless = SubscribeRequest {
        framework: Some(FrameworkInfo {
            name: "x".into(),
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 1e19,
    };
    let mut events = master
        .scheduler()
        .subscribe(endless)
        .await
        .expect("subscribe")
        .into_inner();
    let first = within(events.message())
        .await
        .expect("stream")
        .map(|e| e.event);
    match first {
        Some(Some(event::Event::Subscribed(subscribed))) => {
            assert_eq!(subscribed.heartbeat_interval_seconds, 3600.0);
        }
        other => panic!("expected SUBSCRIBED, got {other:?}"),
    }
}

#[tokio::test]
async fn calls_from_strangers_fail_their_precondition() {
    let master = start(|_| {}).await;
    let kill = KillRequest {
        framework_id: "who".into(),
        task_id: "t".into(),
        kill_policy: None,
    };
    assert_eq!(
        code(master.scheduler().kill(kill).await),
        Code::FailedPrecondition
    );
    let beat = HeartbeatRequest {
        agent_id: "who".into(),
    };
    assert_eq!(
        code(master.agents().heartbeat(beat).await),
        Code::FailedPrecondition
    );
    let message = ExecutorMessageRequest {
        agent_id: "who".into(),
        ..ExecutorMessageRequest::default()
    };
    assert_eq!(
        code(master.agents().executor_message(message).await),
        Code::FailedPrecondition
    );
}

#[tokio::test]
async fn agent_calls_with_bad_fields_are_invalid_arguments() {
    let master = start(|_| {}).await;
    let result = master.agents().register(RegisterRequest::default()).await;
    assert_eq!(code(result), Code::InvalidArgument);
    let bad_resources = RegisterRequest {
        agent: Some(AgentInfo {
            resources: Some(Resources {
                resources: vec![Resource {
                    name: "cpus".into(),
                    value: f64::NAN,
                    ..Resource::default()
                }],
            }),
            ..AgentInfo::default()
        }),
        ..RegisterRequest::default()
    };
    let result = master.agents().register(bad_resources).await;
    assert!(message(result).contains("agent.resources"));
    let agent = master.register(cpus_mem(1.0, 1e9), "").await;
    let bad_state = StatusUpdates {
        agent_id: agent.id.clone(),
        statuses: vec![TaskStatus {
            task_id: "t".into(),
            state: 4242,
            ..TaskStatus::default()
        }],
    };
    let result = master.agents().update_status(bad_state).await;
    assert!(message(result).contains("statuses[0].state"));
    assert_eq!(
        code(master.agents().heartbeat(HeartbeatRequest::default()).await),
        Code::InvalidArgument
    );
}

#[tokio::test]
async fn operator_calls_on_unknown_tasks_are_not_found() {
    let master = start(|_| {}).await;
    let mut operator = master.operator();
    let kill = KillTaskRequest {
        task_id: "ghost".into(),
        ..Default::default()
    };
    assert_eq!(code(operator.kill_task(kill).await), Code::NotFound);
    let read = ReadFileRequest {
        task_id: "ghost".into(),
        ..ReadFileRequest::default()
    };
    assert_eq!(code(operator.read_task_file(read).await), Code::NotFound);
    let no_id = ReadFileRequest::default();
    assert_eq!(
        code(operator.read_task_file(no_id).await),
        Code::InvalidArgument
    );
    assert_eq!(code(operator.get_state(GetStateRequest {}).await), Code::Ok);
}

/// Sends raw bytes as the request body, to see what the master does with undecodable input.
#[derive(Clone, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let len = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, len).to_vec()))
    }
}

#[tokio::test]
async fn undecodable_bodies_are_refused_and_the_master_keeps_serving() {
    let master = start(|_| {}).await;
    let garbage: Vec<Vec<u8>> = vec![
        vec![0xff; 32],
        vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
        b"definitely not protobuf".to_vec(),
    ];
    for path in [
        "/wasmesos.v1.Scheduler/Accept",
        "/wasmesos.v1.AgentChannel/UpdateStatus",
        "/wasmesos.v1.Operator/KillTask",
    ] {
        for body in &garbage {
            let mut grpc = tonic::client::Grpc::new(master.channel.clone());
            grpc.ready().await.expect("ready");
            let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
            let result = grpc
                .unary(tonic::Request::new(body.clone()), path, RawCodec)
                .await;
            let status = result.err().unwrap_or_else(|| panic!("garbage accepted"));
            // gRPC's status code guide says INTERNAL for bytes that do not parse; a panic
            // would instead surface as a reset stream (UNKNOWN / UNAVAILABLE).
            assert_eq!(status.code(), Code::Internal, "{status:?}");
            assert!(status.message().contains("decod"), "{status:?}");
        }
    }
    assert_eq!(
        code(master.operator().get_state(GetStateRequest {}).await),
        Code::Ok
    );
}
