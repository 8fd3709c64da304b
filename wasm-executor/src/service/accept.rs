//! The listener and the connections: accepting until the service is stopped, serving each
//! connection with hyper's HTTP/1.1, and the graceful stop.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::idle::IdleTimer;
use super::{Service, request, stop};
use crate::control::StopReason;
use crate::task::sleep_until;

/// How long accepting pauses after an error such as running out of file descriptors, which
/// would otherwise repeat at once.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Accepts and serves connections until the service is stopped, or drained and then
/// stopped; returns the reason it stopped for. Every connection is closed on return.
pub(super) async fn serve(service: &Arc<Service>, listener: TcpListener) -> StopReason {
    let shared = &service.shared;
    let max_connections = service.config.max_connections as usize;
    let mut connections = JoinSet::new();
    let grace_end = loop {
        tokio::select! {
            biased;
            reason = shared.control.stopped() => return reason,
            grace_end = shared.drain.requested() => break grace_end,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept(), if connections.len() < max_connections => {
                match accepted {
                    Ok((stream, _)) => {
                        let connection = serve_connection(Arc::clone(service), stream);
                        connections.spawn(connection.instrument(service.span.clone()));
                    }
                    Err(err) => {
                        tracing::warn!(err = %err, "cannot accept a connection");
                        tokio::select! {
                            reason = shared.control.stopped() => return reason,
                            () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                        }
                    }
                }
            }
        }
    };
    // New connections are refused from here on; the open ones close once their request in
    // flight is answered (each watches the drain too).
    drop(listener);
    tracing::debug!("draining");
    let drained = async {
        while connections.join_next().await.is_some() {}
        shared.admission.idle().await;
    };
    tokio::select! {
        reason = shared.control.stopped() => return reason,
        () = sleep_until(grace_end) => tracing::debug!("the grace ended with requests in flight"),
        () = drained => {}
    }
    stop(&shared.control, StopReason::Killed)
}

/// Serves one connection until the client closes it, it fails, or the service drains (then
/// the request in flight is finished first). A kill aborts it.
async fn serve_connection(service: Arc<Service>, stream: TcpStream) {
    // Small responses go out at once rather than waiting for Nagle's delayed ACK.
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(err = %err, "cannot set TCP_NODELAY");
    }
    let idle = IdleTimer::new(service.config.header_read_timeout);
    let handler = {
        let service = Arc::clone(&service);
        let idle = Arc::clone(&idle);
        hyper::service::service_fn(move |req| {
            let service = Arc::clone(&service);
            let in_flight = idle.request_started();
            async move {
                let response = request::handle(service, req).await;
                Ok::<_, Infallible>(response.map(|body| in_flight.until_sent(body)))
            }
        })
    };
    // hyper's own header timeout is left off: it arms a timer per request.
    let connection = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), handler);
    let mut connection = std::pin::pin!(connection);
    let served = tokio::select! {
        served = connection.as_mut() => served,
        () = idle.expired() => {
            tracing::debug!("closing a connection that waited too long for a request");
            Ok(())
        }
        _ = service.shared.drain.requested() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = served {
        tracing::debug!(err = %err, "connection ended with an error");
    }
}
