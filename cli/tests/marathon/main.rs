//! `wasmesos marathon` against a real cluster of OS processes: its REST API driven over
//! HTTP (lifecycle, restarts, errors) and by marathon-python, unmodified.

mod common;
mod errors;
mod lifecycle;
mod python;
