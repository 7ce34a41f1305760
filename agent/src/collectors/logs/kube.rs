//! Pod logs read through the Kubernetes API (`GET .../pods/POD/log`) for the
//! `kubernetes` collector: the same caps, redaction and line format as the Docker logs
//! (through the `Emitter`), written to
//! `logs/k8s_<namespace>_<pod>_<container>[.previous].log` and described by
//! [`LogEntry`] records with `source: "kubernetes"`, `namespace`, `pod` and `previous`
//! (the `kubernetes` collector puts them in `logs/index.json`, merged with the Docker
//! entries when both collectors ran).
//!
//! Each log is asked with `timestamps=true`, `tailLines` (`--log-lines`), `limitBytes`
//! (`--log-bytes`) and `sinceSeconds` (`--since`); the previous container's log
//! (`previous=true`) is asked too when the container restarted. The body is streamed
//! line by line ([`crate::clients::kube::LogBody`]): memory holds one line (at most
//! 64 KiB) and one batch, however long the log. The API merges stdout and stderr, so the
//! stream field of each written line is `-`.
//!
//! Every log call is also returned as a [`Call`] for `kubernetes/calls.json` (lines
//! received as `items`, bytes received as `bytes`): `ok`, `absent` (404, or the 400
//! "previous terminated container ... not found" of a previous log that is gone),
//! `forbidden` (403, naming `get pods/log`), `error`, or `skipped` (not asked: the time
//! limit, or more than [`MAX_POD_LOGS`]).

use std::collections::HashSet;
use std::time::Duration;

use rcdiag_contract::kubernetes::Call;
use rcdiag_contract::logs::LogEntry;
use tokio::time::Instant;

use super::emit::Emitter;
use super::{Limits, Msg, cut_by, new_entry, sanitize};
use crate::clients::kube::{Kube, KubeError, resource_path};
use crate::collectors::CollectorSink;
use crate::collectors::kubernetes::calls::{new_call, took};

/// Most pod logs read in one run (current and previous each count); the others are
/// listed in the index with an error saying how to narrow the run.
pub const MAX_POD_LOGS: usize = 64;

/// One container log to read.
#[derive(Debug, Clone)]
pub struct PodLog {
    /// Namespace.
    pub namespace: String,
    /// Pod.
    pub pod: String,
    /// Container.
    pub container: String,
    /// The previous (terminated) container's log.
    pub previous: bool,
}

/// The caps of pod logs.
#[derive(Debug, Clone, Copy)]
pub struct PodLogLimits {
    /// `--log-lines`.
    pub lines: u64,
    /// `--log-bytes`.
    pub bytes: u64,
    /// `--since` (zero: the whole log).
    pub since: Duration,
    /// No log is read, or read further, past this.
    pub deadline: Instant,
}

/// The query of one pod log.
pub fn query(log: &PodLog, limits: &PodLogLimits) -> String {
    let mut q = format!(
        "container={}&timestamps=true&tailLines={}&limitBytes={}",
        encode(&log.container),
        limits.lines,
        limits.bytes
    );
    if !limits.since.is_zero() {
        q.push_str(&format!("&sinceSeconds={}", limits.since.as_secs().max(1)));
    }
    if log.previous {
        q.push_str("&previous=true");
    }
    q
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// What [`collect_pod_logs`] read.
#[derive(Debug, Default)]
pub struct PodLogsRead {
    /// The `logs/index.json` entries, one per log asked for.
    pub index: Vec<LogEntry>,
    /// The failures that make the collector partial (a missing previous log is not one).
    pub failures: Vec<String>,
    /// One record per log, for `kubernetes/calls.json`.
    pub calls: Vec<Call>,
}

/// The API path of a pod's log (without the query).
pub fn log_path(log: &PodLog) -> String {
    format!(
        "{}/{}/log",
        resource_path("", "v1", "pods", Some(&log.namespace)),
        encode(&log.pod)
    )
}

/// Reads `logs` (at most [`MAX_POD_LOGS`]) one after the other into the bundle and
/// returns their index entries, the failures that make the collector partial (a
/// missing previous log is not one) and the record of each call.
pub async fn collect_pod_logs(
    kube: &Kube,
    logs: &[PodLog],
    limits: &PodLogLimits,
    out: &CollectorSink,
) -> PodLogsRead {
    let mut used = HashSet::new();
    let mut index = Vec::with_capacity(logs.len());
    let mut failures = Vec::new();
    let mut calls = Vec::with_capacity(logs.len());
    let since = (!limits.since.is_zero())
        .then(|| jiff::SignedDuration::try_from(limits.since).ok())
        .flatten()
        .and_then(|d| jiff::Timestamp::now().checked_sub(d).ok())
        .map(|t| t.to_string());
    for (i, log) in logs.iter().enumerate() {
        let mut entry = LogEntry {
            source: Some("kubernetes".into()),
            pod: Some(log.pod.clone()),
            namespace: Some(log.namespace.clone()),
            previous: Some(log.previous),
            ..new_entry(
                log.container.clone(),
                format!("{}/{}/{}", log.namespace, log.pod, log.container),
                since.clone(),
                None,
            )
        };
        let mut call = new_call(log_path(log), &query(log, limits));
        if i >= MAX_POD_LOGS {
            let msg = format!(
                "not read: more than {MAX_POD_LOGS} pod logs in this run; pass --namespace to read fewer pods"
            );
            call.outcome = Some("skipped".into());
            call.message = Some(msg.clone());
            entry.error = Some(msg);
            index.push(entry);
            calls.push(call);
            continue;
        }
        if Instant::now() >= limits.deadline {
            let msg = "not read: the collector's time limit was reached".to_string();
            call.outcome = Some("skipped".into());
            call.message = Some(msg.clone());
            entry.truncated = Some(true);
            entry.truncated_by = Some("timeout".into());
            entry.error = Some(msg);
            index.push(entry);
            calls.push(call);
            continue;
        }
        let path = unique_path(log, &mut used);
        let t0 = std::time::Instant::now();
        read_one(kube, log, limits, out, &path, &mut entry, &mut call).await;
        took(&mut call, t0);
        if let Some(e) = &entry.error
            && !(log.previous && entry.file.is_none() && is_no_previous(e))
            && !cut_by(&entry, "timeout")
        {
            failures.push(format!(
                "log of {}/{} container {}: {e}",
                log.namespace, log.pod, log.container
            ));
        }
        index.push(entry);
        calls.push(call);
    }
    PodLogsRead {
        index,
        failures,
        calls,
    }
}

/// Whether an error says the previous container has no log (400 `previous terminated
/// container ... not found`, or a 404).
pub fn is_no_previous(e: &str) -> bool {
    e.contains("not found") || e.contains("(404)")
}

fn unique_path(log: &PodLog, used: &mut HashSet<String>) -> String {
    let base = format!(
        "k8s_{}_{}_{}{}",
        sanitize(&log.namespace),
        sanitize(&log.pod),
        sanitize(&log.container),
        if log.previous { ".previous" } else { "" }
    );
    let mut name = base.clone();
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    format!("logs/{name}.log")
}

/// Reads one log into `path`, filling `entry` and `call`.
async fn read_one(
    kube: &Kube,
    log: &PodLog,
    limits: &PodLogLimits,
    out: &CollectorSink,
    path: &str,
    entry: &mut LogEntry,
    call: &mut Call,
) {
    let q = query(log, limits);
    let open = tokio::time::timeout_at(
        limits.deadline.min(Instant::now() + kube.options().timeout),
        kube.open_log(&log.namespace, &log.pod, &q),
    )
    .await;
    let mut body = match open {
        Err(_) => {
            let msg = "the API server did not start sending the log in time".to_string();
            call.outcome = Some("error".into());
            call.message = Some(msg.clone());
            entry.truncated = Some(true);
            entry.truncated_by = Some("timeout".into());
            entry.error = Some(msg);
            return;
        }
        Ok(Err(e)) => {
            let msg = describe(&e);
            let outcome = match &e {
                KubeError::NotFound { .. } => "absent",
                KubeError::Forbidden { .. } => "forbidden",
                KubeError::Status { code: 400, .. } if log.previous && is_no_previous(&msg) => {
                    "absent"
                }
                _ => "error",
            };
            call.outcome = Some(outcome.into());
            call.message = Some(msg.clone());
            entry.error = Some(msg);
            return;
        }
        Ok(Ok(b)) => b,
    };
    call.pages = Some(1);
    let em_limits = Limits {
        lines: limits.lines,
        bytes: limits.bytes,
        since: None,
        deadline: limits.deadline,
        drain_deadline: limits.deadline,
        files: false,
        host_root: std::path::PathBuf::from("/"),
    };
    let mut em = Emitter::new(&em_limits, false);
    let red = out.redactor();
    let mut stream = match out.stream(path).await {
        Ok(s) => s,
        Err(e) => {
            entry.error = Some(format!("cannot write {path}: {e}"));
            return;
        }
    };
    let mut lines_read = 0u64;
    let mut error = None;
    let write = |msg: Msg, stream: &mut crate::collectors::LineStream| -> Result<(), String> {
        if let Msg::Batch { bytes, lines } = msg {
            stream
                .write_block(&bytes, lines)
                .map_err(|e| format!("writing {path}: {e}"))?;
        }
        Ok(())
    };
    loop {
        let next = tokio::time::timeout_at(limits.deadline, body.next_line()).await;
        let line = match next {
            Err(_) => {
                em.stop = Some("timeout");
                break;
            }
            Ok(Err(e)) => {
                error = Some(describe(&e));
                break;
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(line))) => line,
        };
        lines_read += 1;
        let (ts, text) = split_timestamp(&line);
        if !em.push(red, ts, "-", text) {
            break;
        }
        if let Some(batch) = em.full_batch()
            && let Err(e) = write(batch, &mut stream)
        {
            error = Some(e);
            break;
        }
    }
    let mut ending = em.ending(Some("kubernetes"));
    for msg in em.drain() {
        if let Err(e) = write(msg, &mut stream) {
            error.get_or_insert(e);
            break;
        }
    }
    // What the server cut: `limitBytes` (its reply reached the cap) or `tailLines`.
    if ending.truncated_by.is_none() && error.is_none() {
        if body.read >= limits.bytes {
            ending.truncated_by = Some("bytes");
        } else if lines_read >= limits.lines {
            ending.truncated_by = Some("lines");
        }
    }
    call.items = Some(lines_read);
    call.bytes = Some(body.read);
    if let Some(e) = &error {
        call.outcome = Some("error".into());
        call.message = Some(e.clone());
    } else if let Some(t) = ending.truncated_by {
        call.truncated = Some(t.to_string());
    }
    entry.truncated_by = ending.truncated_by.map(str::to_string);
    entry.error = error.or(ending.error);
    let truncated = entry.truncated_by.is_some() || entry.error.is_some();
    entry.truncated = Some(truncated);
    entry.file = Some(path.to_string());
    entry.lines = Some(stream.lines);
    entry.bytes = Some(stream.bytes);
    if let Err(e) = stream.finish(truncated) {
        entry
            .error
            .get_or_insert_with(|| format!("closing {path}: {e}"));
    }
}

/// A client error as an index entry's `error`.
fn describe(e: &KubeError) -> String {
    e.to_string()
}

/// `2026-12-01T08:39:01.000000000Z text` -> (timestamp, text); a line without a
/// leading RFC 3339 timestamp keeps `-` as its timestamp.
fn split_timestamp(line: &str) -> (&str, &str) {
    if let Some((ts, text)) = line.split_once(' ')
        && ts.len() >= 20
        && ts.as_bytes()[4] == b'-'
        && ts.as_bytes()[10] == b'T'
        && ts.ends_with('Z')
    {
        return (ts, text);
    }
    ("-", line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_carries_every_cap() {
        let log = PodLog {
            namespace: "rc".into(),
            pod: "rc-0".into(),
            container: "rocket chat".into(),
            previous: true,
        };
        let limits = PodLogLimits {
            lines: 10,
            bytes: 2048,
            since: Duration::from_secs(3600),
            deadline: Instant::now(),
        };
        assert_eq!(
            query(&log, &limits),
            "container=rocket%20chat&timestamps=true&tailLines=10&limitBytes=2048&sinceSeconds=3600&previous=true"
        );
    }

    #[test]
    fn timestamps_are_split_off() {
        assert_eq!(
            split_timestamp("2026-12-01T08:39:01.000000000Z hello world"),
            ("2026-12-01T08:39:01.000000000Z", "hello world")
        );
        assert_eq!(
            split_timestamp("no timestamp here"),
            ("-", "no timestamp here")
        );
        assert_eq!(split_timestamp(""), ("-", ""));
    }
}
