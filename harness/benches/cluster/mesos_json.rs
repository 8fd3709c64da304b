//! The same workloads over Mesos's v1 scheduler HTTP API in JSON, as a Mesos framework
//! written against the HTTP API drives it from one event loop: SUBSCRIBE's RecordIO stream
//! read on its own connection with each event decoded into typed structs (as mesos-go's v1
//! client does), ACCEPT and DECLINE on a keep-alive connection, and one ACKNOWLEDGE per update
//! sent without waiting for the answer, up to [`CONNECTIONS`] at once on keep-alive HTTP/1.1
//! connections. Tasks are launched by the `wasmesos://sha256:` URI of the uploaded component.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use wasmesos_master::mesos::recordio::Decoder;

use super::{BenchResult, TASK_CPUS, TASK_MEM};

/// Keep-alive connections for acknowledgements, and so acknowledgements in flight at once.
const CONNECTIONS: usize = 128;

const PATH: &str = "/api/v1/scheduler";

/// The parts of Mesos's `scheduler::Event` this framework reads.
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    subscribed: Option<Subscribed>,
    offers: Option<Offers>,
    rescind: Option<Rescind>,
    update: Option<Update>,
    error: Option<ErrorEvent>,
}

#[derive(Deserialize)]
struct Subscribed {
    framework_id: Id,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
struct Id {
    value: String,
}

#[derive(Deserialize)]
struct Offers {
    #[serde(default)]
    offers: Vec<Offer>,
}

#[derive(Clone, Deserialize)]
struct Offer {
    id: Id,
    agent_id: Id,
    #[serde(default)]
    resources: Vec<Resource>,
}

#[derive(Clone, Deserialize)]
struct Resource {
    name: String,
    scalar: Option<Scalar>,
    #[serde(default)]
    reservations: Vec<IgnoredAny>,
}

#[derive(Clone, Deserialize)]
struct Scalar {
    value: f64,
}

#[derive(Deserialize)]
struct Rescind {
    offer_id: Id,
}

#[derive(Deserialize)]
struct Update {
    status: Status,
}

#[derive(Deserialize)]
struct Status {
    task_id: Id,
    state: String,
    agent_id: Option<Id>,
    uuid: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEvent {
    message: String,
}

#[derive(Serialize)]
struct AcknowledgeCall<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    framework_id: &'a Id,
    acknowledge: Acknowledge<'a>,
}

#[derive(Serialize)]
struct Acknowledge<'a> {
    agent_id: &'a Id,
    task_id: &'a Id,
    uuid: &'a str,
}

type Connection = Pin<Box<hyper::client::conn::http1::Connection<TokioIo<TcpStream>, Full<Bytes>>>>;

/// One keep-alive HTTP/1.1 connection. Its I/O is driven by the task that uses it (not a
/// task of its own), so an answer wakes the caller directly.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    connection: Connection,
}

impl Conn {
    async fn open(authority: &str) -> BenchResult<Self> {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        Ok(Self {
            sender,
            connection: Box::pin(connection),
        })
    }

    /// Runs `work` while driving the connection's I/O.
    async fn drive<T>(
        connection: &mut Connection,
        work: impl Future<Output = BenchResult<T>>,
    ) -> BenchResult<T> {
        tokio::pin!(work);
        tokio::select! {
            result = &mut work => result,
            ended = connection.as_mut() => match ended {
                Ok(()) => Err("the connection closed".into()),
                Err(err) => Err(err.into()),
            },
        }
    }

    /// Sends `request` and reads its whole answer.
    async fn exchange(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> BenchResult<(StatusCode, Bytes)> {
        let sender = &mut self.sender;
        Self::drive(&mut self.connection, async move {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok((status, body))
        })
        .await
    }
}

/// A call's POST request.
fn request(authority: &str, stream_id: &str, body: Vec<u8>) -> BenchResult<Request<Full<Bytes>>> {
    Ok(Request::post(PATH)
        .header("Host", authority)
        .header("Content-Type", "application/json")
        .header("Mesos-Stream-Id", stream_id)
        .body(Full::new(Bytes::from(body)))?)
}

/// Sends one call on `conn` and checks Mesos's 202.
async fn post_on(conn: &mut Conn, request: Request<Full<Bytes>>) -> BenchResult<()> {
    let (status, text) = conn.exchange(request).await?;
    if status != StatusCode::ACCEPTED {
        let text = String::from_utf8_lossy(&text);
        return Err(format!("a call answered {status}: {text}").into());
    }
    Ok(())
}

/// An acknowledgement in flight; it gives its connection back when answered.
type InFlight = Pin<Box<dyn Future<Output = BenchResult<Conn>> + Send>>;

/// A subscribed Mesos framework: its event stream and how to call the master. One task
/// runs it all, as an event loop: reading the stream also moves the acknowledgements in
/// flight along.
struct MesosFramework {
    authority: String,
    stream_id: String,
    framework_id: Id,
    stream: Incoming,
    stream_connection: Connection,
    decoder: Decoder,
    records: VecDeque<Bytes>,
    /// ACCEPT, DECLINE and TEARDOWN, one at a time.
    control: Conn,
    /// Keep-alive connections for acknowledgements, each carrying one at a time.
    idle: Vec<Conn>,
    acks: FuturesUnordered<InFlight>,
}

impl MesosFramework {
    async fn subscribe(master: &str, name: &str) -> BenchResult<Self> {
        let authority = master
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let call = json!({
            "type": "SUBSCRIBE",
            "subscribe": {"framework_info": {"user": "bench", "name": name}}
        });
        let Conn {
            mut sender,
            connection: mut stream_connection,
        } = Conn::open(&authority).await?;
        let request = Request::post(PATH)
            .header("Host", &authority)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(Full::new(Bytes::from(call.to_string())))?;
        let response = Conn::drive(&mut stream_connection, async move {
            Ok(sender.send_request(request).await?)
        })
        .await?;
        if !response.status().is_success() {
            return Err(format!("SUBSCRIBE answered {}", response.status()).into());
        }
        let stream_id = response
            .headers()
            .get("Mesos-Stream-Id")
            .and_then(|v| v.to_str().ok())
            .ok_or("no Mesos-Stream-Id")?
            .to_string();
        let mut idle = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            idle.push(Conn::open(&authority).await?);
        }
        let mut framework = Self {
            control: Conn::open(&authority).await?,
            authority,
            stream_id,
            framework_id: Id {
                value: String::new(),
            },
            stream: response.into_body(),
            stream_connection,
            decoder: Decoder::new(16 << 20),
            records: VecDeque::new(),
            idle,
            acks: FuturesUnordered::new(),
        };
        let subscribed = framework.next_event().await?;
        framework.framework_id = subscribed
            .subscribed
            .ok_or("no SUBSCRIBED first")?
            .framework_id;
        Ok(framework)
    }

    /// The next event of the stream; acknowledgements in flight move along meanwhile.
    async fn next_event(&mut self) -> BenchResult<Event> {
        loop {
            if let Some(record) = self.records.pop_front() {
                return Ok(serde_json::from_slice(&record)?);
            }
            let (stream, acks, idle) = (&mut self.stream, &mut self.acks, &mut self.idle);
            let next = Conn::drive(&mut self.stream_connection, async move {
                loop {
                    tokio::select! {
                        frame = stream.frame() => {
                            return Ok(frame.ok_or("the event stream ended")??);
                        }
                        Some(done) = acks.next(), if !acks.is_empty() => idle.push(done?),
                    }
                }
            });
            let frame = tokio::time::timeout(Duration::from_secs(60), next).await??;
            if let Ok(data) = frame.into_data() {
                self.records.extend(self.decoder.feed(&data)?);
            }
        }
    }

    /// Sends `call` for this framework and checks Mesos's 202.
    async fn call(&mut self, mut call: Value) -> BenchResult<()> {
        call["framework_id"] = json!({"value": self.framework_id.value});
        let request = request(
            &self.authority,
            &self.stream_id,
            call.to_string().into_bytes(),
        )?;
        post_on(&mut self.control, request).await
    }

    /// ACKNOWLEDGE of `status` (if it asks for one), sent without waiting for the answer.
    async fn acknowledge(&mut self, status: &Status) -> BenchResult<()> {
        let (Some(uuid), Some(agent_id)) = (&status.uuid, &status.agent_id) else {
            return Ok(());
        };
        let body = serde_json::to_vec(&AcknowledgeCall {
            kind: "ACKNOWLEDGE",
            framework_id: &self.framework_id,
            acknowledge: Acknowledge {
                agent_id,
                task_id: &status.task_id,
                uuid,
            },
        })?;
        // With every connection busy, wait for an answer: at most CONNECTIONS in flight.
        let mut conn = match self.idle.pop() {
            Some(conn) => conn,
            None => self.acks.next().await.ok_or("no connection")??,
        };
        let request = request(&self.authority, &self.stream_id, body)?;
        self.acks.push(Box::pin(async move {
            post_on(&mut conn, request).await?;
            Ok(conn)
        }));
        Ok(())
    }

    /// Waits until every acknowledgement sent so far is answered.
    async fn flush_acks(&mut self) -> BenchResult<()> {
        while let Some(done) = self.acks.next().await {
            self.idle.push(done?);
        }
        Ok(())
    }

    async fn teardown(mut self) -> BenchResult<()> {
        self.flush_acks().await?;
        self.call(json!({"type": "TEARDOWN"})).await
    }
}

/// Unreserved cpus and mem (MB) of a Mesos offer.
fn capacity(offer: &Offer) -> (f64, f64) {
    let (mut cpus, mut mem) = (0.0, 0.0);
    for resource in &offer.resources {
        if !resource.reservations.is_empty() {
            continue;
        }
        let value = resource.scalar.as_ref().map_or(0.0, |s| s.value);
        match resource.name.as_str() {
            "cpus" => cpus += value,
            "mem" => mem += value,
            _ => {}
        }
    }
    (cpus, mem)
}

fn task_mem_mb() -> f64 {
    (TASK_MEM >> 20) as f64
}

/// One hello task on `offer`'s agent, launched by the component's URI.
fn task(task_id: &str, offer: &Offer, digest: &str) -> Value {
    json!({
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer.agent_id,
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": TASK_CPUS}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": task_mem_mb()}}
        ],
        "command": {
            "shell": false,
            "value": format!("wasmesos://sha256:{digest}"),
            "arguments": ["hello"]
        },
    })
}

fn accept(offer_ids: Vec<&Id>, tasks: Vec<Value>) -> Value {
    json!({
        "type": "ACCEPT",
        "accept": {
            "offer_ids": offer_ids,
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
            "filters": {"refuse_seconds": 0.0}
        }
    })
}

fn decline(offer_ids: Vec<&Id>, seconds: f64) -> Value {
    json!({
        "type": "DECLINE",
        "decline": {"offer_ids": offer_ids, "filters": {"refuse_seconds": seconds}}
    })
}

fn is_terminal(state: &str) -> bool {
    matches!(
        state,
        "TASK_FINISHED"
            | "TASK_FAILED"
            | "TASK_KILLED"
            | "TASK_LOST"
            | "TASK_ERROR"
            | "TASK_DROPPED"
            | "TASK_GONE"
            | "TASK_GONE_BY_OPERATOR"
    )
}

fn error_event(event: &Event) -> String {
    let message = event.error.as_ref().map_or("", |e| e.message.as_str());
    format!("{} event: {message}", event.kind)
}

/// `total` hello tasks launched as fast as offers allow, from the first ACCEPT to the
/// last FINISHED acknowledged: tasks per second.
pub(super) async fn throughput(
    master: &str,
    digest: &str,
    total: usize,
    round: usize,
) -> BenchResult<f64> {
    let mut framework = MesosFramework::subscribe(master, &format!("json-flood-{round}")).await?;
    let (mut launched, mut finished, mut failed) = (0, 0, 0);
    let mut started = None;
    while finished < total {
        let event = framework.next_event().await?;
        match event.kind.as_str() {
            "OFFERS" => {
                for offer in event.offers.map(|o| o.offers).unwrap_or_default() {
                    let (mut cpus, mut mem) = capacity(&offer);
                    let mut tasks = Vec::new();
                    while launched < total && cpus >= TASK_CPUS - 1e-9 && mem >= task_mem_mb() {
                        cpus -= TASK_CPUS;
                        mem -= task_mem_mb();
                        tasks.push(task(&format!("j{round}-t{launched}"), &offer, digest));
                        launched += 1;
                    }
                    if tasks.is_empty() {
                        framework.call(decline(vec![&offer.id], 60.0)).await?;
                        continue;
                    }
                    started.get_or_insert_with(Instant::now);
                    framework.call(accept(vec![&offer.id], tasks)).await?;
                }
            }
            "UPDATE" => {
                let status = event.update.ok_or("UPDATE without update")?.status;
                framework.acknowledge(&status).await?;
                if is_terminal(&status.state) {
                    finished += 1;
                    if status.state != "TASK_FINISHED" {
                        failed += 1;
                    }
                }
            }
            "ERROR" => return Err(error_event(&event).into()),
            _ => {}
        }
    }
    framework.flush_acks().await?;
    let elapsed = started.ok_or("no task was launched")?.elapsed();
    if failed > 0 {
        eprintln!("warning: {failed} of {total} JSON tasks did not finish");
    }
    framework.teardown().await?;
    Ok(total as f64 / elapsed.as_secs_f64())
}

/// ACCEPT → TASK_RUNNING for `samples` tasks launched one at a time, sorted. Offers that
/// arrive while a task runs are kept (as the gRPC figure's framework keeps them) and the
/// next task goes on one of them.
pub(super) async fn latency(
    master: &str,
    digest: &str,
    samples: usize,
) -> BenchResult<Vec<Duration>> {
    let mut framework = MesosFramework::subscribe(master, "json-latency").await?;
    let mut running = Vec::with_capacity(samples);
    let mut sample = 0;
    let mut pending: Vec<Offer> = Vec::new();
    // The task launched, when its ACCEPT was sent, and whether it ran.
    let mut current: Option<(String, Instant, bool)> = None;
    while sample < samples || current.is_some() {
        if current.is_none() && sample < samples && !pending.is_empty() {
            let offer = pending.remove(0);
            let rest: Vec<&Id> = pending.iter().map(|o| &o.id).collect();
            if !rest.is_empty() {
                framework.call(decline(rest, 0.0)).await?;
                pending.clear();
            }
            let task_id = format!("json-latency-{sample}");
            sample += 1;
            let launch = accept(vec![&offer.id], vec![task(&task_id, &offer, digest)]);
            let at = Instant::now();
            framework.call(launch).await?;
            current = Some((task_id, at, false));
        }
        let event = framework.next_event().await?;
        match event.kind.as_str() {
            "OFFERS" => pending.extend(event.offers.map(|o| o.offers).unwrap_or_default()),
            "RESCIND" => {
                if let Some(rescind) = event.rescind {
                    pending.retain(|o| o.id != rescind.offer_id);
                }
            }
            "UPDATE" => {
                let status = event.update.ok_or("UPDATE without update")?.status;
                if let Some((task_id, at, seen)) = &mut current
                    && status.task_id.value == *task_id
                {
                    if status.state == "TASK_RUNNING" && !*seen {
                        running.push(at.elapsed());
                        *seen = true;
                    }
                    if is_terminal(&status.state) {
                        if !*seen {
                            return Err(format!(
                                "{task_id} ended {} without running",
                                status.state
                            )
                            .into());
                        }
                        current = None;
                    }
                }
                framework.acknowledge(&status).await?;
            }
            "ERROR" => return Err(error_event(&event).into()),
            _ => {}
        }
    }
    framework.teardown().await?;
    running.sort();
    Ok(running)
}
