//! Where bundles come from besides local files: [`s3`] lists and fetches the bundles
//! under an `s3://bucket/prefix/` so `check` reads a fleet's uploaded snapshots in place.

pub mod s3;
