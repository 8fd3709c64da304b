//! Maintenance through Mesos's APIs, as an operator and a framework written for Mesos do it:
//! schedules refused with Mesos's messages, a scheduled machine's framework receiving an
//! inverse offer with the window and answering it, GET_MAINTENANCE_STATUS showing the
//! answers, `/machine/down` ending the task and refusing the agent, STOP_MAINTENANCE letting
//! it back and offered.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::StatusCode;
use serde_json::{Value, json};
use wasmesos_guest_artifacts::SLEEPY;
use wasmesos_harness::{eventually, eventually_some};

use crate::client::{Answer, Framework, JSON, PATIENCE, get_json, post, subscribe_call};
use crate::common::{cluster, upload};

/// The hostname the maintained agent announces; it shares 127.0.0.1 with the other agent.
const HOST: &str = "maint-a";
const HOUR: i64 = 3_600_000_000_000;

async fn operator(authority: &str, body: &Value) -> Answer {
    post(
        authority,
        "/api/v1",
        &[("Content-Type", JSON), ("Accept", JSON)],
        body.to_string().into_bytes(),
    )
    .await
}

async fn read(authority: &str, kind: &str) -> Value {
    let answer = operator(authority, &json!({"type": kind})).await;
    assert_eq!(answer.status, StatusCode::OK, "{kind}: {}", answer.text());
    serde_json::from_slice(&answer.body).expect("a JSON Response")
}

fn machine() -> Value {
    json!({"hostname": HOST, "ip": "127.0.0.1"})
}

fn update_schedule(windows: Value) -> Value {
    json!({"type": "UPDATE_MAINTENANCE_SCHEDULE",
           "update_maintenance_schedule": {"schedule": {"windows": windows}}})
}

fn window(machines: Value, start: i64, duration: i64) -> Value {
    json!({"machine_ids": machines,
           "unavailability": {"start": {"nanoseconds": start}, "duration": {"nanoseconds": duration}}})
}

/// Asserts Mesos's 400 and its message.
async fn refused(authority: &str, body: &Value, message: &str) {
    let answer = operator(authority, body).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    assert!(
        answer.text().contains(message),
        "expected {message:?}, got {:?}",
        answer.text()
    );
}

/// `future`'s output, or a panic naming `what` once [`PATIENCE`] (scaled) has passed: the
/// event loops below would otherwise wait for ever on a stream that heartbeats.
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(wasmesos_harness::scaled(PATIENCE), future)
        .await
        .unwrap_or_else(|_| panic!("no {what} within {PATIENCE:?}"))
}

fn now_nanos() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(since.as_nanos()).expect("before 2262")
}

/// The agents GET_AGENTS lists on `HOST`, by id.
async fn agents_on_host(authority: &str) -> Vec<String> {
    let agents = read(authority, "GET_AGENTS").await;
    agents["get_agents"]["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["agent_info"]["hostname"] == HOST)
        .filter_map(|a| a["agent_info"]["id"]["value"].as_str().map(String::from))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_is_scheduled_answered_taken_down_and_brought_up_as_mesos_does() {
    let (mut cluster, authority) = cluster().await;
    let digest = upload(&cluster, SLEEPY).await;
    let index = cluster
        .add_agent_with("cpus:4;mem:4GiB;disk:4GiB", |config| {
            config.hostname = Some(HOST.into());
        })
        .await
        .expect("an agent on the maintained machine");
    let agent_id = cluster.agent_id(index).expect("running").to_string();
    let mut framework = Framework::subscribe(&authority, &subscribe_call("maint", json!({}))).await;
    let offer = within("offer of the maintained agent", async {
        loop {
            let offers = framework.events.offers().await;
            if let Some(offer) = offers.iter().find(|o| o["agent_id"]["value"] == agent_id) {
                break offer.clone();
            }
        }
    })
    .await;
    assert!(offer.get("unavailability").is_none(), "{offer}");
    framework
        .launch(
            &offer,
            "nap",
            json!({"shell": false, "value": format!("wasmesos://sha256:{digest}"),
                   "arguments": ["sleepy", "600000"]}),
        )
        .await;
    within(
        "TASK_RUNNING",
        framework.wait_for_state("nap", "TASK_RUNNING"),
    )
    .await;

    // Schedules and machine lists Mesos refuses, with its messages.
    let start = now_nanos() + HOUR;
    refused(
        &authority,
        &update_schedule(json!([window(json!([machine()]), start, HOUR), window(json!([machine()]), start, HOUR)])),
        "Machine '{\"hostname\":\"maint-a\",\"ip\":\"127.0.0.1\"}' appears more than once in the schedule",
    )
    .await;
    refused(
        &authority,
        &update_schedule(json!([window(json!([]), start, HOUR)])),
        "List of machines in the maintenance window is empty",
    )
    .await;
    refused(
        &authority,
        &update_schedule(json!([window(json!([machine()]), start, -1)])),
        "Unavailability 'duration' is negative",
    )
    .await;
    refused(
        &authority,
        &update_schedule(json!([window(
            json!([{"hostname": HOST, "ip": "300.0.0.1"}]),
            start,
            HOUR
        )])),
        "Failed to parse IPv4: 300.0.0.1",
    )
    .await;
    refused(
        &authority,
        &update_schedule(json!([window(json!([{}]), start, HOUR)])),
        "Both 'hostname' and 'ip' for a machine are empty",
    )
    .await;
    refused(
        &authority,
        &update_schedule(json!([{"machine_ids": [machine()]}])),
        "Missing required field 'unavailability'",
    )
    .await;
    refused(
        &authority,
        &json!({"type": "START_MAINTENANCE", "start_maintenance": {"machines": []}}),
        "List of machines is empty",
    )
    .await;
    refused(
        &authority,
        &json!({"type": "START_MAINTENANCE", "start_maintenance": {"machines": [machine()]}}),
        "Machine '{\"hostname\":\"maint-a\",\"ip\":\"127.0.0.1\"}' is not part of a maintenance schedule",
    )
    .await;

    // Scheduled: the framework is asked for what it holds there, with the window, and the
    // agent's offers carry it.
    let schedule = update_schedule(json!([window(json!([machine()]), start, HOUR)]));
    let answer = operator(&authority, &schedule).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.body.is_empty());
    let (mut inverse, mut tagged) = (None, None);
    let deadline = tokio::time::Instant::now() + wasmesos_harness::scaled(PATIENCE);
    while inverse.is_none() || tagged.is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "an inverse offer ({inverse:?}) and an offer with the window ({tagged:?})"
        );
        let event = framework.events.next().await.expect("events");
        match event["type"].as_str() {
            Some("INVERSE_OFFERS") => {
                let offers = event["inverse_offers"]["inverse_offers"]
                    .as_array()
                    .cloned();
                inverse = offers
                    .into_iter()
                    .flatten()
                    .find(|o| o["agent_id"]["value"] == agent_id);
            }
            Some("OFFERS") => {
                let offers = event["offers"]["offers"].as_array().cloned();
                if let Some(o) = offers
                    .into_iter()
                    .flatten()
                    .find(|o| o["agent_id"]["value"] == agent_id)
                {
                    tagged = Some(o);
                }
            }
            _ => {}
        }
    }
    let inverse = inverse.expect("an inverse offer");
    assert_eq!(inverse["unavailability"]["start"]["nanoseconds"], start);
    assert_eq!(inverse["unavailability"]["duration"]["nanoseconds"], HOUR);
    assert_eq!(inverse["framework_id"]["value"], framework.framework_id);
    let tagged = tagged.expect("an offer");
    assert_eq!(tagged["unavailability"]["start"]["nanoseconds"], start);

    let scheduled = read(&authority, "GET_MAINTENANCE_SCHEDULE").await;
    assert_eq!(
        scheduled["get_maintenance_schedule"]["schedule"]["windows"],
        json!([window(json!([machine()]), start, HOUR)])
    );
    let legacy = get_json(&authority, "/maintenance/schedule").await;
    assert_eq!(legacy["windows"][0]["machine_ids"][0], machine());

    // Declined with a short filter: the status says so, and the framework is asked again;
    // then accepted.
    framework
        .accepted(
            json!({"type": "DECLINE_INVERSE_OFFERS", "decline_inverse_offers": {
            "inverse_offer_ids": [inverse["id"]], "filters": {"refuse_seconds": 0.5}}}),
        )
        .await;
    let answered = |wanted: &'static str| {
        let authority = authority.clone();
        let framework_id = framework.framework_id.clone();
        async move {
            eventually(
                "the framework's answer in the status",
                PATIENCE,
                async || {
                    let status = read(&authority, "GET_MAINTENANCE_STATUS").await;
                    let draining = &status["get_maintenance_status"]["status"]["draining_machines"];
                    draining[0]["id"] == machine()
                        && draining[0]["statuses"][0]["status"] == wanted
                        && draining[0]["statuses"][0]["framework_id"]["value"] == framework_id
                        && draining[0]["statuses"][0]["timestamp"]["nanoseconds"].is_i64()
                },
            )
            .await
            .expect("the answer is reported");
        }
    };
    answered("DECLINE").await;
    let again = within(
        "second inverse offer",
        framework.events.wait_for("INVERSE_OFFERS", |e| {
            e["inverse_offers"]["inverse_offers"][0]["id"]["value"]
                .as_str()
                .map(String::from)
        }),
    )
    .await;
    assert_ne!(json!(again), inverse["id"]["value"], "a new inverse offer");
    framework
        .accepted(
            json!({"type": "ACCEPT_INVERSE_OFFERS", "accept_inverse_offers": {
            "inverse_offer_ids": [{"value": again}], "filters": {"refuse_seconds": 3600}}}),
        )
        .await;
    answered("ACCEPT").await;
    let legacy = get_json(&authority, "/master/maintenance/status").await;
    assert_eq!(
        legacy["draining_machines"][0]["statuses"][0]["status"],
        "ACCEPT"
    );

    // Down: the agent is removed, its task LOST for this framework (not partition-aware),
    // and the agent, which registers again at once, is refused.
    let down = post(
        &authority,
        "/machine/down",
        &[("Content-Type", JSON)],
        json!([machine()]).to_string().into_bytes(),
    )
    .await;
    assert_eq!(down.status, StatusCode::OK, "{}", down.text());
    let lost = within("TASK_LOST", framework.wait_for_state("nap", "TASK_LOST")).await;
    assert_eq!(lost["reason"], "REASON_AGENT_REMOVED");
    let status = read(&authority, "GET_MAINTENANCE_STATUS").await;
    assert_eq!(
        status["get_maintenance_status"]["status"]["down_machines"],
        json!([machine()])
    );
    eventually("the agent out of GET_AGENTS", PATIENCE, async || {
        agents_on_host(&authority).await.is_empty()
    })
    .await
    .expect("the agent is removed");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        agents_on_host(&authority).await.is_empty(),
        "an agent on a DOWN machine is refused"
    );
    refused(
        &authority,
        &json!({"type": "START_MAINTENANCE", "start_maintenance": {"machines": [machine()]}}),
        "is not in DRAINING mode and cannot be brought down",
    )
    .await;
    refused(
        &authority,
        &update_schedule(json!([])),
        "Machine '{\"hostname\":\"maint-a\",\"ip\":\"127.0.0.1\"}' is deactivated and cannot be removed from the schedule",
    )
    .await;

    // Up: out of the schedule; the agent registers as a new agent and is offered, with no
    // unavailability.
    let up = operator(
        &authority,
        &json!({"type": "STOP_MAINTENANCE", "stop_maintenance": {"machines": [machine()]}}),
    )
    .await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.text());
    let back = eventually_some("the agent back in GET_AGENTS", PATIENCE, async || {
        agents_on_host(&authority).await.first().cloned()
    })
    .await
    .expect("the agent registers again");
    assert_ne!(back, agent_id, "as a new agent");
    let offer = within("offer of the agent back", async {
        loop {
            let offers = framework.events.offers().await;
            if let Some(offer) = offers.iter().find(|o| o["agent_id"]["value"] == back) {
                break offer.clone();
            }
        }
    })
    .await;
    assert!(offer.get("unavailability").is_none(), "{offer}");
    let schedule = read(&authority, "GET_MAINTENANCE_SCHEDULE").await;
    assert_eq!(
        schedule["get_maintenance_schedule"]["schedule"],
        json!({}),
        "the machine left the schedule"
    );
    let status = get_json(&authority, "/maintenance/status").await;
    assert_eq!(status, json!({}));
    cluster.shutdown().await.expect("shutdown");
}

/// The same through wasmesos's own APIs: the operator's gRPC calls, and a Rust scheduler
/// whose SDK delivers the inverse offers and sends its answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_scheduler_is_asked_through_the_sdk_and_answers() {
    use wasmesos_harness::{SchedulerEvent, TestFramework};
    use wasmesos_proto::operator_client::OperatorClient;
    use wasmesos_proto::{
        Filters, GetMaintenanceStatusRequest, MachineId, MaintenanceSchedule, MaintenanceWindow,
        Unavailability, UpdateMaintenanceScheduleRequest, inverse_offer_status,
    };

    let (cluster, _) = cluster().await;
    let state = cluster.state().await.expect("state");
    let agent = state.agents[0].agent.clone().expect("an agent");
    let mut framework = TestFramework::start(&cluster.master_url(), "sdk", None)
        .await
        .expect("a framework");
    // It holds the agent's offer.
    framework.next_offers().await.expect("offers");
    let mut operator = OperatorClient::connect(cluster.master_url())
        .await
        .expect("the operator API");
    let start = now_nanos() + HOUR;
    let schedule = |windows| UpdateMaintenanceScheduleRequest {
        schedule: Some(MaintenanceSchedule { windows }),
    };
    let window = MaintenanceWindow {
        machine_ids: vec![MachineId {
            hostname: agent.hostname.clone(),
            ip: "127.0.0.1".into(),
        }],
        unavailability: Some(Unavailability {
            start_nanos: start,
            duration_nanos: None,
        }),
    };
    operator
        .update_maintenance_schedule(schedule(vec![window]))
        .await
        .expect("scheduled");
    // The offer made again with the window comes in the same round as the inverse offer.
    let (mut inverse, mut tagged) = (None, None);
    framework
        .wait_for("an inverse offer and an offer with the window", |event| {
            match event {
                SchedulerEvent::InverseOffers(offers) => inverse = offers.first().cloned(),
                SchedulerEvent::Offers(offers) => {
                    tagged = tagged.or(offers.iter().find_map(|o| o.unavailability));
                }
                _ => {}
            }
            (inverse.is_some() && tagged.is_some()).then_some(())
        })
        .await
        .expect("both");
    let (inverse, tagged) = (inverse.expect("inverse"), tagged.expect("tagged"));
    assert_eq!(inverse.agent_id, agent.id);
    assert_eq!(
        inverse.unavailability,
        Some(Unavailability {
            start_nanos: start,
            duration_nanos: None
        })
    );
    assert_eq!(tagged.start_nanos, start);
    framework
        .driver
        .decline_inverse_offers(
            [inverse.id.clone()],
            Some(Filters {
                refuse_seconds: Some(0.2),
            }),
        )
        .await
        .expect("declined");
    let declined = eventually_some("the answer in the status", PATIENCE, async || {
        let status = operator
            .get_maintenance_status(GetMaintenanceStatusRequest {})
            .await
            .ok()?
            .into_inner();
        let answer = status.draining_machines.first()?.statuses.first()?.clone();
        Some(answer)
    })
    .await
    .expect("reported");
    assert_eq!(declined.status(), inverse_offer_status::Status::Decline);
    assert_eq!(declined.framework_id, framework.framework_id);
    // Asked again once the filter passes; the schedule emptied, that inverse offer goes.
    let again = framework
        .wait_for("another inverse offer", |event| match event {
            SchedulerEvent::InverseOffers(offers) => offers.first().map(|o| o.id.clone()),
            _ => None,
        })
        .await
        .expect("asked again");
    operator
        .update_maintenance_schedule(schedule(Vec::new()))
        .await
        .expect("cleared");
    let rescinded = framework
        .wait_for("the inverse offer rescinded", |event| match event {
            SchedulerEvent::InverseOfferRescinded(id) => Some(id.clone()),
            _ => None,
        })
        .await
        .expect("rescinded");
    assert_eq!(rescinded, again);
    framework.teardown().await.expect("teardown");
    cluster.shutdown().await.expect("shutdown");
}
