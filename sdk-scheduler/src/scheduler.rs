//! The callbacks a framework implements.

use std::future::Future;

use wasmesos_proto::event;
use wasmesos_proto::{InverseOffer, Offer, TaskStatus};

use crate::Driver;

/// A framework's scheduler: the [`Driver`] calls these as events arrive from the master, one
/// at a time and in order. Every method has an empty default, so implement only what matters.
///
/// Callbacks are `async` (write `async fn` in your impl) so they can await driver calls such
/// as [`Driver::launch`]; the driver reads no further event until a callback returns, so keep
/// them short and move long work to a spawned task holding a clone of the driver.
pub trait Scheduler: Send {
    /// The master accepted the subscription (first time or after a reconnect).
    fn subscribed(
        &mut self,
        driver: &Driver,
        subscribed: &event::Subscribed,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, subscribed);
        async {}
    }

    /// New resource offers; answer each with [`Driver::launch`], [`Driver::accept`] or
    /// [`Driver::decline`] (an offer left unanswered stays with this framework).
    fn offers(&mut self, driver: &Driver, offers: Vec<Offer>) -> impl Future<Output = ()> + Send {
        let _ = (driver, offers);
        async {}
    }

    /// The master withdrew an offer (its agent left, or the offer timed out).
    fn rescinded(&mut self, driver: &Driver, offer_id: &str) -> impl Future<Output = ()> + Send {
        let _ = (driver, offer_id);
        async {}
    }

    /// A task changed state. Updates are delivered at least once: the same update (same
    /// `uuid`) may arrive again, so handle duplicates. With `auto_acknowledge` the driver
    /// acknowledges the update after this returns.
    fn update(&mut self, driver: &Driver, status: &TaskStatus) -> impl Future<Output = ()> + Send {
        let _ = (driver, status);
        async {}
    }

    /// An executor sent the framework a message.
    fn message(
        &mut self,
        driver: &Driver,
        message: &event::Message,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, message);
        async {}
    }

    /// An agent was lost; the LOST updates of its tasks arrive separately.
    fn failure(&mut self, driver: &Driver, agent_id: &str) -> impl Future<Output = ()> + Send {
        let _ = (driver, agent_id);
        async {}
    }

    /// The master reported an error about this framework, e.g. a rejected ACCEPT.
    fn error(&mut self, driver: &Driver, message: &str) -> impl Future<Output = ()> + Send {
        let _ = (driver, message);
        async {}
    }

    /// The master asks for the resources this framework holds on agents whose machine is
    /// scheduled for maintenance: each inverse offer names an agent and its
    /// `unavailability`. Answer with [`Driver::accept_inverse_offers`] (the framework will
    /// be off the agent before the window starts) or [`Driver::decline_inverse_offers`].
    /// Unanswered, one stays outstanding; nothing is taken back either way.
    fn inverse_offers(
        &mut self,
        driver: &Driver,
        inverse_offers: Vec<InverseOffer>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, inverse_offers);
        async {}
    }

    /// The master withdrew an inverse offer (its agent left, the schedule changed, or it
    /// timed out).
    fn inverse_offer_rescinded(
        &mut self,
        driver: &Driver,
        inverse_offer_id: &str,
    ) -> impl Future<Output = ()> + Send {
        let _ = (driver, inverse_offer_id);
        async {}
    }

    /// The subscription was lost (stream ended or heartbeats missed); the driver is about to
    /// re-subscribe with backoff, keeping the framework id.
    fn disconnected(&mut self, driver: &Driver) -> impl Future<Output = ()> + Send {
        let _ = driver;
        async {}
    }
}
