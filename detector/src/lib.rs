//! Master detection: turns a master URL into the address of the leading master, now and as
//! it changes. A URL is either static (`http://host:port`, always that master) or a ZooKeeper
//! path (`zk://h1:2181,h2:2181/wasmesos`), where masters contend with ephemeral sequential
//! `json.info_<seq>` znodes and the lowest sequence leads; each znode holds the master's
//! [`MasterInfo`] JSON in Mesos's convention.
//!
//! This crate only reads ZooKeeper: it never creates znodes and never decides who leads (the
//! master's `ha` module contends). It never panics on what ZooKeeper holds: a znode with bad
//! JSON is skipped with a warning. Start at [`Detector`] and [`MasterUrl`]; the znode layout
//! lives in [`info`], the watching loop in `watch.rs`.
#![forbid(unsafe_code)]

mod detector;
mod error;
pub mod info;
mod url;
mod watch;

pub use detector::{Detector, resolve};
pub use error::Error;
pub use info::{MasterAddress, MasterInfo, ZNODE_PREFIX, leader_znode};
pub use url::MasterUrl;
pub use watch::connect;
/// The ZooKeeper client this crate uses, for the master's contender and registry, so both
/// speak to ZooKeeper through the same version.
pub use zookeeper_client as zk;
