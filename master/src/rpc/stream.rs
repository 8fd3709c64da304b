//! The server side of a long-lived stream: items the actor pushes, optional heartbeats when
//! the stream is idle, and a notice to the actor when the client goes away.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::time::{Interval, MissedTickBehavior};

use super::queue::{EventReceiver, OnEnd};

/// A stream fed by a bounded queue (which ends the stream when its reader falls too far
/// behind), with heartbeats and a close notice.
pub(crate) struct PushStream<T> {
    rx: EventReceiver<T>,
    heartbeat: Option<(Interval, fn() -> T)>,
}

impl<T> PushStream<T> {
    /// `on_close` runs once, when the stream is dropped (the client went away) or its queue
    /// overflowed (the client stopped reading), whichever comes first.
    pub(crate) fn new(rx: EventReceiver<T>, on_close: OnEnd) -> Self {
        rx.on_end(on_close);
        Self {
            rx,
            heartbeat: None,
        }
    }

    /// Adds a `make()` item every `period` (the first one `period` from now). The period must
    /// be positive and bounded (the core's heartbeat intervals are): the ticker panics on zero
    /// and when a tick falls past what an `Instant` holds.
    pub(crate) fn with_heartbeat(mut self, period: Duration, make: fn() -> T) -> Self {
        let now = tokio::time::Instant::now();
        let first = now.checked_add(period).unwrap_or(now);
        let mut interval = tokio::time::interval_at(first, period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        self.heartbeat = Some((interval, make));
        self
    }
}

impl<T> Stream for PushStream<T> {
    type Item = Result<T, tonic::Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Poll::Ready(item) = this.rx.poll_recv(cx) {
            if let Some((interval, _)) = this.heartbeat.as_mut() {
                interval.reset();
            }
            return Poll::Ready(item.map(Ok));
        }
        if let Some((interval, make)) = this.heartbeat.as_mut()
            && interval.poll_tick(cx).is_ready()
        {
            return Poll::Ready(Some(Ok(make())));
        }
        Poll::Pending
    }
}

impl<T> Drop for PushStream<T> {
    fn drop(&mut self) {
        self.rx.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test(start_paused = true)]
    async fn yields_pushed_items_then_heartbeats_and_reports_its_end() {
        let (tx, rx) = crate::rpc::queue::channel(4);
        let closed = Arc::new(AtomicBool::new(false));
        let flag = closed.clone();
        let mut stream = PushStream::new(rx, Box::new(move || flag.store(true, Ordering::SeqCst)))
            .with_heartbeat(Duration::from_secs(1), || 0u32);
        tx.send(7).expect("room");
        assert_eq!(stream.next().await.and_then(Result::ok), Some(7));
        // Paused time auto-advances to the next timer, so this is the heartbeat.
        assert_eq!(stream.next().await.and_then(Result::ok), Some(0));
        drop(tx);
        assert!(stream.next().await.is_none());
        assert!(!closed.load(Ordering::SeqCst));
        drop(stream);
        assert!(closed.load(Ordering::SeqCst));
    }
}
