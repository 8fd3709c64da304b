//! `Operator`'s maintenance calls (the schedule, the machines' status, START_MAINTENANCE and
//! STOP_MAINTENANCE) and what the Mesos operator API shares with them: the ACL checks of
//! `get_maintenance_schedules`, `update_maintenance_schedules`, `start_maintenances`,
//! `stop_maintenances` and `get_maintenance_statuses`, and the views that leave out the
//! machines a caller may not see. The core checks the schedule itself (Mesos's messages).

use tonic::{Request, Response, Status};
use wasmesos_proto::v1::{
    GetMaintenanceScheduleRequest, GetMaintenanceStatusRequest, MachinesRequest,
    MaintenanceSchedule, MaintenanceStatus, StartMaintenanceResponse, StopMaintenanceResponse,
    UpdateMaintenanceScheduleRequest, UpdateMaintenanceScheduleResponse,
};

use super::operator::OperatorService;
use crate::auth::{Action, Caller, Security};

/// The part of the schedule `caller` may see: its windows with only the machines it may
/// see, and no window left empty.
pub(crate) fn visible_schedule(
    security: &Security,
    caller: &Caller,
    mut schedule: MaintenanceSchedule,
) -> MaintenanceSchedule {
    let action = Action::GetMaintenanceSchedules;
    for window in &mut schedule.windows {
        window
            .machine_ids
            .retain(|id| security.sees_machine(caller, action, id));
    }
    schedule
        .windows
        .retain(|window| !window.machine_ids.is_empty());
    schedule
}

/// The part of the status `caller` may see.
pub(crate) fn visible_status(
    security: &Security,
    caller: &Caller,
    mut status: MaintenanceStatus,
) -> MaintenanceStatus {
    let action = Action::GetMaintenanceStatuses;
    status.draining_machines.retain(|machine| {
        machine
            .id
            .as_ref()
            .is_some_and(|id| security.sees_machine(caller, action, id))
    });
    status
        .down_machines
        .retain(|id| security.sees_machine(caller, action, id));
    status
}

/// The machines a schedule names, for its ACL check.
pub(crate) fn scheduled_machines(
    schedule: &MaintenanceSchedule,
) -> Vec<wasmesos_proto::v1::MachineId> {
    schedule
        .windows
        .iter()
        .flat_map(|window| window.machine_ids.iter().cloned())
        .collect()
}

impl OperatorService {
    pub(super) async fn get_schedule(
        &self,
        request: Request<GetMaintenanceScheduleRequest>,
    ) -> Result<Response<MaintenanceSchedule>, Status> {
        let caller = Caller::of(&request);
        let schedule = self.actor.maintenance_schedule().await?;
        let security = self.actor.security();
        Ok(Response::new(visible_schedule(security, &caller, schedule)))
    }

    pub(super) async fn update_schedule(
        &self,
        request: Request<UpdateMaintenanceScheduleRequest>,
    ) -> Result<Response<UpdateMaintenanceScheduleResponse>, Status> {
        let caller = Caller::of(&request);
        let schedule = request.into_inner().schedule.unwrap_or_default();
        self.actor.security().check_machines(
            &caller,
            Action::UpdateMaintenanceSchedules,
            &scheduled_machines(&schedule),
        )?;
        self.actor.update_maintenance_schedule(schedule).await?;
        Ok(Response::new(UpdateMaintenanceScheduleResponse {}))
    }

    pub(super) async fn get_status(
        &self,
        request: Request<GetMaintenanceStatusRequest>,
    ) -> Result<Response<MaintenanceStatus>, Status> {
        let caller = Caller::of(&request);
        let status = self.actor.maintenance_status().await?;
        let security = self.actor.security();
        Ok(Response::new(visible_status(security, &caller, status)))
    }

    pub(super) async fn start(
        &self,
        request: Request<MachinesRequest>,
    ) -> Result<Response<StartMaintenanceResponse>, Status> {
        let caller = Caller::of(&request);
        let machines = request.into_inner().machines;
        self.actor
            .security()
            .check_machines(&caller, Action::StartMaintenances, &machines)?;
        self.actor.start_maintenance(machines).await?;
        Ok(Response::new(StartMaintenanceResponse {}))
    }

    pub(super) async fn stop(
        &self,
        request: Request<MachinesRequest>,
    ) -> Result<Response<StopMaintenanceResponse>, Status> {
        let caller = Caller::of(&request);
        let machines = request.into_inner().machines;
        self.actor
            .security()
            .check_machines(&caller, Action::StopMaintenances, &machines)?;
        self.actor.stop_maintenance(machines).await?;
        Ok(Response::new(StopMaintenanceResponse {}))
    }
}
