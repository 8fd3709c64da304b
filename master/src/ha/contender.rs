//! Contending for leadership: one ephemeral sequential `json.info_` znode per master; the
//! lowest sequence leads; every other master watches only the znode just ahead of its own, so
//! a leader's death wakes one successor, not the whole herd.

use wasmesos_detector::info::{predecessor, sequence_of};
use wasmesos_detector::zk;
use wasmesos_detector::{MasterInfo, ZNODE_PREFIX};

use crate::Error;

/// This master's candidacy under a ZooKeeper path.
pub(crate) struct Contender {
    client: zk::Client,
    path: String,
    name: String,
}

impl Contender {
    /// Creates `path` if needed and this master's `path/json.info_<seq>` holding `info`.
    pub(crate) async fn enter(
        client: zk::Client,
        path: &str,
        info: &MasterInfo,
    ) -> Result<Self, Error> {
        let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        client
            .mkdir(path, &persistent)
            .await
            .map_err(|source| zk_error(format!("creating {path}"), source))?;
        let ephemeral = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
        let prefix = format!("{path}/{ZNODE_PREFIX}");
        let (_stat, sequence) = client
            .create(&prefix, &info.to_json(), &ephemeral)
            .await
            .map_err(|source| zk_error(format!("creating {prefix}<seq>"), source))?;
        let name = format!("{ZNODE_PREFIX}{:010}", sequence.into_i64());
        tracing::info!(znode = %format!("{path}/{name}"), "contending for leadership");
        Ok(Self {
            client,
            path: path.to_string(),
            name,
        })
    }

    /// This master's znode, `path/json.info_<seq>`.
    pub(crate) fn znode(&self) -> String {
        format!("{}/{}", self.path, self.name)
    }

    /// Returns once this master's znode has the lowest sequence.
    pub(crate) async fn wait_until_leading(&self) -> Result<(), Error> {
        loop {
            let children = self
                .client
                .list_children(&self.path)
                .await
                .map_err(|source| zk_error(format!("listing {}", self.path), source))?;
            if !children.contains(&self.name) {
                return Err(Error::LeadershipLost(format!(
                    "our znode {} disappeared",
                    self.znode()
                )));
            }
            let Some(ahead) = predecessor(&children, &self.name) else {
                return Ok(());
            };
            let ahead = format!("{}/{ahead}", self.path);
            let watched = self.client.check_and_watch_stat(&ahead).await;
            match watched {
                // Gone already: look again.
                Ok((None, _)) => continue,
                Ok((Some(_), watcher)) => {
                    tracing::debug!(watching = %ahead, "standing by");
                    let _event = watcher.changed().await;
                }
                Err(source) => return Err(zk_error(format!("watching {ahead}"), source)),
            }
        }
    }

    /// Deletes this master's znode, so that its successor takes over at once.
    pub(crate) async fn withdraw(&self) {
        if let Err(err) = self.client.delete(&self.znode(), None).await {
            tracing::warn!(%err, znode = %self.znode(), "could not withdraw from the election");
        }
    }

    /// This master's sequence number.
    pub(crate) fn sequence(&self) -> Option<u64> {
        sequence_of(&self.name)
    }
}

pub(crate) fn zk_error(what: String, source: zk::Error) -> Error {
    Error::ZooKeeper { what, source }
}
