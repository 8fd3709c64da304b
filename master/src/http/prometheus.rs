//! `/metrics`: the Prometheus text exposition of the master's counters and histograms
//! (`crate::metrics`) and of gauges read from the state snapshot.
//!
//! The format is written by hand: it is a few lines per family, and doing it here keeps the
//! master free of a metrics registry whose global state tests would share.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::core::StateSnapshot;
use crate::metrics::{Counter, Histogram, LATENCY_BUCKETS, Metrics};

pub(super) async fn metrics(State(state): State<HttpState>) -> Response {
    let text = render(&state.metrics, &state.snapshot());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The text exposition: `metrics`' counters plus gauges from `state`.
fn render(metrics: &Metrics, state: &StateSnapshot) -> String {
    let mut out = String::with_capacity(8 * 1024);
    render_histogram(
        &mut out,
        &metrics.allocation_round,
        "wasmesos_allocation_round_seconds",
        "Wall time of one allocation round.",
    );
    for (name, help, counter) in counters(metrics) {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            counter.get()
        );
    }
    render_histogram(
        &mut out,
        &metrics.snapshot_build,
        "wasmesos_state_snapshot_build_seconds",
        "Actor time spent building the operator's state snapshot.",
    );
    render_gauges(&mut out, state);
    out
}

/// Each counter's family name and help, in exposition order.
fn counters(metrics: &Metrics) -> [(&'static str, &'static str, &Counter); 16] {
    [
        (
            "wasmesos_tasks_preempted_total",
            "Tasks killed to meet a role's quota guarantee.",
            &metrics.tasks_preempted,
        ),
        (
            "wasmesos_tasks_suspended_total",
            "Tasks suspended to meet a role's quota guarantee.",
            &metrics.tasks_suspended,
        ),
        (
            "wasmesos_tasks_resumed_total",
            "Suspended tasks resumed.",
            &metrics.tasks_resumed,
        ),
        (
            "wasmesos_allocation_rounds_total",
            "Allocation rounds run.",
            &metrics.allocation_rounds,
        ),
        (
            "wasmesos_offers_sent_total",
            "Offers sent to frameworks.",
            &metrics.offers_sent,
        ),
        (
            "wasmesos_offers_declined_total",
            "Offers declined by frameworks.",
            &metrics.offers_declined,
        ),
        (
            "wasmesos_offers_rescinded_total",
            "Offers rescinded by the master.",
            &metrics.offers_rescinded,
        ),
        (
            "wasmesos_oversubscribed_updates_total",
            "Agents' updates of their revocable (oversubscribed) resources.",
            &metrics.oversubscribed_updates,
        ),
        (
            "wasmesos_status_updates_total",
            "Task status updates received from agents.",
            &metrics.status_updates,
        ),
        (
            "wasmesos_status_update_retries_total",
            "Status updates resent by agents before their acknowledgement.",
            &metrics.status_update_retries,
        ),
        (
            "wasmesos_invalid_status_updates_total",
            "Status updates dropped: their task does not run on the agent that sent them.",
            &metrics.invalid_status_updates,
        ),
        (
            "wasmesos_invalid_executor_messages_total",
            "Executor messages refused: their task does not run on the agent that sent them.",
            &metrics.invalid_executor_messages,
        ),
        (
            "wasmesos_framework_messages_dropped_total",
            "Framework messages to executors dropped: their agent's stream was full of them.",
            &metrics.framework_messages_dropped,
        ),
        (
            "wasmesos_uploads_total",
            "Components uploaded and stored.",
            &metrics.uploads,
        ),
        (
            "wasmesos_upload_bytes_total",
            "Bytes of stored uploads.",
            &metrics.upload_bytes,
        ),
        (
            "wasmesos_uploads_rejected_total",
            "Uploads refused.",
            &metrics.uploads_rejected,
        ),
    ]
}

/// One histogram family: cumulative buckets, `+Inf`, sum and count.
fn render_histogram(out: &mut String, histogram: &Histogram, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    // One bucket per bound, then the one above every bound.
    let bounds = LATENCY_BUCKETS
        .iter()
        .map(f64::to_string)
        .chain(std::iter::once("+Inf".to_string()));
    let mut cumulative: u64 = 0;
    for (bound, bucket) in bounds.zip(histogram.buckets()) {
        cumulative = cumulative.saturating_add(bucket);
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let sum = histogram.sum_seconds();
    let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {}", histogram.count());
}

fn render_gauges(out: &mut String, state: &StateSnapshot) {
    let active = state.agents.iter().filter(|a| a.active).count();
    gauge_header(out, "wasmesos_agents", "Registered agents by reachability.");
    let _ = writeln!(out, "wasmesos_agents{{state=\"active\"}} {active}");
    let unreachable = state.agents.iter().filter(|a| !a.active).count();
    let _ = writeln!(
        out,
        "wasmesos_agents{{state=\"unreachable\"}} {unreachable}"
    );
    render_tasks(out, state);
    gauge_header(
        out,
        "wasmesos_framework_dominant_share",
        "Each framework's dominant share, in [0, 1].",
    );
    for f in &state.frameworks {
        let _ = writeln!(
            out,
            "wasmesos_framework_dominant_share{{framework_id=\"{}\",name=\"{}\"}} {}",
            escape(&f.id),
            escape(&f.name),
            f.dominant_share
        );
    }
    gauge_header(
        out,
        "wasmesos_framework_weighted_dominant_share",
        "Each framework's dominant share divided by its role weight.",
    );
    for f in &state.frameworks {
        let _ = writeln!(
            out,
            "wasmesos_framework_weighted_dominant_share{{framework_id=\"{}\",name=\"{}\"}} {}",
            escape(&f.id),
            escape(&f.name),
            f.weighted_dominant_share
        );
    }
    render_resources(out, state);
    gauge_header(
        out,
        "wasmesos_artifacts",
        "Components stored on the master.",
    );
    let _ = writeln!(out, "wasmesos_artifacts {}", state.artifacts);
}

fn render_tasks(out: &mut String, state: &StateSnapshot) {
    let mut by_state: std::collections::BTreeMap<(&str, &str), u64> = Default::default();
    for task in &state.tasks {
        let count = by_state
            .entry((task.state.as_str(), task.reason.as_str()))
            .or_default();
        *count = count.saturating_add(1);
    }
    gauge_header(
        out,
        "wasmesos_tasks",
        "Tasks the master knows (active and recently completed) by state and reason.",
    );
    for ((task_state, reason), n) in by_state {
        let _ = writeln!(
            out,
            "wasmesos_tasks{{state=\"{task_state}\",reason=\"{}\"}} {n}",
            escape(reason)
        );
    }
}

fn render_resources(out: &mut String, state: &StateSnapshot) {
    gauge_header(
        out,
        "wasmesos_resources",
        "Cluster resources (cpus, mem_bytes, disk_bytes, ...) by kind: total, used, offered.",
    );
    let kinds = [
        ("total", &state.resources.total),
        ("used", &state.resources.used),
        ("offered", &state.resources.offered),
    ];
    for (kind, map) in kinds {
        for (name, amount) in map {
            let _ = writeln!(
                out,
                "wasmesos_resources{{resource=\"{}\",kind=\"{kind}\"}} {amount}",
                escape(name)
            );
        }
    }
}

fn gauge_header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

/// A label value as the text format requires: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_count_overflow() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(40));
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_secs(2));
        let mut out = String::new();
        render_histogram(&mut out, &histogram, "h", "help");
        assert!(out.contains("h_bucket{le=\"0.00005\"} 1\n"), "{out}");
        assert!(out.contains("h_bucket{le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("h_bucket{le=\"1\"} 2\n"), "{out}");
        assert!(out.contains("h_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("h_count 3\n"), "{out}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
