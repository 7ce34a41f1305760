//! The snapshots folder of `rcdiag-agent schedule`: which bundles the scheduler wrote
//! (the ledger `DIR/.rcdiag-snapshots.json`), retention over them, and
//! `rcdiag-agent snapshots list`.
//!
//! Safety rules, in this order:
//! - a file is ours only if it is in the ledger, has the standard bundle name
//!   (`rcdiag-<host>-<yyyymmddThhmmssZ>[-case].rcdiag[.zip]`), is a regular file (not a
//!   link) and still has the size recorded when it was written. Anything else in the
//!   folder (bundles from `collect -o DIR`, other hosts' bundles, notes) is never deleted;
//! - the newest good snapshot (every collector ok or skipped; else the newest one) is
//!   never deleted, even when it is beyond `--keep`, `--max-age` or `--max-total`;
//! - a ledger that cannot be parsed is moved aside (`.rcdiag-snapshots.json.corrupt-<time>`)
//!   and a new one started: the files it listed are then left alone, never deleted.
//!
//! `ledger` is the ledger, `retention` decides and deletes, `list` is
//! `snapshots list`.

mod ledger;
mod list;
mod retention;
#[cfg(test)]
mod tests;

pub use ledger::*;
pub use list::*;
pub use retention::*;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use jiff::Timestamp;

/// The ledger's file name in the snapshots folder.
pub const LEDGER_FILE: &str = ".rcdiag-snapshots.json";
/// The ledger's format tag.
pub const LEDGER_FORMAT: &str = "rcdiag-snapshots/1";
/// The status file written after each snapshot.
pub const STATUS_FILE: &str = "status.json";
/// The Prometheus text-format file written after each snapshot.
pub const METRICS_FILE: &str = "rcdiag.prom";

static NAME_RE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^rcdiag-(.+)-([0-9]{8}T[0-9]{6}Z)(?:-([A-Za-z0-9._-]+))?\.rcdiag(\.zip)?$")
        .expect("the bundle name pattern compiles")
});

/// The parts of a standard bundle file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleName {
    /// Host name part (cleaned as the writer cleans it).
    pub host: String,
    /// Creation time (second resolution, UTC).
    pub time: Timestamp,
    /// Case id, if any.
    pub case: Option<String>,
    /// `.rcdiag` (age-encrypted) rather than `.rcdiag.zip`.
    pub encrypted: bool,
}

/// Parses `rcdiag-<host>-<yyyymmddThhmmssZ>[-case].rcdiag[.zip]`; `None` for any other name.
pub fn parse_bundle_name(name: &str) -> Option<BundleName> {
    let c = NAME_RE.captures(name)?;
    let t = c.get(2)?.as_str();
    let num = |r: std::ops::Range<usize>| t.get(r).and_then(|s| s.parse::<i32>().ok());
    let dt = jiff::civil::DateTime::new(
        i16::try_from(num(0..4)?).ok()?,
        i8::try_from(num(4..6)?).ok()?,
        i8::try_from(num(6..8)?).ok()?,
        i8::try_from(num(9..11)?).ok()?,
        i8::try_from(num(11..13)?).ok()?,
        i8::try_from(num(13..15)?).ok()?,
        0,
    )
    .ok()?;
    let time = dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some(BundleName {
        host: c.get(1)?.as_str().to_string(),
        time,
        case: c.get(3).map(|m| m.as_str().to_string()),
        encrypted: c.get(4).is_none(),
    })
}

/// Why the snapshots folder could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotsError {
    /// The ledger exists but cannot be read.
    #[error(
        "cannot read the snapshot ledger {path}: {source}; check the folder's owner and permissions (the agent must be able to read and write it)"
    )]
    ReadLedger {
        /// Ledger path.
        path: String,
        /// Cause.
        source: io::Error,
    },
    /// The ledger cannot be written.
    #[error(
        "cannot write the snapshot ledger {path}: {source}; check free space and that the agent may write into the folder"
    )]
    WriteLedger {
        /// Ledger path.
        path: String,
        /// Cause.
        source: io::Error,
    },
    /// The folder cannot be listed.
    #[error("cannot list {path}: {source}")]
    ListDir {
        /// Folder.
        path: String,
        /// Cause.
        source: io::Error,
    },
}

/// Writes `data` to `path` atomically: an `O_EXCL` temp file with an unpredictable name
/// beside it, its mode set on the open file, fsync, rename (a link planted at `path` is
/// replaced, never followed). See [`rcdiag_bundle::safefs::write_atomic`].
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    rcdiag_bundle::safefs::write_atomic(&dir, name, data, mode)
}

/// `2026-01-02T03:04:05Z`.
pub fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
