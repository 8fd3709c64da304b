//! Finding and following the leading master behind a `zk://` URL. A static `http://` URL is
//! used as given; a `zk://` URL is resolved through `wasmesos-detector`, and a background task
//! re-points the driver's link whenever ZooKeeper names a new leader.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;
use wasmesos_detector::{Detector, MasterUrl};

use crate::driver::MasterLink;
use crate::error::Error;

/// The longest a client waits for ZooKeeper to name a leader before giving up.
const LEADER_DEADLINE: Duration = Duration::from_secs(30);

/// `url` itself when static; else the current leader's `http://ip:port` and the detector
/// that follows it.
pub(crate) async fn resolve(
    url: &str,
    connect_timeout: Duration,
) -> Result<(String, Option<Detector>), Error> {
    let unreachable = |reason: String| Error::Unreachable {
        url: url.to_string(),
        reason,
    };
    if !url.starts_with("zk://") {
        return Ok((url.to_string(), None));
    }
    let parsed: MasterUrl =
        url.parse()
            .map_err(|err: wasmesos_detector::Error| Error::InvalidUrl {
                url: url.to_string(),
                reason: err.to_string(),
            })?;
    let detector = Detector::new(parsed)
        .await
        .map_err(|err| unreachable(err.to_string()))?;
    let leader = detector
        .leader(connect_timeout.max(LEADER_DEADLINE))
        .await
        .map_err(|err| unreachable(err.to_string()))?;
    Ok((leader, Some(detector)))
}

/// Re-points `link` at every new leader `detector` reports, until the link is dropped.
pub(crate) fn follow(
    detector: Detector,
    link: Weak<MasterLink>,
) -> watch::Receiver<Option<String>> {
    let mut changes = detector.changes();
    let woken = detector.changes();
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            let Some(link) = link.upgrade() else { return };
            let leader = changes.borrow_and_update().clone();
            if let Some(leader) = leader.filter(|leader| *leader != link.url()) {
                tracing::info!(%leader, "the leading master changed; following it");
                if let Err(err) = link.redirect(&leader) {
                    tracing::warn!(%err, "cannot follow the new leader");
                }
            }
        }
        drop(detector);
    });
    woken
}

/// Starts following when `detector` is set; returns a receiver that changes with the leader.
pub(crate) fn follow_if_any(
    detector: Option<Detector>,
    link: &Arc<MasterLink>,
) -> Option<watch::Receiver<Option<String>>> {
    detector.map(|detector| follow(detector, Arc::downgrade(link)))
}
