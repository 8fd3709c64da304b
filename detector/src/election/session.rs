//! Watching a contender's own ZooKeeper session. A leader that may have lost its session
//! must stop at once: ZooKeeper may already have let another contender lead.

use std::time::{Duration, Instant};

use zookeeper_client as zk;

/// Resolves, with the reason, once this process can no longer be sure it holds its session:
/// - the session expired, closed or failed authentication;
/// - the connection has been down for half the session timeout (the client notices a dead
///   connection after 2/5 of it, so ZooKeeper may expire the session soon after);
/// - the process was paused or starved for half the session timeout (SIGSTOP, swapping)
///   and ZooKeeper no longer holds `znode`.
pub async fn lost(client: zk::Client, znode: String, session_timeout: Duration) -> String {
    #[allow(
        clippy::arithmetic_side_effects,
        reason = "a Duration divided by a non-zero constant cannot overflow or panic"
    )]
    let (grace, tick) = (session_timeout / 2, session_timeout / 10);
    let mut states = client.state_watcher();
    let mut ticks = tokio::time::interval(tick.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_tick = Instant::now();
    let mut disconnected_since: Option<Instant> = None;
    loop {
        tokio::select! {
            state = states.changed() => match state {
                zk::SessionState::Expired => return "the ZooKeeper session expired".into(),
                zk::SessionState::Closed => return "the ZooKeeper session was closed".into(),
                zk::SessionState::AuthFailed => {
                    return "ZooKeeper authentication failed".into();
                }
                zk::SessionState::Disconnected => {
                    tracing::warn!("disconnected from ZooKeeper");
                    disconnected_since.get_or_insert_with(Instant::now);
                }
                zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly => {
                    disconnected_since = None;
                }
            },
            _ = ticks.tick() => {
                let now = Instant::now();
                let gap = now.duration_since(last_tick);
                last_tick = now;
                if let Some(since) = disconnected_since
                    && now.duration_since(since) >= grace
                {
                    return format!(
                        "disconnected from ZooKeeper for {:?} (session timeout {session_timeout:?})",
                        now.duration_since(since)
                    );
                }
                if gap >= grace && !still_registered(&client, &znode).await {
                    return format!(
                        "this process was stalled for {gap:?} and ZooKeeper no longer holds {znode}"
                    );
                }
            }
        }
    }
}

/// False when ZooKeeper says the session or the znode is gone; true when it still holds it
/// or cannot tell yet (the state watcher decides then).
async fn still_registered(client: &zk::Client, znode: &str) -> bool {
    match client.check_stat(znode).await {
        Ok(Some(_)) => true,
        Ok(None) | Err(zk::Error::SessionExpired) | Err(zk::Error::ClientClosed) => false,
        Err(err) => {
            tracing::warn!(%err, "cannot check this contender's znode after a stall");
            true
        }
    }
}
