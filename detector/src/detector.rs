//! [`Detector`]: the leader's URL now, and a watch on it.

use std::time::Duration;

use tokio::sync::watch;

use crate::watch::{DETECTOR_SESSION_TIMEOUT, connect, follow};
use crate::{Error, MasterUrl};

/// Follows the leading master of a [`MasterUrl`]. A static URL always "leads"; a `zk://` URL
/// is watched in a background task that lives as long as any clone of the detector (or any
/// receiver from [`Detector::changes`]).
#[derive(Clone, Debug)]
pub struct Detector {
    url: MasterUrl,
    leader: watch::Receiver<Option<String>>,
}

impl Detector {
    /// Starts following `url`. For `zk://` this connects to ZooKeeper first and fails with
    /// [`Error::Unreachable`] when no server answers.
    pub async fn new(url: MasterUrl) -> Result<Self, Error> {
        let leader = match &url {
            MasterUrl::Static(static_url) => watch::channel(Some(static_url.clone())).1,
            MasterUrl::ZooKeeper { servers, path } => {
                let client = connect(servers, DETECTOR_SESSION_TIMEOUT).await?;
                let (tx, rx) = watch::channel(None);
                tokio::spawn(follow(client, servers.clone(), path.clone(), tx));
                rx
            }
        };
        Ok(Self { url, leader })
    }

    /// Parses `url` and starts following it.
    pub async fn parse(url: &str) -> Result<Self, Error> {
        Self::new(url.parse()?).await
    }

    /// What this detector follows.
    pub fn url(&self) -> &MasterUrl {
        &self.url
    }

    /// The leader's `http://ip:port` as last seen, `None` while no master leads.
    pub fn current(&self) -> Option<String> {
        self.leader.borrow().clone()
    }

    /// The leader's URL, waiting up to `deadline` for one to come forward.
    pub async fn leader(&self, deadline: Duration) -> Result<String, Error> {
        let mut rx = self.leader.clone();
        let waited = tokio::time::timeout(deadline, rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(leader)) => leader.clone().ok_or_else(|| self.stopped()),
            Ok(Err(_closed)) => Err(self.stopped()),
            Err(_elapsed) => Err(Error::NoLeader {
                url: self.url.to_string(),
                after: deadline,
            }),
        }
    }

    /// Waits until the leader differs from `previous` (and is known), up to `deadline`.
    pub async fn next_leader(&self, previous: &str, deadline: Duration) -> Result<String, Error> {
        let mut rx = self.leader.clone();
        let changed = rx.wait_for(|leader| leader.as_deref().is_some_and(|url| url != previous));
        match tokio::time::timeout(deadline, changed).await {
            Ok(Ok(leader)) => leader.clone().ok_or_else(|| self.stopped()),
            Ok(Err(_closed)) => Err(self.stopped()),
            Err(_elapsed) => Err(Error::NoLeader {
                url: self.url.to_string(),
                after: deadline,
            }),
        }
    }

    /// A receiver that sees every leader change (`None` while no master leads).
    pub fn changes(&self) -> watch::Receiver<Option<String>> {
        self.leader.clone()
    }

    fn stopped(&self) -> Error {
        Error::Stopped {
            url: self.url.to_string(),
        }
    }
}

/// Resolves `url` to the current leader once: the URL itself when static, else the leader
/// under the ZooKeeper path, waiting up to `deadline`.
pub async fn resolve(url: &str, deadline: Duration) -> Result<String, Error> {
    Detector::parse(url).await?.leader(deadline).await
}
