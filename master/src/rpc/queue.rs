//! A stream's bounded queue, owned by the stream: a framework's events and an agent's
//! commands. The actor never waits on a reader; when a peer stops reading (a stalled HTTP
//! or gRPC client) and the queue fills, the stream is ended and the peer treated as
//! disconnected, as Mesos treats a broken connection: a framework's failover timeout starts
//! and it may subscribe again; an agent re-registers (the master reconciles its tasks then).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};

/// Events queued for one framework stream before it is ended as stalled. Far more than a
/// live scheduler ever has in flight (an offer round is one event per framework), so only a
/// reader that stopped reading reaches it.
pub(crate) const FRAMEWORK_EVENT_QUEUE: usize = 4096;

/// Commands queued for one agent's stream before it is ended as stalled. A live agent reads
/// its stream continuously, and a burst is small (one LAUNCH per agent per ACCEPT, one
/// ACKNOWLEDGE per batch), so only an agent that stopped reading reaches it.
pub(crate) const AGENT_COMMAND_QUEUE: usize = 4096;

/// The one-shot "the queue overflowed" signal, fired at most once.
type Overflow = Arc<Mutex<Option<oneshot::Sender<()>>>>;

/// The sending half. Sends never wait: a full queue ends the stream instead.
pub(crate) struct EventSender<T> {
    tx: mpsc::Sender<T>,
    overflow: Overflow,
}

impl<T> Clone for EventSender<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            overflow: Arc::clone(&self.overflow),
        }
    }
}

/// A sender that does not keep the stream open (see [`EventSender::downgrade`]).
pub(crate) struct WeakEventSender<T> {
    tx: mpsc::WeakSender<T>,
    overflow: Overflow,
}

/// The receiving half: yields the events, and ends once the queue has overflowed.
pub(crate) struct EventReceiver<T> {
    rx: mpsc::Receiver<T>,
    overflow: Option<oneshot::Receiver<()>>,
    /// Set once the queue overflowed: the stream yields nothing more.
    ended: bool,
    /// What the stream is, for the log line that ends it.
    what: &'static str,
}

/// Why a send did not queue the event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SendError {
    /// The reader is gone.
    Closed,
    /// The reader fell `capacity` events behind; its stream is being ended.
    Overflowed,
}

/// A framework's event queue of `capacity` events (at least one).
pub(crate) fn channel<T>(capacity: usize) -> (EventSender<T>, EventReceiver<T>) {
    channel_for(capacity, "a framework's event stream")
}

/// A queue of `capacity` items (at least one) for the stream `what` names in its log line.
pub(crate) fn channel_for<T>(
    capacity: usize,
    what: &'static str,
) -> (EventSender<T>, EventReceiver<T>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let (overflow_tx, overflow_rx) = oneshot::channel();
    (
        EventSender {
            tx,
            overflow: Arc::new(Mutex::new(Some(overflow_tx))),
        },
        EventReceiver {
            rx,
            overflow: Some(overflow_rx),
            ended: false,
            what,
        },
    )
}

impl<T> EventSender<T> {
    /// Queues `event` without waiting; a full queue fires the overflow signal once.
    pub(crate) fn send(&self, event: T) -> Result<(), SendError> {
        match self.tx.try_send(event) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SendError::Closed),
            Err(mpsc::error::TrySendError::Full(_)) => {
                let fire = self
                    .overflow
                    .lock()
                    .map(|mut signal| signal.take())
                    .unwrap_or(None);
                if let Some(fire) = fire {
                    let _ = fire.send(());
                }
                Err(SendError::Overflowed)
            }
        }
    }

    pub(crate) fn downgrade(&self) -> WeakEventSender<T> {
        WeakEventSender {
            tx: self.tx.downgrade(),
            overflow: Arc::clone(&self.overflow),
        }
    }
}

impl<T> WeakEventSender<T> {
    /// The sender, while the stream is open.
    pub(crate) fn upgrade(&self) -> Option<EventSender<T>> {
        Some(EventSender {
            tx: self.tx.upgrade()?,
            overflow: Arc::clone(&self.overflow),
        })
    }
}

impl<T> EventReceiver<T> {
    /// The next event; `None` when every sender is gone or the queue overflowed (then the
    /// events still queued are dropped with the stream: the reader had stopped reading).
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Some(overflow) = self.overflow.as_mut() {
            match Pin::new(overflow).poll(cx) {
                Poll::Ready(Ok(())) => {
                    self.overflow = None;
                    self.ended = true;
                    self.rx.close();
                    tracing::warn!(
                        capacity = self.rx.max_capacity(),
                        "{} is ended: its reader stopped reading and its queue is full",
                        self.what
                    );
                    return Poll::Ready(None);
                }
                // Every sender is gone: no overflow can come any more.
                Poll::Ready(Err(_)) => self.overflow = None,
                Poll::Pending => {}
            }
        }
        self.rx.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::future::poll_fn;

    #[tokio::test]
    async fn a_reader_that_keeps_up_gets_every_event() {
        let (tx, mut rx) = channel(2);
        for round in 0..10 {
            tx.send(round).expect("room");
            assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, Some(round));
        }
        drop(tx);
        assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, None);
    }

    #[tokio::test]
    async fn a_full_queue_ends_the_stream_instead_of_growing() {
        let (tx, mut rx) = channel(3);
        for event in 0..3 {
            tx.send(event).expect("room");
        }
        assert_eq!(tx.send(3), Err(SendError::Overflowed));
        assert_eq!(tx.send(4), Err(SendError::Overflowed));
        assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, None);
        assert_eq!(tx.send(5), Err(SendError::Closed));
        let weak = tx.downgrade();
        drop(tx);
        assert!(weak.upgrade().is_none());
        let stream = futures::stream::poll_fn(|cx| rx.poll_recv(cx));
        assert_eq!(stream.collect::<Vec<i32>>().await, Vec::<i32>::new());
    }
}
