//! `wasmesos marathon` against a real cluster of OS processes: its REST API driven over
//! HTTP (lifecycle, restarts, errors) and by marathon-python, unmodified.

mod api;
mod common;
mod dev_services;
mod ha;
mod lifecycle;
mod ports;
mod python;
