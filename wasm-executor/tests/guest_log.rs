//! A guest's log line is logged once, by whoever reads the task's events: the executor itself
//! only passes it on as a `GuestEvent::Log`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Sandbox, executor, load};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use wasmesos_guest_artifacts as guests;
use wasmesos_wasm_executor::{GuestEvent, LogLevel, log_guest_line};

/// Counts the events logged under the guest's target.
struct GuestLines(Arc<AtomicUsize>);

impl Subscriber for GuestLines {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("wasmesos")
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if event.metadata().target() == "wasmesos::guest" {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test]
async fn the_executor_passes_log_lines_on_without_logging_them() {
    let wordcount = load(guests::WORDCOUNT).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("wc-log");
    spec.data = b"two words".to_vec();
    let logged = Arc::new(AtomicUsize::new(0));
    // A thread-local subscriber: the inline task is polled on this (current-thread) runtime.
    let _subscriber = tracing::subscriber::set_default(GuestLines(Arc::clone(&logged)));
    let mut task = executor()
        .launch_inline(&wordcount, spec)
        .expect("launches");
    let events = std::mem::take(task.events());
    task.wait().await;
    assert_eq!(
        logged.load(Ordering::SeqCst),
        0,
        "the executor logged a guest line"
    );
    let lines: Vec<(LogLevel, String)> = drain(events)
        .into_iter()
        .filter_map(|event| match event {
            GuestEvent::Log { level, message } => Some((level, message)),
            _ => None,
        })
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    for (level, message) in &lines {
        log_guest_line(*level, message);
    }
    assert_eq!(logged.load(Ordering::SeqCst), 1);
}

fn drain(mut events: wasmesos_wasm_executor::GuestEvents) -> Vec<GuestEvent> {
    std::iter::from_fn(|| events.try_recv()).collect()
}
