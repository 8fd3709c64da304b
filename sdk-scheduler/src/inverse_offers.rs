//! Inverse offers: the master asks the framework to give back what it holds on agents whose
//! machine is scheduled for maintenance ([`Scheduler::inverse_offers`]); the framework
//! answers with [`Driver::accept_inverse_offers`] (it will be off those agents before the
//! unavailability starts) or [`Driver::decline_inverse_offers`] (it cannot). Either answer
//! is advice: the operator reads it from the maintenance status and decides when to take
//! the machine down.
//!
//! [`Scheduler::inverse_offers`]: crate::Scheduler::inverse_offers

use wasmesos_proto::{Filters, InverseOffersAnswer};

use crate::driver::{Driver, strings};
use crate::error::Error;

impl Driver {
    /// Accepts inverse offers. `filters` keeps the next inverse offer for the same agents
    /// away for its `refuse_seconds` (the master's default, 5 s, when `None`).
    pub async fn accept_inverse_offers<I, S>(
        &self,
        inverse_offer_ids: I,
        filters: Option<Filters>,
    ) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let inverse_offer_ids = strings(inverse_offer_ids);
        self.call(
            "accept_inverse_offers",
            |mut client, framework_id| async move {
                let request = InverseOffersAnswer {
                    framework_id,
                    inverse_offer_ids,
                    filters,
                };
                client.accept_inverse_offers(request).await
            },
        )
        .await
    }

    /// Declines inverse offers, with `filters` as for [`Driver::accept_inverse_offers`].
    pub async fn decline_inverse_offers<I, S>(
        &self,
        inverse_offer_ids: I,
        filters: Option<Filters>,
    ) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let inverse_offer_ids = strings(inverse_offer_ids);
        self.call(
            "decline_inverse_offers",
            |mut client, framework_id| async move {
                let request = InverseOffersAnswer {
                    framework_id,
                    inverse_offer_ids,
                    filters,
                };
                client.decline_inverse_offers(request).await
            },
        )
        .await
    }
}
