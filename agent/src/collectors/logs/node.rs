//! Pod logs read from the node's own files for the `cri` collector: the log file each
//! CRI container's status names (`/var/log/pods/<ns>_<pod>_<uid>/<container>/<N>.log`)
//! and its rotations, gzip-compressed ones included ([`crate::sources::crilog`]), under
//! the same caps, redaction, line format and truncation records as the Docker logs read
//! from their json-file (the same window reader and [`produce_from_file`]). Written to
//! `logs/cri_<namespace>_<pod>_<container>.log`, described by [`IndexEntry`] records
//! with `source: "cri-file"`, `namespace` and `pod` (merged into `logs/index.json` with
//! the other collectors' entries). A file that cannot be read (no permission: the agent
//! is not root, or `/var/log/pods` is not mounted into its container) is an entry with
//! the reason and no file.

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::produce::produce_from_file;
use super::{AHEAD, AbortOnDrop, DRAIN_SHARE, Ending, IndexEntry, Limits, Msg, sanitize};
use super::{window_start, write_log};
use crate::collectors::cri::discover::Container as CriContainer;
use crate::collectors::{CollectorSink, Context};
use crate::redact::Redactor;
use crate::sources::crilog::CriLog;

/// The `source` of these entries.
pub const SOURCE: &str = "cri-file";

/// Reads the log file of every container in `containers` that names one, a few ahead of
/// the one being written, until `deadline`; returns the index entries and the failures
/// that make the collector partial (an unreadable file is one).
pub async fn collect_node_logs(
    ctx: &Context,
    containers: &[CriContainer],
    root: &Path,
    deadline: Instant,
    out: &CollectorSink,
) -> (Vec<IndexEntry>, Vec<String>) {
    let o = &ctx.options;
    let limits = Limits {
        lines: o.log_lines,
        bytes: o.log_bytes,
        since: window_start(jiff::Timestamp::now(), o.since),
        deadline,
        drain_deadline: deadline + o.timeout.mul_f64(DRAIN_SHARE).min(Duration::from_secs(3)),
        files: true,
    };
    let with_log: Vec<&CriContainer> = containers
        .iter()
        .filter(|c| log_path(c).is_some())
        .collect();
    let mut used = HashSet::new();
    let mut pending = VecDeque::new();
    let mut queue = with_log.iter();
    let redactor = out.redactor_arc();
    let mut start_next = |pending: &mut VecDeque<_>| {
        if let Some(c) = queue.next() {
            let d = c.as_discovered();
            let path = unique_path(&d.name, &mut used);
            let file = root.join(log_path(c).unwrap_or_default().trim_start_matches('/'));
            let (tx, rx) = tokio::sync::mpsc::channel::<Msg>(4);
            let task = AbortOnDrop(tokio::spawn(produce(
                file,
                limits.clone(),
                redactor.clone(),
                tx,
            )));
            pending.push_back((*c, d, path, rx, task));
        }
    };
    for _ in 0..=AHEAD {
        start_next(&mut pending);
    }
    let mut index = Vec::with_capacity(with_log.len());
    let mut failures = Vec::new();
    while let Some((c, d, path, rx, task)) = pending.pop_front() {
        start_next(&mut pending);
        let mut entry = write_log(&d, &path, rx, &limits, out).await;
        drop(task);
        entry.source = Some(SOURCE);
        entry.pod = c.k8s_label("pod.name").map(str::to_string);
        entry.namespace = c.k8s_label("pod.namespace").map(str::to_string);
        if let Some(e) = &entry.error
            && entry.truncated_by != Some("timeout")
        {
            failures.push(format!("log of {}: {e}", d.name));
        }
        index.push(entry);
    }
    (index, failures)
}

/// The log file a container's status names, if any.
fn log_path(c: &CriContainer) -> Option<&str> {
    c.status
        .as_ref()
        .map(|s| s.log_path.as_str())
        .filter(|p| !p.is_empty())
}

/// `logs/cri_<ns>_<pod>_<container>.log` from `NS/POD/CONTAINER`, unique in this run.
fn unique_path(name: &str, used: &mut HashSet<String>) -> String {
    let base = format!("cri_{}", sanitize(&name.replace('/', "_")));
    let mut n = 2;
    let mut file = base.clone();
    while !used.insert(file.clone()) {
        file = format!("{base}-{n}");
        n += 1;
    }
    format!("logs/{file}.log")
}

/// Reads one log file (blocking, on the blocking pool) for the writer.
async fn produce(
    file: std::path::PathBuf,
    limits: Limits,
    redactor: Arc<Redactor>,
    tx: tokio::sync::mpsc::Sender<Msg>,
) {
    if let Some(ending) = limits.nothing_to_read() {
        let _ = tx.send(Msg::Done(ending)).await;
        return;
    }
    let tx2 = tx.clone();
    let read = tokio::task::spawn_blocking(move || {
        let log = CriLog::open(&file)?;
        produce_from_file(&log, SOURCE, &limits, &redactor, &tx2)
    })
    .await;
    let error = match read {
        Ok(Ok(())) => return,
        Ok(Err(unusable)) => unusable.to_string(),
        Err(e) => format!("reading the log file failed: {e}"),
    };
    let _ = tx
        .send(Msg::Done(Ending {
            source: Some(SOURCE),
            error: Some(error),
            ..Ending::default()
        }))
        .await;
}
