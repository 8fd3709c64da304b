//! HA tests: a real ZooKeeper (Debian's `zookeeper` package), masters contending under
//! `/wasmesos`, clients following the leader through `zk://` URLs.

mod common;
mod detector;
mod failover;
mod framework_store;
mod maintenance;
mod records;
mod redirect;
mod session;
