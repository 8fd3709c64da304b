//! The detector's background loop: list the contenders with a children watch, read the
//! leader's MasterInfo, publish its URL, wait for the watch; reconnect after the session
//! expires.

use std::time::Duration;

use tokio::sync::watch;
use zookeeper_client as zk;

use crate::Error;
use crate::backoff::Backoff;
use crate::info::{MasterInfo, leader_znode};

/// Connects to the ensemble `servers` (`host:port,…`), failing with [`Error::Unreachable`]
/// when no session is established within about `session_timeout`.
pub async fn connect(servers: &str, session_timeout: Duration) -> Result<zk::Client, Error> {
    zk::Client::connector()
        .with_session_timeout(session_timeout)
        .with_connection_timeout(session_timeout)
        .connect(servers)
        .await
        .map_err(|source| Error::Unreachable {
            servers: servers.to_string(),
            source,
        })
}

/// The session timeout a detector asks for; a detector only reads, so a slow expiry costs
/// nothing but a late switch after a long partition.
pub(crate) const DETECTOR_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// ZooKeeper retries start fast: a follower learns of a new leader within one pause.
fn retry_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(50), Duration::from_secs(2))
}

/// Follows the leader under `path` until every receiver of `leader` is gone.
pub(crate) async fn follow(
    mut client: zk::Client,
    servers: String,
    path: String,
    leader: watch::Sender<Option<String>>,
) {
    let mut retry = retry_backoff();
    loop {
        let outcome = tokio::select! {
            () = leader.closed() => return,
            outcome = observe_once(&client, &path, &leader) => outcome,
        };
        match outcome {
            Observed::Changed => retry.reset(),
            Observed::SessionLost => {
                tracing::warn!(%servers, %path, "ZooKeeper session lost; reconnecting");
                leader.send_if_modified(|current| current.take().is_some());
                client = tokio::select! {
                    () = leader.closed() => return,
                    client = reconnect(&servers) => client,
                };
                retry.reset();
            }
            Observed::Failed(err) => {
                tracing::debug!(%err, %path, "watching the master znodes failed; retrying");
                tokio::time::sleep(retry.next_delay()).await;
            }
        }
    }
}

enum Observed {
    /// A watch fired: look again.
    Changed,
    /// The session expired or closed: a new client is needed.
    SessionLost,
    /// A request failed (connection loss, …): retry after a pause.
    Failed(zk::Error),
}

/// Publishes the current leader, then waits for the next change under `path`.
async fn observe_once(
    client: &zk::Client,
    path: &str,
    leader: &watch::Sender<Option<String>>,
) -> Observed {
    let watcher = match client.list_and_watch_children(path).await {
        Ok((children, watcher)) => {
            match read_leader(client, path, &children).await {
                Ok(url) => publish(leader, url),
                Err(err) => return classify(err),
            }
            watcher
        }
        Err(zk::Error::NoNode) => {
            publish(leader, None);
            match client.check_and_watch_stat(path).await {
                Ok((Some(_), _)) => return Observed::Changed,
                Ok((None, watcher)) => watcher,
                Err(err) => return classify(err),
            }
        }
        Err(err) => return classify(err),
    };
    let event = watcher.changed().await;
    match event.session_state {
        zk::SessionState::Expired | zk::SessionState::Closed | zk::SessionState::AuthFailed => {
            Observed::SessionLost
        }
        _ => Observed::Changed,
    }
}

/// The leader's URL; `None` when no contender is present or its znode is unreadable.
async fn read_leader(
    client: &zk::Client,
    path: &str,
    children: &[String],
) -> Result<Option<String>, zk::Error> {
    let Some(name) = leader_znode(children) else {
        return Ok(None);
    };
    let znode = format!("{path}/{name}");
    match client.get_data(&znode).await {
        Ok((data, _stat)) => match MasterInfo::from_json(&data) {
            Some(info) => Ok(Some(info.url())),
            None => {
                tracing::warn!(%znode, "the leading znode does not hold MasterInfo JSON");
                Ok(None)
            }
        },
        // The leader vanished between the listing and the read; the children watch fires.
        Err(zk::Error::NoNode) => Ok(None),
        Err(err) => Err(err),
    }
}

fn publish(leader: &watch::Sender<Option<String>>, url: Option<String>) {
    leader.send_if_modified(|current| {
        if *current == url {
            return false;
        }
        tracing::info!(leader = ?url, "leading master changed");
        *current = url;
        true
    });
}

fn classify(err: zk::Error) -> Observed {
    match err {
        zk::Error::SessionExpired | zk::Error::ClientClosed | zk::Error::AuthFailed => {
            Observed::SessionLost
        }
        err => Observed::Failed(err),
    }
}

async fn reconnect(servers: &str) -> zk::Client {
    let mut retry = retry_backoff();
    loop {
        match connect(servers, DETECTOR_SESSION_TIMEOUT).await {
            Ok(client) => return client,
            Err(err) => {
                tracing::warn!(%err, "reconnecting to ZooKeeper");
                tokio::time::sleep(retry.next_delay()).await;
            }
        }
    }
}
