//! rcdiag-analyzer as a library: the policy, the node model read from bundles, the
//! checks, the reports and the explore/diff commands, so the binary stays thin.

pub mod checks;
pub mod diff;
pub mod explore;
pub mod image_ref;
pub mod load;
mod logscan;
pub mod model;
pub mod policy;
pub mod report;
mod text;
