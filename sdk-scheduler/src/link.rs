//! [`MasterLink`]: what the event loop, the calls and the acknowledger share: the channel to
//! the leading master (a [`MasterChannel`], which follows leader changes by itself) and the
//! framework id the master assigned.

use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use wasmesos_detector::{CallHeaders, MasterChannel, MasterService};
use wasmesos_proto::scheduler_client::SchedulerClient;

use crate::config::DriverConfig;
use crate::error::{Error, master_error};

pub(crate) struct MasterLink {
    master: MasterChannel,
    /// The credential and the current subscription's stream id, on every call.
    headers: CallHeaders,
    /// Whether a subscription is open now (false while the event loop resubscribes).
    subscribed: watch::Sender<bool>,
    framework_id: RwLock<Option<String>>,
}

impl MasterLink {
    /// Connects to the master `config` names (the leader, for a `zk://` URL), failing fast
    /// with [`Error::Unreachable`] naming it.
    pub(crate) async fn connect(config: &DriverConfig) -> Result<Self, Error> {
        let tls = config.tls.load()?;
        let master = MasterChannel::connect_tls(&config.master_url, config.connect_timeout, tls)
            .await
            .map_err(|err| master_error(&config.master_url, err))?;
        let known_id = Some(config.framework.id.clone()).filter(|id| !id.is_empty());
        Ok(MasterLink {
            master,
            headers: CallHeaders::new(config.credential.as_ref()),
            subscribed: watch::Sender::new(false),
            framework_id: RwLock::new(known_id),
        })
    }

    /// A scheduler client. It decodes events up to `MAX_PUSH_BYTES`, the largest the
    /// master sends: tonic's implicit 4 MiB would fail on a large update, drop the stream and
    /// resubscribe into the same failure.
    pub(crate) fn client(&self) -> SchedulerClient<MasterService> {
        SchedulerClient::new(self.channel())
            .max_decoding_message_size(wasmesos_proto::limits::MAX_PUSH_BYTES)
            .max_encoding_message_size(wasmesos_proto::limits::MAX_CALL_BYTES)
    }

    pub(crate) fn channel(&self) -> MasterService {
        self.master.service(&self.headers)
    }

    /// Marks the subscription open (SUBSCRIBED arrived) or lost.
    pub(crate) fn set_subscribed(&self, open: bool) {
        self.subscribed
            .send_if_modified(|now| std::mem::replace(now, open) != open);
    }

    /// Waits, at most `limit`, for an open subscription: a call made while the event loop
    /// resubscribes (a master restart, a failover) then carries the new session's stream id
    /// instead of being refused for the old one.
    pub(crate) async fn wait_subscribed(&self, limit: Duration) {
        if *self.subscribed.borrow() {
            return;
        }
        let mut open = self.subscribed.subscribe();
        let _ = tokio::time::timeout(limit, open.wait_for(|open| *open)).await;
    }

    /// Every later call carries the stream id of the subscription `response` opened.
    pub(crate) fn subscribed<T>(&self, response: &tonic::Response<T>) {
        self.headers.take_stream_id(response);
    }

    /// The master calls go to.
    pub(crate) fn url(&self) -> String {
        // A connected MasterChannel always has a target; it never goes back to none.
        self.master.url().unwrap_or_default()
    }

    pub(crate) fn framework_id(&self) -> Option<String> {
        self.framework_id
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_framework_id(&self, id: &str) {
        *self
            .framework_id
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(id.to_string());
    }

    /// Completes when the leader behind a `zk://` URL changes after this call; never for a
    /// static URL.
    pub(crate) async fn leader_changed(&self) {
        self.master.leader_changed().await;
    }

    /// The leader ZooKeeper names now, for a `zk://` URL; `None` for a static URL.
    pub(crate) fn detected_leader(&self) -> Option<String> {
        self.master.detected_leader()
    }

    /// Points every later call at another master (the leader a standby named).
    pub(crate) fn redirect(&self, url: &str) -> Result<(), Error> {
        self.master
            .redirect(url)
            .map_err(|err| master_error(url, err))
    }
}
