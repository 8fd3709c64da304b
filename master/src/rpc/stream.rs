//! The server side of a long-lived stream: items the actor pushes, optional heartbeats when
//! the stream is idle, and a notice to the actor when the client goes away.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;
use tokio::time::{Interval, MissedTickBehavior};

use super::queue::EventReceiver;

/// What runs when the stream is dropped (the client disconnected or the server ended it).
type OnClose = Box<dyn FnOnce() + Send>;

/// Where a [`PushStream`]'s items come from: an agent's command channel, or a framework's
/// bounded event queue (which ends the stream when its reader falls too far behind).
pub(crate) enum Source<T> {
    Unbounded(mpsc::UnboundedReceiver<T>),
    Bounded(EventReceiver<T>),
}

impl<T> From<mpsc::UnboundedReceiver<T>> for Source<T> {
    fn from(rx: mpsc::UnboundedReceiver<T>) -> Self {
        Self::Unbounded(rx)
    }
}

impl<T> From<EventReceiver<T>> for Source<T> {
    fn from(rx: EventReceiver<T>) -> Self {
        Self::Bounded(rx)
    }
}

impl<T> Source<T> {
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self {
            Self::Unbounded(rx) => rx.poll_recv(cx),
            Self::Bounded(rx) => rx.poll_recv(cx),
        }
    }
}

/// A stream fed by a channel, with heartbeats and a close notice.
pub(crate) struct PushStream<T> {
    rx: Source<T>,
    heartbeat: Option<(Interval, fn() -> T)>,
    on_close: Option<OnClose>,
}

impl<T> PushStream<T> {
    pub(crate) fn new(rx: impl Into<Source<T>>, on_close: OnClose) -> Self {
        Self {
            rx: rx.into(),
            heartbeat: None,
            on_close: Some(on_close),
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
        if let Some(on_close) = self.on_close.take() {
            on_close();
        }
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
        #[allow(
            clippy::disallowed_methods,
            reason = "a subscriber's event stream; not bounded yet: disconnecting a reader that stops reading is the control-plane hardening work"
        )]
        let (tx, rx) = mpsc::unbounded_channel();
        let closed = Arc::new(AtomicBool::new(false));
        let flag = closed.clone();
        let mut stream = PushStream::new(rx, Box::new(move || flag.store(true, Ordering::SeqCst)))
            .with_heartbeat(Duration::from_secs(1), || 0u32);
        tx.send(7).expect("send");
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
