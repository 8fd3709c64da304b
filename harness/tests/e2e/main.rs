//! End-to-end tests: a real master and real agents in this process, on random
//! loopback ports, driven through the scheduler SDK. One test binary, so the cluster code
//! links once. The tests with separate OS processes live in `cli/tests/processes.rs`.

mod common;
mod fairness;
mod filters;
mod hostile;
mod invalid_accept;
mod lifecycle;
mod ports;
mod wordcount;
