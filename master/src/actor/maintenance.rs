//! The actor's maintenance operations: the schedule, machine modes and status for the
//! operator, and the inverse offer answers of frameworks. Reads go through the actor too, so
//! a schedule just posted is seen by the next GET.

use wasmesos_allocator::InverseOfferAnswer;
use wasmesos_proto::v1::{InverseOffersAnswer, MachineId, MaintenanceSchedule, MaintenanceStatus};

use super::Actor;
use crate::Error;

impl Actor {
    pub(crate) async fn maintenance_schedule(&self) -> Result<MaintenanceSchedule, Error> {
        self.core(|core, _| core.maintenance_schedule()).await
    }

    pub(crate) async fn update_maintenance_schedule(
        &self,
        schedule: MaintenanceSchedule,
    ) -> Result<(), Error> {
        self.core(move |core, now| core.update_maintenance_schedule(schedule, now))
            .await?
    }

    pub(crate) async fn maintenance_status(&self) -> Result<MaintenanceStatus, Error> {
        self.core(|core, _| core.maintenance_status()).await
    }

    pub(crate) async fn start_maintenance(&self, machines: Vec<MachineId>) -> Result<(), Error> {
        self.core(move |core, now| core.start_maintenance(&machines, now))
            .await?
    }

    pub(crate) async fn stop_maintenance(&self, machines: Vec<MachineId>) -> Result<(), Error> {
        self.core(move |core, now| core.stop_maintenance(&machines, now))
            .await?
    }

    /// ACCEPT_INVERSE_OFFERS or DECLINE_INVERSE_OFFERS from a framework.
    pub(crate) async fn answer_inverse_offers(
        &self,
        req: InverseOffersAnswer,
        answer: InverseOfferAnswer,
    ) -> Result<(), Error> {
        self.core(move |core, now| core.answer_inverse_offers(req, answer, now))
            .await?
    }
}
