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

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::config::human_bytes;

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
}

impl SnapshotEntry {
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
fn check_ours(dir: &Path, entry: &SnapshotEntry) -> Result<(), String> {
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

/// Retention limits; `None` is no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    /// Keep at most this many snapshots.
    pub keep: Option<usize>,
    /// Delete snapshots older than this.
    pub max_age: Option<Duration>,
    /// Keep the newest snapshots whose sizes add up to at most this many bytes.
    pub max_total: Option<u64>,
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
/// (else the newest) is always kept. Returns decisions newest first.
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
        if let Some(k) = r.keep.filter(|k| rank >= *k) {
            reason = Some(format!("more than --keep {k}"));
        }
        if reason.is_none()
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
            reason = Some(format!("over --max-total {}", human_bytes(max)));
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

/// One row of `snapshots list`.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// File name.
    pub file: String,
    /// Creation time (RFC 3339, UTC).
    pub time: String,
    /// Size on disk (0 if missing).
    pub bytes: u64,
    /// Written by the scheduler (in the ledger): retention manages it.
    pub managed: bool,
    /// `ok`, `degraded`, `missing` (in the ledger, not on disk) or `unknown` (not written by the scheduler).
    pub outcome: String,
    /// Collector outcomes (from the ledger).
    pub collectors: Vec<CollectorOutcome>,
    /// Age-encrypted.
    pub encrypted: bool,
}

/// The snapshots in `dir`, oldest first: every file with the standard bundle name, plus
/// ledger entries whose file is gone. Reads only; never changes the folder.
pub fn list(dir: &Path) -> Result<(Vec<Listed>, Vec<String>), SnapshotsError> {
    let (ledger, warnings) = Ledger::load(dir, false)?;
    let by_name: BTreeMap<&str, &SnapshotEntry> = ledger
        .snapshots
        .iter()
        .map(|s| (s.file.as_str(), s))
        .collect();
    let rd = fs::read_dir(dir).map_err(|source| SnapshotsError::ListDir {
        path: dir.display().to_string(),
        source,
    })?;
    let mut rows = Vec::new();
    let mut seen = Vec::new();
    for ent in rd.flatten() {
        let name = ent.file_name().to_string_lossy().into_owned();
        let Some(parsed) = parse_bundle_name(&name) else {
            continue;
        };
        let Ok(meta) = fs::symlink_metadata(ent.path()) else {
            continue;
        };
        if !meta.file_type().is_file() {
            continue;
        }
        let row = match by_name
            .get(name.as_str())
            .filter(|e| check_ours(dir, e).is_ok())
        {
            Some(e) => Listed {
                file: name.clone(),
                time: e
                    .created()
                    .map(rfc3339)
                    .unwrap_or_else(|| rfc3339(parsed.time)),
                bytes: meta.len(),
                managed: true,
                outcome: e.outcome().into(),
                collectors: e.collectors.clone(),
                encrypted: e.encrypted,
            },
            None => Listed {
                file: name.clone(),
                time: rfc3339(parsed.time),
                bytes: meta.len(),
                managed: false,
                outcome: "unknown".into(),
                collectors: Vec::new(),
                encrypted: parsed.encrypted,
            },
        };
        seen.push(name);
        rows.push(row);
    }
    for e in &ledger.snapshots {
        if !seen.contains(&e.file) {
            rows.push(Listed {
                file: e.file.clone(),
                time: e.created().map(rfc3339).unwrap_or_default(),
                bytes: 0,
                managed: true,
                outcome: "missing".into(),
                collectors: e.collectors.clone(),
                encrypted: e.encrypted,
            });
        }
    }
    rows.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.file.cmp(&b.file)));
    Ok((rows, warnings))
}

/// `2026-01-02T03:04:05Z`.
pub fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The text table of `snapshots list`. Collectors deselected with `--only`/`--skip` are
/// left out of the COLLECTORS column.
pub fn render_list(rows: &[Listed]) -> String {
    let collectors: Vec<String> = rows
        .iter()
        .map(|r| {
            if !r.managed {
                return "(not written by schedule: never deleted)".to_string();
            }
            let ran: Vec<String> = r
                .collectors
                .iter()
                .filter(|c| {
                    !(c.status == "skipped"
                        && c.error
                            .as_deref()
                            .is_some_and(|e| e.starts_with("deselected")))
                })
                .map(|c| format!("{}={}", c.name, c.status))
                .collect();
            if ran.is_empty() {
                "-".to_string()
            } else {
                ran.join(" ")
            }
        })
        .collect();
    let width = collectors
        .iter()
        .map(|c| c.len())
        .max()
        .unwrap_or(0)
        .max("COLLECTORS".len());
    let mut out = format!(
        "{:<20}  {:>10}  {:<8}  {:<width$}  {}\n",
        "TIME (UTC)", "SIZE", "RESULT", "COLLECTORS", "FILE"
    );
    for (r, c) in rows.iter().zip(&collectors) {
        out.push_str(&format!(
            "{:<20}  {:>10}  {:<8}  {:<width$}  {}\n",
            r.time,
            if r.outcome == "missing" {
                "-".to_string()
            } else {
                human_bytes(r.bytes)
            },
            r.outcome,
            c,
            r.file
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn entry(file_time: &str, bytes: u64, degraded: bool) -> SnapshotEntry {
        let file = format!("rcdiag-node-{file_time}.rcdiag");
        let created = parse_bundle_name(&file).expect("test name parses").time;
        SnapshotEntry {
            file,
            bytes,
            created_at: created.to_string(),
            started_at: String::new(),
            finished_at: created.to_string(),
            bundle_id: String::new(),
            encrypted: true,
            degraded,
            duration_ms: 0,
            collectors: Vec::new(),
        }
    }

    fn kept(d: &[Decision]) -> Vec<String> {
        d.iter()
            .filter(|d| d.delete.is_none())
            .map(|d| d.file[12..28].to_string())
            .collect()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn names_parse_and_others_do_not() {
        let n =
            parse_bundle_name("rcdiag-rc-node-1-20260102T030405Z-CASE-42.rcdiag").expect("parses");
        assert_eq!(n.host, "rc-node-1");
        assert_eq!(n.case.as_deref(), Some("CASE-42"));
        assert!(n.encrypted);
        assert_eq!(n.time, ts("2026-01-02T03:04:05Z"));
        let n = parse_bundle_name("rcdiag-vm-20261126T055031Z.rcdiag.zip").expect("parses");
        assert_eq!((n.host.as_str(), n.case, n.encrypted), ("vm", None, false));
        for bad in [
            "rcdiag-vm-20261126T055031Z.rcdiag.tmp",
            ".rcdiag-abc.tmp",
            "status.json",
            "rcdiag-vm-20261326T055031Z.rcdiag",
            "rcdiag-20261126T055031Z.rcdiag",
            "xrcdiag-vm-20261126T055031Z.rcdiag",
            "rcdiag-vm-20261126T055031Z.rcdiag.zip.bak",
        ] {
            assert!(parse_bundle_name(bad).is_none(), "{bad} must not parse");
        }
    }

    #[test]
    fn keep_by_count_age_and_size() {
        let e = vec![
            entry("20260101T000000Z", 100, false),
            entry("20260102T000000Z", 100, false),
            entry("20260103T000000Z", 100, false),
            entry("20260104T000000Z", 100, false),
        ];
        let now = ts("2026-01-04T12:00:00Z");
        let r = Retention {
            keep: Some(2),
            ..Retention::default()
        };
        assert_eq!(
            kept(&plan_retention(&e, &r, now)),
            ["20260104T000000Z", "20260103T000000Z"]
        );
        let r = Retention {
            max_age: Some(Duration::from_secs(2 * 86400)),
            ..Retention::default()
        };
        assert_eq!(
            kept(&plan_retention(&e, &r, now)),
            ["20260104T000000Z", "20260103T000000Z"]
        );
        let r = Retention {
            max_total: Some(350),
            ..Retention::default()
        };
        assert_eq!(
            kept(&plan_retention(&e, &r, now)),
            ["20260104T000000Z", "20260103T000000Z", "20260102T000000Z"]
        );
        let r = Retention {
            keep: Some(3),
            max_total: Some(250),
            ..Retention::default()
        };
        assert_eq!(
            kept(&plan_retention(&e, &r, now)),
            ["20260104T000000Z", "20260103T000000Z"]
        );
        assert_eq!(
            kept(&plan_retention(&e, &Retention::default(), now)).len(),
            4
        );
    }

    #[test]
    fn once_over_the_size_budget_older_ones_go_too() {
        let e = vec![
            entry("20260101T000000Z", 10, false),
            entry("20260102T000000Z", 500, false),
            entry("20260103T000000Z", 100, false),
        ];
        let r = Retention {
            max_total: Some(300),
            ..Retention::default()
        };
        let d = plan_retention(&e, &r, ts("2026-01-04T00:00:00Z"));
        assert_eq!(kept(&d), ["20260103T000000Z"]);
    }

    #[test]
    fn the_newest_good_snapshot_is_never_deleted() {
        let e = vec![
            entry("20260101T000000Z", 100, false),
            entry("20260102T000000Z", 100, true),
            entry("20260103T000000Z", 100, true),
        ];
        let now = ts("2026-01-03T00:00:01Z");
        let d = plan_retention(
            &e,
            &Retention {
                keep: Some(1),
                ..Retention::default()
            },
            now,
        );
        assert_eq!(kept(&d), ["20260103T000000Z", "20260101T000000Z"]);
        assert!(d.iter().any(|d| d.protected && d.file.contains("20260101")));
        // Too old and over the budget: still kept.
        let r = Retention {
            max_age: Some(Duration::from_secs(1)),
            max_total: Some(1),
            keep: Some(0),
        };
        assert_eq!(kept(&plan_retention(&e, &r, now)), ["20260101T000000Z"]);
        // No good one at all: the newest is kept.
        let bad = vec![
            entry("20260101T000000Z", 100, true),
            entry("20260102T000000Z", 100, true),
        ];
        assert_eq!(kept(&plan_retention(&bad, &r, now)), ["20260102T000000Z"]);
    }

    #[test]
    fn retention_deletes_only_ledger_files_that_are_still_ours() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let mut ledger = Ledger::default();
        for (t, body) in [
            ("20260101T000000Z", "aaaa"),
            ("20260102T000000Z", "bbbb"),
            ("20260103T000000Z", "cccc"),
        ] {
            let mut e = entry(t, 4, false);
            fs::write(d.join(&e.file), body).expect("write");
            e.bytes = 4;
            ledger.snapshots.push(e);
        }
        // Replaced by someone else (other size): must not be deleted.
        fs::write(d.join("rcdiag-node-20260101T000000Z.rcdiag"), "replaced!").expect("write");
        // Not in the ledger, same pattern: never deleted.
        fs::write(d.join("rcdiag-node-20250101T000000Z.rcdiag"), "x").expect("write");
        let r = Retention {
            keep: Some(1),
            ..Retention::default()
        };
        let res =
            apply_retention(d, &mut ledger, &r, ts("2026-01-04T00:00:00Z")).expect("retention");
        assert_eq!(
            res.deleted.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            ["rcdiag-node-20260102T000000Z.rcdiag"]
        );
        assert_eq!(res.released.len(), 1, "{res:?}");
        assert!(d.join("rcdiag-node-20260101T000000Z.rcdiag").exists());
        assert!(d.join("rcdiag-node-20250101T000000Z.rcdiag").exists());
        assert!(d.join("rcdiag-node-20260103T000000Z.rcdiag").exists());
        assert_eq!((res.kept, res.kept_bytes), (1, 4));
        let (again, w) = Ledger::load(d, true).expect("load");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(again.snapshots.len(), 1);
    }

    #[test]
    fn a_corrupt_ledger_is_moved_aside_and_nothing_is_deleted() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(LEDGER_FILE), "{not json").expect("write");
        let (l, w) = Ledger::load(dir.path(), false).expect("load");
        assert!(l.snapshots.is_empty() && w.len() == 1 && dir.path().join(LEDGER_FILE).exists());
        let (l, w) = Ledger::load(dir.path(), true).expect("load");
        assert!(l.snapshots.is_empty());
        assert!(w[0].contains("moved aside"), "{w:?}");
        assert!(!dir.path().join(LEDGER_FILE).exists());
        let aside = fs::read_dir(dir.path())
            .expect("ls")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
        assert!(aside);
        // An entry naming a path outside the folder is dropped.
        let evil = r#"{"format":"rcdiag-snapshots/1","snapshots":[{"file":"../rcdiag-x-20260101T000000Z.rcdiag","bytes":1,"created_at":""}]}"#;
        fs::write(dir.path().join(LEDGER_FILE), evil).expect("write");
        let (l, w) = Ledger::load(dir.path(), true).expect("load");
        assert!(l.snapshots.is_empty() && w.len() == 1, "{w:?}");
    }

    #[test]
    fn atomic_write_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("status.json");
        write_atomic(&p, b"{}\n", 0o644).expect("write");
        write_atomic(&p, b"{\"a\":1}\n", 0o644).expect("write");
        assert_eq!(fs::read_to_string(&p).expect("read"), "{\"a\":1}\n");
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 1);
        assert_eq!(
            fs::metadata(&p).expect("stat").permissions().mode() & 0o777,
            0o644
        );
    }
}
