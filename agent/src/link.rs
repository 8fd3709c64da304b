//! The agent's link to the master: register (or re-register with its id and task reports),
//! follow the command stream, heartbeat, and start over with backoff whenever the stream
//! drops or the master cannot be reached.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tonic::{Code, Streaming};
use tracing::{Instrument, debug, info, info_span, warn};
use wasmesos_detector::{Backoff, MasterService};
use wasmesos_proto::agent_channel_client::AgentChannelClient;
use wasmesos_proto::agent_command::{Command, Registered};
use wasmesos_proto::{AgentCommand, HeartbeatRequest, RegisterRequest};

use crate::Error;
use crate::agent::Agent;
use crate::commands::{self, Next};

/// Heartbeat intervals outside this range are treated as nonsense from the master.
const MIN_HEARTBEAT: Duration = Duration::from_millis(10);
const MAX_HEARTBEAT: Duration = Duration::from_secs(3600);

enum SessionEnd {
    /// The stream dropped or the master forgot us: re-register with our id.
    Lost,
    /// The master removed us: register anew.
    Removed,
    /// The agent is shutting down.
    Stopped,
}

/// A client of the master's agent channel, with the message limits of
/// `wasmesos_proto::limits`: commands may carry a LAUNCH of `MAX_PUSH_BYTES`, and the
/// agent's own calls stay within what the master decodes.
pub(crate) fn master_client(channel: MasterService) -> AgentChannelClient<MasterService> {
    AgentChannelClient::new(channel)
        .max_decoding_message_size(wasmesos_proto::limits::MAX_PUSH_BYTES)
        .max_encoding_message_size(wasmesos_proto::limits::MAX_CALL_BYTES)
}

/// Runs until `stop` turns true (or its sender is dropped).
pub(crate) async fn run(agent: Arc<Agent>, mut stop: watch::Receiver<bool>) {
    let config = &agent.config;
    let mut backoff = Backoff::new(config.registration_backoff, config.registration_backoff_max);
    loop {
        let registration = tokio::select! {
            result = tokio::time::timeout(config.registration_timeout, register(&agent)) => {
                result.unwrap_or_else(|_| Err(Error::Protocol("the master did not answer the registration in time".into())))
            }
            () = stopped(&mut stop) => return,
        };
        match registration {
            Ok((registered, stream)) => {
                backoff.reset();
                let end = session(&agent, &registered, stream, &mut stop).await;
                agent.status.disconnected();
                if let SessionEnd::Stopped = end {
                    return;
                }
            }
            Err(err) => {
                warn!(master = %config.master_url, err = %err, "cannot register with the master")
            }
        }
        let delay = backoff.next_delay();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(&mut stop) => return,
        }
    }
}

async fn register(agent: &Agent) -> Result<(Registered, Streaming<AgentCommand>), Error> {
    let (tasks, frameworks) = agent.registry.reports();
    let previous_id = agent.registration_id();
    let span = info_span!("register", agent_id = %previous_id, tasks = tasks.len());
    async {
        let request = RegisterRequest {
            agent: Some(agent.info()),
            tasks,
            frameworks,
        };
        let mut client = master_client(agent.channel.clone());
        let response = client.register(request).await?;
        agent.headers.take_stream_id(&response);
        let mut stream = response.into_inner();
        let registered = match stream.message().await? {
            Some(AgentCommand {
                command: Some(Command::Registered(registered)),
            }) => registered,
            Some(_) => return Err(Error::Protocol("the command stream did not start with `registered`".into())),
            None => return Err(Error::Protocol("the command stream ended before `registered`".into())),
        };
        if registered.agent_id.is_empty() {
            return Err(Error::Protocol("`registered` carries no agent id".into()));
        }
        if registered.agent_id != previous_id {
            agent.checkpoint.agent_id(&registered.agent_id);
        }
        agent.agent_id.send_replace(Some(registered.agent_id.clone()));
        agent.status.registered(registered.agent_id.clone());
        info!(agent_id = %registered.agent_id, heartbeat_seconds = registered.heartbeat_interval_seconds, "registered with the master");
        Ok((registered, stream))
    }
    .instrument(span)
    .await
}

type Call = Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send>>;

async fn session(
    agent: &Arc<Agent>,
    registered: &Registered,
    mut stream: Streaming<AgentCommand>,
    stop: &mut watch::Receiver<bool>,
) -> SessionEnd {
    let interval = heartbeat_interval(registered, agent.config.default_heartbeat_interval);
    let now = tokio::time::Instant::now();
    let first = now.checked_add(interval).unwrap_or(now);
    let mut ticker = tokio::time::interval_at(first, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut heartbeat: Option<Call> = None;
    loop {
        tokio::select! {
            message = stream.message() => match message {
                Ok(Some(command)) => {
                    if commands::handle(agent, command) == Next::Removed {
                        return SessionEnd::Removed;
                    }
                }
                Ok(None) => {
                    warn!("the master closed the command stream; re-registering");
                    return SessionEnd::Lost;
                }
                Err(status) => {
                    warn!(code = ?status.code(), err = %status.message(), "the command stream failed; re-registering");
                    return SessionEnd::Lost;
                }
            },
            _ = ticker.tick(), if heartbeat.is_none() => {
                heartbeat = Some(send_heartbeat(agent, &registered.agent_id, interval));
            }
            result = in_flight(&mut heartbeat) => {
                heartbeat = None;
                if let Err(status) = result {
                    if matches!(status.code(), Code::NotFound | Code::FailedPrecondition) {
                        warn!(err = %status.message(), "the master does not know this agent; re-registering");
                        return SessionEnd::Lost;
                    }
                    warn!(code = ?status.code(), err = %status.message(), "heartbeat failed");
                }
            }
            () = stopped(stop) => return SessionEnd::Stopped,
        }
    }
}

fn send_heartbeat(agent: &Agent, agent_id: &str, interval: Duration) -> Call {
    let mut client = master_client(agent.channel.clone());
    let mut request = tonic::Request::new(HeartbeatRequest {
        agent_id: agent_id.to_string(),
    });
    request.set_timeout(interval.saturating_mul(2));
    let span = info_span!("heartbeat", agent_id = %agent_id);
    Box::pin(
        async move {
            debug!("heartbeat");
            client.heartbeat(request).await.map(drop)
        }
        .instrument(span),
    )
}

/// The master's heartbeat interval when it is usable, else `default`; either way within
/// [`MIN_HEARTBEAT`] and [`MAX_HEARTBEAT`] (a zero or endless period would panic the ticker).
fn heartbeat_interval(registered: &Registered, default: Duration) -> Duration {
    match Duration::try_from_secs_f64(registered.heartbeat_interval_seconds) {
        Ok(interval) if (MIN_HEARTBEAT..=MAX_HEARTBEAT).contains(&interval) => interval,
        _ => {
            warn!(
                seconds = registered.heartbeat_interval_seconds,
                "unusable heartbeat interval from the master; using the default"
            );
            default.clamp(MIN_HEARTBEAT, MAX_HEARTBEAT)
        }
    }
}

async fn in_flight(call: &mut Option<Call>) -> Result<(), tonic::Status> {
    match call {
        Some(call) => call.await,
        None => std::future::pending().await,
    }
}

/// Resolves once `stop` is true or its sender is gone.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_interval_is_always_one_the_ticker_takes() {
        let registered = |seconds| Registered {
            heartbeat_interval_seconds: seconds,
            ..Registered::default()
        };
        let default = Duration::from_secs(1);
        let interval = heartbeat_interval(&registered(5.0), default);
        assert_eq!(interval, Duration::from_secs(5));
        for seconds in [0.0, -1.0, f64::NAN, 1e19] {
            assert_eq!(heartbeat_interval(&registered(seconds), default), default);
        }
        let zero = heartbeat_interval(&registered(0.0), Duration::ZERO);
        assert_eq!(zero, MIN_HEARTBEAT);
        let endless = heartbeat_interval(&registered(0.0), Duration::MAX);
        assert_eq!(endless, MAX_HEARTBEAT);
    }
}
