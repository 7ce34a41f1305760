//! `rcdiag-agent snapshots list`: every bundle of the folder, the scheduler's marked,
//! as rows and as a table.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Serialize;

use crate::config::human_bytes;

use super::ledger::check_ours;
use super::*;

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
