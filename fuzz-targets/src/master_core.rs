//! The master's state machine driven by what schedulers, agents and operators send.
//!
//! The input is a sequence of records, each `[op, advance, len_lo, len_hi]` followed by
//! `len` bytes of a protobuf request (fewer when the input ends first). `op` picks the call
//! and the request type; `advance` moves the virtual clock before it (bit 7 clear: that many
//! tenths of a second with live agents heartbeating, the core woken at each of its wakeups;
//! bit 7 set: a jump of `2^(advance & 63)` milliseconds with silent agents, one tick).
//!
//! Ids the core made up cannot be guessed, so an id written `@n` (`@0`, `@1`, ...) stands for
//! the n-th (modulo their number) agent, framework or offer the core has handed out, and an
//! executor digest `@` for the one artifact the core knows. Everything else reaches the
//! core as decoded.
//!
//! Checked after every call: the core does not panic, its next wakeup is after now (an
//! actor woken at a time that is already due would spin), the completed frameworks it keeps
//! stay under their cap, and the operator's state snapshot and `GetState` build.

use std::time::Duration;

use prost::Message;
use wasmesos_master::MasterConfig;
use wasmesos_master::core::{Core, Registration, StateSnapshot, Time};
use wasmesos_proto::v1::{
    self as proto, AcceptRequest, AcknowledgeRequest, DeclineRequest, ExecutorMessageRequest,
    FrameworkMessageRequest, KillRequest, ReconcileRequest, RegisterRequest,
    ReserveResourcesRequest, ReviveRequest, SetQuotaRequest, StatusUpdates, SubscribeRequest,
    SuppressRequest, TaskInfo, TeardownRequest, UnreserveResourcesRequest, UpdateWeightsRequest,
    event, operation,
};

/// The digest the core is told is stored, which `@` stands for.
const DIGEST: &str = "ab00000000000000000000000000000000000000000000000000000000000000";

/// Most wakeups one clock advance runs: the clock always moves forward (checked), but an
/// allocation round due every batch interval could otherwise make one record take long.
const MAX_WAKEUPS: usize = 2_000;

/// Drives a fresh master core with the records in `data`.
pub fn master_core(data: &[u8]) {
    let mut driver = Driver::new();
    let mut input = data;
    while let Some((op, advance, body)) = next_record(&mut input) {
        driver.advance(advance);
        driver.call(op, body);
        driver.check();
    }
}

fn next_record<'a>(input: &mut &'a [u8]) -> Option<(u8, u8, &'a [u8])> {
    let (&[op, advance, lo, hi], rest) = input.split_first_chunk::<4>()?;
    let (body, rest) = rest.split_at(usize::from(u16::from_le_bytes([lo, hi])).min(rest.len()));
    *input = rest;
    Some((op, advance, body))
}

struct Driver {
    core: Core,
    config: MasterConfig,
    now: Time,
    agents: Vec<String>,
    frameworks: Vec<String>,
    offers: Vec<String>,
    previous: StateSnapshot,
}

impl Driver {
    fn new() -> Self {
        let config = MasterConfig {
            offer_timeout: Some(Duration::from_secs(30)),
            ..MasterConfig::default()
        };
        let master = proto::MasterInfo {
            id: "m".into(),
            address: "http://127.0.0.1:5050".into(),
            ..proto::MasterInfo::default()
        };
        let mut core = match Core::new(config.clone(), master, 1_700_000_000.0) {
            Ok(core) => core,
            Err(err) => panic!("the fuzzing config is valid: {err}"),
        };
        core.artifact_stored(DIGEST);
        Self {
            core,
            config,
            now: Duration::ZERO,
            agents: Vec::new(),
            frameworks: Vec::new(),
            offers: Vec::new(),
            previous: StateSnapshot::default(),
        }
    }

    fn advance(&mut self, advance: u8) {
        if advance & 0x80 != 0 {
            let jump = Duration::from_millis(1u64 << (advance & 63).min(50));
            self.now = self.now.saturating_add(jump);
            self.tick();
            return;
        }
        let end = self
            .now
            .saturating_add(Duration::from_millis(100 * u64::from(advance)));
        for _ in 0..MAX_WAKEUPS {
            let step = self
                .now
                .saturating_add(self.config.agent_heartbeat_interval);
            let next = self.core.next_wakeup().map_or(step, |at| at.min(step));
            if next > end {
                break;
            }
            self.now = next;
            for agent in self.agents.clone() {
                let _ = self.core.agent_heartbeat(&agent, self.now);
            }
            self.tick();
        }
        self.now = self.now.max(end);
    }

    fn tick(&mut self) {
        self.core.tick(self.now);
        if let Some(at) = self.core.next_wakeup() {
            assert!(
                at > self.now,
                "next wakeup {at:?} is not after now {:?}: the actor would spin",
                self.now
            );
        }
        self.drain();
    }

    /// Takes what the actor would deliver and commit, noting the offers made.
    fn drain(&mut self) {
        let outbox = self.core.take_outbox();
        for event in outbox.events.into_values().flatten() {
            match event.event {
                Some(event::Event::Offers(offers)) => {
                    self.offers.extend(offers.offers.into_iter().map(|o| o.id));
                }
                Some(event::Event::Rescind(rescind)) => {
                    self.offers.retain(|id| *id != rescind.offer_id);
                }
                _ => {}
            }
        }
        let _ = self.core.take_ops();
        // Old offer ids stay useful to the fuzzer (answering a stale offer is a case), but
        // a bounded number of them.
        if self.offers.len() > 64 {
            self.offers.drain(..32);
        }
    }

    fn check(&mut self) {
        self.tick();
        let snapshot = self.core.state_snapshot(self.now, &self.previous);
        assert!(
            snapshot.completed_frameworks.len() <= self.config.max_completed_frameworks,
            "{} completed frameworks kept",
            snapshot.completed_frameworks.len()
        );
        let _ = snapshot.cluster_state();
        let _ = self.core.roles();
        self.previous = snapshot;
    }

    fn call(&mut self, op: u8, body: &[u8]) {
        let now = self.now;
        match op % 21 {
            0 => {
                if let Some(mut req) = decode::<SubscribeRequest>(body) {
                    if let Some(info) = req.framework.as_mut() {
                        pick(&mut info.id, &self.frameworks);
                    }
                    if let Ok(subscription) = self.core.subscribe(req, now)
                        && !self.frameworks.contains(&subscription.framework_id)
                    {
                        self.frameworks.push(subscription.framework_id);
                    }
                }
            }
            1 => {
                if let Some(mut req) = decode::<RegisterRequest>(body) {
                    self.fix_register(&mut req);
                    if let Ok(Registration::Accepted { agent_id }) =
                        self.core.register_agent(req, now)
                        && !self.agents.contains(&agent_id)
                    {
                        self.agents.push(agent_id);
                    }
                }
            }
            2 => {
                let agent = self.nth_agent(body);
                let _ = self.core.agent_heartbeat(&agent, now);
            }
            3 => {
                let agent = self.nth_agent(body);
                self.core.agent_disconnected(&agent, now);
            }
            4 => {
                if let Some(mut req) = decode::<AcceptRequest>(body) {
                    pick(&mut req.framework_id, &self.frameworks);
                    req.offer_ids.iter_mut().for_each(|o| pick(o, &self.offers));
                    for operation in &mut req.operations {
                        self.fix_operation(operation);
                    }
                    let _ = self.core.accept(req, now);
                }
            }
            5 => {
                if let Some(mut req) = decode::<DeclineRequest>(body) {
                    pick(&mut req.framework_id, &self.frameworks);
                    req.offer_ids.iter_mut().for_each(|o| pick(o, &self.offers));
                    let _ = self.core.decline(req, now);
                }
            }
            6 => {
                if let Some(mut req) = decode::<KillRequest>(body) {
                    pick(&mut req.framework_id, &self.frameworks);
                    let _ = self.core.kill(req, now);
                }
            }
            7 => {
                if let Some(mut req) = decode::<AcknowledgeRequest>(body) {
                    pick(&mut req.framework_id, &self.frameworks);
                    req.acks
                        .iter_mut()
                        .for_each(|a| pick(&mut a.agent_id, &self.agents));
                    let _ = self.core.acknowledge(req, now);
                }
            }
            8 => {
                if let Some(mut req) = decode::<ReconcileRequest>(body) {
                    pick(&mut req.framework_id, &self.frameworks);
                    req.tasks
                        .iter_mut()
                        .for_each(|t| pick(&mut t.agent_id, &self.agents));
                    let _ = self.core.reconcile(req, now);
                }
            }
            9 => {
                if let Some(mut req) = decode::<FrameworkMessageRequest>(body) {
                    pick(&mut req.framework_id, &self.frameworks);
                    pick(&mut req.agent_id, &self.agents);
                    let _ = self.core.message(req, now);
                }
            }
            10 => {
                if let Some(mut req) = decode::<TeardownRequest>(body) {
                    pick(&mut req.framework_id, &self.frameworks);
                    let _ = self.core.teardown(&req.framework_id, now);
                }
            }
            11 => {
                if let Some(mut req) = decode::<StatusUpdates>(body) {
                    pick(&mut req.agent_id, &self.agents);
                    for status in &mut req.statuses {
                        pick(&mut status.agent_id, &self.agents);
                        pick(&mut status.framework_id, &self.frameworks);
                    }
                    let _ = self.core.status_updates(req, now);
                }
            }
            12 => {
                if let Some(mut req) = decode::<ExecutorMessageRequest>(body) {
                    pick(&mut req.agent_id, &self.agents);
                    pick(&mut req.framework_id, &self.frameworks);
                    let _ = self.core.executor_message(req, now);
                }
            }
            13 => {
                if let Some(mut req) = decode::<SuppressRequest>(body) {
                    pick(&mut req.framework_id, &self.frameworks);
                    let _ = self.core.suppress(req, now);
                }
            }
            14 => {
                if let Some(mut req) = decode::<ReviveRequest>(body) {
                    pick(&mut req.framework_id, &self.frameworks);
                    let _ = self.core.revive(req, now);
                }
            }
            15 => {
                // UPDATE_FRAMEWORK: the new info, suppressed in the roles it lists at odd
                // positions.
                if let Some(mut info) = decode::<SubscribeRequest>(body).and_then(|r| r.framework) {
                    pick(&mut info.id, &self.frameworks);
                    let suppressed: Vec<String> =
                        info.roles.iter().skip(1).step_by(2).cloned().collect();
                    let _ = self.core.update_framework(info, &suppressed, now);
                }
            }
            16 => {
                if let Some(req) = decode::<UpdateWeightsRequest>(body) {
                    let _ = self.core.update_weights(req, now);
                }
            }
            17 => {
                if let Some(req) = decode::<SetQuotaRequest>(body) {
                    let _ = self.core.set_quota(req, now);
                }
            }
            18 => {
                if let Some(mut req) = decode::<ReserveResourcesRequest>(body) {
                    pick(&mut req.agent_id, &self.agents);
                    let _ = self.core.reserve_resources(req, now);
                }
            }
            19 => {
                if let Some(mut req) = decode::<UnreserveResourcesRequest>(body) {
                    pick(&mut req.agent_id, &self.agents);
                    let _ = self.core.unreserve_resources(req, now);
                }
            }
            _ => {
                // The operator's KILL: a framework is named when the request names one.
                if let Some(mut req) = decode::<KillRequest>(body) {
                    pick(&mut req.framework_id, &self.frameworks);
                    let framework = Some(req.framework_id.as_str()).filter(|f| !f.is_empty());
                    let _ = self.core.operator_kill(framework, &req.task_id, now);
                }
            }
        }
        self.drain();
    }

    fn fix_register(&self, req: &mut RegisterRequest) {
        if let Some(agent) = req.agent.as_mut() {
            pick(&mut agent.id, &self.agents);
        }
        for report in &mut req.tasks {
            pick(&mut report.framework_id, &self.frameworks);
            if let Some(task) = report.task.as_mut() {
                self.fix_task(task);
            }
            if let Some(status) = report.latest.as_mut() {
                pick(&mut status.agent_id, &self.agents);
                pick(&mut status.framework_id, &self.frameworks);
            }
        }
        for framework in &mut req.frameworks {
            pick(&mut framework.id, &self.frameworks);
        }
    }

    fn fix_operation(&self, op: &mut proto::Operation) {
        match op.operation.as_mut() {
            Some(operation::Operation::Launch(launch)) => {
                launch.tasks.iter_mut().for_each(|t| self.fix_task(t));
            }
            Some(operation::Operation::Reserve(reserve)) => {
                pick(&mut reserve.agent_id, &self.agents);
            }
            Some(operation::Operation::Unreserve(unreserve)) => {
                pick(&mut unreserve.agent_id, &self.agents);
            }
            None => {}
        }
    }

    fn fix_task(&self, task: &mut TaskInfo) {
        pick(&mut task.agent_id, &self.agents);
        if let Some(executor) = task.executor.as_mut()
            && executor.digest == "@"
        {
            executor.digest = DIGEST.into();
        }
    }

    /// The agent the body's first byte names, or an unknown id when there is none.
    fn nth_agent(&self, body: &[u8]) -> String {
        let n = body.first().copied().map_or(0, usize::from);
        match self.agents.len() {
            0 => "unknown".into(),
            len => self.agents.get(n % len).cloned().unwrap_or_default(),
        }
    }
}

fn decode<M: Message + Default>(body: &[u8]) -> Option<M> {
    M::decode(body).ok()
}

/// Replaces `@n` with the n-th known id (modulo their number).
fn pick(id: &mut String, known: &[String]) {
    let Some(digits) = id.strip_prefix('@') else {
        return;
    };
    if known.is_empty() {
        return;
    }
    let n: usize = digits.parse().unwrap_or(0);
    if let Some(found) = known.get(n % known.len()) {
        id.clone_from(found);
    }
}
