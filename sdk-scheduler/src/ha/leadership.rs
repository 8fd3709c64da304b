//! Who leads a framework's processes, as the `host:port` of its API: what a leader endpoint
//! answers and where a follower sends what it is asked.

use tokio::sync::watch;

/// This process's address and the leader's, as it last learned it.
#[derive(Clone, Debug)]
pub struct Leadership {
    me: String,
    /// The leader's `http://host:port` (a detector's view) or `host:port`.
    leader: watch::Receiver<Option<String>>,
}

impl Leadership {
    /// A process that always leads (one process, its state in a work dir).
    pub fn solo(me: String) -> Self {
        let (_tx, leader) = watch::channel(Some(me.clone()));
        Leadership { me, leader }
    }

    /// A process among several, following `leader` (URLs from a
    /// [`Detector`](wasmesos_detector::Detector)).
    pub(crate) fn following(me: String, leader: watch::Receiver<Option<String>>) -> Self {
        Leadership { me, leader }
    }

    /// `host:port` of this process's API.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// `host:port` of the leader's API; `None` while none leads.
    pub fn leader(&self) -> Option<String> {
        self.leader.borrow().as_deref().map(|url| {
            url.strip_prefix("http://")
                .unwrap_or(url)
                .trim_end_matches('/')
                .to_owned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leader_is_a_host_and_port() {
        let solo = Leadership::solo("127.0.0.1:8080".into());
        assert_eq!(solo.leader().as_deref(), Some("127.0.0.1:8080"));
        let (tx, rx) = watch::channel(None);
        let follower = Leadership::following("127.0.0.1:1".into(), rx);
        assert_eq!(follower.leader(), None);
        tx.send_replace(Some("http://[::1]:8080".into()));
        assert_eq!(follower.leader().as_deref(), Some("[::1]:8080"));
        assert_eq!(follower.me(), "127.0.0.1:1");
    }
}
