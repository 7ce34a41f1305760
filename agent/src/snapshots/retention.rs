//! Retention over the ledger's snapshots: `--keep`, `--max-age`, `--max-total`, the
//! newest good snapshot always kept, and the deletions.

use std::fs;
use std::io;
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;

use crate::config::human_bytes;

use super::ledger::check_ours;
use super::*;

/// Retention limits; `None` is no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    /// Keep at most this many snapshots.
    pub keep: Option<usize>,
    /// Delete snapshots older than this.
    pub max_age: Option<Duration>,
    /// Keep the newest snapshots whose sizes add up to at most this many bytes.
    pub max_total: Option<u64>,
    /// `schedule --upload`: a snapshot not uploaded yet is kept beyond `keep` and
    /// `max_age`; only `max_total` deletes it (and says so).
    pub hold_unuploaded: bool,
}

impl Retention {
    /// `keep 10, max-age 7d, max-total 1.0 GiB` or `none`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(k) = self.keep {
            parts.push(format!("keep {k}"));
        }
        if let Some(a) = self.max_age {
            parts.push(format!("max-age {}", crate::run::humantime(a)));
        }
        if let Some(t) = self.max_total {
            parts.push(format!("max-total {}", human_bytes(t)));
        }
        if self.hold_unuploaded && !parts.is_empty() {
            parts.push("snapshots not uploaded yet kept until --max-total".into());
        }
        if parts.is_empty() {
            "none (every snapshot is kept)".into()
        } else {
            parts.join(", ")
        }
    }
}

/// What retention decided for one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// File name.
    pub file: String,
    /// `None`: kept; `Some(reason)`: to delete.
    pub delete: Option<String>,
    /// Kept although a limit said delete: the newest good snapshot.
    pub protected: bool,
}

/// Decides, newest first, which of `entries` to keep at time `now`: a snapshot is kept
/// when it is within `keep` (by rank), within `max_age` (from [`SnapshotEntry::created`]), and the sizes of the snapshots
/// kept so far plus its own stay within `max_total` (once one does not fit, every older
/// one goes too, so the set kept is always the newest ones). The newest good snapshot
/// (else the newest) is always kept. With `hold_unuploaded`, a snapshot whose upload is
/// pending is kept past `keep` and `max_age` (its size still counts), and deleted only
/// by `max_total`, with a reason that says it was never uploaded. Returns decisions
/// newest first.
pub fn plan_retention(entries: &[SnapshotEntry], r: &Retention, now: Timestamp) -> Vec<Decision> {
    let mut order: Vec<&SnapshotEntry> = entries.iter().collect();
    // Newest first; entries without a time sort as oldest; ties by name, newest name first.
    order.sort_by(|a, b| {
        b.created()
            .cmp(&a.created())
            .then_with(|| b.file.cmp(&a.file))
    });
    let protected = order
        .iter()
        .find(|e| e.good())
        .or(order.first())
        .map(|e| e.file.clone());
    let mut total: u64 = 0;
    let mut over_total = false;
    let mut out = Vec::with_capacity(order.len());
    for (rank, e) in order.iter().enumerate() {
        let mut reason = None;
        let held = r.hold_unuploaded && e.upload_pending();
        if let Some(k) = r.keep.filter(|k| rank >= *k && !held) {
            reason = Some(format!("more than --keep {k}"));
        }
        if reason.is_none()
            && !held
            && let Some(max) = r.max_age
        {
            // A snapshot from the future (clock stepped back) has age 0.
            let age = e
                .created()
                .map(|c| now.duration_since(c))
                .map(|d| {
                    if d.is_negative() {
                        Duration::ZERO
                    } else {
                        d.unsigned_abs()
                    }
                })
                .unwrap_or(Duration::MAX);
            if age > max {
                reason = Some(format!(
                    "older than --max-age {}",
                    crate::run::humantime(max)
                ));
            }
        }
        if reason.is_none()
            && let Some(max) = r.max_total
            && (over_total || total.saturating_add(e.bytes) > max)
        {
            over_total = true;
            reason = Some(if held {
                format!(
                    "over --max-total {}, although it was never uploaded",
                    human_bytes(max)
                )
            } else {
                format!("over --max-total {}", human_bytes(max))
            });
        }
        let is_protected = protected.as_deref() == Some(e.file.as_str());
        let keep = reason.is_none() || is_protected;
        if keep {
            total = total.saturating_add(e.bytes);
        }
        out.push(Decision {
            file: e.file.clone(),
            protected: is_protected && reason.is_some(),
            delete: if keep { None } else { reason },
        });
    }
    out
}

/// What applying retention did.
#[derive(Debug, Clone, Default)]
pub struct RetentionResult {
    /// Files deleted, with the reason.
    pub deleted: Vec<(String, String)>,
    /// Files that should have been deleted but could not be (with the error); still managed.
    pub failed: Vec<(String, String)>,
    /// Files dropped from the ledger without deleting (gone or replaced).
    pub released: Vec<String>,
    /// The newest good snapshot, kept beyond a limit.
    pub protected: Option<String>,
    /// Snapshots kept.
    pub kept: usize,
    /// Their bytes.
    pub kept_bytes: u64,
}

/// Reconciles the ledger with the folder, plans retention and deletes what it says,
/// re-checking each file right before deleting it. Saves the ledger.
pub fn apply_retention(
    dir: &Path,
    ledger: &mut Ledger,
    r: &Retention,
    now: Timestamp,
) -> Result<RetentionResult, SnapshotsError> {
    let mut result = RetentionResult {
        released: ledger.reconcile(dir),
        ..RetentionResult::default()
    };
    let decisions = plan_retention(&ledger.snapshots, r, now);
    let mut remove: Vec<String> = Vec::new();
    for d in &decisions {
        if d.protected {
            result.protected = Some(d.file.clone());
        }
        let Some(reason) = &d.delete else { continue };
        let Some(entry) = ledger.snapshots.iter().find(|s| s.file == d.file) else {
            continue;
        };
        if let Err(why) = check_ours(dir, entry) {
            result
                .released
                .push(format!("{}: {why}; no longer managed", d.file));
            remove.push(d.file.clone());
            continue;
        }
        match fs::remove_file(dir.join(&d.file)) {
            Ok(()) => {
                result.deleted.push((d.file.clone(), reason.clone()));
                remove.push(d.file.clone());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => remove.push(d.file.clone()),
            Err(e) => result.failed.push((d.file.clone(), e.to_string())),
        }
    }
    ledger.snapshots.retain(|s| !remove.contains(&s.file));
    result.kept = ledger.snapshots.len();
    result.kept_bytes = ledger.total_bytes();
    ledger.save(dir)?;
    Ok(result)
}
