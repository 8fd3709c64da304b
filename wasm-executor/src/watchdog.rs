//! The epoch callback: what a task checks on every tick while its guest code runs.
//!
//! Epoch interruption is what stops a guest that never calls the host. On each tick the
//! watchdog interrupts it if it was stopped (kill, disk) or ran out of time, pauses it when it
//! is over its CPU share, waits while it is suspended, and otherwise yields now and then so that one busy guest cannot hold
//! a tokio worker thread for long.
//!
//! An instance serving one request of a service has two controls: its own, which its
//! per-request timeout stops, and the service's (kill, disk, memory), which stops them all.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::UpdateDeadline;

use crate::control::{Control, StopReason};
use crate::cpu::{CpuMeter, Throttle};

/// Ticks of uninterrupted guest code before yielding to other tasks on the same worker.
const TICKS_PER_YIELD: u32 = 10;

pub(crate) struct Watchdog {
    /// Stopped by this watchdog when the deadline passes.
    pub(crate) control: Arc<Control>,
    /// The service's control, for an instance serving one of its requests.
    pub(crate) service: Option<Arc<Control>>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) throttle: Option<Throttle>,
    pub(crate) meter: Arc<CpuMeter>,
    pub(crate) ticks_since_yield: u32,
}

impl Watchdog {
    pub(crate) fn on_tick(&mut self) -> UpdateDeadline {
        let service_stopped = || self.service.as_ref().is_some_and(|c| c.reason().is_some());
        if self.control.reason().is_some() || service_stopped() {
            return UpdateDeadline::Interrupt;
        }
        if let Some(paused) = self.suspended() {
            self.ticks_since_yield = 0;
            return UpdateDeadline::YieldCustom(1, paused);
        }
        let now = Instant::now();
        // Time suspended does not count toward the wall-clock limit.
        let suspended_for = self
            .service
            .as_ref()
            .map_or_else(|| self.control.suspended_for(), |c| c.suspended_for());
        if self
            .deadline
            .is_some_and(|deadline| now >= deadline + suspended_for)
        {
            self.control.stop(StopReason::Timeout);
            return UpdateDeadline::Interrupt;
        }
        if let Some(pause) = self.pause(now) {
            self.ticks_since_yield = 0;
            return UpdateDeadline::YieldCustom(1, Box::pin(tokio::time::sleep(pause)));
        }
        self.ticks_since_yield += 1;
        if self.ticks_since_yield >= TICKS_PER_YIELD {
            self.ticks_since_yield = 0;
            return UpdateDeadline::Yield(1);
        }
        UpdateDeadline::Continue(1)
    }

    /// The wait of a suspended task (or of an instance of a suspended service).
    fn suspended(&self) -> Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> {
        if self.control.is_suspended() {
            return Some(Box::pin(Arc::clone(&self.control).resumed()));
        }
        let service = self.service.as_ref().filter(|c| c.is_suspended())?;
        Some(Box::pin(Arc::clone(service).resumed()))
    }

    fn pause(&self, now: Instant) -> Option<std::time::Duration> {
        let throttle = self.throttle.as_ref()?;
        let mut charged = self.meter.charged_in_poll();
        if let Some(floor) = throttle.credit_floor(charged, now) {
            self.meter.charge_at_least(floor);
            charged = self.meter.charged_in_poll();
        }
        throttle.pause(charged, now)
    }
}
