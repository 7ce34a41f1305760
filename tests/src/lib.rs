//! Helpers for the end-to-end tests. The shared ones (finding the built binaries,
//! requiring real peers, a unix socket that never answers, the names in a folder) come
//! from `rcdiag-testkit`; this adds what only these tests use.

use std::path::{Path, PathBuf};

pub use rcdiag_testkit::{HungSocket, bin, files_in, require_peer, root};

/// A fresh support key pair: the identity written to `dir/support.key`, and its
/// `age1...` recipient.
pub fn support_key(dir: &Path) -> (PathBuf, String) {
    let k = rcdiag_testkit::support_key(dir);
    (k.file, k.recipient)
}
