//! File readers that are not collectors: the cgroup files of a container (its stats
//! beside a local engine), the engine's `json-file` logs and the kubelet's CRI pod logs
//! read straight from disk (both through the window of [`logwindow`]). The collectors
//! use them; they read files only, each with a budget.

pub mod cgroup;
pub mod crilog;
pub mod logfile;
pub mod logwindow;
