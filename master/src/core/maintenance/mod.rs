//! Maintenance, as Mesos 1.11's maintenance primitives (`master/maintenance.cpp`, the
//! maintenance parts of `master.cpp` and `http.cpp`).
//!
//! The operator posts a *schedule*: windows of machines, each window with an
//! unavailability (start, and a duration or none). Every machine in it is DRAINING, until
//! START_MAINTENANCE puts it DOWN; STOP_MAINTENANCE brings a DOWN machine UP and takes it out
//! of the schedule, and a schedule that leaves a DRAINING machine out brings it UP too. A
//! schedule may not leave out a DOWN machine. Mesos changes no mode by itself, whatever the
//! clock says, and neither does this.
//!
//! * An agent on a DRAINING machine (`machines.rs` says which machine an agent is on) is
//!   *unavailable*: its offers carry the unavailability, and every framework holding
//!   resources on it gets an inverse offer (`inverse.rs`), which it accepts or declines. A
//!   change of an agent's unavailability rescinds its offers and inverse offers, so the
//!   frameworks hear of it at once (Mesos's `updateUnavailability`).
//! * START_MAINTENANCE removes the registered agents of the machines (shut down, their tasks
//!   TASK_LOST, or TASK_GONE_BY_OPERATOR for partition-aware frameworks, as an agent marked
//!   gone), and an agent on a DOWN machine is refused registration ("Machine is `DOWN`").
//!
//! The schedule and the machines' modes are one registry record, written on every change
//! and read back by a restarted master. Frameworks' answers are not (Mesos forgets them on
//! failover too): inverse offers go out again once the agents re-register.

mod inverse;
mod machines;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use prost::Message as _;
use wasmesos_allocator::{AgentId, InverseOfferAnswer, InverseOffers};
use wasmesos_proto::v1::{
    AgentInfo, InverseOfferStatus, MachineId, MachineInfo, MachineMode, MaintenanceSchedule,
    MaintenanceStatus, Unavailability, agent_command, inverse_offer_status, maintenance_status,
};

use super::agents::Registration;
use super::partitions::Departure;
use super::{Core, Time};
use crate::Error;
use crate::registry::{MaintenanceRecord, Op};
use machines::{MachineKey, check_machines, check_schedule, machine_of, machine_text};

/// The largest maintenance record (schedule and machine modes, encoded) the master keeps, so
/// that it always fits one registry record (a ZooKeeper znode holds 1 MB).
pub const MAX_MAINTENANCE_BYTES: usize = 512 * 1024;

/// Why an agent on a DOWN machine is refused, as Mesos says it.
const MACHINE_DOWN: &str = "Machine is `DOWN`";

/// What the core knows of maintenance.
#[derive(Debug, Default)]
pub(super) struct Maintenance {
    /// The schedule as posted, less the machines brought up since.
    schedule: MaintenanceSchedule,
    /// Every scheduled machine (DRAINING or DOWN), by how Mesos compares machines.
    machines: BTreeMap<MachineKey, MachineInfo>,
    /// Registered agents on a scheduled machine, with its unavailability.
    unavailable: HashMap<AgentId, Unavailability>,
    /// Inverse offers sent and not yet answered, by id.
    inverse_offers: HashMap<String, inverse::OutstandingInverseOffer>,
    /// The allocator's side: inverse offers out, answers and filters.
    pub(super) answers: InverseOffers,
}

impl Core {
    /// GET_MAINTENANCE_SCHEDULE: the schedule as posted, less the machines brought up.
    pub fn maintenance_schedule(&self) -> MaintenanceSchedule {
        self.maintenance.schedule.clone()
    }

    /// UPDATE_MAINTENANCE_SCHEDULE: replaces the schedule. Machines new to it go DRAINING,
    /// machines left out go UP, the others keep their mode with their window's
    /// unavailability. Refused with Mesos's messages (`machines.rs`), or when the record
    /// would exceed [`MAX_MAINTENANCE_BYTES`].
    pub fn update_maintenance_schedule(
        &mut self,
        schedule: MaintenanceSchedule,
        now: Time,
    ) -> Result<(), Error> {
        check_schedule(&schedule, &self.maintenance.machines)?;
        let mut machines = BTreeMap::new();
        for window in &schedule.windows {
            for id in &window.machine_ids {
                let key = MachineKey::of(id);
                let mode = self
                    .maintenance
                    .machines
                    .get(&key)
                    .map_or(MachineMode::MachineDraining, MachineInfo::mode);
                let machine = MachineInfo {
                    id: Some(id.clone()),
                    mode: mode as i32,
                    unavailability: window.unavailability,
                };
                machines.insert(key, machine);
            }
        }
        let record = MaintenanceRecord {
            schedule: Some(schedule.clone()),
            machines: machines.values().cloned().collect(),
        };
        let size = record.encoded_len();
        if size > MAX_MAINTENANCE_BYTES {
            return Err(Error::InvalidArgument(format!(
                "The maintenance schedule is {size} bytes encoded, more than the \
                 {MAX_MAINTENANCE_BYTES} allowed"
            )));
        }
        self.maintenance.schedule = schedule;
        self.maintenance.machines = machines;
        self.registry_ops.push(Op::PutMaintenance(record));
        tracing::info!(
            machines = self.maintenance.machines.len(),
            "maintenance schedule updated"
        );
        self.refresh_all_unavailability(now);
        Ok(())
    }

    /// START_MAINTENANCE: the machines, each DRAINING in the schedule, go DOWN. Their
    /// registered agents are told to shut down and removed, as when marked gone.
    pub fn start_maintenance(&mut self, ids: &[MachineId], now: Time) -> Result<(), Error> {
        let keys = self.scheduled(ids, MachineMode::MachineDraining)?;
        let going: Vec<AgentId> = self
            .agents
            .iter()
            .filter(|(_, agent)| {
                self.machine_key_of(&agent.info)
                    .is_some_and(|key| keys.contains(key))
            })
            .map(|(id, _)| id.clone())
            .collect();
        for key in &keys {
            if let Some(machine) = self.maintenance.machines.get_mut(key) {
                machine.mode = MachineMode::MachineDown as i32;
            }
        }
        self.persist_maintenance();
        for machine in ids {
            tracing::warn!(machine = %machine_text(machine), "machine down for maintenance");
        }
        for id in going {
            self.depart(
                &id,
                Departure::Gone,
                "Operator initiated 'Machine DOWN'",
                now,
            );
        }
        self.request_allocation(now);
        Ok(())
    }

    /// STOP_MAINTENANCE: the machines, each DOWN, go UP and leave the schedule (a window
    /// left without machines goes too). Their agents may register again.
    pub fn stop_maintenance(&mut self, ids: &[MachineId], now: Time) -> Result<(), Error> {
        let keys = self.scheduled(ids, MachineMode::MachineDown)?;
        self.maintenance
            .machines
            .retain(|key, _| !keys.contains(key));
        for window in &mut self.maintenance.schedule.windows {
            window
                .machine_ids
                .retain(|id| !keys.contains(&MachineKey::of(id)));
        }
        self.maintenance
            .schedule
            .windows
            .retain(|window| !window.machine_ids.is_empty());
        self.persist_maintenance();
        for machine in ids {
            tracing::info!(machine = %machine_text(machine), "machine up after maintenance");
        }
        self.refresh_all_unavailability(now);
        Ok(())
    }

    /// GET_MAINTENANCE_STATUS: each DRAINING machine with the latest answer of every
    /// framework to the inverse offers for its registered agents, and the DOWN machines.
    pub fn maintenance_status(&self) -> MaintenanceStatus {
        let mut draining: BTreeMap<&MachineKey, maintenance_status::DrainingMachine> = self
            .maintenance
            .machines
            .iter()
            .filter(|(_, machine)| machine.mode() == MachineMode::MachineDraining)
            .map(|(key, machine)| {
                let draining = maintenance_status::DrainingMachine {
                    id: machine.id.clone(),
                    statuses: Vec::new(),
                };
                (key, draining)
            })
            .collect();
        let agents: BTreeSet<&AgentId> = self.maintenance.unavailable.keys().collect();
        for agent_id in agents {
            let Some(key) = self
                .agents
                .get(agent_id)
                .and_then(|agent| self.machine_key_of(&agent.info))
            else {
                continue;
            };
            let Some(machine) = draining.get_mut(key) else {
                continue;
            };
            for (framework_id, status) in self.maintenance.answers.statuses(agent_id) {
                let answer = match status.answer {
                    InverseOfferAnswer::Accept => inverse_offer_status::Status::Accept,
                    InverseOfferAnswer::Decline => inverse_offer_status::Status::Decline,
                };
                machine.statuses.push(InverseOfferStatus {
                    status: answer as i32,
                    framework_id: framework_id.to_string(),
                    timestamp: self.unix(status.at),
                });
            }
        }
        MaintenanceStatus {
            draining_machines: draining.into_values().collect(),
            down_machines: self
                .maintenance
                .machines
                .values()
                .filter(|machine| machine.mode() == MachineMode::MachineDown)
                .filter_map(|machine| machine.id.clone())
                .collect(),
        }
    }

    /// The scheduled machines (DRAINING or DOWN) for the state views, in the schedule's
    /// machine order.
    pub(super) fn machine_views(&self) -> Vec<super::snapshot::MachineView> {
        use super::snapshot::{MachineView, UnavailabilityView};
        self.maintenance
            .machines
            .values()
            .map(|machine| {
                let id = machine.id.clone().unwrap_or_default();
                MachineView {
                    hostname: id.hostname,
                    ip: id.ip,
                    mode: match machine.mode() {
                        MachineMode::MachineDown => "DOWN",
                        _ => "DRAINING",
                    },
                    unavailability: machine.unavailability.as_ref().map(UnavailabilityView::of),
                }
            })
            .collect()
    }

    /// A registration from an agent on a DOWN machine, refused as Mesos refuses it: a known
    /// agent is told to shut down; a new one gets the error and retries later.
    pub(super) fn refuse_on_down_machine(
        &self,
        info: &AgentInfo,
    ) -> Option<Result<Registration, Error>> {
        let key = self.machine_key_of(info)?;
        let down = self
            .maintenance
            .machines
            .get(key)
            .is_some_and(|machine| machine.mode() == MachineMode::MachineDown);
        if !down {
            return None;
        }
        tracing::warn!(agent_id = %info.id, hostname = %info.hostname,
            "refused the registration of an agent on a machine in maintenance");
        if info.id.is_empty() {
            return Some(Err(Error::Conflict(MACHINE_DOWN.into())));
        }
        let shutdown = agent_command::Shutdown {
            message: MACHINE_DOWN.into(),
        };
        let commands = vec![
            self.registered_command(&info.id),
            wasmesos_proto::v1::AgentCommand {
                command: Some(agent_command::Command::Shutdown(shutdown)),
            },
        ];
        Some(Ok(Registration::Refused { commands }))
    }

    /// The unavailability of a registered agent's machine, for its offers.
    pub(super) fn unavailability_of(&self, id: &AgentId) -> Option<Unavailability> {
        self.maintenance.unavailable.get(id).copied()
    }

    /// Gives a registered agent its machine's unavailability, or takes it away, when that
    /// changed (Mesos's `updateUnavailability`): its offers and inverse offers are rescinded
    /// so that frameworks see the change at once, and its maintenance starts afresh.
    pub(super) fn refresh_unavailability(&mut self, id: &AgentId, now: Time) {
        let Some(agent) = self.agents.get(id) else {
            return;
        };
        let wanted = self
            .machine_key_of(&agent.info)
            .and_then(|key| self.maintenance.machines.get(key))
            .and_then(|machine| machine.unavailability);
        if self.maintenance.unavailable.get(id) == wanted.as_ref() {
            return;
        }
        self.rescind_and_recover_offers_on(id, now);
        self.rescind_inverse_offers_on(id, now);
        match wanted {
            Some(unavailability) => {
                tracing::info!(agent_id = %id, start_nanos = unavailability.start_nanos,
                    "agent's machine scheduled for maintenance");
                self.maintenance
                    .unavailable
                    .insert(id.clone(), unavailability);
            }
            None => {
                tracing::info!(agent_id = %id, "agent's machine no longer scheduled for maintenance");
                self.maintenance.unavailable.remove(id);
            }
        }
        self.maintenance
            .answers
            .set_unavailable(id, wanted.is_some());
        self.request_allocation(now);
    }

    /// A registered agent leaves: its inverse offers are rescinded and its maintenance
    /// forgotten (it starts afresh if it comes back).
    pub(super) fn maintenance_agent_left(&mut self, id: &AgentId, now: Time) {
        self.rescind_inverse_offers_on(id, now);
        if self.maintenance.unavailable.remove(id).is_some() {
            self.maintenance.answers.set_unavailable(id, false);
        }
    }

    /// The schedule and modes a restarted master finds in its registry.
    pub(super) fn recover_maintenance_record(&mut self, record: Option<MaintenanceRecord>) {
        let Some(record) = record else {
            return;
        };
        self.maintenance.schedule = record.schedule.unwrap_or_default();
        self.maintenance.machines = record
            .machines
            .into_iter()
            .filter_map(|machine| {
                let key = MachineKey::of(machine.id.as_ref()?);
                Some((key, machine))
            })
            .collect();
    }

    /// The scheduled machine an agent is on.
    fn machine_key_of(&self, info: &AgentInfo) -> Option<&MachineKey> {
        machine_of(&self.maintenance.machines, &info.hostname, &info.address).map(|(key, _)| key)
    }

    /// The keys of `ids`, each checked as Mesos checks START_MAINTENANCE and
    /// STOP_MAINTENANCE: a valid list of machines, each scheduled and in `mode`.
    fn scheduled(&self, ids: &[MachineId], mode: MachineMode) -> Result<Vec<MachineKey>, Error> {
        check_machines(ids)?;
        let mut keys = Vec::with_capacity(ids.len());
        for id in ids {
            let key = MachineKey::of(id);
            let Some(machine) = self.maintenance.machines.get(&key) else {
                return Err(Error::InvalidArgument(format!(
                    "Machine '{}' is not part of a maintenance schedule",
                    machine_text(id)
                )));
            };
            if machine.mode() != mode {
                let why = match mode {
                    MachineMode::MachineDown => "is not in DOWN mode and cannot be brought up",
                    _ => "is not in DRAINING mode and cannot be brought down",
                };
                return Err(Error::InvalidArgument(format!(
                    "Machine '{}' {why}",
                    machine_text(id)
                )));
            }
            keys.push(key);
        }
        Ok(keys)
    }

    /// Every registered agent's unavailability, after the schedule or a mode changed.
    fn refresh_all_unavailability(&mut self, now: Time) {
        let ids: Vec<AgentId> = self.agents.keys().cloned().collect();
        for id in ids {
            self.refresh_unavailability(&id, now);
        }
    }

    fn persist_maintenance(&mut self) {
        let record = MaintenanceRecord {
            schedule: Some(self.maintenance.schedule.clone()),
            machines: self.maintenance.machines.values().cloned().collect(),
        };
        self.registry_ops.push(Op::PutMaintenance(record));
    }
}
