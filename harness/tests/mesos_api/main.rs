//! The Mesos v1 scheduler HTTP API, driven as a Mesos framework drives it: a real master and
//! agent on random loopback ports, and a raw HTTP/RecordIO client ([`client`]).

mod client;
mod common;
mod completed;
mod endpoints;
mod fetch;
mod files;
mod lifecycle;
mod maintenance;
mod operator;
mod pymesos;
mod redirect;
mod refusals;
mod revocable;
mod subscribe;
mod update;
