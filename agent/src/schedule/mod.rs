//! `rcdiag-agent schedule`: the agent as a foreground service. One snapshot (a normal
//! collection run, [`crate::run::run`]) per tick of `--every DURATION` or
//! `--cron "EXPR"` (or just one with `--once`), never two at once: a tick that comes
//! while a snapshot runs is skipped and logged. After each snapshot: retention over the
//! snapshots this scheduler wrote ([`crate::snapshots`]), then `DIR/status.json` and
//! `DIR/rcdiag.prom` (Prometheus text format for node_exporter's textfile collector),
//! both written atomically. With `--upload TARGET` each snapshot is uploaded right
//! after it is written, in the same job (so never two at once), then the snapshots of
//! earlier ticks whose upload failed; the outcome goes into the ledger, `status.json`
//! and `rcdiag.prom`, and retention keeps snapshots not uploaded yet (until
//! `--max-total` forces them out). SIGTERM/SIGINT stop it; a snapshot cut short leaves no file
//! and no temp file. Log lines are structured: one JSON object a line when stderr is not
//! a terminal, `time LEVEL message key=value` on a terminal.
//!
//! `cron` parses cron expressions, `trigger` turns the schedule into ticks, `job`
//! runs a snapshot and keeps the state, `status` and `metrics` are the files it
//! writes, `log` its log lines.

mod cron;
mod job;
mod log;
mod metrics;
mod status;
mod trigger;

pub use cron::Cron;
pub use log::{Level, LogFormat, Logger};
pub use metrics::render_metrics;
pub use status::*;
pub use trigger::Trigger;

use job::{Job, Scheduler, joined, now_rfc3339, rfc3339_ms, snapshot_job};
use trigger::{Ticker, wait_due};

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;
use tokio::sync::watch;

use crate::run::{Progress, RunConfig};
use crate::snapshots::{self, Ledger, Retention, rfc3339};

/// Format tag of `status.json`.
pub const STATUS_FORMAT: &str = "rcdiag-schedule-status/1";
/// Shortest `--every`: bundle names have a one-second resolution.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

// --------------------------------------------------------------------- schedule

/// Everything a scheduler needs.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// When to take snapshots.
    pub trigger: Trigger,
    /// The snapshots folder (created if missing).
    pub dir: PathBuf,
    /// Retention limits.
    pub retention: Retention,
    /// Random delay in `[0, jitter)` added to each tick.
    pub jitter: Duration,
    /// Stop after this many snapshots.
    pub count: Option<u64>,
    /// Also write `rcdiag.prom` into this folder (node_exporter's textfile directory).
    pub textfile_dir: Option<PathBuf>,
    /// The collection run; its `out` is replaced by `dir` and its progress is quiet.
    pub run: RunConfig,
    /// Upload each snapshot (`--upload`).
    pub upload: Option<ScheduleUpload>,
    /// Log lines.
    pub log: Logger,
}

/// `schedule --upload`: where snapshots go and how.
#[derive(Debug, Clone)]
pub struct ScheduleUpload {
    /// The target; an `s3://` one already with the node's own prefix
    /// ([`crate::upload::Target::for_node`]).
    pub target: crate::upload::Target,
    /// Tries, timeouts, CA, plain bundles.
    pub settings: crate::upload::Settings,
}

/// Most snapshots of earlier ticks retried after a tick's own upload.
pub const MAX_RETRIES_PER_TICK: usize = 5;

/// What a scheduler did before it stopped.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Counters.
    pub counters: Counters,
    /// `SIGTERM`, `SIGINT`, or `None` when `--count`/`--once` was reached.
    pub stopped_by: Option<&'static str>,
}

/// Why the scheduler could not start (or had to stop).
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// A folder is unsafe (a link, another user's, writable by others).
    #[error(transparent)]
    Unsafe(#[from] rcdiag_bundle::Error),
    /// The folder cannot be created or used.
    #[error(
        "cannot use the snapshots folder {dir}: {source}; create it and make it writable for the agent's user, or pass another --dir"
    )]
    Dir {
        /// Folder.
        dir: String,
        /// Cause.
        source: std::io::Error,
    },
    /// `--textfile-dir` does not exist.
    #[error(
        "--textfile-dir {dir} does not exist: create it (node_exporter's --collector.textfile.directory) and make it writable for the agent's user, or pass another --textfile-dir"
    )]
    TextfileDir {
        /// Folder.
        dir: String,
    },
    /// Another scheduler holds the folder.
    #[error(
        "another rcdiag-agent schedule is already writing into {dir}: stop it first (e.g. `systemctl stop rcdiag-agent`) or pass another --dir"
    )]
    Locked {
        /// Folder.
        dir: String,
    },
    /// The ledger.
    #[error(transparent)]
    Snapshots(#[from] snapshots::SnapshotsError),
    /// status.json or rcdiag.prom cannot be written.
    #[error("cannot write {path}: {source}; check free space and that the agent may write there")]
    Status {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// Leftover temp files of bundle writers (`.rcdiag-*.tmp`) in `dir`.
pub fn stray_temp_files(dir: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".rcdiag-") && n.ends_with(".tmp"))
        .collect()
}

/// Runs the scheduler until `shutdown` resolves (SIGTERM/SIGINT) or `count` snapshots
/// are done. A snapshot running at shutdown is cut short and leaves nothing behind.
pub async fn schedule(
    mut cfg: ScheduleConfig,
    shutdown: impl Future<Output = &'static str>,
) -> Result<Summary, ScheduleError> {
    let log = cfg.log;
    cfg.run.out = cfg.dir.clone();
    cfg.run.progress = Progress::Quiet;
    let dir_err = |source| ScheduleError::Dir {
        dir: cfg.dir.display().to_string(),
        source,
    };
    // Root writes status.json, rcdiag.prom and the ledger here: the folders must not be
    // links, nor owned or writable by other users (OpenSSH's StrictModes rule).
    rcdiag_bundle::safefs::ensure_dir(&cfg.dir, 0o750, "--dir")?;
    if let Some(t) = &cfg.textfile_dir {
        if !t.is_dir() && fs::symlink_metadata(t).is_err() {
            return Err(ScheduleError::TextfileDir {
                dir: t.display().to_string(),
            });
        }
        rcdiag_bundle::safefs::check_dir(t, "--textfile-dir")?;
    }
    // One scheduler per folder: an exclusive lock on the folder itself (released when
    // the process exits, however it exits).
    let lock = fs::File::open(&cfg.dir).map_err(dir_err)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            return Err(ScheduleError::Locked {
                dir: cfg.dir.display().to_string(),
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(dir_err(e)),
    }
    let (ledger, warnings) = Ledger::load(&cfg.dir, true)?;
    for w in warnings {
        log.warn("ledger", &w, &[]);
    }
    let mut ledger = ledger;
    for note in ledger.reconcile(&cfg.dir) {
        log.warn("snapshot_released", &note, &[]);
    }
    let stale = rcdiag_bundle::safefs::remove_stale_temp_files(&cfg.dir);
    if !stale.removed.is_empty() {
        log.warn(
            "stale_temp_files_removed",
            "removed the temporary files of runs that died (SIGKILL, OOM, power loss)",
            &[("files", json!(stale.removed))],
        );
    }
    if !stale.kept.is_empty() {
        log.warn(
            "stray_temp_files",
            "temporary files found whose writer may still be running (a `collect -o` right now, another container or user); remove them if no collection is running",
            &[("files", json!(stale.kept))],
        );
    }
    let previous = Status::load(&cfg.dir);
    let started_at = now_rfc3339();
    let mut status = Status {
        format: STATUS_FORMAT.into(),
        agent_version: env!("CARGO_PKG_VERSION").into(),
        host: crate::run::node_name(&cfg.run.options.host_root),
        pid: std::process::id(),
        dir: cfg.dir.display().to_string(),
        schedule: cfg.trigger.describe(),
        collectors: cfg.run.collectors.clone(),
        state: "waiting".into(),
        upload: cfg.upload.as_ref().map(|u| UploadStatus {
            target: u.target.shown(),
            ..UploadStatus::default()
        }),
        counters: Counters {
            since: started_at,
            ..Counters::default()
        },
        ..Status::default()
    };
    if let Some(p) = previous {
        // We hold the folder's lock: a previous scheduler that did not write `stopped`
        // died (SIGKILL, OOM, power loss).
        let died = p.state != "stopped" && !p.state.is_empty();
        status.last_run = p.last_run;
        status.last_success = p.last_success;
        status.consecutive_failures = p.consecutive_failures;
        if let (Some(u), Some(prev)) = (status.upload.as_mut(), p.upload) {
            u.last = prev.last;
            u.last_success = prev.last_success;
            u.consecutive_failures = prev.consecutive_failures;
        }
        if died {
            let during = p.state == "running";
            let message = format!(
                "the previous scheduler (pid {}) died{} without stopping cleanly (SIGKILL, OOM, power loss); last sign of life {}",
                p.pid,
                if during { " during a snapshot" } else { "" },
                p.updated_at
            );
            log.warn(
                "previous_run_died",
                &message,
                &[
                    ("pid", json!(p.pid)),
                    ("state", json!(p.state)),
                    ("updated_at", json!(p.updated_at)),
                ],
            );
            if during {
                status.last_run = Some(LastRun {
                    started_at: p.updated_at.clone(),
                    finished_at: p.updated_at.clone(),
                    outcome: "died".into(),
                    error: Some(message.clone()),
                    ..LastRun::default()
                });
            }
            status.previous_run_died = Some(message);
        }
    }
    let mut s = Scheduler {
        cfg,
        ledger,
        status,
    };
    s.status.retention = s.fields_retention();
    s.count_pending();
    let ticker = Ticker::new(s.cfg.trigger.clone(), s.cfg.jitter);
    let mut next = ticker.first();
    s.write_status(next.map(|t| t.scheduled), true)?;
    log.info(
        "schedule_started",
        &format!(
            "scheduler started: {}, snapshots in {}",
            s.cfg.trigger.describe(),
            s.cfg.dir.display()
        ),
        &[
            ("schedule", json!(s.cfg.trigger.describe())),
            ("dir", json!(s.cfg.dir.display().to_string())),
            ("retention", json!(s.cfg.retention.describe())),
            ("jitter_seconds", json!(s.cfg.jitter.as_secs_f64())),
            ("collectors", json!(s.cfg.run.collectors)),
            (
                "encrypted",
                json!(matches!(
                    s.cfg.run.encryption,
                    rcdiag_bundle::Encryption::Age { .. }
                )),
            ),
            ("count", json!(s.cfg.count)),
            (
                "upload",
                json!(s.cfg.upload.as_ref().map(|u| u.target.shown())),
            ),
            ("managed_snapshots", json!(s.ledger.snapshots.len())),
            ("next_run", json!(next.map(|t| rfc3339(t.scheduled)))),
        ],
    );

    let (stop_tx, stop_rx) = watch::channel::<Option<&'static str>>(None);
    tokio::pin!(shutdown);
    let mut running: Option<(Job, Timestamp)> = None;
    let mut started: u64 = 0;
    let limit = s.cfg.count;
    let mut stopped_by: Option<&'static str> = None;
    loop {
        let more = limit.is_none_or(|n| started < n) && next.is_some();
        if !more && running.is_none() {
            break;
        }
        let due = next.map(|t| t.due);
        // In this order: a signal first, then a snapshot that has finished (so a tick due
        // at the same moment starts the next one instead of being skipped), then the tick.
        tokio::select! {
            biased;
            sig = &mut shutdown => {
                stopped_by = Some(sig);
                let _ = stop_tx.send(Some(sig));
                log.info("schedule_stopping", &format!("{sig} received: stopping"), &[("signal", json!(sig)), ("snapshot_running", json!(running.is_some()))]);
                if let Some((job, since)) = running.take() {
                    s.finish_job(joined(job.await, since));
                }
                break;
            }
            res = async { match running.as_mut() { Some((job, since)) => joined(job.await, *since), None => std::future::pending().await } } => {
                running = None;
                s.finish_job(res);
                s.status.state = "waiting".into();
                let nr = if limit.is_none_or(|n| started < n) { next.map(|t| t.scheduled) } else { None };
                s.write_status_logged(nr, true);
            }
            _ = async { match due { Some(d) => wait_due(d).await, None => std::future::pending().await } }, if more => {
                let Some(tick) = next.take() else { continue };
                let (after, missed) = ticker.next(&tick);
                next = after;
                if missed > 0 {
                    log.warn(
                        "ticks_missed",
                        &format!("{missed} tick(s) missed (the machine slept or the clock jumped)"),
                        &[("missed", json!(missed))],
                    );
                }
                // A snapshot that ended between the poll above and this tick is not
                // still running.
                if running.as_ref().is_some_and(|(job, _)| job.is_finished())
                    && let Some((job, since)) = running.take()
                {
                    s.finish_job(joined(job.await, since));
                }
                if let Some((_, since)) = &running {
                    s.status.counters.ticks_skipped += 1;
                    log.warn(
                        "tick_skipped",
                        "tick skipped: the previous snapshot is still running (never two at once)",
                        &[
                            ("scheduled_for", json!(rfc3339_ms(tick.scheduled))),
                            ("running_since", json!(rfc3339_ms(*since))),
                            ("next_run", json!(next.map(|t| rfc3339(t.scheduled)))),
                        ],
                    );
                    s.write_status_logged(next.map(|t| t.scheduled), false);
                    continue;
                }
                started += 1;
                s.status.counters.started += 1;
                let now = Timestamp::now();
                log.info(
                    "snapshot_started",
                    "snapshot started",
                    &[
                        ("scheduled_for", json!(rfc3339_ms(tick.scheduled))),
                        ("number", json!(started)),
                        ("collectors", json!(s.cfg.run.collectors)),
                    ],
                );
                let uploads = s.upload_job();
                running = Some((snapshot_job(s.cfg.run.clone(), tick.scheduled, stop_rx.clone(), uploads), now));
                s.status.state = "running".into();
                let nr = if limit.is_none_or(|n| started < n) { next.map(|t| t.scheduled) } else { None };
                s.write_status_logged(nr, false);
            }
        }
    }
    s.status.state = "stopped".into();
    s.status.stopped_by = Some(stopped_by.unwrap_or("count reached").to_string());
    s.write_status_logged(None, true);
    let stray = stray_temp_files(&s.cfg.dir);
    if !stray.is_empty() {
        log.warn(
            "stray_temp_files",
            "temporary bundle files are still in the folder (not written by this scheduler?)",
            &[("files", json!(stray))],
        );
    }
    log.info(
        "schedule_stopped",
        &format!(
            "scheduler stopped ({})",
            stopped_by.unwrap_or("count reached")
        ),
        &[
            ("stopped_by", json!(stopped_by.unwrap_or("count reached"))),
            ("snapshots_started", json!(s.status.counters.started)),
            ("ok", json!(s.status.counters.ok)),
            ("degraded", json!(s.status.counters.degraded)),
            ("failed", json!(s.status.counters.failed)),
            ("interrupted", json!(s.status.counters.interrupted)),
            ("ticks_skipped", json!(s.status.counters.ticks_skipped)),
        ],
    );
    drop(lock);
    Ok(Summary {
        counters: s.status.counters.clone(),
        stopped_by,
    })
}
