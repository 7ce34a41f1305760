//! `rcdiag-agent snapshots list`: the snapshots of a scheduler's folder and its status.

use anyhow::{Result, bail};
use rcdiag_agent::config::human_bytes;
use rcdiag_agent::{schedule, snapshots};

pub fn snapshots_list(dir: &std::path::Path, json: bool) -> Result<()> {
    if !dir.is_dir() {
        bail!(
            "{} is not a folder: pass the --dir given to `rcdiag-agent schedule` (e.g. /var/lib/rcdiag/snapshots)",
            dir.display()
        );
    }
    let (rows, warnings) = snapshots::list(dir)?;
    for w in &warnings {
        eprintln!("rcdiag-agent: warning: {w}");
    }
    let status = schedule::Status::load(dir);
    if json {
        let v = serde_json::json!({"dir": dir.display().to_string(), "snapshots": rows, "status": status});
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no snapshots in {}", dir.display());
    } else {
        print!("{}", snapshots::render_list(&rows));
        let managed: Vec<&snapshots::Listed> = rows
            .iter()
            .filter(|r| r.managed && r.outcome != "missing")
            .collect();
        println!(
            "\n{} snapshot(s); {} written by the scheduler ({}); others are never deleted",
            rows.len(),
            managed.len(),
            human_bytes(managed.iter().map(|r| r.bytes).sum())
        );
    }
    if let Some(s) = status {
        let last = s
            .last_run
            .as_ref()
            .map(|l| format!("last run {} {}", l.finished_at, l.outcome))
            .unwrap_or_else(|| "no run yet".into());
        println!(
            "scheduler: {} ({}, pid {}); {last}; next run {}",
            s.state,
            s.schedule,
            s.pid,
            s.next_run.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}
