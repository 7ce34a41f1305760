//! The ledger `DIR/.rcdiag-snapshots.json`: the snapshots this scheduler wrote, with
//! what each collector did, and the check that a listed file still is the one written.

use std::fs;
use std::io;
use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::*;

/// What one collector did in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorOutcome {
    /// Collector name.
    pub name: String,
    /// `ok`, `partial`, `failed`, `timeout` or `skipped`.
    pub status: String,
    /// Time it took.
    #[serde(default)]
    pub duration_ms: u64,
    /// Bytes it wrote into the bundle.
    #[serde(default)]
    pub bytes: u64,
    /// Error or skip reason (already redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CollectorOutcome {
    /// True when the collector failed, timed out or was partial.
    pub fn is_failure(&self) -> bool {
        matches!(self.status.as_str(), "failed" | "timeout" | "partial")
    }
}

/// One snapshot the scheduler wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotEntry {
    /// File name in the snapshots folder (no folder part).
    pub file: String,
    /// Size in bytes when written.
    pub bytes: u64,
    /// The manifest's `created_at` (RFC 3339, second resolution).
    pub created_at: String,
    /// When the snapshot started (RFC 3339, millisecond resolution): its time for
    /// retention and listings.
    #[serde(default)]
    pub started_at: String,
    /// When the bundle was finished (RFC 3339).
    #[serde(default)]
    pub finished_at: String,
    /// The bundle id (UUIDv7).
    #[serde(default)]
    pub bundle_id: String,
    /// Whether it is age-encrypted.
    #[serde(default)]
    pub encrypted: bool,
    /// Some collector failed, timed out or was partial.
    #[serde(default)]
    pub degraded: bool,
    /// Length of the run.
    #[serde(default)]
    pub duration_ms: u64,
    /// What each collector did.
    #[serde(default)]
    pub collectors: Vec<CollectorOutcome>,
    /// Its upload, when the scheduler that wrote it had `--upload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadState>,
}

/// The upload of one snapshot (`schedule --upload`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadState {
    /// Not uploaded yet: retention keeps it (until `--max-total` forces it out) and the
    /// next ticks try again.
    pub pending: bool,
    /// Where it was sent (no query string), once sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// When the upload was confirmed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uploaded_at: Option<String>,
    /// SHA-256 of what was sent, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Failed attempts so far (each with its own retries).
    pub failures: u32,
    /// The last failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl SnapshotEntry {
    /// Written with `--upload` and not uploaded yet.
    pub fn upload_pending(&self) -> bool {
        self.upload.as_ref().is_some_and(|u| u.pending)
    }

    /// The snapshot's time: when it started, else the manifest's `created_at`, else the
    /// time in the file name.
    pub fn created(&self) -> Option<Timestamp> {
        self.started_at
            .parse::<Timestamp>()
            .ok()
            .or_else(|| self.created_at.parse::<Timestamp>().ok())
            .or_else(|| parse_bundle_name(&self.file).map(|n| n.time))
    }

    /// Good: every collector ok or skipped.
    pub fn good(&self) -> bool {
        !self.degraded
    }

    /// `ok` or `degraded`.
    pub fn outcome(&self) -> &'static str {
        if self.degraded { "degraded" } else { "ok" }
    }
}

/// The ledger: the snapshots this scheduler wrote into the folder, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ledger {
    /// Format tag ([`LEDGER_FORMAT`]).
    pub format: String,
    /// The snapshots.
    #[serde(default)]
    pub snapshots: Vec<SnapshotEntry>,
}

impl Default for Ledger {
    fn default() -> Self {
        Self {
            format: LEDGER_FORMAT.to_string(),
            snapshots: Vec::new(),
        }
    }
}

impl Ledger {
    /// Loads `DIR/.rcdiag-snapshots.json`. A missing ledger is empty. With `repair`, a
    /// ledger that does not parse is moved aside and an empty one returned; without it,
    /// an empty one is returned and the file left as is. Entries whose name is not a
    /// standard bundle name are dropped. Returns the ledger and warnings for the log.
    pub fn load(dir: &Path, repair: bool) -> Result<(Self, Vec<String>), SnapshotsError> {
        let path = dir.join(LEDGER_FILE);
        let mut warnings = Vec::new();
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok((Self::default(), warnings));
            }
            Err(source) => {
                return Err(SnapshotsError::ReadLedger {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let mut ledger = match serde_json::from_slice::<Ledger>(&text) {
            Ok(l) if l.format == LEDGER_FORMAT => l,
            Ok(l) => {
                warnings.push(format!(
                    "{} has format {:?}, not {LEDGER_FORMAT:?} (written by another version?): {}",
                    path.display(),
                    l.format,
                    if repair {
                        "moved aside; the files it lists will not be deleted"
                    } else {
                        "ignored"
                    }
                ));
                if repair {
                    move_aside(&path, &mut warnings);
                }
                return Ok((Self::default(), warnings));
            }
            Err(e) => {
                warnings.push(format!(
                    "{} does not parse ({e}): {}",
                    path.display(),
                    if repair {
                        "moved aside and a new ledger started; the snapshots it listed are no longer managed (never deleted): remove them by hand when no longer needed"
                    } else {
                        "ignored"
                    }
                ));
                if repair {
                    move_aside(&path, &mut warnings);
                }
                return Ok((Self::default(), warnings));
            }
        };
        ledger.snapshots.retain(|s| {
            let ok = !s.file.contains('/') && parse_bundle_name(&s.file).is_some();
            if !ok {
                warnings.push(format!(
                    "ledger entry {:?} is not a bundle file name in this folder: ignored",
                    s.file
                ));
            }
            ok
        });
        Ok((ledger, warnings))
    }

    /// Writes the ledger atomically (temp file, fsync, rename).
    pub fn save(&self, dir: &Path) -> Result<(), SnapshotsError> {
        let path = dir.join(LEDGER_FILE);
        let mut text =
            serde_json::to_vec_pretty(self).map_err(|e| SnapshotsError::WriteLedger {
                path: path.display().to_string(),
                source: io::Error::other(e),
            })?;
        text.push(b'\n');
        write_atomic(&path, &text, 0o600).map_err(|source| SnapshotsError::WriteLedger {
            path: path.display().to_string(),
            source,
        })
    }

    /// Drops entries whose file is gone or is no longer the file written (not a regular
    /// file, or another size). Returns one note per entry dropped.
    pub fn reconcile(&mut self, dir: &Path) -> Vec<String> {
        let mut notes = Vec::new();
        self.snapshots.retain(|s| match check_ours(dir, s) {
            Ok(()) => true,
            Err(why) => {
                notes.push(format!("{}: {why}; no longer managed", s.file));
                false
            }
        });
        notes
    }

    /// Total bytes of the entries.
    pub fn total_bytes(&self) -> u64 {
        self.snapshots.iter().map(|s| s.bytes).sum()
    }
}

fn move_aside(path: &Path, warnings: &mut Vec<String>) {
    let aside = path.with_file_name(format!(
        "{LEDGER_FILE}.corrupt-{}",
        Timestamp::now().strftime("%Y%m%dT%H%M%SZ")
    ));
    if let Err(e) = fs::rename(path, &aside) {
        warnings.push(format!(
            "could not move {} aside to {}: {e}",
            path.display(),
            aside.display()
        ));
    }
}

/// Whether `entry` still is the file the scheduler wrote: a regular file (not a
/// symlink) of the recorded size.
pub(super) fn check_ours(dir: &Path, entry: &SnapshotEntry) -> Result<(), String> {
    match fs::symlink_metadata(dir.join(&entry.file)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err("the file is gone".into()),
        Err(e) => Err(format!("cannot stat it: {e}")),
        Ok(m) if !m.file_type().is_file() => Err("it is not a regular file any more".into()),
        Ok(m) if m.len() != entry.bytes => Err(format!(
            "its size changed ({} bytes, {} when written): it was replaced",
            m.len(),
            entry.bytes
        )),
        Ok(_) => Ok(()),
    }
}
