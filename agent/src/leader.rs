//! Following the leading master behind a `zk://` URL. The agent talks to the master through
//! one tonic [`Channel`]; for a `zk://` URL that channel is a balanced channel with exactly one
//! endpoint, the leader, which a background task swaps whenever ZooKeeper names a new one, so
//! registration, heartbeats and status updates all follow the leader without knowing it.

use tokio::sync::mpsc::Sender;
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};
use wasmesos_detector::Detector;

use crate::Error;

/// A channel that follows the leader for a `zk://` URL; `None` for any other URL.
pub(crate) async fn leader_channel(
    url: &str,
    endpoint: fn(&str) -> Result<Endpoint, Error>,
) -> Result<Option<Channel>, Error> {
    if !url.starts_with("zk://") {
        return Ok(None);
    }
    let detector = Detector::parse(url)
        .await
        .map_err(|err| Error::InvalidMasterUrl {
            url: url.to_string(),
            reason: err.to_string(),
        })?;
    let (channel, changes) = Channel::balance_channel::<String>(4);
    tokio::spawn(follow(detector, changes, endpoint));
    Ok(Some(channel))
}

/// Keeps the channel's one endpoint on the current leader until the channel is dropped. While
/// no leader is known the last one stays, and calls to it fail and are retried.
async fn follow(
    detector: Detector,
    endpoints: Sender<Change<String, Endpoint>>,
    endpoint: fn(&str) -> Result<Endpoint, Error>,
) {
    let mut leaders = detector.changes();
    let mut current: Option<String> = None;
    loop {
        let leader = leaders.borrow_and_update().clone();
        if let Some(leader) = leader.filter(|leader| current.as_ref() != Some(leader)) {
            match endpoint(&leader) {
                Ok(new) => {
                    tracing::info!(%leader, "following the leading master");
                    if let Some(old) = current.take()
                        && endpoints.send(Change::Remove(old)).await.is_err()
                    {
                        return;
                    }
                    if endpoints
                        .send(Change::Insert(leader.clone(), new))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    current = Some(leader);
                }
                Err(err) => tracing::warn!(%err, "the leader's address is unusable"),
            }
        }
        tokio::select! {
            changed = leaders.changed() => if changed.is_err() { return },
            () = endpoints.closed() => return,
        }
    }
}
