//! Master detection and the one client layer for reaching the master: turns a master URL into
//! the address of the leading master, now and as it changes, and keeps a gRPC channel on it
//! ([`MasterChannel`]) for agents, the scheduler SDK and the CLI alike. A URL is either static (`http://host:port`, or `https://` for a master serving TLS, always that master) or a ZooKeeper
//! path (`zk://h1:2181,h2:2181/wasmesos`), where masters contend with ephemeral sequential
//! `json.info_<seq>` znodes and the lowest sequence leads; each znode holds the master's
//! [`MasterInfo`] JSON in Mesos's convention.
//!
//! Detection only reads ZooKeeper. Contending is [`election`]: the same znodes, written by
//! whoever runs for leader (the master's `ha` module; Marathon and Chronos with `--zk`
//! through the scheduler SDK), and [`znode`] holds what the master's registry and a
//! framework's durable store share about keeping records in znodes. It never panics on what
//! ZooKeeper holds: a znode with bad JSON is skipped with a warning. Start at [`MasterChannel`], [`Detector`] and [`MasterUrl`];
//! the znode layout lives in [`info`], the watching loop in `watch.rs`, and [`Backoff`] is the
//! one retry schedule every client of the master uses. [`DEFAULT_MASTER_URL`] is where
//! clients look when nothing else says so.
// No `expect` outside tests: a panic on what a peer or a user sends is a bug (tests may).
#![cfg_attr(not(test), warn(clippy::expect_used))]
#![forbid(unsafe_code)]
// What a peer sends must not panic this crate: no unchecked arithmetic, truncating casts or
// indexing in its code (tests may; a site that is right says why where it allows one).
#![cfg_attr(
    not(test),
    warn(
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation,
        clippy::indexing_slicing
    )
)]

mod backoff;
mod channel;
mod credential;
mod detector;
pub mod election;
mod error;
pub mod info;
pub mod tls;
mod url;
mod watch;
pub mod znode;

pub use backoff::Backoff;
pub use channel::{DEFAULT_CONNECT_TIMEOUT, MasterChannel};
pub use credential::{
    CallHeaders, Credential, CredentialError, Credentials, MasterService, STREAM_ID_HEADER,
};
pub use detector::{Detector, resolve};
pub use error::Error;
pub use info::{MasterAddress, MasterInfo, ZNODE_PREFIX, leader_znode};
pub use tls::{ClientConfig, ClientTls, Identity, TlsError};
pub use url::{DEFAULT_MASTER_URL, MasterUrl};
pub use watch::connect;
/// The ZooKeeper client this crate uses, for the contenders and the stores kept in
/// ZooKeeper, so all speak to ZooKeeper through the same version.
pub use zookeeper_client as zk;
