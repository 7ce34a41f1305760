//! rcdiag-agent as a library: the collectors, redaction and the collection run, so the
//! binary stays thin and the tests can drive the pieces directly.

// `println!`, `print!`, `eprintln!` and `eprint!` that never panic on a closed stdout or
// stderr; declared first so that every module below uses them.
#[macro_use]
#[allow(unused_macros)]
mod stdio;

pub mod bound;
pub mod clients;
pub mod collectors;
pub mod config;
pub mod isolate;
pub mod key_change;
pub mod redact;
pub mod review;
pub mod run;
pub mod schedule;
pub mod snapshots;
pub mod sources;
pub mod threads;
pub mod tools;
pub mod upload;
