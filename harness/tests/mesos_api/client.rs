//! A raw Mesos scheduler HTTP client, as a framework without a library would write it: one
//! HTTP/1.1 connection per call, and a RecordIO reader over SUBSCRIBE's chunked body.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use wasmesos_master::mesos::recordio::Decoder;

pub const JSON: &str = "application/json";
pub const PROTOBUF: &str = "application/x-protobuf";

/// Deadline for one event on a busy 2-core box.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// `host:port` of a master URL.
pub fn authority(master_url: &str) -> String {
    master_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// A plain HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> hyper::Response<Incoming> {
    send_method(hyper::Method::POST, authority, path, headers, body).await
}

async fn send_method(
    method: hyper::Method,
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> hyper::Response<Incoming> {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect to the master");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("Host", authority);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .expect("a request");
    sender.send_request(request).await.expect("an answer")
}

/// POSTs `body` to `path` and reads the whole answer.
pub async fn post(authority: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let response = send(authority, path, headers, body).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body")
        .to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

/// GETs `path` and reads the whole answer.
pub async fn get(authority: &str, path: &str) -> Answer {
    let response = send_method(hyper::Method::GET, authority, path, &[], Vec::new()).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body")
        .to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

/// A GET answer's body as JSON.
pub async fn get_json(authority: &str, path: &str) -> Value {
    let answer = get(authority, path).await;
    assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text());
    serde_json::from_slice(&answer.body).expect("JSON")
}

/// A scheduler call in JSON on the framework's stream.
pub async fn call(authority: &str, stream_id: &str, call: &Value) -> Answer {
    post(
        authority,
        "/api/v1/scheduler",
        &[("Content-Type", JSON), ("Mesos-Stream-Id", stream_id)],
        call.to_string().into_bytes(),
    )
    .await
}

/// An open SUBSCRIBE stream.
pub struct Events {
    pub status: StatusCode,
    pub headers: HeaderMap,
    body: Incoming,
    decoder: Decoder,
    ready: VecDeque<Bytes>,
}

impl Events {
    /// The `Mesos-Stream-Id` of this stream.
    pub fn stream_id(&self) -> String {
        self.headers
            .get("Mesos-Stream-Id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// The next raw record, within [`PATIENCE`]; `None` once the stream ended.
    pub async fn next_record(&mut self) -> Option<Bytes> {
        tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(record) = self.ready.pop_front() {
                    return Some(record);
                }
                let frame = self.body.frame().await?.ok()?;
                if let Ok(data) = frame.into_data() {
                    let records = self.decoder.feed(&data).expect("well-formed RecordIO");
                    self.ready.extend(records);
                }
            }
        })
        .await
        .expect("an event within the deadline")
    }

    /// The next event as JSON.
    pub async fn next(&mut self) -> Option<Value> {
        let record = self.next_record().await?;
        Some(serde_json::from_slice(&record).expect("an event in JSON"))
    }

    /// Reads events until one of type `kind` for which `pick` answers; panics at the end of
    /// the stream or after [`PATIENCE`] in all (heartbeats do not extend it), naming the
    /// last events seen.
    pub async fn wait_for<T>(
        &mut self,
        kind: &str,
        mut pick: impl FnMut(&Value) -> Option<T>,
    ) -> T {
        let mut seen: VecDeque<String> = VecDeque::new();
        let wait = async {
            loop {
                let event = self
                    .next()
                    .await
                    .unwrap_or_else(|| panic!("the stream ended before a {kind} event"));
                if event["type"] == kind
                    && let Some(found) = pick(&event)
                {
                    return found;
                }
                if seen.len() == 5 {
                    seen.pop_front();
                }
                let mut text = event.to_string();
                text.truncate(300);
                seen.push_back(text);
            }
        };
        match tokio::time::timeout(PATIENCE, wait).await {
            Ok(found) => found,
            Err(_) => panic!("no {kind} event within {PATIENCE:?}; the last ones: {seen:?}"),
        }
    }

    /// The next OFFERS event's offers.
    pub async fn offers(&mut self) -> Vec<Value> {
        self.wait_for("OFFERS", |e| {
            e["offers"]["offers"]
                .as_array()
                .filter(|o| !o.is_empty())
                .cloned()
        })
        .await
    }

    /// Reads UPDATEs of `task_id` until `state`, acknowledging every one that carries a uuid
    /// (as a framework must); returns that status.
    pub async fn wait_for_state(
        &mut self,
        authority: &str,
        framework_id: &str,
        task_id: &str,
        state: &str,
    ) -> Value {
        let stream_id = self.stream_id();
        loop {
            let status = self
                .wait_for("UPDATE", |e| {
                    let status = &e["update"]["status"];
                    (status["task_id"]["value"] == task_id).then(|| status.clone())
                })
                .await;
            if let Some(uuid) = status["uuid"].as_str() {
                let ack = json!({
                    "type": "ACKNOWLEDGE",
                    "framework_id": {"value": framework_id},
                    "acknowledge": {
                        "agent_id": status["agent_id"],
                        "task_id": {"value": task_id},
                        "uuid": uuid,
                    }
                });
                let answer = call(authority, &stream_id, &ack).await;
                assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
            }
            if status["state"] == state {
                return status;
            }
        }
    }
}

/// SUBSCRIBE with `body`, asking for `accept`; the stream is open when this returns.
pub async fn subscribe_raw(authority: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Events {
    stream(authority, "/api/v1/scheduler", headers, body).await
}

/// POSTs `body` to `path` and opens its RecordIO answer as a stream of records.
pub async fn stream(
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Events {
    let response = send(authority, path, headers, body).await;
    Events {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.into_body(),
        decoder: Decoder::new(4 << 20),
        ready: VecDeque::new(),
    }
}

/// A SUBSCRIBE call in JSON for a framework named `name`; `extra` is merged into its
/// FrameworkInfo.
pub fn subscribe_call(name: &str, extra: Value) -> Value {
    let mut info = json!({"user": "test", "name": name});
    if let (Some(info), Some(extra)) = (info.as_object_mut(), extra.as_object()) {
        info.extend(extra.clone());
    }
    let mut call = json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}});
    if let Some(id) = extra.get("id") {
        call["framework_id"] = id.clone();
    }
    call
}

/// A subscribed framework: its stream, id and stream id.
pub struct Framework {
    pub authority: String,
    pub events: Events,
    pub framework_id: String,
    pub stream_id: String,
}

impl Framework {
    /// Subscribes in JSON and reads SUBSCRIBED.
    pub async fn subscribe(authority: &str, call: &Value) -> Framework {
        let mut events = subscribe_raw(
            authority,
            &[("Content-Type", JSON), ("Accept", JSON)],
            call.to_string().into_bytes(),
        )
        .await;
        assert_eq!(events.status, StatusCode::OK);
        let subscribed = events.next().await.expect("SUBSCRIBED");
        assert_eq!(subscribed["type"], "SUBSCRIBED", "{subscribed}");
        let framework_id = subscribed["subscribed"]["framework_id"]["value"]
            .as_str()
            .expect("a framework id")
            .to_string();
        let stream_id = events.stream_id();
        Framework {
            authority: authority.to_string(),
            events,
            framework_id,
            stream_id,
        }
    }

    /// Sends `call` (a JSON object without `framework_id`) for this framework.
    pub async fn call(&self, mut body: Value) -> Answer {
        body["framework_id"] = json!({"value": self.framework_id});
        call(&self.authority, &self.stream_id, &body).await
    }

    /// Sends `body` and asserts Mesos's 202 with an empty body.
    pub async fn accepted(&self, body: Value) {
        let answer = self.call(body).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
        assert!(answer.body.is_empty());
    }

    /// Launches one task on `offer`: `command` is its CommandInfo, 0.1 cpus and 64 MB.
    pub async fn launch(&self, offer: &Value, task_id: &str, command: Value) {
        let task = json!({
            "name": task_id,
            "task_id": {"value": task_id},
            "agent_id": offer["agent_id"],
            "resources": [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                {"name": "mem", "type": "SCALAR", "scalar": {"value": 64}}
            ],
            "command": command,
        });
        self.accepted(json!({
            "type": "ACCEPT",
            "accept": {
                "offer_ids": [offer["id"]],
                "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
                "filters": {"refuse_seconds": 0.1}
            }
        }))
        .await;
    }

    pub async fn wait_for_state(&mut self, task_id: &str, state: &str) -> Value {
        let (authority, framework_id) = (self.authority.clone(), self.framework_id.clone());
        self.events
            .wait_for_state(&authority, &framework_id, task_id, state)
            .await
    }
}
