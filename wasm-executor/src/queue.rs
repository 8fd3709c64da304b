//! A one-reader queue between a task's guest and its host: scheduler messages in, guest
//! events out.
//!
//! A locked `VecDeque` and a wake-up rather than a tokio channel: most tasks send and receive
//! nothing, and a tokio unbounded channel costs two allocations and a block of slots to make
//! and free, about a fifth of what the executor adds to a bare launch.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

#[derive(Debug)]
pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    /// Wakes the one reader; `notify_one` keeps a permit if it is not waiting yet.
    changed: Notify,
    /// What an item weighs (its bytes), and the most the queued items may weigh together.
    weigh: fn(&T) -> usize,
    limit: usize,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    /// What the queued items weigh together.
    weight: usize,
    /// No more items will come (the writer's side ended).
    closed: bool,
}

impl<T> Default for Queue<T> {
    /// An unbounded queue.
    fn default() -> Self {
        Queue::bounded(usize::MAX, |_| 0)
    }
}

impl<T> Queue<T> {
    /// A queue whose items may weigh `limit` together; a push beyond it is refused.
    pub(crate) fn bounded(limit: usize, weigh: fn(&T) -> usize) -> Self {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                weight: 0,
                closed: false,
            }),
            changed: Notify::new(),
            weigh,
            limit,
        }
    }

    /// A queue that has already ended.
    pub(crate) fn closed() -> Self {
        let queue = Queue::default();
        queue.lock().closed = true;
        queue
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A queue has no invariant a panicking holder could break.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `item`; false (and `item` dropped) once the queue is closed, or when it would
    /// weigh more than its limit.
    pub(crate) fn push(&self, item: T) -> bool {
        let weight = (self.weigh)(&item);
        let mut state = self.lock();
        if state.closed || state.weight.saturating_add(weight) > self.limit {
            return false;
        }
        state.weight = state.weight.saturating_add(weight);
        state.items.push_back(item);
        drop(state);
        self.changed.notify_one();
        true
    }

    pub(crate) fn pop(&self) -> Option<T> {
        let mut state = self.lock();
        let item = state.items.pop_front()?;
        state.weight = state.weight.saturating_sub((self.weigh)(&item));
        Some(item)
    }

    /// The next item, waiting for one; `None` once the queue is closed and empty.
    pub(crate) async fn recv(&self) -> Option<T> {
        loop {
            {
                let mut state = self.lock();
                if let Some(item) = state.items.pop_front() {
                    state.weight = state.weight.saturating_sub((self.weigh)(&item));
                    return Some(item);
                }
                if state.closed {
                    return None;
                }
            }
            self.changed.notified().await;
        }
    }

    /// Ends the queue: later pushes fail; what is queued can still be read.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_one();
    }

    /// Ends the queue and drops what is queued.
    pub(crate) fn close_and_clear(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.items.clear();
        state.weight = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn items_arrive_in_order_and_wake_a_waiting_reader() {
        let queue = Queue::default();
        assert!(queue.push(1));
        assert_eq!(queue.recv().await, Some(1));
        let writer = async {
            tokio::task::yield_now().await;
            assert!(queue.push(2));
            assert!(queue.push(3));
        };
        let (received, ()) = tokio::join!(queue.recv(), writer);
        assert_eq!(received, Some(2));
        assert_eq!(queue.pop(), Some(3));
    }

    #[tokio::test]
    async fn a_closed_queue_drains_then_ends() {
        let queue = Queue::default();
        assert!(queue.push("left behind"));
        queue.close();
        assert!(!queue.push("late"));
        assert_eq!(queue.recv().await, Some("left behind"));
        assert_eq!(queue.recv().await, None);
    }

    #[tokio::test]
    async fn closing_wakes_a_waiting_reader() {
        let queue: Queue<u8> = Queue::default();
        let closer = async {
            tokio::task::yield_now().await;
            queue.close();
        };
        let (received, ()) = tokio::join!(queue.recv(), closer);
        assert_eq!(received, None);
    }

    #[test]
    fn clearing_drops_what_was_queued() {
        let queue = Queue::default();
        assert!(queue.push(1));
        queue.close_and_clear();
        assert_eq!(queue.pop(), None);
        assert!(Queue::<u8>::closed().pop().is_none());
    }
}
