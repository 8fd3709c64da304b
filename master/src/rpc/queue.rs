//! A stream's bounded queue, owned by the stream: a framework's events and an agent's
//! commands. The actor never waits on a reader; when a peer stops reading (a stalled HTTP
//! or gRPC client) and the queue fills, the stream is ended and the peer treated as
//! disconnected, as Mesos treats a broken connection: a framework's failover timeout starts
//! and it may subscribe again; an agent re-registers (the master reconciles its tasks then).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// Events queued for one framework stream before it is ended as stalled. Far more than a
/// live scheduler ever has in flight (an offer round is one event per framework), so only a
/// reader that stopped reading reaches it.
pub(crate) const FRAMEWORK_EVENT_QUEUE: usize = 4096;

/// Commands queued for one agent's stream before it is ended as stalled. A live agent reads
/// its stream continuously, and a burst is small (one LAUNCH per agent per ACCEPT, one
/// ACKNOWLEDGE per batch), so only an agent that stopped reading reaches it.
pub(crate) const AGENT_COMMAND_QUEUE: usize = 4096;

/// Encoded bytes queued for one framework's stream before it is ended as stalled, whatever
/// the count: 4096 events of up to a MiB each would otherwise hold 4 GiB for one reader
/// that stopped. An offer round for 10,000 agents or a batch of 10,000 updates is a few
/// MiB, and a live reader drains it long before the next.
pub(crate) const FRAMEWORK_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Encoded bytes queued for one agent's command stream before it is ended as stalled: room
/// for a burst of launches of large tasks (512 KiB each at most).
pub(crate) const AGENT_COMMAND_BYTES: usize = 64 * 1024 * 1024;

/// Bytes queued beyond which a best-effort item (a framework message) is dropped instead of
/// queued: one tenant's flood of messages to an agent must not fill the agent's stream and
/// cost every tenant on it the stream.
pub(crate) const BEST_EFFORT_BYTES: usize = AGENT_COMMAND_BYTES / 4;

/// What an item costs its queue: its encoded size.
pub(crate) trait Weighed {
    fn weight(&self) -> usize;
}

impl<M: prost::Message> Weighed for M {
    fn weight(&self) -> usize {
        self.encoded_len()
    }
}

/// What runs once when the stream ends: its reader went away, or fell too far behind.
pub(crate) type OnEnd = Box<dyn FnOnce() + Send>;

/// The queue both halves share.
struct Shared<T> {
    items: VecDeque<(T, usize)>,
    bytes: usize,
    /// Live [`EventSender`]s; at zero the stream ends once drained.
    senders: usize,
    /// The stream is over: the reader went away, or the queue overflowed (then the items
    /// were dropped at once, not kept for a reader that may never read them).
    ended: bool,
    waker: Option<Waker>,
    on_end: Option<OnEnd>,
}

struct Queue<T> {
    shared: Mutex<Shared<T>>,
    capacity: usize,
    max_bytes: usize,
    /// What the stream is, for the log line that ends it.
    what: &'static str,
}

impl<T> Queue<T> {
    fn lock(&self) -> MutexGuard<'_, Shared<T>> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sending half. Sends never wait: a full queue ends the stream instead.
pub(crate) struct EventSender<T> {
    queue: Arc<Queue<T>>,
}

impl<T> Clone for EventSender<T> {
    fn clone(&self) -> Self {
        let mut shared = self.queue.lock();
        shared.senders = shared.senders.saturating_add(1);
        drop(shared);
        Self {
            queue: Arc::clone(&self.queue),
        }
    }
}

impl<T> Drop for EventSender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut shared = self.queue.lock();
            shared.senders = shared.senders.saturating_sub(1);
            if shared.senders > 0 {
                return;
            }
            shared.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A sender that does not keep the stream open (see [`EventSender::downgrade`]).
pub(crate) struct WeakEventSender<T> {
    queue: Arc<Queue<T>>,
}

/// The receiving half: yields the events, and ends once the queue has overflowed.
pub(crate) struct EventReceiver<T> {
    queue: Arc<Queue<T>>,
}

/// Why a send did not queue the event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SendError {
    /// The stream is over: its reader is gone, or it was ended as stalled.
    Closed,
    /// The reader fell `capacity` events or the byte cap behind; its stream is ended now.
    Overflowed,
    /// A best-effort item found the queue past [`BEST_EFFORT_BYTES`]: dropped, and the
    /// stream goes on.
    Busy,
}

/// A framework's event queue of `capacity` events (at least one) and
/// [`FRAMEWORK_EVENT_BYTES`].
pub(crate) fn channel<T>(capacity: usize) -> (EventSender<T>, EventReceiver<T>) {
    bounded(
        capacity,
        FRAMEWORK_EVENT_BYTES,
        "a framework's event stream",
    )
}

/// An agent's command queue of `capacity` commands (at least one) and
/// [`AGENT_COMMAND_BYTES`].
pub(crate) fn agent_channel<T>(capacity: usize) -> (EventSender<T>, EventReceiver<T>) {
    bounded(capacity, AGENT_COMMAND_BYTES, "an agent's command stream")
}

fn bounded<T>(
    capacity: usize,
    max_bytes: usize,
    what: &'static str,
) -> (EventSender<T>, EventReceiver<T>) {
    let queue = Arc::new(Queue {
        shared: Mutex::new(Shared {
            items: VecDeque::new(),
            bytes: 0,
            senders: 1,
            ended: false,
            waker: None,
            on_end: None,
        }),
        capacity: capacity.max(1),
        max_bytes,
        what,
    });
    (
        EventSender {
            queue: Arc::clone(&queue),
        },
        EventReceiver { queue },
    )
}

impl<T: Weighed> EventSender<T> {
    /// Queues `event` without waiting. An event past the queue's count or bytes (one event
    /// always fits an empty queue, whatever its size) ends the stream at once: the queued
    /// events are dropped and the stream's end runs, whether or not its reader polls, since
    /// a transport whose flow-control window is full never asks for more.
    pub(crate) fn send(&self, event: T) -> Result<(), SendError> {
        let weight = event.weight();
        let (waker, on_end, dropped) = {
            let mut shared = self.queue.lock();
            if shared.ended {
                return Err(SendError::Closed);
            }
            let fits = shared.items.is_empty()
                || (shared.items.len() < self.queue.capacity
                    && shared.bytes.saturating_add(weight) <= self.queue.max_bytes);
            if fits {
                shared.items.push_back((event, weight));
                shared.bytes = shared.bytes.saturating_add(weight);
                let waker = shared.waker.take();
                drop(shared);
                if let Some(waker) = waker {
                    waker.wake();
                }
                return Ok(());
            }
            shared.ended = true;
            shared.bytes = 0;
            let dropped = std::mem::take(&mut shared.items);
            (shared.waker.take(), shared.on_end.take(), dropped)
        };
        tracing::warn!(
            queued = dropped.len(),
            "{} is ended: its reader stopped reading and its queue is full",
            self.queue.what
        );
        drop(dropped);
        if let Some(waker) = waker {
            waker.wake();
        }
        if let Some(on_end) = on_end {
            on_end();
        }
        Err(SendError::Overflowed)
    }
}

impl<T: Weighed> EventSender<T> {
    /// Queues `event` unless the queue already holds [`BEST_EFFORT_BYTES`] or more
    /// ([`SendError::Busy`]: dropped, the stream goes on); past that, as [`Self::send`].
    pub(crate) fn send_best_effort(&self, event: T) -> Result<(), SendError> {
        if self.queue.lock().bytes >= BEST_EFFORT_BYTES {
            return Err(SendError::Busy);
        }
        self.send(event)
    }
}

impl<T> EventSender<T> {
    pub(crate) fn downgrade(&self) -> WeakEventSender<T> {
        WeakEventSender {
            queue: Arc::clone(&self.queue),
        }
    }
}

impl<T> WeakEventSender<T> {
    /// The sender, while the stream is open.
    pub(crate) fn upgrade(&self) -> Option<EventSender<T>> {
        let mut shared = self.queue.lock();
        if shared.ended || shared.senders == 0 {
            return None;
        }
        shared.senders = shared.senders.saturating_add(1);
        Some(EventSender {
            queue: Arc::clone(&self.queue),
        })
    }
}

impl<T> EventReceiver<T> {
    /// Runs `on_end` once when the stream ends: at once if it has ended already (its queue
    /// overflowed), else when it overflows or [`EventReceiver::end`] is called.
    pub(crate) fn on_end(&self, on_end: OnEnd) {
        let mut shared = self.queue.lock();
        if shared.ended {
            drop(shared);
            on_end();
        } else {
            shared.on_end = Some(on_end);
        }
    }

    /// The reader is gone: drops what is queued and runs the end, unless it ran already.
    pub(crate) fn end(&self) {
        let (dropped, on_end) = {
            let mut shared = self.queue.lock();
            shared.ended = true;
            shared.bytes = 0;
            (std::mem::take(&mut shared.items), shared.on_end.take())
        };
        drop(dropped);
        if let Some(on_end) = on_end {
            on_end();
        }
    }

    /// The next event; `None` when every sender is gone and the queue is drained, or once
    /// the stream has ended.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut shared = self.queue.lock();
        if shared.ended {
            return Poll::Ready(None);
        }
        if let Some((event, weight)) = shared.items.pop_front() {
            shared.bytes = shared.bytes.saturating_sub(weight);
            return Poll::Ready(Some(event));
        }
        if shared.senders == 0 {
            return Poll::Ready(None);
        }
        match &mut shared.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
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
        assert_eq!(tx.send(4), Err(SendError::Closed));
        assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, None);
        assert_eq!(tx.send(5), Err(SendError::Closed));
        let weak = tx.downgrade();
        drop(tx);
        assert!(weak.upgrade().is_none());
        let stream = futures::stream::poll_fn(|cx| rx.poll_recv(cx));
        assert_eq!(stream.collect::<Vec<i32>>().await, Vec::<i32>::new());
    }

    #[tokio::test]
    async fn a_queue_over_its_bytes_ends_the_stream_whatever_the_count() {
        // Strings of 100 bytes encode in 102; the cap holds two.
        let (tx, mut rx) = bounded::<String>(1000, 250, "test");
        let event = "x".repeat(100);
        tx.send(event.clone()).expect("room");
        // What the reader takes frees its bytes.
        assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, Some(event.clone()));
        tx.send(event.clone()).expect("room");
        tx.send(event.clone()).expect("room");
        assert_eq!(tx.send(event.clone()), Err(SendError::Overflowed));
        assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, None);
        // One event larger than the cap still fits an empty queue.
        let (tx, mut rx) = bounded::<String>(10, 50, "test");
        tx.send(event.clone()).expect("alone it fits");
        assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, Some(event));
    }

    #[test]
    fn best_effort_items_are_dropped_past_their_share_and_the_stream_goes_on() {
        let (tx, mut rx) = bounded::<Vec<u8>>(100, BEST_EFFORT_BYTES * 4, "test");
        let big = vec![0u8; BEST_EFFORT_BYTES];
        tx.send_best_effort(big.clone())
            .expect("an empty queue takes it");
        assert_eq!(tx.send_best_effort(vec![1]), Err(SendError::Busy));
        // What must be delivered still is, up to the hard cap.
        tx.send(vec![2]).expect("room");
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(
            matches!(rx.poll_recv(&mut cx), Poll::Ready(Some(item)) if item.len() == big.len())
        );
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(vec![2])));
        tx.send_best_effort(vec![3]).expect("drained: room again");
    }

    #[test]
    fn an_overflow_ends_the_stream_even_if_its_reader_never_polls_again() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (tx, rx) = bounded::<String>(2, 1 << 20, "test");
        let ended = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&ended);
        rx.on_end(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        tx.send("a".into()).expect("room");
        tx.send("b".into()).expect("room");
        assert_eq!(tx.send("c".into()), Err(SendError::Overflowed));
        assert_eq!(
            ended.load(Ordering::SeqCst),
            1,
            "the end ran at the overflow"
        );
        // The queued events are gone with it, and the end runs once only.
        assert_eq!(rx.queue.lock().items.len(), 0);
        rx.end();
        assert_eq!(ended.load(Ordering::SeqCst), 1);
        // A reader that goes away first ends it too.
        let (_tx, rx) = bounded::<String>(2, 1 << 20, "test");
        let counter = Arc::clone(&ended);
        rx.on_end(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        rx.end();
        assert_eq!(ended.load(Ordering::SeqCst), 2);
    }
}
