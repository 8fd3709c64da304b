//! One request: its place in the queue, its instance (a store of its own, drawing on the
//! service's memory, CPU and fuel), and its answer, or the 5xx that stands in for it.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::sync::oneshot;
use tracing::Instrument;
use wasmtime::Store;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::Service;
use super::admission::{Refused, Slot};
use crate::control::{Control, StopReason};
use crate::cpu::{CpuMeter, Metered};
use crate::limiter::MemoryLimiter;
use crate::mailbox::HostChannels;
use crate::outcome::{FailureReason, Outcome, TaskError};
use crate::store::TaskState;
use crate::task;
use crate::watchdog::Watchdog;

type Answer = Result<Response<HyperOutgoingBody>, ErrorCode>;

/// Answers one request: with the guest's response, or with a 5xx saying why there is none.
pub(super) async fn handle(
    service: Arc<Service>,
    request: Request<Incoming>,
) -> Response<HyperOutgoingBody> {
    let shared = &service.shared;
    // A kill aborts the connection, and with it this wait; a graceful stop serves the queue.
    let slot = match shared.admission.admit().await {
        Ok(slot) => slot,
        Err(Refused::QueueFull) => {
            tracing::debug!("request refused: the queue is full");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "the service is busy\n");
        }
        Err(Refused::Closed) => {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "the service is stopping\n");
        }
    };
    let span = tracing::debug_span!(parent: &service.span, "request", method = %request.method(), path = %request.uri().path());
    let (answer, mut answered) = oneshot::channel();
    let meter = Arc::new(CpuMeter::for_service(
        service.throttle.is_some(),
        Arc::clone(&shared.cpu),
    ));
    let instance = Instance {
        service: Arc::clone(&service),
        meter: Arc::clone(&meter),
        _slot: slot,
    };
    let run: Pin<Box<dyn Future<Output = Outcome> + Send>> =
        Box::pin(instance.run(request, answer).instrument(span));
    // Driven here, on the connection's task, while it runs to the response head: a handler
    // that answers and returns in one go (most do) costs no task of its own and no wake-up
    // across threads. One still running once answered (writing the body, or working after
    // it) goes on on a task of its own, as does one whose connection is dropped meanwhile.
    let mut run = Detached(Some(Metered::new(run, meter)));
    let first = std::future::poll_fn(|cx| {
        if let Poll::Ready(ended) = run.poll_caught(cx) {
            return Poll::Ready(First::Ended(ended));
        }
        match Pin::new(&mut answered).poll(cx) {
            Poll::Ready(Ok(answer)) => Poll::Ready(First::Answered(answer)),
            // The answer's sender is dropped with the store, as the instance ends.
            Poll::Ready(Err(_)) | Poll::Pending => Poll::Pending,
        }
    })
    .await;
    let answer = match first {
        First::Answered(answer) => answer,
        First::Ended(ended) => match answered.try_recv() {
            Ok(answer) => answer,
            Err(_) => {
                return match ended {
                    Ok(outcome) => failed(&outcome),
                    Err(()) => plain(StatusCode::INTERNAL_SERVER_ERROR, "host fault\n"),
                };
            }
        },
    };
    drop(run);
    match answer {
        Ok(response) => response,
        Err(code) => {
            tracing::debug!(?code, "the guest answered with an error");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the service failed: {code:?}\n"),
            )
        }
    }
}

/// What came first of a request's instance: its answer, or its end (`Err` if it panicked).
enum First {
    Answered(Answer),
    Ended(Result<Outcome, ()>),
}

type Running = Metered<dyn Future<Output = Outcome> + Send>;

/// An instance driven by the request's handler; dropped before it ends, it goes on on a task
/// of its own, so that neither a dropped connection nor an early answer cuts it short.
struct Detached(Option<Running>);

impl Detached {
    /// Polls the instance, catching a panic so that it answers 500 rather than killing the
    /// connection. The instance is gone once this returned `Ready`.
    fn poll_caught(&mut self, cx: &mut Context<'_>) -> Poll<Result<Outcome, ()>> {
        let Some(running) = self.0.as_mut() else {
            return Poll::Pending;
        };
        let polled =
            std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *running).poll(cx)));
        let ended = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(outcome)) => Ok(outcome),
            Err(_) => {
                tracing::warn!("a request's instance panicked");
                Err(())
            }
        };
        self.0 = None;
        Poll::Ready(ended)
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        if let Some(running) = self.0.take() {
            // Outside a runtime (its shutdown) there is nothing left to run it on.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(running);
            }
        }
    }
}

/// The instance serving one request, and what it holds until its store is dropped.
struct Instance {
    service: Arc<Service>,
    meter: Arc<CpuMeter>,
    /// The request's admission: given back when the instance is gone.
    _slot: Slot,
}

impl Instance {
    /// Runs the guest's handler; returns how the instance ended.
    async fn run(self, request: Request<Incoming>, answer: oneshot::Sender<Answer>) -> Outcome {
        let service = &self.service;
        let _ticking = service.executor.task_started();
        let started = Instant::now();
        let deadline = service
            .spec
            .limits
            .timeout
            .and_then(|timeout| started.checked_add(timeout));
        let control = Arc::new(Control::new(service.executor.nudge()));
        let mut store = self.store(&control, deadline);
        let resources = {
            let mut http = store.data_mut().http();
            http.new_incoming_request(Scheme::Http, request)
                .and_then(|request| Ok((request, http.new_response_outparam(answer)?)))
        };
        let (request, out) = match resources {
            Ok(resources) => resources,
            Err(err) => return Outcome::Error(TaskError::Host(format!("{err:#}"))),
        };
        let pre = &service.pre;
        let work = async {
            let proxy = pre
                .instantiate_async(&mut store)
                .await
                .map_err(Failure::Instantiate)?;
            let handler = proxy.wasi_http_incoming_handler();
            handler
                .call_handle(&mut store, request, out)
                .await
                .map_err(Failure::Run)
        };
        // The work first: a handler done in its first poll (most are) then registers no
        // waiter for the stop and no timer. Guest code is stopped by the watchdog on an epoch
        // tick either way; these two are for a guest blocked in a host call.
        let ended = tokio::select! {
            biased;
            ended = work => ended,
            reason = service.shared.control.stopped() => Err(Failure::Stopped(reason)),
            // Time the service spends suspended does not count toward a request's timeout.
            () = service.shared.control.deadline_passes(deadline) => {
                control.stop(StopReason::Timeout);
                Err(Failure::Stopped(StopReason::Timeout))
            }
        };
        self.count_fuel(&store);
        let outcome = classify(ended, &control, store.data().limiter.refused());
        if !matches!(outcome, Outcome::Finished { .. }) {
            service.shared.admission.failed();
            log_failure(&outcome);
        }
        outcome
    }

    fn store(&self, control: &Arc<Control>, deadline: Option<Instant>) -> Store<TaskState> {
        let service = &self.service;
        let config = service.executor.config();
        let wasi = crate::sandbox::wasi_ctx_sharing(
            &service.spec,
            &service.stdout,
            &service.stderr,
            &service.filesystem,
        );
        let limiter = MemoryLimiter::shared(
            Arc::clone(&service.shared.memory),
            config.max_memories_per_task,
            config.max_tables_per_task,
            config.max_core_instances_per_task,
        );
        // The `host` interface's events of a service have no reader yet.
        let (host, _, _) = HostChannels::new(config.max_message_bytes);
        let state = TaskState::new(wasi, limiter, host, service.outgoing.clone());
        let watchdog = Watchdog {
            control: Arc::clone(control),
            service: Some(Arc::clone(&service.shared.control)),
            deadline,
            throttle: service.throttle.clone(),
            meter: Arc::clone(&self.meter),
            ticks_since_yield: 0,
        };
        state.into_store(service.pre.engine(), service.spec.limits.fuel, watchdog)
    }

    fn count_fuel(&self, store: &Store<TaskState>) {
        let Some(granted) = self.service.spec.limits.fuel else {
            return;
        };
        if let Ok(left) = store.get_fuel() {
            let used = granted.saturating_sub(left);
            self.service
                .shared
                .fuel_consumed
                .fetch_add(used, Ordering::Relaxed);
        }
    }
}

/// Why an instance ended without returning from its handler.
enum Failure {
    Instantiate(wasmtime::Error),
    Run(wasmtime::Error),
    Stopped(StopReason),
}

fn classify(ended: Result<(), Failure>, control: &Control, memory_refused: bool) -> Outcome {
    match ended {
        Ok(()) => Outcome::Finished {
            exit_code: 0,
            data: Vec::new(),
        },
        Err(Failure::Stopped(reason)) => task::stopped(reason),
        Err(Failure::Instantiate(_) | Failure::Run(_)) if control.reason().is_some() => {
            control.reason().map_or(Outcome::Killed, task::stopped)
        }
        Err(_) if memory_refused => Outcome::Failed(FailureReason::MemoryLimit),
        Err(Failure::Instantiate(err)) => task::instantiate_failure(&err),
        Err(Failure::Run(err)) => task::run_failure(&err),
    }
}

fn log_failure(outcome: &Outcome) {
    let reason = outcome.reason_code();
    match outcome {
        // The service is ending: its own outcome says why.
        Outcome::Killed
        | Outcome::Failed(FailureReason::MemoryLimit | FailureReason::DiskLimit) => {
            tracing::debug!(reason, "request cut short: {outcome}");
        }
        _ => tracing::warn!(reason, "request failed: {outcome}"),
    }
}

/// The answer for a request whose instance ended without one.
fn failed(outcome: &Outcome) -> Response<HyperOutgoingBody> {
    let status = match outcome {
        // The handler returned without setting a response.
        Outcome::Finished { .. } | Outcome::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        Outcome::Killed | Outcome::Error(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    let status = match outcome {
        Outcome::Failed(FailureReason::Timeout) => StatusCode::GATEWAY_TIMEOUT,
        _ => status,
    };
    let text = match outcome {
        Outcome::Finished { .. } => "the service sent no response\n".to_owned(),
        other => format!("the service {other}\n"),
    };
    plain(status, &text)
}

fn plain(status: StatusCode, text: &str) -> Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from(text.to_owned()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}
