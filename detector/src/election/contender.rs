//! Contending for leadership: one ephemeral sequential `json.info_` znode per contender; the
//! lowest sequence leads; every other contender watches only the znode just ahead of its own,
//! so a leader's death wakes one successor, not the whole herd.

use zookeeper_client as zk;

use crate::Error;
use crate::info::{MasterInfo, ZNODE_PREFIX, predecessor, sequence_of};

/// One process's candidacy under a ZooKeeper path.
pub struct Contender {
    client: zk::Client,
    path: String,
    name: String,
}

impl Contender {
    /// Creates `path` if needed and this contender's `path/json.info_<seq>` holding `info`.
    pub async fn enter(client: zk::Client, path: &str, info: &MasterInfo) -> Result<Self, Error> {
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

    /// This contender's znode, `path/json.info_<seq>`.
    pub fn znode(&self) -> String {
        format!("{}/{}", self.path, self.name)
    }

    /// Returns once this contender's znode has the lowest sequence; fails with
    /// [`Error::CandidacyLost`] when the znode is gone.
    pub async fn wait_until_leading(&self) -> Result<(), Error> {
        loop {
            let children = self
                .client
                .list_children(&self.path)
                .await
                .map_err(|source| zk_error(format!("listing {}", self.path), source))?;
            if !children.contains(&self.name) {
                return Err(Error::CandidacyLost(format!(
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

    /// Deletes this contender's znode, so that its successor takes over at once.
    pub async fn withdraw(&self) {
        if let Err(err) = self.client.delete(&self.znode(), None).await {
            tracing::warn!(%err, znode = %self.znode(), "could not withdraw from the election");
        }
    }

    /// This contender's sequence number.
    pub fn sequence(&self) -> Option<u64> {
        sequence_of(&self.name)
    }
}

fn zk_error(what: String, source: zk::Error) -> Error {
    Error::ZooKeeper { what, source }
}
