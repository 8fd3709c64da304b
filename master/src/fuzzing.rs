//! For the fuzz targets only (`fuzz-targets/`, `fuzz/`): the decoders of what a stranger
//! sends over HTTP, reachable from outside the crate. Not an API; nothing else calls these.
//!
//! Each function runs the handlers' own decoding and checks on its input and throws the
//! result away: what a fuzzer looks for is a panic, a stall or unbounded growth on the way.

use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use bytes::Bytes;
use wasmesos_proto::mesos::v1 as mesos;
use wasmesos_proto::mesos::v1::{master, scheduler};

use crate::http::{files::ReadQuery, state::TaskQuery, state::task_state};
use crate::mesos::json::{self, MesosMessage};
use crate::mesos::{codec, operator, recordio, resources, sandbox, subscribe, tasks};

/// A body of `POST /api/v1/scheduler` and of `POST /api/v1` with this `Content-Type`,
/// decoded as the handlers decode it, checked and translated into native requests as far as
/// that goes without an actor; every message decoded is also written back as Mesos's JSON.
pub fn mesos_body(content_type: &str, body: &[u8]) {
    let Ok(value) = HeaderValue::from_str(content_type) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, value);
    let body = Bytes::copy_from_slice(body);
    if let Ok((call, format)) = codec::decode::<scheduler::Call>(&headers, &body, "Call") {
        scheduler_call(&call);
        json_round_trip(&call, format);
    }
    if let Ok((call, format)) = codec::decode::<master::Call>(&headers, &body, "Call") {
        let _ = operator::validate(&call);
        json_round_trip(&call, format);
    }
}

/// A scheduler call through the translations its handler makes before the actor.
fn scheduler_call(call: &scheduler::Call) {
    let _ = subscribe::subscribe_request(call);
    let _ = crate::mesos::scheduler::update_framework_checks(call);
    let Some(accept) = &call.accept else {
        return;
    };
    for op in &accept.operations {
        if let Some(launch) = &op.launch {
            for task in &launch.task_infos {
                task_info(task, None);
            }
        }
        if let Some(group) = &op.launch_group {
            for task in &group.task_group.tasks {
                task_info(task, Some(&group.executor));
            }
        }
        if let Some(reserve) = &op.reserve {
            let _ = resources::all_from_mesos(&reserve.resources);
        }
        if let Some(unreserve) = &op.unreserve {
            let _ = resources::all_from_mesos(&unreserve.resources);
        }
    }
}

fn task_info(task: &mesos::TaskInfo, executor: Option<&mesos::ExecutorInfo>) {
    let _ = tasks::task_from_mesos(task, executor);
    let _ = resources::all_from_mesos(&task.resources);
    let _ = json::to_json_string(task);
}

/// A decoded message written as JSON. For one read from JSON, reading that back and writing
/// it again gives the same text: the writer and the reader agree on every message the reader
/// accepts. (A protobuf body may hold enum numbers the `.proto` does not name, which the
/// writer writes as numbers and the reader, as Mesos's, refuses.)
fn json_round_trip<M: MesosMessage>(message: &M, format: codec::Format) {
    let Ok(text) = json::to_json_string(message) else {
        return;
    };
    if format != codec::Format::Json {
        return;
    }
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(err) => panic!("the JSON writer wrote what serde_json cannot read ({err}): {text}"),
    };
    let again: M = match json::from_json(&value) {
        Ok(again) => again,
        Err(err) => panic!("the JSON reader refuses what the writer wrote ({err}): {text}"),
    };
    match json::to_json_string(&again) {
        Ok(second) => assert_eq!(text, second, "JSON writing is not stable"),
        Err(err) => panic!("a message read back from JSON cannot be written ({err}): {text}"),
    }
}

/// A Mesos RecordIO event stream, fed in the pieces `cuts` says (each byte a piece's length).
pub fn recordio(cuts: &[u8], stream: &[u8]) {
    let mut decoder = recordio::Decoder::new(64 * 1024);
    let mut rest = stream;
    for cut in cuts.iter().chain(std::iter::once(&u8::MAX)) {
        let (piece, tail) = rest.split_at(usize::from(*cut).min(rest.len()));
        rest = tail;
        let Ok(records) = decoder.feed(piece) else {
            return;
        };
        for record in records {
            let _ = codec::decode::<scheduler::Event>(&protobuf_headers(), &record, "Event");
            let framed = recordio::frame(&record);
            let mut check = recordio::Decoder::new(record.len());
            assert_eq!(check.feed(&framed).ok(), Some(vec![record]));
        }
        if rest.is_empty() {
            return;
        }
    }
}

fn protobuf_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(codec::APPLICATION_PROTOBUF),
    );
    headers
}

/// A query string as `/tasks`, `/files/read` and `/files/browse` read it (`path` as a
/// Mesos sandbox path), and an `Accept` header as the Mesos APIs read it.
pub fn http_query(query: &str) {
    let Ok(uri) = format!("/q?{query}").parse::<Uri>() else {
        return;
    };
    let _ = Query::<TaskQuery>::try_from_uri(&uri);
    let _ = Query::<ReadQuery>::try_from_uri(&uri);
    if let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(&uri) {
        for (key, value) in &pairs {
            match key.as_str() {
                "path" => drop(sandbox::parse(value)),
                "state" => drop(task_state(value)),
                _ => {}
            }
        }
    }
    if let Ok(value) = HeaderValue::from_str(query) {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, value);
        let _ = codec::accept(&headers);
    }
}

/// A JSON array of Mesos `Resource`s, read as a call's resources are; the wasmesos resources
/// they stand for, if they are valid, after writing each back as Mesos would offer it.
pub fn mesos_resources(body: &[u8]) -> Option<wasmesos_proto::v1::Resources> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let list: Vec<mesos::Resource> = value
        .as_array()?
        .iter()
        .map(json::from_json)
        .collect::<Result<_, _>>()
        .ok()?;
    let native = resources::all_from_mesos(&list).ok()?;
    for resource in &native.resources {
        for format in [
            resources::ReservationFormat::Refined,
            resources::ReservationFormat::Legacy,
        ] {
            let mesos = resources::to_mesos(resource, Some(&resource.role), format);
            let _ = json::to_json_string(&mesos);
            let _ = resources::from_mesos(&mesos);
        }
    }
    Some(native)
}
