//! The discrete-event loop: task ends, held offers, waves and allocation rounds in virtual
//! time, with the master's batching (a round at most every `batch_interval`, and at the next
//! filter expiry).

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use super::frameworks::{SimFramework, carve};
use super::report::{Latency, Report, jain};
use super::{Behavior, Demand, Scenario};
use crate::{
    AgentId, Allocation, Allocator, Error, FrameworkId, FrameworkSpec, Resources, SplitMix64, Time,
};

/// How often fairness and quota are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

enum Event {
    TaskEnd { fw: usize, offer: Allocation },
    Release { offer: u64 },
    Rescind { offer: u64 },
    Wave { fw: usize },
    Sample,
}

struct Scheduled {
    at: Time,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Runs `scenario` and reports. A zero `duration` means one full allocation round only
/// (Mesos's benchmark shape).
pub fn run(scenario: &Scenario) -> Result<Report, Error> {
    let mut sim = Sim::new(scenario)?;
    if scenario.duration.is_zero() {
        sim.round();
    } else {
        sim.main_loop();
    }
    sim.report()
}

struct Sim<'s> {
    s: &'s Scenario,
    alloc: Allocator,
    now: Time,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    fws: Vec<SimFramework>,
    fw_index: HashMap<FrameworkId, usize>,
    held: HashMap<u64, (usize, Allocation)>,
    next_offer: u64,
    rng: SplitMix64,
    round_times: Vec<Duration>,
    last_round: Option<Time>,
    offers: u64,
    tasks: u64,
    reservation_violations: u64,
    limit_violations: u64,
    used: [f64; 2],
    total: [f64; 2],
    used_integral: [f64; 2],
    measured: Duration,
    jain_samples: Vec<f64>,
    /// Per sample, the lowest Jain's index among roles with several unbounded frameworks.
    role_jain_samples: Vec<f64>,
    worst_wait: Duration,
}

impl<'s> Sim<'s> {
    fn new(s: &'s Scenario) -> Result<Self, Error> {
        let mut alloc = Allocator::new(s.config.clone())?;
        let mut total = [0.0; 2];
        let mut next = 0usize;
        for group in &s.agents {
            for _ in 0..group.count {
                alloc.add_agent(AgentId::from(format!("agent-{next}")), &group.resources)?;
                next += 1;
                total[0] += group.resources.get("cpus");
                total[1] += group.resources.get("mem");
            }
        }
        let mut fws = Vec::new();
        let mut fw_index = HashMap::new();
        for (group_at, group) in s.frameworks.iter().enumerate() {
            for i in 0..group.count {
                let id = FrameworkId::from(format!("fw-{}", fws.len()));
                let role = group
                    .roles
                    .get(i % group.roles.len().max(1))
                    .ok_or_else(|| Error::NoRoles(id.clone()))?;
                let spec = FrameworkSpec {
                    roles: vec![role.to_string()],
                    min_allocatable: group.declare_task_size.then(|| vec![group.task.clone()]),
                };
                alloc.add_framework(id.clone(), spec)?;
                fw_index.insert(id.clone(), fws.len());
                fws.push(SimFramework::new(id, role.clone(), group_at, group));
            }
        }
        let mut sim = Self {
            s,
            alloc,
            now: Duration::ZERO,
            queue: BinaryHeap::new(),
            seq: 0,
            fws,
            fw_index,
            held: HashMap::new(),
            next_offer: 0,
            rng: SplitMix64::new(s.seed),
            round_times: Vec::new(),
            last_round: None,
            offers: 0,
            tasks: 0,
            reservation_violations: 0,
            limit_violations: 0,
            used: [0.0; 2],
            total,
            used_integral: [0.0; 2],
            measured: Duration::ZERO,
            jain_samples: Vec::new(),
            role_jain_samples: Vec::new(),
            worst_wait: Duration::ZERO,
        };
        sim.start()?;
        Ok(sim)
    }

    fn start(&mut self) -> Result<(), Error> {
        for fw in 0..self.fws.len() {
            let spec = &self.s.frameworks[self.fws[fw].group];
            if let Demand::Waves { every, .. } = spec.demand {
                self.schedule(every.min(self.s.duration), Event::Wave { fw });
            }
            if !self.fws[fw].wants() && spec.suppress_when_idle {
                self.alloc.suppress(&self.fws[fw].id, None)?;
                self.fws[fw].suppressed = true;
            }
            self.fws[fw].maybe_start_waiting(Duration::ZERO);
        }
        self.schedule(self.s.warmup, Event::Sample);
        Ok(())
    }

    fn schedule(&mut self, at: Time, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            event,
        }));
    }

    fn main_loop(&mut self) {
        let end = self.s.duration;
        loop {
            let next_event = self.queue.peek().map(|Reverse(e)| e.at);
            let next_round = self.next_round_time();
            let round_first = match (next_round, next_event) {
                (Some(r), Some(e)) => r <= e,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let at = if round_first { next_round } else { next_event };
            let Some(at) = at.filter(|at| *at <= end) else {
                break;
            };
            self.advance(at);
            if round_first {
                self.round();
            } else if let Some(Reverse(scheduled)) = self.queue.pop() {
                self.handle(scheduled.event);
            }
        }
        self.advance(end);
    }

    fn next_round_time(&self) -> Option<Time> {
        if self.alloc.has_work() {
            let earliest = self
                .last_round
                .map_or(self.now, |last| last.saturating_add(self.s.batch_interval));
            return Some(earliest.max(self.now));
        }
        self.alloc.next_filter_expiry().map(|at| at.max(self.now))
    }

    /// Moves the clock, integrating utilization after warm-up.
    fn advance(&mut self, to: Time) {
        let from = self.now.max(self.s.warmup);
        if to > from {
            let dt = (to - from).as_secs_f64();
            for k in 0..2 {
                self.used_integral[k] += self.used[k] * dt;
            }
            self.measured += to - from;
        }
        self.now = self.now.max(to);
    }

    fn round(&mut self) {
        let had_work = self.alloc.has_work();
        let started = Instant::now();
        let offers = self.alloc.allocate(self.now);
        let elapsed = started.elapsed();
        if had_work || !offers.is_empty() {
            self.round_times.push(elapsed);
        }
        self.last_round = Some(self.now);
        self.offers += offers.len() as u64;
        for offer in offers {
            self.check_reservations(&offer);
            if let Some(fw) = self.fw_index.get(&offer.framework_id).copied() {
                self.on_offer(fw, offer);
            }
        }
    }

    fn check_reservations(&mut self, offer: &Allocation) {
        let outside = offer.resources.iter().any(|item| {
            item.reservation().is_some_and(|owner| {
                *offer.role != *owner && !offer.role.starts_with(&format!("{owner}/"))
            })
        });
        self.reservation_violations += u64::from(outside);
    }

    fn on_offer(&mut self, fw: usize, offer: Allocation) {
        let spec = &self.s.frameworks[self.fws[fw].group];
        let wait = self.fws[fw].note_offer(self.now);
        if let Some(wait) = wait.filter(|_| self.now >= self.s.warmup) {
            self.worst_wait = self.worst_wait.max(wait);
        }
        match spec.behavior {
            Behavior::Greedy => self.launch_tasks(fw, offer),
            Behavior::Decline => self.decline(fw, &offer, Some(spec.refuse)),
            Behavior::Hoard(hold) => {
                let id = self.next_offer;
                self.next_offer += 1;
                self.fws[fw].held += 1;
                self.held.insert(id, (fw, offer));
                self.schedule(self.now.saturating_add(hold), Event::Release { offer: id });
                if let Some(timeout) = self.s.offer_timeout {
                    self.schedule(
                        self.now.saturating_add(timeout),
                        Event::Rescind { offer: id },
                    );
                }
            }
        }
        self.after_offer(fw);
    }

    fn launch_tasks(&mut self, fw: usize, offer: Allocation) {
        let spec = &self.s.frameworks[self.fws[fw].group];
        let mut rest = offer.resources.clone();
        let mut launched = Resources::new();
        let mut tasks = Vec::new();
        let fit = u64::MAX;
        let mut budget = self.fws[fw].tasks_to_launch(fit);
        while budget > 0 {
            let Some(task) = carve(&rest, &spec.task, spec.ports) else {
                break;
            };
            let Some(left) = rest.checked_sub(&task) else {
                break;
            };
            rest = left;
            launched.add(&task);
            tasks.push(task);
            budget -= 1;
        }
        if !launched.is_empty()
            && self
                .alloc
                .launch(&offer.framework_id, &offer.agent_id, &offer.role, &launched)
                .is_ok()
        {
            self.fws[fw].launched(tasks.len() as u64);
            self.tasks += tasks.len() as u64;
            for task in tasks {
                self.used[0] += task.get("cpus");
                self.used[1] += task.get("mem");
                let run = self.task_duration(fw);
                let ended = Allocation {
                    resources: task,
                    ..offer.clone()
                };
                self.schedule(
                    self.now.saturating_add(run),
                    Event::TaskEnd { fw, offer: ended },
                );
            }
        } else {
            rest = offer.resources.clone();
        }
        let declined = Allocation {
            resources: rest,
            ..offer
        };
        if !declined.resources.is_empty() {
            self.decline(fw, &declined, Some(spec.refuse));
        }
    }

    fn task_duration(&mut self, fw: usize) -> Duration {
        let spec = &self.s.frameworks[self.fws[fw].group];
        let low = spec.task_mean.saturating_sub(spec.task_spread);
        let span = spec
            .task_mean
            .saturating_add(spec.task_spread)
            .saturating_sub(low);
        low + span.mul_f64(self.rng.next_f64())
    }

    fn decline(&mut self, _fw: usize, offer: &Allocation, refuse: Option<Duration>) {
        let _ = self.alloc.recover_offered(
            &offer.framework_id,
            &offer.agent_id,
            &offer.role,
            &offer.resources,
            refuse,
            self.now,
        );
    }

    /// SUPPRESS when done, and restart the wait clock when still hungry.
    fn after_offer(&mut self, fw: usize) {
        let spec = &self.s.frameworks[self.fws[fw].group];
        if spec.suppress_when_idle && !self.fws[fw].wants() && !self.fws[fw].suppressed {
            let _ = self.alloc.suppress(&self.fws[fw].id, None);
            self.fws[fw].suppressed = true;
        }
        if spec.behavior == Behavior::Greedy {
            self.fws[fw].maybe_start_waiting(self.now);
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::TaskEnd { fw, offer } => {
                self.used[0] -= offer.resources.get("cpus");
                self.used[1] -= offer.resources.get("mem");
                let _ = self.alloc.recover_used(
                    &offer.framework_id,
                    &offer.agent_id,
                    &offer.role,
                    &offer.resources,
                );
                let _ = fw;
            }
            Event::Release { offer } => self.return_held(offer, true),
            Event::Rescind { offer } => self.return_held(offer, false),
            Event::Wave { fw } => self.wave(fw),
            Event::Sample => self.sample(),
        }
    }

    fn return_held(&mut self, id: u64, declined: bool) {
        let Some((fw, offer)) = self.held.remove(&id) else {
            return;
        };
        self.fws[fw].held -= 1;
        let refuse = declined.then_some(self.s.frameworks[self.fws[fw].group].refuse);
        self.decline(fw, &offer, refuse);
    }

    fn wave(&mut self, fw: usize) {
        let spec = &self.s.frameworks[self.fws[fw].group];
        let Demand::Waves { tasks, every } = spec.demand else {
            return;
        };
        if let Some(n) = &mut self.fws[fw].remaining {
            *n += tasks;
        }
        if self.fws[fw].suppressed {
            let _ = self.alloc.revive(&self.fws[fw].id, None);
            self.fws[fw].suppressed = false;
        }
        if spec.behavior == Behavior::Greedy {
            self.fws[fw].maybe_start_waiting(self.now);
        }
        self.schedule(self.now.saturating_add(every), Event::Wave { fw });
    }

    fn sample(&mut self) {
        let measured: Vec<usize> = (0..self.fws.len())
            .filter(|fw| self.fws[*fw].is_unbounded_greedy(&self.s.frameworks[self.fws[*fw].group]))
            .collect();
        let shares: Vec<f64> = measured
            .iter()
            .map(|fw| self.alloc.weighted_share(&self.fws[*fw].id).unwrap_or(0.0))
            .collect();
        if let Some(index) = jain(&shares) {
            self.jain_samples.push(index);
        }
        self.sample_role_fairness(&measured, &shares);
        let mut by_role: HashMap<&str, (f64, usize)> = HashMap::new();
        for (fw, share) in measured.iter().zip(&shares) {
            let sum = by_role.entry(self.fws[*fw].role.as_str()).or_default();
            sum.0 += share;
            sum.1 += 1;
        }
        let overall = shares.iter().sum::<f64>() / shares.len().max(1) as f64;
        let role_means: HashMap<String, f64> = by_role
            .into_iter()
            .map(|(role, (sum, n))| {
                let mean = if n > 1 { sum / n as f64 } else { overall };
                (role.to_owned(), mean)
            })
            .collect();
        for (fw, share) in measured.iter().zip(&shares) {
            // At or above its role's mean share (the overall mean when it is alone in its
            // role), a framework waiting is not starved: DRF serves those below first.
            let mean = role_means
                .get(&self.fws[*fw].role)
                .copied()
                .unwrap_or(overall);
            if *share >= mean && self.fws[*fw].waiting_since.is_some() {
                self.fws[*fw].waiting_since = Some(self.now);
            }
        }
        for role in self.s.config.quotas.keys() {
            let Some(view) = self.alloc.role_snapshot(role) else {
                continue;
            };
            let Some(limit) = view.quota.as_ref().and_then(|q| q.limit.as_ref()) else {
                continue;
            };
            let over = limit
                .names()
                .iter()
                .any(|name| view.consumption.get(name) > limit.get(name));
            self.limit_violations += u64::from(over);
        }
        self.schedule(self.now.saturating_add(SAMPLE_EVERY), Event::Sample);
    }

    /// Inside one role DRF should equalise frameworks even when quota and hierarchy make
    /// roles unequal: record the worst role's Jain's index.
    fn sample_role_fairness(&mut self, measured: &[usize], shares: &[f64]) {
        let mut by_role: HashMap<&str, Vec<f64>> = HashMap::new();
        for (fw, share) in measured.iter().zip(shares) {
            by_role
                .entry(self.fws[*fw].role.as_str())
                .or_default()
                .push(*share);
        }
        let worst = by_role
            .values()
            .filter(|shares| shares.len() > 1)
            .filter_map(|shares| jain(shares))
            .fold(None, |worst: Option<f64>, j| {
                Some(worst.map_or(j, |w| w.min(j)))
            });
        if let Some(worst) = worst {
            self.role_jain_samples.push(worst);
        }
    }

    fn report(mut self) -> Result<Report, Error> {
        let end = self.now;
        for fw in &self.fws {
            if let Some(since) = fw.waiting_since {
                self.worst_wait = self.worst_wait.max(end.saturating_sub(since));
            }
        }
        let measured = self.measured.as_secs_f64();
        let utilization = |k: usize| {
            (measured > 0.0 && self.total[k] > 0.0)
                .then(|| self.used_integral[k] / measured / self.total[k])
        };
        let jain_mean = mean(&self.jain_samples);
        let notes = self.notes()?;
        let simulated = !self.s.duration.is_zero();
        Ok(Report {
            name: self.s.name.clone(),
            agents: self.s.agents.iter().map(|g| g.count).sum(),
            frameworks: self.fws.len(),
            rounds: Latency::from_samples(std::mem::take(&mut self.round_times)),
            offers: self.offers,
            virtual_time: self.s.duration,
            tasks_launched: self.tasks,
            utilization_cpus: utilization(0).filter(|_| simulated),
            utilization_mem: utilization(1).filter(|_| simulated),
            jain: jain_mean.filter(|_| simulated),
            worst_wait: simulated.then_some(self.worst_wait),
            notes,
        })
    }

    /// Invariants and quota outcomes worth printing under the table.
    fn notes(&self) -> Result<Vec<String>, Error> {
        self.alloc.check_invariants()?;
        let fair: Vec<&SimFramework> = self
            .fws
            .iter()
            .filter(|f| f.is_unbounded_greedy(&self.s.frameworks[f.group]))
            .collect();
        let mut notes = vec![
            format!(
                "invariants hold; reserved resources offered outside their role: {}; samples over a quota limit: {}",
                self.reservation_violations, self.limit_violations
            ),
            format!(
                "{} tasks launched; Jain is over the {} greedy frameworks with unbounded demand; \
                 inside the least fair role it averages {}",
                self.tasks,
                fair.len(),
                mean(&self.role_jain_samples).map_or("-".into(), |j| format!("{j:.4}"))
            ),
        ];
        for (role, quota) in &self.s.config.quotas {
            let Some(view) = self.alloc.role_snapshot(role) else {
                continue;
            };
            notes.push(format!(
                "role {role}: consumes cpus {:.0} (guarantee {:.0}, limit {}), weighted share {:.3}",
                view.consumption.get("cpus"),
                quota.guarantee.get("cpus"),
                quota
                    .limit
                    .as_ref()
                    .map_or("none".to_string(), |l| format!("{:.0}", l.get("cpus"))),
                view.weighted_share
            ));
        }
        Ok(notes)
    }
}

fn mean(samples: &[f64]) -> Option<f64> {
    (!samples.is_empty()).then(|| samples.iter().sum::<f64>() / samples.len() as f64)
}
