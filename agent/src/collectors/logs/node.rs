//! Pod logs read from the node's own files for the `cri` collector: the log file each
//! CRI container's status names (`/var/log/pods/<ns>_<pod>_<uid>/<container>/<N>.log`)
//! and its rotations, gzip-compressed ones included ([`crate::sources::crilog`]), under
//! the same caps, redaction, line format and truncation records as the Docker logs read
//! from their json-file (the same window reader and `produce_from_file`). Written to
//! `logs/cri_<namespace>_<pod>_<container>.log`, described by [`LogEntry`] records
//! with `source: "cri-file"`, `namespace` and `pod` (merged into `logs/index.json` with
//! the other collectors' entries). A file that cannot be read (no permission: the agent
//! is not root, or `/var/log/pods` is not mounted into its container) is an entry with
//! the reason and no file.
//!
//! The previous container's log: when a container restarted (attempt N > 0), the
//! kubelet keeps `<N-1>.log` beside `<N>.log`. A previous container the runtime still
//! lists is read as any other; when it is gone but its file is there, the file is read
//! too. Their entries have `previous: true`; every entry has the `attempt` (restart) it
//! belongs to. At most [`MAX_NODE_LOGS`] logs are read per run (Rocket.Chat's and
//! MongoDB's first, then running containers', current before previous); the others are
//! entries with `truncated_by: "count"` and the reason.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcdiag_contract::logs::LogEntry;
use tokio::time::Instant;

use super::produce::produce_from_file;
use super::{AHEAD, AbortOnDrop, DRAIN_SHARE, Ending, Limits, Msg, cut_by, new_entry, sanitize};
use super::{window_start, write_log};
use crate::clients::cri::api;
use crate::collectors::cri::discover::Container as CriContainer;
use crate::collectors::{CollectorSink, Context};
use crate::redact::Redactor;
use crate::sources::crilog::CriLog;

/// The `source` of these entries.
pub const SOURCE: &str = "cri-file";

/// Most container logs read from the node's files in one run by default
/// (`--cri-logs-max`; current and previous each count): a node runs at most a few
/// hundred containers; 256 logs at the default 5 MiB each is already a large bundle.
pub const MAX_NODE_LOGS: usize = 256;

/// One log file to read.
struct Job<'a> {
    /// The container (for a previous log gone from the runtime: its successor).
    c: &'a CriContainer,
    /// The node path of the file (as the runtime names it).
    node_path: String,
    /// The restart it belongs to (`metadata.attempt`).
    attempt: u32,
    /// Whether a newer attempt of the same container exists.
    previous: bool,
}

/// Reads the log file of every container in `containers` that names one (and the
/// previous container's, `jobs`), at most `--cri-logs-max` of them, a few ahead of the
/// one being written, until `deadline`; the files are read under `root`
/// (`--host-root`). Returns the index entries and the failures that make the collector
/// partial (an unreadable file is one; the logs left out by the cap are not).
pub async fn collect_node_logs(
    ctx: &Context,
    containers: &[CriContainer],
    root: &Path,
    deadline: Instant,
    out: &CollectorSink,
) -> (Vec<LogEntry>, Vec<String>) {
    let max_logs = ctx.options.cri_logs_max.max(1);
    let o = &ctx.options;
    let limits = Limits {
        lines: o.log_lines,
        bytes: o.log_bytes,
        since: window_start(jiff::Timestamp::now(), o.since),
        deadline,
        drain_deadline: deadline + o.timeout.mul_f64(DRAIN_SHARE).min(Duration::from_secs(3)),
        files: true,
        host_root: root.to_path_buf(),
    };
    let all = jobs(containers, root);
    let over = all.len().saturating_sub(max_logs);
    let mut queued = all.into_iter();
    let read: Vec<Job> = queued.by_ref().take(max_logs).collect();
    let left: Vec<Job> = queued.collect();
    let mut used = HashSet::new();
    let mut pending = VecDeque::new();
    let mut queue = read.iter();
    let redactor = out.redactor_arc();
    let mut start_next = |pending: &mut VecDeque<_>| {
        if let Some(job) = queue.next() {
            let d = job.c.as_discovered();
            let path = unique_path(&file_name(&d.name, job), &mut used);
            let file = root.join(job.node_path.trim_start_matches('/'));
            let (tx, rx) = tokio::sync::mpsc::channel::<Msg>(4);
            let task = AbortOnDrop(tokio::spawn(produce(
                file,
                limits.clone(),
                redactor.clone(),
                tx,
            )));
            pending.push_back((job, d, path, rx, task));
        }
    };
    for _ in 0..=AHEAD {
        start_next(&mut pending);
    }
    let mut index = Vec::with_capacity(read.len() + left.len());
    let mut failures = Vec::new();
    while let Some((job, d, path, rx, task)) = pending.pop_front() {
        start_next(&mut pending);
        let mut entry = write_log(&d, &path, rx, &limits, out).await;
        drop(task);
        describe(&mut entry, job);
        if let Some(e) = &entry.error
            && !cut_by(&entry, "timeout")
        {
            failures.push(format!("log of {}: {e}", d.name));
        }
        index.push(entry);
    }
    for job in &left {
        let d = job.c.as_discovered();
        let mut entry = LogEntry {
            truncated: Some(true),
            truncated_by: Some("count".into()),
            error: Some(format!(
                "not read: more than {max_logs} container logs on this node ({over} left out; Rocket.Chat's, \
                 MongoDB's and running containers' are read first); raise --cri-logs-max to read more"
            )),
            ..new_entry(
                d.name.clone(),
                d.id.clone(),
                limits.since.map(|t| t.to_string()),
                d.log_driver.clone(),
            )
        };
        describe(&mut entry, job);
        index.push(entry);
    }
    (index, failures)
}

/// The fields every entry of a node log has.
fn describe(entry: &mut LogEntry, job: &Job) {
    entry.source = Some(SOURCE.into());
    entry.pod = job.c.k8s_label("pod.name").map(str::to_string);
    entry.namespace = job.c.k8s_label("pod.namespace").map(str::to_string);
    entry.previous = Some(job.previous);
    entry.attempt = Some(job.attempt.into());
}

/// The logs to read, in the order they are read: every listed container's file, and the
/// `<N-1>.log` beside a restarted container's `<N>.log` when no listed container names
/// it (the previous container is gone, its file is not); Rocket.Chat and MongoDB first,
/// then running containers, current before previous.
fn jobs<'a>(containers: &'a [CriContainer], root: &Path) -> Vec<Job<'a>> {
    let with_log: Vec<&CriContainer> = containers
        .iter()
        .filter(|c| log_path(c).is_some())
        .collect();
    let key = |c: &CriContainer| {
        (
            c.k8s_label("pod.uid")
                .map(str::to_string)
                .unwrap_or_else(|| c.entry.pod_sandbox_id.clone()),
            c.entry
                .metadata
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_default(),
        )
    };
    let attempt = |c: &CriContainer| c.entry.metadata.as_ref().map_or(0, |m| m.attempt);
    let mut newest: HashMap<(String, String), u32> = HashMap::new();
    for c in &with_log {
        let n = newest.entry(key(c)).or_insert(0);
        *n = (*n).max(attempt(c));
    }
    let named: HashSet<&str> = with_log.iter().filter_map(|c| log_path(c)).collect();
    let mut jobs = Vec::new();
    for c in &with_log {
        let a = attempt(c);
        let path = log_path(c).unwrap_or_default();
        jobs.push(Job {
            c,
            node_path: path.to_string(),
            attempt: a,
            previous: newest.get(&key(c)).is_some_and(|n| *n > a),
        });
        // The kubelet's `<N>.log`: its `<N-1>.log` when nobody lists it and it is there.
        if a > 0
            && newest.get(&key(c)) == Some(&a)
            && let Some(prev) = previous_file(path, a)
            && !named.contains(prev.as_str())
            && root.join(prev.trim_start_matches('/')).is_file()
        {
            jobs.push(Job {
                c,
                node_path: prev,
                attempt: a - 1,
                previous: true,
            });
        }
    }
    let rank = |j: &Job| {
        let d = j.c.as_discovered();
        let image = j.c.image_name().to_ascii_lowercase();
        let running = j.c.entry.state == api::ContainerState::ContainerRunning as i32;
        (
            if d.is_rocketchat() {
                0
            } else if image.contains("mongo") {
                1
            } else {
                2
            },
            !running,
            j.previous,
        )
    };
    jobs.sort_by_key(|j| rank(j));
    jobs
}

/// `DIR/<N-1>.log` of the kubelet's `DIR/<N>.log`.
fn previous_file(path: &str, attempt: u32) -> Option<String> {
    let p = Path::new(path);
    let name = p.file_name()?.to_str()?;
    (name == format!("{attempt}.log")).then(|| {
        p.with_file_name(format!("{}.log", attempt - 1))
            .display()
            .to_string()
    })
}

/// The bundle file name of a job's log: `NS_POD_CONTAINER`, with `.attempt<N>` for a
/// previous container's.
fn file_name(name: &str, job: &Job) -> String {
    if job.previous {
        format!("{name}.attempt{}", job.attempt)
    } else {
        name.to_string()
    }
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
    file: PathBuf,
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
