//! File readers that are not collectors: the cgroup files of a container (its stats
//! beside a local engine) and the engine's `json-file` logs read straight from disk.
//! The collectors use them; they read files only, each with a budget.

pub mod cgroup;
pub mod logfile;
