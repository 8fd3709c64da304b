//! `wasmesos chronos` against a real cluster of OS processes: its REST API driven over
//! HTTP (schedules, dependencies, retries, manual runs, deletion, a `kill -9` restart,
//! refused requests) and by chronos-python, unmodified.

mod common;
mod ha;
mod jobs;
mod python;
mod restart;
