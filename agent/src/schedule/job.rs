//! One snapshot as its own task, and the scheduler's state between snapshots: what a
//! finished snapshot changes in the ledger, the status and the metrics, and retention.

use jiff::Timestamp;
use serde_json::json;
use tokio::sync::watch;

use std::path::PathBuf;

use super::metrics::{render_metrics, unix_seconds};
use super::status::{
    BundleStatus, LastRun, LastSuccess, RetentionStatus, Status, UploadRecord, UploadStatus,
};
use super::{MAX_RETRIES_PER_TICK, ScheduleConfig, ScheduleError, ScheduleUpload};
use crate::run::{self, RunConfig, RunError, RunReport};
use crate::snapshots::{
    self, CollectorOutcome, Ledger, METRICS_FILE, RetentionResult, STATUS_FILE, SnapshotEntry,
    UploadState, rfc3339,
};
use crate::upload::{Output, Sender, Sent};

pub(super) struct JobResult {
    pub(super) tick: Timestamp,
    pub(super) started: Timestamp,
    pub(super) finished: Timestamp,
    pub(super) result: Result<RunReport, RunError>,
    /// The uploads made after the snapshot (`--upload`), in order.
    pub(super) uploads: Vec<UploadOutcome>,
}

/// One upload tried by a job.
pub(super) struct UploadOutcome {
    pub(super) file: String,
    pub(super) at: Timestamp,
    pub(super) result: Result<Sent, String>,
}

/// What a job uploads: its own snapshot, then these of earlier ticks (newest first).
pub(super) struct UploadJob {
    pub(super) up: ScheduleUpload,
    pub(super) retry: Vec<String>,
}

/// Uploads `files` in order, until the scheduler is stopped (the upload under way is
/// dropped then; its snapshot stays pending).
async fn upload_all(
    up: &ScheduleUpload,
    files: Vec<PathBuf>,
    stop: watch::Receiver<Option<&'static str>>,
) -> Vec<UploadOutcome> {
    let name = |p: &PathBuf| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    let sender = match Sender::new(&up.target, &up.settings) {
        Ok(s) => s,
        Err(e) => {
            let at = Timestamp::now();
            for f in &files {
                out.push(UploadOutcome {
                    file: name(f),
                    at,
                    result: Err(e.to_string()),
                });
            }
            return out;
        }
    };
    let cancel = stopped(stop);
    tokio::pin!(cancel);
    for f in files {
        let r = tokio::select! {
            biased;
            _ = &mut cancel => break,
            r = sender.send_file(&f, &up.settings, Output::silent()) => r.map_err(|e| e.to_string()),
        };
        out.push(UploadOutcome {
            file: name(&f),
            at: Timestamp::now(),
            result: r,
        });
    }
    out
}

/// A running snapshot: its own task, so it starts at the tick even while the loop is
/// writing status files (an fsync on a busy disk can take a second).
pub(super) type Job = tokio::task::JoinHandle<JobResult>;

async fn stopped(mut rx: watch::Receiver<Option<&'static str>>) -> &'static str {
    loop {
        if let Some(s) = *rx.borrow_and_update() {
            return s;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// The result of a snapshot task; a task that panicked is a failed snapshot.
pub(super) fn joined(
    res: Result<JobResult, tokio::task::JoinError>,
    since: Timestamp,
) -> JobResult {
    res.unwrap_or_else(|e| {
        let now = Timestamp::now();
        JobResult {
            tick: since,
            started: since,
            finished: now,
            result: Err(RunError::Internal(format!(
                "the snapshot task crashed: {e}; please report this"
            ))),
            uploads: Vec::new(),
        }
    })
}

pub(super) fn snapshot_job(
    cfg: RunConfig,
    tick: Timestamp,
    stop: watch::Receiver<Option<&'static str>>,
    uploads: Option<UploadJob>,
) -> Job {
    tokio::spawn(async move {
        let stop_uploads = stop.clone();
        let cancel = stopped(stop);
        tokio::pin!(cancel);
        // Bundle names have a one-second resolution and the writer never overwrites: never
        // start in a second whose name is taken (the previous bundle, a previous process's
        // last one, a `collect -o DIR` of this host).
        let host = crate::run::bundle_node_name(&cfg.options.host_root, cfg.pseudonymize.as_ref())
            .unwrap_or_else(|_| crate::run::node_name(&cfg.options.host_root));
        for _ in 0..3 {
            let now = Timestamp::now();
            let name = rcdiag_bundle::bundle_file_name(
                &host,
                now,
                cfg.case.as_deref(),
                matches!(cfg.encryption, rcdiag_bundle::Encryption::Age { .. }),
            );
            if !cfg.out.join(name).exists() {
                break;
            }
            let next_second = Timestamp::from_second(now.as_second() + 1).unwrap_or(now);
            tokio::select! {
                _ = tokio::time::sleep(now.duration_until(next_second).unsigned_abs()) => {}
                sig = &mut cancel => {
                    let t = Timestamp::now();
                    return JobResult { tick, started: t, finished: t, result: Err(RunError::Interrupted(sig)), uploads: Vec::new() };
                }
            }
        }
        let started = Timestamp::now();
        let dir = cfg.out.clone();
        let result = run::run(cfg, cancel).await;
        let finished = Timestamp::now();
        let mut outcomes = Vec::new();
        if let Some(u) = uploads
            && !matches!(result, Err(RunError::Interrupted(_)))
        {
            let mut files = Vec::new();
            if let Ok(r) = &result {
                files.push(r.bundle.path.clone());
            }
            files.extend(u.retry.iter().map(|f| dir.join(f)));
            outcomes = upload_all(&u.up, files, stop_uploads).await;
        }
        JobResult {
            tick,
            started,
            finished,
            result,
            uploads: outcomes,
        }
    })
}

pub(super) struct Scheduler {
    pub(super) cfg: ScheduleConfig,
    pub(super) ledger: Ledger,
    pub(super) status: Status,
}

impl Scheduler {
    /// A bundle was written: the key change it recorded (`key new`) is not recorded again.
    fn key_change_recorded(&mut self) {
        if self.cfg.run.key_change.take().is_none() {
            return;
        }
        let Some(dir) = self.cfg.run.signer.path().and_then(|p| p.parent()) else {
            return;
        };
        if let Err(e) = crate::key_change::clear(dir) {
            self.cfg.log.warn(
                "key_change",
                &format!(
                    "cannot remove {}: {e}; the next bundle will record the key change again",
                    dir.join(crate::key_change::PENDING_FILE).display()
                ),
                &[],
            );
        }
    }

    pub(super) fn fields_retention(&self) -> RetentionStatus {
        RetentionStatus {
            keep: self.cfg.retention.keep,
            max_age_seconds: self.cfg.retention.max_age.map(|d| d.as_secs()),
            max_total_bytes: self.cfg.retention.max_total,
            kept: self.ledger.snapshots.len(),
            kept_bytes: self.ledger.total_bytes(),
            deleted: Vec::new(),
            protected: None,
        }
    }

    /// Writes status.json (and, with `metrics`, rcdiag.prom) atomically.
    pub(super) fn write_status(
        &mut self,
        next: Option<Timestamp>,
        metrics: bool,
    ) -> Result<(), ScheduleError> {
        self.status.updated_at = now_rfc3339();
        self.status.next_run = next.map(rfc3339);
        let mut json = serde_json::to_vec_pretty(&self.status).unwrap_or_default();
        json.push(b'\n');
        let path = self.cfg.dir.join(STATUS_FILE);
        snapshots::write_atomic(&path, &json, 0o644).map_err(|source| ScheduleError::Status {
            path: path.display().to_string(),
            source,
        })?;
        if metrics {
            let text = render_metrics(&self.status, next);
            let mut targets = vec![self.cfg.dir.join(METRICS_FILE)];
            if let Some(d) = &self.cfg.textfile_dir {
                targets.push(d.join(METRICS_FILE));
            }
            for path in targets {
                snapshots::write_atomic(&path, text.as_bytes(), 0o644).map_err(|source| {
                    ScheduleError::Status {
                        path: path.display().to_string(),
                        source,
                    }
                })?;
            }
        }
        Ok(())
    }

    pub(super) fn write_status_logged(&mut self, next: Option<Timestamp>, metrics: bool) {
        if let Err(e) = self.write_status(next, metrics) {
            self.cfg
                .log
                .error("status_write_failed", &e.to_string(), &[]);
        }
    }

    pub(super) fn finish_job(&mut self, job: JobResult) {
        let log = self.cfg.log;
        let duration = job.started.duration_until(job.finished).unsigned_abs();
        let mut last = LastRun {
            scheduled_for: rfc3339_ms(job.tick),
            started_at: rfc3339_ms(job.started),
            finished_at: rfc3339_ms(job.finished),
            duration_seconds: (duration.as_millis() as f64) / 1000.0,
            ..LastRun::default()
        };
        match job.result {
            Ok(report) => {
                let b = &report.bundle;
                self.key_change_recorded();
                let file = b
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let collectors: Vec<CollectorOutcome> = report
                    .collectors
                    .iter()
                    .map(|(r, bytes)| CollectorOutcome {
                        name: r.name.clone(),
                        status: r.status.as_str().to_string(),
                        duration_ms: r.duration_ms,
                        bytes: *bytes,
                        error: r.error.clone(),
                    })
                    .collect();
                for c in &collectors {
                    let fields = [
                        ("collector", json!(c.name)),
                        ("status", json!(c.status)),
                        ("duration_seconds", json!(c.duration_ms as f64 / 1000.0)),
                        ("bytes", json!(c.bytes)),
                        ("error", json!(c.error)),
                    ];
                    if c.is_failure() {
                        log.warn(
                            "collector",
                            &format!("collector {} {}", c.name, c.status),
                            &fields,
                        );
                    } else {
                        log.info(
                            "collector",
                            &format!("collector {} {}", c.name, c.status),
                            &fields,
                        );
                    }
                }
                let degraded = report.degraded();
                self.ledger.snapshots.push(SnapshotEntry {
                    file: file.clone(),
                    bytes: b.size,
                    created_at: b.manifest.created_at.clone(),
                    started_at: last.started_at.clone(),
                    finished_at: last.finished_at.clone(),
                    bundle_id: b.manifest.bundle_id.clone(),
                    encrypted: b.encrypted,
                    degraded,
                    duration_ms: duration.as_millis() as u64,
                    collectors: collectors.clone(),
                    upload: self.cfg.upload.as_ref().map(|_| UploadState {
                        pending: true,
                        ..UploadState::default()
                    }),
                });
                if let Err(e) = self.ledger.save(&self.cfg.dir) {
                    log.error(
                        "ledger_write_failed",
                        &format!("{e}; this snapshot will not be deleted by retention"),
                        &[],
                    );
                }
                last.outcome = if degraded { "degraded" } else { "ok" }.into();
                last.bundle = Some(BundleStatus {
                    path: b.path.display().to_string(),
                    file,
                    bytes: b.size,
                    bundle_id: b.manifest.bundle_id.clone(),
                    encrypted: b.encrypted,
                });
                for c in &collectors {
                    let streak = self
                        .status
                        .consecutive_failures
                        .entry(c.name.clone())
                        .or_insert(0);
                    *streak = if c.is_failure() { *streak + 1 } else { 0 };
                }
                last.collectors = collectors;
                self.status.last_success = Some(LastSuccess {
                    finished_at: last.finished_at.clone(),
                    timestamp_seconds: unix_seconds(job.finished),
                    bundle: b.path.display().to_string(),
                });
                if degraded {
                    self.status.counters.degraded += 1;
                } else {
                    self.status.counters.ok += 1;
                }
                let failed: Vec<&str> = last
                    .collectors
                    .iter()
                    .filter(|c| c.is_failure())
                    .map(|c| c.name.as_str())
                    .collect();
                let fields = [
                    ("bundle", json!(b.path.display().to_string())),
                    ("bytes", json!(b.size)),
                    ("bundle_id", json!(b.manifest.bundle_id)),
                    ("created_at", json!(b.manifest.created_at)),
                    ("outcome", json!(last.outcome)),
                    ("started_at", json!(last.started_at)),
                    ("finished_at", json!(last.finished_at)),
                    ("duration_seconds", json!(last.duration_seconds)),
                    ("failed_collectors", json!(failed)),
                ];
                if degraded {
                    log.warn(
                        "snapshot_written",
                        "snapshot written, but some collectors failed, timed out or were partial",
                        &fields,
                    );
                } else {
                    log.info("snapshot_written", "snapshot written", &fields);
                }
            }
            Err(RunError::Interrupted(sig)) => {
                last.outcome = "interrupted".into();
                last.error = Some(format!(
                    "interrupted by {sig}: no bundle was written and no temporary file is left"
                ));
                self.status.counters.interrupted += 1;
                log.warn(
                    "snapshot_interrupted",
                    &format!("snapshot interrupted by {sig}: no bundle was written and no temporary file is left"),
                    &[("started_at", json!(last.started_at)), ("signal", json!(sig))],
                );
            }
            Err(e) => {
                last.outcome = "failed".into();
                last.error = Some(e.to_string());
                self.status.counters.failed += 1;
                log.error(
                    "snapshot_failed",
                    &format!("snapshot failed, no bundle written: {e}"),
                    &[
                        ("started_at", json!(last.started_at)),
                        ("error", json!(e.to_string())),
                    ],
                );
            }
        }
        let interrupted = last.outcome == "interrupted";
        self.status.last_run = Some(last);
        self.apply_uploads(job.uploads);
        if !interrupted {
            self.retention();
        }
    }

    /// The job for this tick's uploads: `None` without `--upload`.
    pub(super) fn upload_job(&self) -> Option<UploadJob> {
        let up = self.cfg.upload.clone()?;
        let mut pending: Vec<&SnapshotEntry> = self
            .ledger
            .snapshots
            .iter()
            .filter(|e| e.upload_pending())
            .collect();
        pending.sort_by(|a, b| {
            b.created()
                .cmp(&a.created())
                .then_with(|| b.file.cmp(&a.file))
        });
        Some(UploadJob {
            up,
            retry: pending
                .iter()
                .take(MAX_RETRIES_PER_TICK)
                .map(|e| e.file.clone())
                .collect(),
        })
    }

    /// Snapshots not uploaded yet, into the status.
    pub(super) fn count_pending(&mut self) {
        let n = self
            .ledger
            .snapshots
            .iter()
            .filter(|e| e.upload_pending())
            .count();
        if let Some(u) = self.status.upload.as_mut() {
            u.pending = n;
        }
    }

    /// Records the uploads of a job in the ledger, the status and the log.
    fn apply_uploads(&mut self, outcomes: Vec<UploadOutcome>) {
        if outcomes.is_empty() {
            return;
        }
        let log = self.cfg.log;
        let target = self
            .cfg
            .upload
            .as_ref()
            .map(|u| u.target.shown())
            .unwrap_or_default();
        for o in outcomes {
            let st = self.status.upload.get_or_insert_with(UploadStatus::default);
            let entry = self.ledger.snapshots.iter_mut().find(|e| e.file == o.file);
            let at = rfc3339_ms(o.at);
            match o.result {
                Ok(sent) => {
                    if let Some(e) = entry {
                        let u = e.upload.get_or_insert_with(UploadState::default);
                        u.pending = false;
                        u.to = Some(sent.to.clone());
                        u.uploaded_at = Some(at.clone());
                        u.sha256 = Some(sent.sha256.clone());
                        u.last_error = None;
                    }
                    log.info(
                        "upload_done",
                        &format!("uploaded {} to {}", o.file, sent.to),
                        &[
                            ("file", json!(o.file)),
                            ("to", json!(sent.to)),
                            ("bytes", json!(sent.size)),
                            ("sha256", json!(sent.sha256)),
                        ],
                    );
                    let rec = UploadRecord {
                        file: o.file,
                        to: sent.to,
                        at,
                        timestamp_seconds: unix_seconds(o.at),
                        bytes: sent.size,
                        sha256: sent.sha256,
                        ok: true,
                        error: None,
                    };
                    st.last = Some(rec.clone());
                    st.last_success = Some(rec);
                    st.consecutive_failures = 0;
                    st.uploaded += 1;
                }
                Err(msg) => {
                    let failures = entry.map(|e| {
                        let u = e.upload.get_or_insert_with(UploadState::default);
                        u.failures += 1;
                        u.last_error = Some(msg.clone());
                        u.failures
                    });
                    log.error(
                        "upload_failed",
                        &format!(
                            "upload of {} failed: {msg}; the snapshot is kept and the next tick tries again",
                            o.file
                        ),
                        &[
                            ("file", json!(o.file)),
                            ("to", json!(target)),
                            ("error", json!(msg)),
                            ("failures", json!(failures)),
                        ],
                    );
                    st.last = Some(UploadRecord {
                        file: o.file,
                        to: target.clone(),
                        at,
                        timestamp_seconds: unix_seconds(o.at),
                        ok: false,
                        error: Some(msg),
                        ..UploadRecord::default()
                    });
                    st.consecutive_failures += 1;
                    st.failures += 1;
                }
            }
        }
        if let Err(e) = self.ledger.save(&self.cfg.dir) {
            log.error(
                "ledger_write_failed",
                &format!("{e}; the upload state of the snapshots is not saved"),
                &[],
            );
        }
        self.count_pending();
    }

    pub(super) fn retention(&mut self) {
        let log = self.cfg.log;
        let mut rs = self.fields_retention();
        match snapshots::apply_retention(
            &self.cfg.dir,
            &mut self.ledger,
            &self.cfg.retention,
            Timestamp::now(),
        ) {
            Ok(RetentionResult {
                deleted,
                failed,
                released,
                protected,
                kept,
                kept_bytes,
            }) => {
                for (file, reason) in &deleted {
                    if reason.contains("never uploaded") {
                        log.warn(
                            "snapshot_deleted_not_uploaded",
                            &format!("deleted {file} before it was uploaded: {reason}"),
                            &[("file", json!(file)), ("reason", json!(reason))],
                        );
                    } else {
                        log.info(
                            "snapshot_deleted",
                            &format!("deleted {file}: {reason}"),
                            &[("file", json!(file)), ("reason", json!(reason))],
                        );
                    }
                }
                for (file, e) in &failed {
                    log.warn(
                        "snapshot_delete_failed",
                        &format!("could not delete {file}: {e}; it stays managed and is tried again after the next snapshot"),
                        &[("file", json!(file)), ("error", json!(e))],
                    );
                }
                for note in &released {
                    log.warn("snapshot_released", note, &[]);
                }
                log.info(
                    "retention",
                    &format!(
                        "retention: {kept} snapshot(s) kept, {} deleted",
                        deleted.len()
                    ),
                    &[
                        ("kept", json!(kept)),
                        ("kept_bytes", json!(kept_bytes)),
                        (
                            "deleted",
                            json!(deleted.iter().map(|d| &d.0).collect::<Vec<_>>()),
                        ),
                        ("protected", json!(protected)),
                        (
                            "kept_files",
                            json!(
                                self.ledger
                                    .snapshots
                                    .iter()
                                    .map(|s| &s.file)
                                    .collect::<Vec<_>>()
                            ),
                        ),
                    ],
                );
                rs.kept = kept;
                rs.kept_bytes = kept_bytes;
                rs.deleted = deleted
                    .into_iter()
                    .map(|(f, r)| format!("{f}: {r}"))
                    .collect();
                rs.protected = protected;
            }
            Err(e) => log.error("retention_failed", &format!("retention failed: {e}"), &[]),
        }
        self.status.retention = rs;
        self.count_pending();
    }
}

pub(super) fn now_rfc3339() -> String {
    rfc3339_ms(Timestamp::now())
}

/// `2026-01-02T03:04:05.678Z`.
pub(super) fn rfc3339_ms(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
