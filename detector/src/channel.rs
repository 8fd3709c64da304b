//! [`MasterChannel`]: the one way clients (agents, the scheduler SDK, the CLI) reach the
//! master. It owns the endpoint settings of every connection to a master and keeps one tonic
//! [`Channel`] pointed at the leader: the channel balances over exactly one endpoint, which a
//! background task swaps when ZooKeeper names a new leader or a caller redirects it. Clones
//! of the channel follow along, so clients built once keep working across failovers.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};

use crate::tls::{self, ClientConfig};
use crate::{Detector, Error, MasterUrl};

/// How long a client waits for the TCP connection to a master unless told otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// HTTP/2 pings find a master that vanished without closing the connection (kill -9 of its
/// host, a partition) while a stream sits idle.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// The longest [`MasterChannel::connect`] waits for ZooKeeper to name a leader.
const LEADER_DEADLINE: Duration = Duration::from_secs(30);

/// Endpoint changes in flight to the channel; each re-pointing sends two.
const CHANGES_CAPACITY: usize = 4;

/// A channel to the leading master of a [`MasterUrl`]. Cheap to clone; every clone and every
/// [`Channel`] taken from it follow the same leader. The background task that re-points it
/// ends when the last [`Channel`] is dropped.
#[derive(Clone, Debug)]
pub struct MasterChannel {
    channel: Channel,
    target: Arc<watch::Sender<Option<Target>>>,
    /// Set for `zk://` URLs.
    detector: Option<Detector>,
    connect_timeout: Duration,
    tls: ClientConfig,
}

/// The master calls go to.
#[derive(Clone, Debug)]
struct Target {
    url: String,
    endpoint: Endpoint,
}

impl MasterChannel {
    /// A channel that connects on first use and follows `url` from then on; calls wait for a
    /// leader and fail while the master is unreachable. A `zk://` URL connects to ZooKeeper
    /// first and fails with [`Error::Unreachable`] when no server answers.
    pub async fn lazy(url: &str, connect_timeout: Duration) -> Result<Self, Error> {
        Self::lazy_tls(url, connect_timeout, ClientConfig::default()).await
    }

    /// [`MasterChannel::lazy`] with `tls` for `https://` masters.
    pub async fn lazy_tls(
        url: &str,
        connect_timeout: Duration,
        tls: ClientConfig,
    ) -> Result<Self, Error> {
        let master: MasterUrl = url.parse()?;
        let detector = detector_for(master.clone()).await?;
        let first = match &detector {
            Some(detector) => detector.current(),
            None => Some(master.to_string()),
        };
        let target = first
            .map(|url| target(&url, connect_timeout, &tls))
            .transpose()?;
        Ok(Self::start(target, detector, connect_timeout, tls))
    }

    /// Resolves `url` to the master leading now (waiting for ZooKeeper to name one) and
    /// connects to it, failing fast with [`Error::Connect`] naming that master; then follows
    /// the leader like [`MasterChannel::lazy`].
    pub async fn connect(url: &str, connect_timeout: Duration) -> Result<Self, Error> {
        Self::connect_tls(url, connect_timeout, ClientConfig::default()).await
    }

    /// [`MasterChannel::connect`] with `tls` for `https://` masters.
    pub async fn connect_tls(
        url: &str,
        connect_timeout: Duration,
        tls: ClientConfig,
    ) -> Result<Self, Error> {
        let master: MasterUrl = url.parse()?;
        let detector = detector_for(master.clone()).await?;
        let leader = match &detector {
            Some(detector) => {
                detector
                    .leader(connect_timeout.max(LEADER_DEADLINE))
                    .await?
            }
            None => master.to_string(),
        };
        let target = target(&leader, connect_timeout, &tls)?;
        // Only a real connection tells an unreachable master apart; the channel itself is
        // lazy so that it can reconnect, and to another master, by itself.
        let probe = target.endpoint.connect().await;
        probe.map_err(|err| Error::Connect {
            url: leader,
            reason: tls::with_hint(one_line(&err)),
        })?;
        Ok(Self::start(Some(target), detector, connect_timeout, tls))
    }

    fn start(
        target: Option<Target>,
        detector: Option<Detector>,
        connect_timeout: Duration,
        tls: ClientConfig,
    ) -> Self {
        let (channel, endpoints) = Channel::balance_channel::<u64>(CHANGES_CAPACITY);
        let target = Arc::new(watch::Sender::new(target));
        let pointer = Pointer {
            endpoints,
            target: Arc::clone(&target),
            detector: detector.clone(),
            connect_timeout,
            tls: tls.clone(),
        };
        tokio::spawn(pointer.run());
        MasterChannel {
            channel,
            target,
            detector,
            connect_timeout,
            tls,
        }
    }

    /// The channel to the master, for any gRPC client; it follows the leader too.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The channel with `headers` on every call: credential and session stream id.
    pub fn service(&self, headers: &crate::CallHeaders) -> crate::MasterService {
        tonic::service::interceptor::InterceptedService::new(self.channel(), headers.clone())
    }

    /// The `http://` (or `https://`) URL of the master calls go to; `None` until ZooKeeper first names a
    /// leader for a channel made with [`MasterChannel::lazy`].
    pub fn url(&self) -> Option<String> {
        self.target
            .borrow()
            .as_ref()
            .map(|target| target.url.clone())
    }

    /// Points later calls at the master at `url` (the leader a standby named).
    pub fn redirect(&self, url: &str) -> Result<(), Error> {
        let target = target(url, self.connect_timeout, &self.tls)?;
        self.target.send_if_modified(|current| {
            let changed = current.as_ref().is_none_or(|now| now.url != target.url);
            if changed {
                *current = Some(target);
            }
            changed
        });
        Ok(())
    }

    /// The leader ZooKeeper names now, for a `zk://` URL; `None` for a static URL.
    pub fn detected_leader(&self) -> Option<String> {
        self.detector.as_ref().and_then(Detector::current)
    }

    /// Completes when ZooKeeper names another leader after this call; never for a static URL.
    pub async fn leader_changed(&self) {
        match &self.detector {
            Some(detector) => {
                let mut changes = detector.changes();
                changes.borrow_and_update();
                // A closed watch means the detector stopped: no change will ever come.
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    }
}

/// The task that keeps the channel's one endpoint on the target, and the target on the
/// leader ZooKeeper names.
struct Pointer {
    endpoints: mpsc::Sender<Change<u64, Endpoint>>,
    target: Arc<watch::Sender<Option<Target>>>,
    detector: Option<Detector>,
    connect_timeout: Duration,
    tls: ClientConfig,
}

impl Pointer {
    async fn run(self) {
        let mut targets = self.target.subscribe();
        let mut leaders = self.detector.as_ref().map(Detector::changes);
        // What the channel was made with: a leader that changed since is still news.
        let mut last_leader = targets.borrow().as_ref().map(|target| target.url.clone());
        let mut current: Option<(u64, String)> = None;
        let mut next_key = 0u64;
        loop {
            let wanted = targets.borrow_and_update().clone();
            let wanted =
                wanted.filter(|wanted| current.as_ref().is_none_or(|(_, url)| *url != wanted.url));
            if let Some(wanted) = wanted {
                tracing::info!(master = %wanted.url, "following the leading master");
                if let Some((key, _)) = current.take()
                    && self.endpoints.send(Change::Remove(key)).await.is_err()
                {
                    return;
                }
                let insert = Change::Insert(next_key, wanted.endpoint);
                if self.endpoints.send(insert).await.is_err() {
                    return;
                }
                current = Some((next_key, wanted.url));
                next_key = next_key.wrapping_add(1);
            }
            tokio::select! {
                _ = targets.changed() => {}
                leader = next_leader(&mut leaders) => match leader {
                    Some(leader) if last_leader != leader => {
                        last_leader.clone_from(&leader);
                        // While no master leads the last one stays: calls fail and are retried.
                        if let Some(leader) = leader {
                            self.point_at(&leader);
                        }
                    }
                    Some(_) => {}
                    // The detector stopped; the channel stays on the last leader.
                    None => leaders = None,
                },
                () = self.endpoints.closed() => return,
            }
        }
    }

    fn point_at(&self, leader: &str) {
        match target(leader, self.connect_timeout, &self.tls) {
            Ok(target) => {
                self.target.send_replace(Some(target));
            }
            Err(err) => tracing::warn!(%err, "the leader's address is unusable"),
        }
    }
}

/// The next value of `leaders`: `Some(leader)` on a change, `None` once the detector has
/// stopped; never completes without a detector.
async fn next_leader(
    leaders: &mut Option<watch::Receiver<Option<String>>>,
) -> Option<Option<String>> {
    match leaders {
        Some(leaders) => match leaders.changed().await {
            Ok(()) => Some(leaders.borrow_and_update().clone()),
            Err(_closed) => None,
        },
        None => std::future::pending().await,
    }
}

async fn detector_for(url: MasterUrl) -> Result<Option<Detector>, Error> {
    if url.is_zookeeper() {
        Ok(Some(Detector::new(url).await?))
    } else {
        Ok(None)
    }
}

fn target(url: &str, connect_timeout: Duration, tls: &ClientConfig) -> Result<Target, Error> {
    Ok(Target {
        url: url.to_string(),
        endpoint: tls::secure(endpoint(url, connect_timeout)?, url, tls)?,
    })
}

/// The settings of every connection to a master: no Nagle delay on small calls, a bounded
/// connect, and keepalive pings.
fn endpoint(url: &str, connect_timeout: Duration) -> Result<Endpoint, Error> {
    let endpoint = Endpoint::from_shared(url.to_string()).map_err(|err| Error::BadUrl {
        url: url.to_string(),
        why: one_line(&err),
    })?;
    Ok(endpoint
        .tcp_nodelay(true)
        .connect_timeout(connect_timeout)
        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
        .keep_alive_while_idle(true))
}

/// An error and its chain of sources on one line, without repeating a cause the outer
/// message already contains (tonic nests "transport error" around the io error).
pub(crate) fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;
    use tonic::body::Body;
    use tonic::codegen::{Service, http};

    use super::*;

    const PATIENCE: Duration = Duration::from_secs(10);

    async fn listener() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        (listener, url)
    }

    /// Sends one request through `channel` every few milliseconds until aborted, so that the
    /// channel connects to whichever master it points at.
    fn keep_calling(channel: Channel) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let mut channel = channel.clone();
                tokio::spawn(async move {
                    if std::future::poll_fn(|cx| channel.poll_ready(cx))
                        .await
                        .is_ok()
                        && let Ok(request) =
                            http::Request::builder().uri("/probe").body(Body::default())
                    {
                        let _ = channel.call(request).await;
                    }
                });
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    }

    #[tokio::test]
    async fn a_redirect_moves_every_clone_to_the_named_master() {
        let (first, first_url) = listener().await;
        let (second, second_url) = listener().await;
        let master = MasterChannel::lazy(&first_url, DEFAULT_CONNECT_TIMEOUT)
            .await
            .expect("a channel");
        assert_eq!(master.url(), Some(first_url.clone()));
        assert_eq!(master.detected_leader(), None);
        // Taken before the redirect: the channel itself follows, not just later copies.
        let calls = keep_calling(master.channel());
        let accepted = tokio::time::timeout(PATIENCE, first.accept()).await;
        assert!(matches!(accepted, Ok(Ok(_))), "{accepted:?}");

        master.clone().redirect(&second_url).expect("redirect");
        assert_eq!(master.url(), Some(second_url));
        let accepted = tokio::time::timeout(PATIENCE, second.accept()).await;
        assert!(matches!(accepted, Ok(Ok(_))), "{accepted:?}");
        calls.abort();
    }

    #[tokio::test]
    async fn connect_names_the_master_it_cannot_reach() {
        let (gone, url) = listener().await;
        drop(gone);
        let result = MasterChannel::connect(&url, Duration::from_secs(2)).await;
        let message = result.err().map(|err| err.to_string()).unwrap_or_default();
        assert!(
            message.starts_with(&format!("cannot reach the master at {url}: ")),
            "{message}"
        );
        assert_eq!(message.lines().count(), 1, "{message}");
    }

    #[tokio::test]
    async fn connect_succeeds_when_the_master_accepts() {
        let (_listening, url) = listener().await;
        let master = MasterChannel::connect(&url, Duration::from_secs(2)).await;
        assert_eq!(master.ok().and_then(|master| master.url()), Some(url));
    }

    #[tokio::test]
    async fn a_bad_url_or_redirect_is_refused() {
        let result = MasterChannel::lazy("ftp://h", DEFAULT_CONNECT_TIMEOUT).await;
        assert!(matches!(result, Err(Error::BadUrl { .. })), "{result:?}");
        let (_listening, url) = listener().await;
        let master = MasterChannel::lazy(&url, DEFAULT_CONNECT_TIMEOUT)
            .await
            .expect("a channel");
        let redirect = master.redirect("http://bad host:1");
        assert!(
            matches!(redirect, Err(Error::BadUrl { .. })),
            "{redirect:?}"
        );
        assert_eq!(master.url(), Some(url));
    }
}
