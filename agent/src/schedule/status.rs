//! `DIR/status.json`: what the scheduler is doing, its last run and success, the
//! retention state and its counters.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::STATUS_FORMAT;
use crate::snapshots::{CollectorOutcome, STATUS_FILE};

/// The bundle of a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BundleStatus {
    /// Full path.
    pub path: String,
    /// File name.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Bundle id.
    pub bundle_id: String,
    /// Age-encrypted.
    pub encrypted: bool,
}

/// The last snapshot attempt.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LastRun {
    /// When the tick was scheduled.
    pub scheduled_for: String,
    /// When the snapshot started.
    pub started_at: String,
    /// When it ended.
    pub finished_at: String,
    /// Duration in seconds.
    pub duration_seconds: f64,
    /// `ok`, `degraded` (bundle written, a collector failed/timed out/was partial),
    /// `failed` (no bundle), `interrupted` (stopped by a signal; no bundle) or `died`
    /// (the scheduler was killed during it; recorded by the next start).
    pub outcome: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The bundle written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<BundleStatus>,
    /// Per collector.
    pub collectors: Vec<CollectorOutcome>,
}

/// The last snapshot that wrote a bundle.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LastSuccess {
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// The same, as Unix seconds (what `rcdiag_last_success_timestamp_seconds` shows).
    pub timestamp_seconds: f64,
    /// The bundle path.
    pub bundle: String,
}

/// Retention settings and state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RetentionStatus {
    /// `--keep`.
    pub keep: Option<usize>,
    /// `--max-age` in seconds.
    pub max_age_seconds: Option<u64>,
    /// `--max-total` in bytes.
    pub max_total_bytes: Option<u64>,
    /// Snapshots of this scheduler kept in the folder.
    pub kept: usize,
    /// Their total size.
    pub kept_bytes: u64,
    /// Files deleted after the last snapshot, with the reason.
    pub deleted: Vec<String>,
    /// The newest good snapshot, kept beyond a limit after the last snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protected: Option<String>,
}

/// One upload of a snapshot (`schedule --upload`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct UploadRecord {
    /// The snapshot's file name.
    pub file: String,
    /// Where it went (no query string); on failure, the target.
    pub to: String,
    /// When the upload ended (RFC 3339).
    pub at: String,
    /// The same, as Unix seconds.
    pub timestamp_seconds: f64,
    /// Bytes sent (0 on failure).
    pub bytes: u64,
    /// SHA-256 of the file sent, hex (empty on failure).
    pub sha256: String,
    /// The upload was confirmed.
    pub ok: bool,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Uploads of snapshots, when `--upload` is set.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct UploadStatus {
    /// The target (no query string; an `s3://` target with the node's own prefix).
    pub target: String,
    /// The last upload tried.
    pub last: Option<UploadRecord>,
    /// The last upload confirmed (carried over restarts): what
    /// `rcdiag_last_upload_success_timestamp_seconds` shows.
    pub last_success: Option<UploadRecord>,
    /// Failed uploads in a row (0 after a success): `rcdiag_upload_failures`.
    pub consecutive_failures: u64,
    /// Failed uploads since the scheduler started.
    pub failures: u64,
    /// Uploads confirmed since the scheduler started.
    pub uploaded: u64,
    /// Snapshots kept in the folder and not uploaded yet.
    pub pending: usize,
}

/// Counters since the scheduler started.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Counters {
    /// When these counters started (the process start).
    pub since: String,
    /// Snapshots started.
    pub started: u64,
    /// Bundles written with every collector ok or skipped.
    pub ok: u64,
    /// Bundles written with a collector failed, timed out or partial.
    pub degraded: u64,
    /// Snapshots that wrote no bundle.
    pub failed: u64,
    /// Snapshots stopped by a signal.
    pub interrupted: u64,
    /// Ticks skipped because a snapshot was still running.
    pub ticks_skipped: u64,
}

/// `DIR/status.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Status {
    /// [`STATUS_FORMAT`].
    pub format: String,
    /// Agent version.
    pub agent_version: String,
    /// Host name.
    pub host: String,
    /// Process id of the scheduler.
    pub pid: u32,
    /// The snapshots folder.
    pub dir: String,
    /// The schedule (`every 6h`, `cron "0 3 * * *" (UTC)`, `once`).
    pub schedule: String,
    /// Collectors selected.
    pub collectors: Vec<String>,
    /// `waiting`, `running` or `stopped`.
    pub state: String,
    /// Why it stopped (`SIGTERM`, `SIGINT`, `count reached`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
    /// When this file was written.
    pub updated_at: String,
    /// Set when the previous scheduler of this folder died without stopping cleanly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_run_died: Option<String>,
    /// When the next snapshot is due.
    pub next_run: Option<String>,
    /// The last attempt.
    pub last_run: Option<LastRun>,
    /// The last bundle written.
    pub last_success: Option<LastSuccess>,
    /// Retention.
    pub retention: RetentionStatus,
    /// Counters since the start.
    pub counters: Counters,
    /// Per collector: consecutive snapshots (latest backwards) in which it failed, timed
    /// out or was partial (0 once it is ok or skipped again).
    pub consecutive_failures: BTreeMap<String, u64>,
    /// Uploads (`--upload`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadStatus>,
}

impl Status {
    /// Loads a previous `status.json` (to carry the last success and failure streaks
    /// over a restart); `None` when missing or unreadable.
    pub fn load(dir: &Path) -> Option<Self> {
        let text = fs::read(dir.join(STATUS_FILE)).ok()?;
        serde_json::from_slice::<Self>(&text)
            .ok()
            .filter(|s| s.format == STATUS_FORMAT)
    }
}
