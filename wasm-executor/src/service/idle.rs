//! The wait for a request: a connection that has none in flight for longer than the service's
//! `header_read_timeout` (an idle keep-alive connection, or a client slow to send its headers)
//! is closed, so that nobody holds a connection for free.
//!
//! One timer per connection, re-armed only when it fires: a request costs two atomic
//! operations and a clock read, not a timer of its own (hyper's `header_read_timeout` arms
//! one per request, a measurable share of a small request's cost).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// What one connection's requests tell its idle timer.
pub(super) struct IdleTimer {
    timeout: Duration,
    opened: Instant,
    /// Requests whose response is not yet wholly written.
    in_flight: AtomicU32,
    /// When the last response was done, in nanoseconds since `opened` (0: none yet).
    idle_since_nanos: AtomicU64,
}

impl IdleTimer {
    pub(super) fn new(timeout: Duration) -> Arc<Self> {
        Arc::new(IdleTimer {
            timeout,
            opened: Instant::now(),
            in_flight: AtomicU32::new(0),
            idle_since_nanos: AtomicU64::new(0),
        })
    }

    /// Marks a request in flight until the returned guard drops (with its response's body).
    pub(super) fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight {
            timer: Arc::clone(self),
        }
    }

    /// Resolves once the connection has waited longer than the timeout for a request.
    pub(super) async fn expired(&self) {
        let sleep = tokio::time::sleep(self.timeout);
        let mut sleep = std::pin::pin!(sleep);
        loop {
            sleep.as_mut().await;
            let now = Instant::now();
            if self.in_flight.load(Ordering::Acquire) > 0 {
                // The wait starts when the response is done: look again a timeout later.
                sleep.as_mut().reset(now + self.timeout);
                continue;
            }
            let idle_since =
                self.opened + Duration::from_nanos(self.idle_since_nanos.load(Ordering::Acquire));
            let deadline = idle_since + self.timeout;
            if now >= deadline {
                return;
            }
            sleep.as_mut().reset(deadline);
        }
    }

    fn request_done(&self) {
        let since_open = u64::try_from(self.opened.elapsed().as_nanos()).unwrap_or(u64::MAX);
        // Stamped before the count drops: the timer never sees no request and an old stamp.
        self.idle_since_nanos
            .fetch_max(since_open, Ordering::AcqRel);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A request in flight; see [`IdleTimer::request_started`].
pub(super) struct InFlight {
    timer: Arc<IdleTimer>,
}

impl InFlight {
    /// `body`, keeping the request in flight until it is written or dropped.
    pub(super) fn until_sent(self, body: HyperOutgoingBody) -> TrackedBody {
        TrackedBody {
            body,
            _in_flight: self,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.timer.request_done();
    }
}

/// A response body that keeps its request in flight for the idle timer.
pub(super) struct TrackedBody {
    body: HyperOutgoingBody,
    _in_flight: InFlight,
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_expires_after_the_timeout() {
        let timer = IdleTimer::new(Duration::from_secs(30));
        let started = tokio::time::Instant::now();
        timer.expired().await;
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_holds_the_connection_and_the_wait_restarts_when_it_is_done() {
        let timer = IdleTimer::new(Duration::from_secs(30));
        let started = tokio::time::Instant::now();
        let request = timer.request_started();
        let expired = timer.expired();
        let mut expired = std::pin::pin!(expired);
        // In flight for 100 s: the connection is not idle meanwhile.
        tokio::select! {
            () = expired.as_mut() => panic!("expired with a request in flight"),
            () = tokio::time::sleep(Duration::from_secs(100)) => {}
        }
        drop(request);
        expired.await;
        let waited = started.elapsed();
        // Idle from 100 s: expired at 130 s, seen at the first check after that.
        assert!(
            waited >= Duration::from_secs(130) && waited <= Duration::from_secs(150),
            "{waited:?}"
        );
    }
}
