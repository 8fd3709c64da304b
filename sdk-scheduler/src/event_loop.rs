//! [`Driver::run`]: subscribe, dispatch events to the scheduler, re-subscribe when the
//! subscription is lost.

use std::time::Duration;

use tokio::sync::watch;
use tonic::Code;
use tonic::codec::Streaming;
use tracing::Instrument;
use wasmesos_detector::Backoff;
use wasmesos_proto::{Event, LEADER_METADATA_KEY, SubscribeRequest, event};

use crate::error::Error;
use crate::{Driver, Scheduler};

/// The longest heartbeat interval the driver believes; a master's larger figure is clamped.
const MAX_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3600);

/// Why a subscription stream stopped delivering events.
enum StreamEnd {
    /// [`Driver::stop`] was called.
    Stopped,
    /// The stream broke or went silent; worth re-subscribing.
    Lost {
        reason: String,
        was_subscribed: bool,
    },
}

impl Driver {
    /// Subscribes and dispatches every event to `scheduler` until [`Driver::stop`] (or
    /// [`Driver::teardown`]) is called. A lost subscription (stream ended, master restarting,
    /// heartbeats missed) is re-established with jittered exponential backoff under the same
    /// framework id, after calling [`Scheduler::disconnected`]. Returns an error only when the
    /// master refuses the framework for good (e.g. INVALID_ARGUMENT, or NOT_FOUND for a
    /// framework id it removed).
    pub async fn run<S: Scheduler>(&self, scheduler: &mut S) -> Result<(), Error> {
        let config = &self.inner.config;
        let mut stop = self.inner.stop.subscribe();
        let mut backoff = Backoff::new(config.backoff_min, config.backoff_max);
        loop {
            if *stop.borrow_and_update() {
                return Ok(());
            }
            match self.subscribe().await {
                Ok(stream) => match self.pump(stream, scheduler, &mut stop).await? {
                    StreamEnd::Stopped => return Ok(()),
                    StreamEnd::Lost {
                        reason,
                        was_subscribed,
                    } => {
                        self.inner.link.set_subscribed(false);
                        tracing::warn!(framework_id = ?self.framework_id(), %reason, "subscription lost");
                        if was_subscribed {
                            backoff.reset();
                            scheduler.disconnected(self).await;
                        }
                    }
                },
                Err(status) => self.handle_subscribe_error(status)?,
            }
            let delay = backoff.next_delay();
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stop.changed() => {}
                // A new leader behind a zk:// URL is worth trying at once.
                () = self.inner.link.leader_changed() => backoff.reset(),
            }
        }
    }

    async fn subscribe(&self) -> Result<Streaming<Event>, tonic::Status> {
        let config = &self.inner.config;
        let mut framework = config.framework.clone();
        framework.id = self.framework_id().unwrap_or_default();
        let request = SubscribeRequest {
            framework: Some(framework),
            heartbeat_interval_seconds: config.heartbeat_interval.as_secs_f64(),
        };
        let span = tracing::debug_span!("subscribe", framework_id = ?self.framework_id());
        let response = self
            .inner
            .link
            .client()
            .subscribe(request)
            .instrument(span)
            .await?;
        self.inner.link.subscribed(&response);
        Ok(response.into_inner())
    }

    /// Retries transient failures (after following a leader redirect); gives up on refusals.
    fn handle_subscribe_error(&self, status: tonic::Status) -> Result<(), Error> {
        // With a zk:// URL, ZooKeeper is the authority: a standby's redirect may be stale.
        if let Some(leader) = self.inner.link.detected_leader() {
            if leader != self.master_url() {
                tracing::info!(%leader, "retrying at the leader ZooKeeper names");
                self.inner.link.redirect(&leader)?;
            }
            if is_refusal(status.code()) {
                return Err(Error::rpc("subscribe", status));
            }
            return Ok(());
        }
        if let Some(leader) = leader_of(&status).filter(|url| *url != self.master_url()) {
            tracing::info!(%leader, "following the master's redirect to the leader");
            self.inner.link.redirect(&leader)?;
            return Ok(());
        }
        if is_refusal(status.code()) {
            return Err(Error::rpc("subscribe", status));
        }
        tracing::debug!(err = %status.message(), code = ?status.code(), "subscribe failed; retrying");
        Ok(())
    }

    /// Reads events until the stream ends, goes silent or the driver is stopped.
    async fn pump<S: Scheduler>(
        &self,
        mut stream: Streaming<Event>,
        scheduler: &mut S,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<StreamEnd, Error> {
        let mut silence_limit = self.inner.config.connect_timeout;
        let mut was_subscribed = false;
        loop {
            let next = tokio::select! {
                biased;
                _ = stop.changed() => return Ok(StreamEnd::Stopped),
                next = tokio::time::timeout(silence_limit, stream.message()) => next,
            };
            let lost = |reason: String| StreamEnd::Lost {
                reason,
                was_subscribed,
            };
            let event = match next {
                Err(_elapsed) => return Ok(lost(format!("no event for {silence_limit:?}"))),
                Ok(Ok(None)) => return Ok(lost("the master closed the stream".into())),
                Ok(Err(status)) if is_refusal(status.code()) => {
                    return Err(Error::rpc("subscribe", status));
                }
                Ok(Err(status)) => return Ok(lost(status.message().to_string())),
                Ok(Ok(Some(event))) => event,
            };
            if let Some(event::Event::Subscribed(subscribed)) = &event.event {
                was_subscribed = true;
                self.inner.link.set_subscribed(true);
                silence_limit = self.silence_limit(subscribed);
            }
            self.dispatch(event, scheduler).await;
        }
    }

    /// How long the stream may stay quiet before the master counts as gone.
    fn silence_limit(&self, subscribed: &event::Subscribed) -> Duration {
        let config = &self.inner.config;
        silence_limit(
            subscribed.heartbeat_interval_seconds,
            config.heartbeat_interval,
            config.max_missed_heartbeats,
        )
    }

    async fn dispatch<S: Scheduler>(&self, event: Event, scheduler: &mut S) {
        let Some(event) = event.event else {
            return;
        };
        match event {
            event::Event::Subscribed(subscribed) => {
                self.inner.link.set_framework_id(&subscribed.framework_id);
                tracing::info!(framework_id = %subscribed.framework_id, "subscribed");
                self.inner.tracked.subscribed();
                scheduler.subscribed(self, &subscribed).await;
                self.reconcile_after_subscribe().await;
            }
            event::Event::Offers(offers) => scheduler.offers(self, offers.offers).await,
            event::Event::Rescind(rescind) => scheduler.rescinded(self, &rescind.offer_id).await,
            event::Event::Update(update) => {
                for status in &update.statuses {
                    if self.inner.tracked.is_stale_answer(status) {
                        tracing::debug!(task_id = %status.task_id, "dropped a reconciliation answer for a task already ended");
                        continue;
                    }
                    self.inner.tracked.observed(status);
                    scheduler.update(self, status).await;
                    // After stop (or teardown) the framework is done with its updates.
                    if self.inner.config.auto_acknowledge && !self.is_stopped() {
                        self.acknowledge(status);
                    }
                }
            }
            event::Event::Message(message) => scheduler.message(self, &message).await,
            event::Event::Failure(failure) => scheduler.failure(self, &failure.agent_id).await,
            event::Event::Error(error) => scheduler.error(self, &error.message).await,
            event::Event::Heartbeat(_) => {}
            event::Event::InverseOffers(offers) => {
                scheduler.inverse_offers(self, offers.inverse_offers).await;
            }
            event::Event::RescindInverseOffer(rescind) => {
                scheduler
                    .inverse_offer_rescinded(self, &rescind.inverse_offer_id)
                    .await;
            }
        }
    }
}

/// Status codes that no amount of retrying will change.
fn is_refusal(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument
            | Code::NotFound
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::Unimplemented
    )
}

fn leader_of(status: &tonic::Status) -> Option<String> {
    if status.code() != Code::Unavailable {
        return None;
    }
    let leader = status.metadata().get(LEADER_METADATA_KEY)?.to_str().ok()?;
    Some(leader.to_string()).filter(|url| !url.is_empty())
}

/// `max_missed` heartbeat intervals: the master's `announced` seconds when sane (clamped to
/// [`MAX_HEARTBEAT_INTERVAL`]), else `default`; a year when no heartbeats are promised.
fn silence_limit(announced: f64, default: Duration, max_missed: u32) -> Duration {
    let interval = Some(announced)
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
        // A master announcing absurd intervals must not make the driver wait for ever; one too
        // large for a `Duration` at all is clamped the same way.
        .map(|seconds| {
            Duration::try_from_secs_f64(seconds).map_or(MAX_HEARTBEAT_INTERVAL, |interval| {
                interval.min(MAX_HEARTBEAT_INTERVAL)
            })
        })
        .unwrap_or(default);
    if interval.is_zero() {
        // No heartbeats promised: only a broken stream can tell us the master is gone.
        return Duration::from_secs(365 * 24 * 3600);
    }
    interval.saturating_mul(max_missed.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_heartbeat_intervals_are_bounded() {
        let default = Duration::from_secs(15);
        assert_eq!(silence_limit(2.0, default, 3), Duration::from_secs(6));
        assert_eq!(silence_limit(1e19, default, 3), MAX_HEARTBEAT_INTERVAL * 3);
        assert_eq!(
            silence_limit(f64::MAX, default, u32::MAX),
            MAX_HEARTBEAT_INTERVAL.saturating_mul(u32::MAX)
        );
        for bad in [f64::NAN, f64::INFINITY, -1.0, 0.0] {
            assert_eq!(silence_limit(bad, default, 3), default * 3, "{bad}");
        }
        assert_eq!(
            silence_limit(0.0, Duration::ZERO, 3),
            Duration::from_secs(365 * 24 * 3600)
        );
    }
}
