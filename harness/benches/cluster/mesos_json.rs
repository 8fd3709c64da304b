//! The same workloads over Mesos's v1 scheduler HTTP API in JSON, as a Mesos framework
//! without a library drives it: SUBSCRIBE's RecordIO stream read on one connection, calls
//! (ACCEPT, DECLINE, one ACKNOWLEDGE per update) POSTed on a keep-alive connection pool,
//! acknowledgements sent concurrently as a Mesos library does, tasks launched by the
//! `wasmesos://sha256:` URI of the uploaded component.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use wasmesos_master::mesos::recordio::Decoder;

use super::{BenchResult, TASK_CPUS, TASK_MEM};

/// Acknowledgements in flight at once.
const ACKS_IN_FLIGHT: usize = 32;

/// A subscribed Mesos framework: its event stream and how to call the master.
struct MesosFramework {
    http: reqwest::Client,
    url: String,
    framework_id: String,
    stream_id: String,
    events: mpsc::Receiver<Value>,
    reader: tokio::task::JoinHandle<()>,
    acks: JoinSet<Result<(), String>>,
    ack_slots: Arc<Semaphore>,
}

impl MesosFramework {
    async fn subscribe(master: &str, name: &str) -> BenchResult<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(ACKS_IN_FLIGHT)
            .build()?;
        let url = format!("{}/api/v1/scheduler", master.trim_end_matches('/'));
        let call = json!({
            "type": "SUBSCRIBE",
            "subscribe": {"framework_info": {"user": "bench", "name": name}}
        });
        let mut response = http
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(call.to_string())
            .send()
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
        // Bounded as the master bounds a framework's queue: a slow reader stalls the stream.
        let (tx, mut events) = mpsc::channel(4096);
        let reader = tokio::spawn(async move {
            let mut decoder = Decoder::new(16 << 20);
            while let Ok(Some(chunk)) = response.chunk().await {
                let Ok(records) = decoder.feed(&chunk) else {
                    return;
                };
                for record in records {
                    if let Ok(event) = serde_json::from_slice::<Value>(&record)
                        && tx.send(event).await.is_err()
                    {
                        return;
                    }
                }
            }
        });
        let subscribed = events.recv().await.ok_or("the stream ended")?;
        let framework_id = subscribed["subscribed"]["framework_id"]["value"]
            .as_str()
            .ok_or("no SUBSCRIBED first")?
            .to_string();
        Ok(Self {
            http,
            url,
            framework_id,
            stream_id,
            events,
            reader,
            acks: JoinSet::new(),
            ack_slots: Arc::new(Semaphore::new(ACKS_IN_FLIGHT)),
        })
    }

    async fn next_event(&mut self) -> BenchResult<Value> {
        Ok(
            tokio::time::timeout(Duration::from_secs(60), self.events.recv())
                .await?
                .ok_or("the event stream ended")?,
        )
    }

    /// Sends `call` for this framework and checks Mesos's 202.
    async fn call(&self, mut call: Value) -> BenchResult<()> {
        call["framework_id"] = json!({"value": self.framework_id});
        post(&self.http, &self.url, &self.stream_id, call).await
    }

    /// ACKNOWLEDGE of `status` (if it asks for one), sent without waiting for the answer.
    async fn acknowledge(&mut self, status: &Value) -> BenchResult<()> {
        let Some(uuid) = status["uuid"].as_str() else {
            return Ok(());
        };
        let call = json!({
            "type": "ACKNOWLEDGE",
            "framework_id": {"value": self.framework_id},
            "acknowledge": {
                "agent_id": status["agent_id"],
                "task_id": status["task_id"],
                "uuid": uuid,
            }
        });
        let permit = Arc::clone(&self.ack_slots).acquire_owned().await?;
        let (http, url, stream_id) = (self.http.clone(), self.url.clone(), self.stream_id.clone());
        self.acks.spawn(async move {
            let sent = post(&http, &url, &stream_id, call).await;
            drop(permit);
            sent.map_err(|err| err.to_string())
        });
        // Collect the acknowledgements already answered, so errors surface.
        while let Some(done) = self.acks.try_join_next() {
            done??;
        }
        Ok(())
    }

    /// Waits until every acknowledgement sent so far is answered.
    async fn flush_acks(&mut self) -> BenchResult<()> {
        while let Some(done) = self.acks.join_next().await {
            done??;
        }
        Ok(())
    }

    async fn teardown(mut self) -> BenchResult<()> {
        self.flush_acks().await?;
        self.call(json!({"type": "TEARDOWN"})).await?;
        self.reader.abort();
        Ok(())
    }
}

async fn post(http: &reqwest::Client, url: &str, stream_id: &str, call: Value) -> BenchResult<()> {
    let response = http
        .post(url)
        .header("Content-Type", "application/json")
        .header("Mesos-Stream-Id", stream_id)
        .body(call.to_string())
        .send()
        .await?;
    let status = response.status();
    if status != reqwest::StatusCode::ACCEPTED {
        let text = response.text().await.unwrap_or_default();
        return Err(format!("{} answered {status}: {text}", call["type"]).into());
    }
    Ok(())
}

/// Unreserved cpus and mem (MB) of a Mesos offer.
fn capacity(offer: &Value) -> (f64, f64) {
    let (mut cpus, mut mem) = (0.0, 0.0);
    for resource in offer["resources"].as_array().into_iter().flatten() {
        if resource
            .get("reservations")
            .and_then(Value::as_array)
            .is_some_and(|r| !r.is_empty())
        {
            continue;
        }
        let value = resource["scalar"]["value"].as_f64().unwrap_or(0.0);
        match resource["name"].as_str() {
            Some("cpus") => cpus += value,
            Some("mem") => mem += value,
            _ => {}
        }
    }
    (cpus, mem)
}

fn task_mem_mb() -> f64 {
    (TASK_MEM >> 20) as f64
}

/// One hello task on `offer`'s agent, launched by the component's URI.
fn task(task_id: &str, offer: &Value, digest: &str) -> Value {
    json!({
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
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

fn accept(offer_ids: Vec<Value>, tasks: Vec<Value>) -> Value {
    json!({
        "type": "ACCEPT",
        "accept": {
            "offer_ids": offer_ids,
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
            "filters": {"refuse_seconds": 0.0}
        }
    })
}

fn decline(offer_ids: Vec<Value>, seconds: f64) -> Value {
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
        match event["type"].as_str() {
            Some("OFFERS") => {
                for offer in event["offers"]["offers"].as_array().into_iter().flatten() {
                    let (mut cpus, mut mem) = capacity(offer);
                    let mut tasks = Vec::new();
                    while launched < total && cpus >= TASK_CPUS - 1e-9 && mem >= task_mem_mb() {
                        cpus -= TASK_CPUS;
                        mem -= task_mem_mb();
                        tasks.push(task(&format!("j{round}-t{launched}"), offer, digest));
                        launched += 1;
                    }
                    if tasks.is_empty() {
                        framework
                            .call(decline(vec![offer["id"].clone()], 60.0))
                            .await?;
                        continue;
                    }
                    started.get_or_insert_with(Instant::now);
                    framework
                        .call(accept(vec![offer["id"].clone()], tasks))
                        .await?;
                }
            }
            Some("UPDATE") => {
                let status = &event["update"]["status"];
                framework.acknowledge(status).await?;
                let state = status["state"].as_str().unwrap_or_default();
                if is_terminal(state) {
                    finished += 1;
                    if state != "TASK_FINISHED" {
                        failed += 1;
                    }
                }
            }
            Some("ERROR") => return Err(format!("ERROR event: {event}").into()),
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
    let mut pending: Vec<Value> = Vec::new();
    // The task launched, when its ACCEPT was sent, and whether it ran.
    let mut current: Option<(String, Instant, bool)> = None;
    while sample < samples || current.is_some() {
        if current.is_none() && sample < samples && !pending.is_empty() {
            let offer = pending.remove(0);
            let rest: Vec<Value> = pending.drain(..).map(|o| o["id"].clone()).collect();
            if !rest.is_empty() {
                framework.call(decline(rest, 0.0)).await?;
            }
            let task_id = format!("json-latency-{sample}");
            sample += 1;
            let launch = accept(
                vec![offer["id"].clone()],
                vec![task(&task_id, &offer, digest)],
            );
            let at = Instant::now();
            framework.call(launch).await?;
            current = Some((task_id, at, false));
        }
        let event = framework.next_event().await?;
        match event["type"].as_str() {
            Some("OFFERS") => {
                pending.extend(
                    event["offers"]["offers"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default(),
                );
            }
            Some("RESCIND") => {
                let id = &event["rescind"]["offer_id"];
                pending.retain(|o| o["id"] != *id);
            }
            Some("UPDATE") => {
                let status = event["update"]["status"].clone();
                let state = status["state"].as_str().unwrap_or_default();
                if let Some((task_id, at, seen)) = &mut current
                    && status["task_id"]["value"] == task_id.as_str()
                {
                    if state == "TASK_RUNNING" && !*seen {
                        running.push(at.elapsed());
                        *seen = true;
                    }
                    if is_terminal(state) {
                        if !*seen {
                            return Err(format!(
                                "{task_id} ended {state} without running: {status}"
                            )
                            .into());
                        }
                        current = None;
                    }
                }
                framework.acknowledge(&status).await?;
            }
            Some("ERROR") => return Err(format!("ERROR event: {event}").into()),
            _ => {}
        }
    }
    framework.teardown().await?;
    running.sort();
    Ok(running)
}
