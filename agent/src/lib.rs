//! rcdiag-agent as a library: the collectors, redaction and the collection run, so the
//! binary stays thin and the tests can drive the pieces directly.

pub mod bound;
pub mod clients;
pub mod collectors;
pub mod config;
pub mod isolate;
pub mod peer;
pub mod redact;
pub mod review;
pub mod run;
pub mod schedule;
pub mod snapshots;
pub mod sources;
pub mod tools;
