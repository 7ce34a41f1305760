//! The logs collector: stdout and stderr of every discovered container, within
//! `--since`, capped by `--log-lines` and `--log-bytes`, streamed line by line into
//! `logs/<container>.log` (redacted as they pass) and described in `logs/index.json`.
//! Each written line reads `<docker RFC 3339 nano timestamp> <stdout|stderr> <text>`;
//! when a cap binds, the *newest* lines are kept.
//!
//! Where a log comes from: a `json-file` log of a local engine is read straight from
//! its files when the agent may read them (see [`crate::sources::logfile`], about 20x cheaper than the
//! engine re-encoding it); anything else through the Engine API, whose `logs()`
//! defaults to no stdout, no stderr and the whole log, so each of `stdout`, `stderr`,
//! `timestamps`, `since` and `tail` is set explicitly. `--log-source engine` forces the
//! API. Each log is read and redacted by its own task, a few logs ahead of the one
//! being written, and handed to the writer in batches; memory stays bounded by the
//! batches and, for an engine log under a small `--log-bytes`, by that cap.
//!
//! A logging driver that cannot be read back (`none`, or a remote driver with its
//! local cache disabled) is recorded as an index entry with an `error` and no file;
//! it does not make the collector partial. A readable log that fails does.
//! The collector keeps an internal deadline (85 % of `--timeout`) so that the index is
//! written even when a log is cut short (`truncated_by: "timeout"`). A log being read at
//! the deadline is kept up to where it got: its reader stops at the deadline and hands
//! over what it holds, and the writer waits a short grace (`DRAIN_SHARE`) for it.
//!
//! `engine` reads a log through the Engine API, `produce` feeds the writer (from the
//! file or the engine) through the `Emitter` that applies the caps.

mod emit;
mod engine;
pub mod kube;
pub mod node;
mod produce;

use std::collections::HashSet;
use std::time::Duration;

use rcdiag_contract::logs::LogEntry;
use tokio::sync::mpsc::Receiver;
use tokio::time::Instant;

use self::engine::{GONE, cannot_be_read_back};
use self::produce::produce;
use super::{CollectorSink, Context, DiscoveredContainer, LineStream, LogSource, Outcome};
use crate::clients::docker::{self, short_id};

/// Share of `--timeout` the collector allows itself before it stops reading and writes the index.
const BUDGET_SHARE: f64 = 0.85;

/// Share of `--timeout` the writer waits past the deadline for the log being read to
/// hand over what it read (the ring mode holds its lines until the end).
const DRAIN_SHARE: f64 = 0.05;

/// Margin kept under `--log-bytes` when choosing how many of the newest lines to ask
/// for (redaction markers can make a line a little longer than it was).
const BYTES_MARGIN: f64 = 0.97;

/// Largest `--log-bytes` for which a log read through the engine is read once,
/// keeping the newest lines that fit in memory; above it the engine is asked twice
/// (measure, then read) so memory stays bounded.
const RING_MAX: u64 = 8 << 20;

/// Bytes of ready lines handed to the writer at once.
const BATCH: usize = 256 * 1024;

/// Logs read ahead of the one being written.
const AHEAD: usize = 2;

/// A `logs/index.json` entry (the contract's [`LogEntry`]) for a log not read yet:
/// nothing written, not truncated.
fn new_entry(
    container: String,
    id: String,
    since: Option<String>,
    log_driver: Option<String>,
) -> LogEntry {
    LogEntry {
        container: Some(container),
        id: Some(id),
        lines: Some(0),
        bytes: Some(0),
        truncated: Some(false),
        since,
        log_driver,
        ..LogEntry::default()
    }
}

/// Whether `entry` was cut short for `why` (`timeout`, `lines`, ...).
fn cut_by(entry: &LogEntry, why: &str) -> bool {
    entry.truncated_by.as_deref() == Some(why)
}

/// Collects logs data into the bundle.
pub async fn collect(ctx: &Context, out: &CollectorSink) -> Outcome {
    let deadline = Instant::now() + ctx.options.timeout.mul_f64(BUDGET_SHARE);
    let silent = || {
        Outcome::timed_out(format!(
            "the Docker Engine at {} did not answer within {} s; check `docker version` and the dockerd \
             logs, or raise --timeout",
            ctx.docker_endpoint(),
            ctx.options.timeout.mul_f64(BUDGET_SHARE).as_secs()
        ))
    };
    let containers = match tokio::time::timeout_at(deadline, ctx.discovery()).await {
        Err(_) => return silent(),
        Ok(Ok(c)) => c.clone(),
        Ok(Err(msg)) if docker::is_unreachable(msg) => return Outcome::skipped(msg.clone()),
        Ok(Err(msg)) => {
            return Outcome::failed(format!(
                "cannot list the containers whose logs to read: {msg}"
            ));
        }
    };
    if containers.is_empty() {
        return match out
            .put_json("logs/index.json", &Vec::<LogEntry>::new())
            .await
        {
            Ok(_) => Outcome::ok(),
            Err(e) => Outcome::failed(format!("writing logs/index.json: {e}")),
        };
    }
    let engine = match tokio::time::timeout_at(deadline, ctx.connect_docker()).await {
        Err(_) => return silent(),
        Ok(Ok(e)) => e,
        Ok(Err(e)) => return Outcome::from(&e),
    };
    // Log lines may quote any container's secret: remember them all before reading.
    for c in &containers {
        out.redactor().register_env_secrets(&c.env);
        out.redactor().register_argv_secrets(&c.cmd);
        out.redactor().register_label_secrets(&c.labels);
    }

    let now = jiff::Timestamp::now();
    let since = window_start(now, ctx.options.since);
    let limits = Limits {
        lines: ctx.options.log_lines,
        bytes: ctx.options.log_bytes,
        since,
        deadline,
        drain_deadline: deadline
            + ctx
                .options
                .timeout
                .mul_f64(DRAIN_SHARE)
                .min(Duration::from_secs(3)),
        // Log files are only read beside a local engine: a remote engine's paths name
        // files of another machine.
        files: ctx.options.log_source == LogSource::Auto && engine.endpoint.starts_with("unix://"),
        host_root: ctx.options.host_root.clone(),
    };

    // Each log is read (and redacted) by its own task, up to AHEAD logs before the one
    // being written, so the reading overlaps with compression and encryption.
    let mut used_names = HashSet::new();
    let mut pending = std::collections::VecDeque::new();
    let mut queue = containers.iter();
    let mut start_next = |pending: &mut std::collections::VecDeque<_>| {
        if let Some(c) = queue.next() {
            let path = format!("logs/{}.log", unique_file_name(c, &mut used_names));
            let (tx, rx) = tokio::sync::mpsc::channel::<Msg>(4);
            let task = AbortOnDrop(tokio::spawn(produce(
                engine.clone(),
                c.clone(),
                limits.clone(),
                out.redactor_arc(),
                tx,
            )));
            pending.push_back((c, path, rx, task));
        }
    };
    for _ in 0..=AHEAD {
        start_next(&mut pending);
    }

    let mut index = Vec::with_capacity(containers.len());
    let mut failures = Vec::new();
    let mut timed_out = 0usize;
    while let Some((c, path, rx, task)) = pending.pop_front() {
        start_next(&mut pending);
        let entry = write_log(c, &path, rx, &limits, out).await;
        drop(task);
        if cut_by(&entry, "timeout") {
            timed_out += 1;
        } else if let Some(err) = &entry.error
            && err != GONE
            && !cannot_be_read_back(err, c.log_driver.as_deref())
        {
            failures.push(format!("{}: {err}", c.name));
        }
        index.push(entry);
    }

    if let Err(e) = out.put_json("logs/index.json", &index).await {
        return Outcome::failed(format!("writing logs/index.json: {e}"));
    }
    let mut problems = failures;
    if timed_out > 0 {
        problems.push(format!(
            "time limit reached: {timed_out} of {} logs cut short or not read; raise --timeout or lower --log-lines",
            containers.len()
        ));
    }
    if problems.is_empty() {
        Outcome::ok()
    } else {
        Outcome::partial(problems.join("; "))
    }
}

/// Aborts a helper task when the collector is dropped (e.g. by its time limit).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a log's reader hands to the writer.
enum Msg {
    /// Redacted lines, each ending in `\n`.
    Batch { bytes: Vec<u8>, lines: u64 },
    /// The end of the log, and how it ended.
    Done(Ending),
}

/// How reading one log ended.
#[derive(Default)]
struct Ending {
    /// `file` or `engine`; `None` when nothing could be read.
    source: Option<&'static str>,
    /// The log exists: write its file even when it is empty.
    exists: bool,
    /// Why older lines (or the rest) were left out.
    truncated_by: Option<&'static str>,
    /// What went wrong.
    error: Option<String>,
}

/// What bounds one container's log.
#[derive(Clone)]
struct Limits {
    lines: u64,
    bytes: u64,
    since: Option<jiff::Timestamp>,
    deadline: Instant,
    /// How long the writer waits for a reader stopped by `deadline` to hand over.
    drain_deadline: Instant,
    /// Whether json-file logs may be read from their files.
    files: bool,
    /// The node's root the Engine's log paths are looked up under first (`--host-root`).
    host_root: std::path::PathBuf,
}

impl Limits {
    /// The ending of a log read under a zero `--log-lines` or `--log-bytes`: nothing is
    /// read, and the entry says which limit left it empty. `None` when there is room.
    fn nothing_to_read(&self) -> Option<Ending> {
        let by = match (self.lines, self.bytes) {
            (0, _) => "lines",
            (_, 0) => "bytes",
            _ => return None,
        };
        Some(Ending {
            truncated_by: Some(by),
            ..Ending::default()
        })
    }
}

/// Start of the log window: `now - since`, `None` for a zero window (the whole log).
fn window_start(now: jiff::Timestamp, since: Duration) -> Option<jiff::Timestamp> {
    if since.is_zero() {
        return None;
    }
    let span = jiff::SignedDuration::try_from(since).ok()?;
    now.checked_sub(span).ok()
}

/// The container name reduced to `[A-Za-z0-9._-]`, made unique among the files of this run.
pub fn unique_file_name(c: &DiscoveredContainer, used: &mut HashSet<String>) -> String {
    let mut name = sanitize(&c.name);
    if name.is_empty() || name.starts_with('.') {
        name = format!("container-{}", short_id(&c.id));
    }
    if !used.insert(name.clone()) {
        name = format!("{name}-{}", short_id(&c.id));
        let base = name.clone();
        let mut n = 2;
        while !used.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
    }
    name
}

/// Keeps `[A-Za-z0-9._-]`, replaces anything else with `_`.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

descriptor! {
    name: "logs",
    reads: "stdout and stderr of every container, within --since, capped by --log-lines and --log-bytes: json-file logs of a local engine straight from <data-root>/containers/<id>/ when readable (much faster), else through the Engine API",
    permissions: "read access to the Docker socket; root to read the json-file logs directly (else the Engine API is used)",
    files: "logs/index.json, logs/<container>.log",
    isolated: false,
}

/// Writes one log from its reader's messages and describes it in the index.
async fn write_log(
    c: &DiscoveredContainer,
    path: &str,
    mut rx: Receiver<Msg>,
    limits: &Limits,
    out: &CollectorSink,
) -> LogEntry {
    let mut entry = new_entry(
        c.name.clone(),
        c.id.clone(),
        limits.since.map(|t| t.to_string()),
        c.log_driver.clone(),
    );
    if Instant::now() >= limits.deadline {
        entry.truncated = Some(true);
        entry.truncated_by = Some("timeout".into());
        entry.error = Some("not read: the collector's time limit was reached".into());
        return entry;
    }
    let mut ls: Option<LineStream> = None;
    let mut write_error = None;
    let ending = loop {
        let msg = match tokio::time::timeout_at(limits.drain_deadline, rx.recv()).await {
            Err(_) => {
                break Ending {
                    truncated_by: Some("timeout"),
                    error: ls
                        .is_none()
                        .then(|| "the log was not read before the collector's time limit".into()),
                    ..Ending::default()
                };
            }
            Ok(None) => {
                break Ending {
                    error: Some("reading the log stopped unexpectedly".into()),
                    ..Ending::default()
                };
            }
            Ok(Some(msg)) => msg,
        };
        let (bytes, lines) = match msg {
            Msg::Done(ending) => break ending,
            Msg::Batch { bytes, lines } => (bytes, lines),
        };
        if ls.is_none() {
            match out.stream(path).await {
                Ok(s) => ls = Some(s),
                Err(e) => {
                    write_error = Some(format!("cannot write {path}: {e}"));
                    break Ending::default();
                }
            }
        }
        if let Some(s) = &mut ls
            && let Err(e) = s.write_block(&bytes, lines)
        {
            write_error = Some(format!("writing {path}: {e}"));
            break Ending::default();
        }
    };
    drop(rx);
    entry.source = ending.source.map(str::to_string);
    if ls.is_none() && ending.exists && write_error.is_none() {
        // An empty log: its (empty) file says so.
        match out.stream(path).await {
            Ok(s) => ls = Some(s),
            Err(e) => write_error = Some(format!("cannot write {path}: {e}")),
        }
    }
    entry.truncated_by = ending.truncated_by.map(str::to_string);
    entry.error = write_error.or(ending.error);
    let truncated = entry.truncated_by.is_some() || (entry.error.is_some() && ls.is_some());
    entry.truncated = Some(truncated);
    if let Some(ls) = ls {
        entry.file = Some(path.to_string());
        entry.lines = Some(ls.lines);
        entry.bytes = Some(ls.bytes);
        if let Err(e) = ls.finish(truncated) {
            entry
                .error
                .get_or_insert_with(|| format!("closing {path}: {e}"));
        }
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized_and_unique() {
        let mut used = HashSet::new();
        let c = |name: &str, id: &str| DiscoveredContainer {
            name: name.into(),
            id: id.into(),
            ..Default::default()
        };
        assert_eq!(
            unique_file_name(&c("rocketchat-rocketchat-1", "aaaa"), &mut used),
            "rocketchat-rocketchat-1"
        );
        assert_eq!(
            unique_file_name(&c("a/b c", "0123456789abcdef"), &mut used),
            "a_b_c"
        );
        assert_eq!(
            unique_file_name(&c("a:b?c", "fedcba9876543210"), &mut used),
            "a_b_c-fedcba987654"
        );
        assert_eq!(
            unique_file_name(&c("..", "0011223344556677"), &mut used),
            "container-001122334455"
        );
        assert_eq!(unique_file_name(&c("", "99"), &mut used), "container-99");
    }

    #[test]
    fn window_start_is_now_minus_since() {
        let now: jiff::Timestamp = "2026-11-26T05:00:00Z".parse().expect("timestamp");
        assert_eq!(
            window_start(now, Duration::from_secs(3600))
                .map(|t| t.to_string())
                .as_deref(),
            Some("2026-11-26T04:00:00Z")
        );
        assert_eq!(window_start(now, Duration::ZERO), None);
    }
}
