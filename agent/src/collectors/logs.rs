//! The logs collector: stdout and stderr of every discovered container, within
//! `--since`, capped by `--log-lines` and `--log-bytes`, streamed line by line into
//! `logs/<container>.log` (redacted as they pass) and described in `logs/index.json`.
//! Each written line reads `<docker RFC 3339 nano timestamp> <stdout|stderr> <text>`;
//! when a cap binds, the *newest* lines are kept.
//!
//! Where a log comes from: a `json-file` log of a local engine is read straight from
//! its files when the agent may read them (see `logfile`, about 20x cheaper than the
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
//! over what it holds, and the writer waits a short grace ([`DRAIN_SHARE`]) for it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bollard::container::LogOutput;
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use tokio::sync::mpsc::{Receiver, Sender};
use tokio::time::Instant;

use super::docker::{self, Engine, error_chain, short_id};
use super::logfile::{self, JsonLog, Line, Unusable};
use super::{CollectorSink, Context, DiscoveredContainer, LineStream, LogSource, Outcome};
use crate::redact::Redactor;

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

/// One `logs/index.json` entry.
#[derive(Debug, Clone, Serialize)]
pub struct IndexEntry {
    /// Container name.
    pub container: String,
    /// Container id.
    pub id: String,
    /// Bundle path of the log, `None` when nothing could be read.
    pub file: Option<String>,
    /// Where it was read: `file` (the json-file log on this host) or `engine` (the
    /// Engine API); `None` when it was not read.
    pub source: Option<&'static str>,
    /// Lines written.
    pub lines: u64,
    /// Bytes written (after redaction).
    pub bytes: u64,
    /// Whether older lines (or the rest) were left out.
    pub truncated: bool,
    /// `lines`, `bytes` or `timeout` when truncated.
    pub truncated_by: Option<&'static str>,
    /// Start of the log window (RFC 3339), `None` for the whole log.
    pub since: Option<String>,
    /// Why the log could not be (fully) read.
    pub error: Option<String>,
    /// The container's logging driver.
    pub log_driver: Option<String>,
}

/// Collects logs data into the bundle.
pub async fn collect(ctx: &Context, out: &CollectorSink) -> Outcome {
    let deadline = Instant::now() + ctx.options.timeout.mul_f64(BUDGET_SHARE);
    let silent = || {
        Outcome::timed_out(format!(
            "the Docker Engine at {} did not answer within {} s; check `docker version` and the dockerd \
             logs, or raise --timeout",
            docker::endpoint(&ctx.options),
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
            .put_json("logs/index.json", &Vec::<IndexEntry>::new())
            .await
        {
            Ok(_) => Outcome::ok(),
            Err(e) => Outcome::failed(format!("writing logs/index.json: {e}")),
        };
    }
    let engine = match tokio::time::timeout_at(deadline, docker::connect(&ctx.options)).await {
        Err(_) => return silent(),
        Ok(Ok(e)) => e,
        Ok(Err(e)) => return e.outcome(),
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
        if entry.truncated_by == Some("timeout") {
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

/// The index error of a container removed since it was listed.
const GONE: &str = "the container was removed before its log could be read";

/// True when `error` says the logging driver keeps nothing the engine can read back.
fn cannot_be_read_back(error: &str, driver: Option<&str>) -> bool {
    driver == Some("none") || error.contains("does not support reading")
}

/// The logs request for a tail window.
fn logs_options(tail: u64, since: Option<jiff::Timestamp>) -> crate::peer::LogsRequest {
    crate::peer::LogsRequest {
        since: since.map(|t| t.as_second().max(0)).unwrap_or(0),
        tail: tail.to_string(),
    }
}

/// A container's log stream through the Engine API, decoded with bounded buffers
/// (a frame never allocates more than `peer::LOG_LINE_MAX`, whatever its header says).
fn engine_logs(
    engine: &Engine,
    id: &str,
    opts: &crate::peer::LogsRequest,
) -> impl Stream<Item = Result<LogOutput, bollard::errors::Error>> + Unpin + use<> {
    let v = engine.docker.client_version();
    crate::peer::logs(
        &engine.endpoint,
        &format!("{}.{}", v.major_version, v.minor_version),
        id,
        opts,
    )
}

/// Splits one engine frame into lines. Frames normally hold one `<timestamp> <text>\n`
/// line; a frame with several lines (TTY output) is split, later lines reusing the
/// last timestamp seen when they carry none.
fn frame_lines(
    stream: &'static str,
    text: &str,
    last_ts: &mut String,
    f: &mut impl FnMut(Line<'_>) -> bool,
) -> bool {
    let text = text.strip_suffix('\n').unwrap_or(text);
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let (ts, body) = match raw.split_once(' ') {
            Some((ts, body)) if looks_like_timestamp(ts) => (ts, body),
            _ if looks_like_timestamp(raw) => (raw, ""),
            _ => ("", raw),
        };
        if !ts.is_empty() {
            last_ts.clear();
            last_ts.push_str(ts);
        }
        let timestamp: &str = if ts.is_empty() { last_ts.as_str() } else { ts };
        let timestamp = if timestamp.is_empty() { "-" } else { timestamp };
        if !f(Line {
            timestamp,
            stream,
            text: body,
        }) {
            return false;
        }
    }
    true
}

/// `2026-11-26T05:00:00.123456789Z`-like.
fn looks_like_timestamp(s: &str) -> bool {
    s.len() >= 20
        && s.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && s.as_bytes().get(10) == Some(&b'T')
}

/// The stream name of an engine frame.
fn stream_name(item: &LogOutput) -> &'static str {
    match item {
        LogOutput::StdErr { .. } => "stderr",
        LogOutput::StdIn { .. } => "stdin",
        // A TTY container has one stream; it is the process's stdout.
        LogOutput::StdOut { .. } | LogOutput::Console { .. } => "stdout",
    }
}

/// The next frame, or `Err(())` when the deadline passed.
async fn next_before<S>(stream: &mut S, deadline: Instant) -> Result<Option<S::Item>, ()>
where
    S: Stream + Unpin,
{
    tokio::time::timeout_at(deadline, stream.next())
        .await
        .map_err(|_| ())
}

/// How many of the newest lines to ask for so the write stays under the byte cap:
/// `Some(k)` when the window is larger than the cap, `None` when it all fits (or the
/// measure could not finish in time).
async fn lines_that_fit(engine: &Engine, c: &DiscoveredContainer, limits: &Limits) -> Option<u64> {
    let mut stream = engine_logs(engine, &c.id, &logs_options(limits.lines, limits.since));
    let mut lengths: Vec<u64> = Vec::new();
    let mut last_ts = String::new();
    let mut total = 0u64;
    loop {
        match next_before(&mut stream, limits.deadline).await {
            Ok(Some(Ok(item))) => {
                let name = stream_name(&item);
                let text = String::from_utf8_lossy(item.as_ref()).into_owned();
                frame_lines(name, &text, &mut last_ts, &mut |line| {
                    let n = line.rendered_len();
                    total += n;
                    lengths.push(n);
                    true
                });
            }
            Ok(None) => break,
            Ok(Some(Err(_))) | Err(()) => return None,
        }
    }
    if total <= limits.bytes {
        return None;
    }
    let budget = (limits.bytes as f64 * BYTES_MARGIN) as u64;
    let mut sum = 0u64;
    let mut k = 0u64;
    for n in lengths.iter().rev() {
        if sum + n > budget {
            break;
        }
        sum += n;
        k += 1;
    }
    Some(k)
}

/// Reads one container's log for the writer: from its json-file when allowed and
/// possible, else through the Engine API.
async fn produce(
    engine: Engine,
    c: DiscoveredContainer,
    limits: Limits,
    redactor: Arc<Redactor>,
    tx: Sender<Msg>,
) {
    if limits.lines == 0 || limits.bytes == 0 {
        let by = if limits.lines == 0 { "lines" } else { "bytes" };
        let _ = tx
            .send(Msg::Done(Ending {
                truncated_by: Some(by),
                ..Ending::default()
            }))
            .await;
        return;
    }
    if limits.files
        && c.log_driver.as_deref() == Some("json-file")
        && let Some(log_path) = c.log_path.clone()
    {
        let (id, limits2, redactor2, tx2) =
            (c.id.clone(), limits.clone(), redactor.clone(), tx.clone());
        let from_file = tokio::task::spawn_blocking(move || {
            let log = JsonLog::open(std::path::Path::new(&log_path), &id)?;
            produce_from_file(&log, &limits2, &redactor2, &tx2)
        })
        .await;
        match from_file {
            Ok(Ok(())) => return,
            // Not readable here (no permission, not this host, a compressed rotation in
            // the window, ...): the engine can still send it.
            Ok(Err(_unusable)) => {}
            Err(e) => {
                let _ = tx
                    .send(Msg::Done(Ending {
                        source: Some("file"),
                        error: Some(format!("reading the log file failed: {e}")),
                        ..Ending::default()
                    }))
                    .await;
                return;
            }
        }
    }
    produce_from_engine(&engine, &c, &limits, &redactor, &tx).await;
}

/// Reads a json-file log from its files (blocking). `Err` before anything was sent:
/// the caller falls back to the engine.
fn produce_from_file(
    log: &JsonLog,
    limits: &Limits,
    redactor: &Redactor,
    tx: &Sender<Msg>,
) -> Result<(), Unusable> {
    let since = limits.since.and_then(|t| {
        // The engine's `since` has whole seconds.
        let t = jiff::Timestamp::from_second(t.as_second()).ok()?;
        logfile::fixed_timestamp(&t.to_string())
    });
    let budget = (limits.bytes as f64 * BYTES_MARGIN) as u64;
    let window = log.window(limits.lines, budget, since.as_deref())?;
    let deadline = limits.deadline.into_std();
    let mut em = Emitter::new(limits, false);
    let mut gone = false;
    let mut n = 0u32;
    let read = log.read(window, |line| {
        n = n.wrapping_add(1);
        if n.is_multiple_of(1024) && std::time::Instant::now() >= deadline {
            em.stop = Some("timeout");
            return false;
        }
        if !em.push(redactor, line.timestamp, line.stream, line.text) {
            return false;
        }
        if let Some(batch) = em.full_batch()
            && tx.blocking_send(batch).is_err()
        {
            gone = true;
            return false;
        }
        true
    });
    if gone {
        return Ok(());
    }
    let mut ending = em.ending(Some("file"));
    ending.exists = true;
    if ending.truncated_by.is_none() && ending.error.is_none() {
        ending.truncated_by = window.truncated_by;
    }
    if let Err(e) = read {
        ending.error = Some(format!("reading the log file stopped: {e}"));
    }
    for msg in em.drain().into_iter().chain([Msg::Done(ending)]) {
        if tx.blocking_send(msg).is_err() {
            break;
        }
    }
    Ok(())
}

/// Reads a log through the Engine API. With a `--log-bytes` up to [`RING_MAX`], one
/// pass keeps the newest lines that fit in memory; above it, a first pass measures
/// which newest lines fit (numbers only) and the second streams them.
async fn produce_from_engine(
    engine: &Engine,
    c: &DiscoveredContainer,
    limits: &Limits,
    redactor: &Redactor,
    tx: &Sender<Msg>,
) {
    let ring = limits.bytes <= RING_MAX;
    let fit = if ring || c.log_driver.as_deref() == Some("none") {
        None
    } else {
        lines_that_fit(engine, c, limits).await
    };
    let tail = fit.unwrap_or(limits.lines).min(limits.lines);
    if tail == 0 {
        let _ = tx
            .send(Msg::Done(Ending {
                source: Some("engine"),
                truncated_by: Some("bytes"),
                error: Some(format!(
                    "the newest log line alone is larger than --log-bytes {}",
                    limits.bytes
                )),
                ..Ending::default()
            }))
            .await;
        return;
    }
    let mut stream = engine_logs(engine, &c.id, &logs_options(tail, limits.since));
    let first = match next_before(&mut stream, limits.deadline).await {
        Err(()) => {
            let _ = tx
                .send(Msg::Done(Ending {
                    source: Some("engine"),
                    truncated_by: Some("timeout"),
                    error: Some("the engine sent nothing before the collector's time limit".into()),
                    ..Ending::default()
                }))
                .await;
            return;
        }
        Ok(Some(Err(e))) => {
            let error = if docker::http_status(&e) == Some(404) {
                GONE.to_string()
            } else {
                read_error(&e, c.log_driver.as_deref())
            };
            let _ = tx
                .send(Msg::Done(Ending {
                    source: Some("engine"),
                    error: Some(error),
                    ..Ending::default()
                }))
                .await;
            return;
        }
        Ok(first) => first,
    };

    let mut em = Emitter::new(limits, ring);
    let mut last_ts = String::new();
    let mut item = first;
    loop {
        let frame = match item {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(e)) => {
                em.error = Some(format!("reading the log stopped: {}", error_chain(&e)));
                break;
            }
        };
        let name = stream_name(&frame);
        let text = String::from_utf8_lossy(frame.as_ref());
        let go_on = frame_lines(name, &text, &mut last_ts, &mut |line| {
            em.push(redactor, line.timestamp, line.stream, line.text)
        });
        if let Some(batch) = em.full_batch()
            && tx.send(batch).await.is_err()
        {
            return;
        }
        if !go_on {
            break;
        }
        item = match next_before(&mut stream, limits.deadline).await {
            Ok(next) => next,
            Err(()) => {
                em.stop = Some("timeout");
                break;
            }
        };
    }
    let mut ending = em.ending(Some("engine"));
    ending.exists = true;
    if ending.truncated_by.is_none() && ending.error.is_none() {
        // The engine sent the whole tail window: older lines may exist beyond it.
        if fit.is_some() {
            ending.truncated_by = Some("bytes");
        } else if em.seen >= limits.lines {
            ending.truncated_by = Some("lines");
        }
    }
    for msg in em.drain().into_iter().chain([Msg::Done(ending)]) {
        if tx.send(msg).await.is_err() {
            break;
        }
    }
}

/// Turns log lines into redacted output lines under the caps, in batches. In ring
/// mode it keeps the newest lines that fit (memory bounded by `--log-bytes`);
/// otherwise it stops at the first line over a cap.
struct Emitter {
    lines_cap: u64,
    bytes_cap: u64,
    ring: Option<std::collections::VecDeque<String>>,
    ring_bytes: u64,
    /// Why lines were dropped from the ring (`bytes` wins over `lines`).
    evicted_by: Option<&'static str>,
    batch: Vec<u8>,
    batch_lines: u64,
    /// Lines accepted so far.
    seen: u64,
    /// Bytes accepted so far (stream mode).
    written: u64,
    stop: Option<&'static str>,
    error: Option<String>,
}

impl Emitter {
    fn new(limits: &Limits, ring: bool) -> Self {
        Emitter {
            lines_cap: limits.lines,
            bytes_cap: limits.bytes,
            ring: ring.then(std::collections::VecDeque::new),
            ring_bytes: 0,
            evicted_by: None,
            batch: Vec::with_capacity(BATCH + 4096),
            batch_lines: 0,
            seen: 0,
            written: 0,
            stop: None,
            error: None,
        }
    }

    /// Takes one line; false when a cap stops the log here.
    fn push(&mut self, redactor: &Redactor, timestamp: &str, stream: &str, text: &str) -> bool {
        // The text is redacted on its own so a withheld line keeps its timestamp and stream.
        let redacted = redactor.redact_line(text);
        let len = (timestamp.len() + stream.len() + redacted.len() + 3) as u64;
        if let Some(ring) = &mut self.ring {
            self.seen += 1;
            if len > self.bytes_cap {
                // This line alone is over the cap: it and everything older are left out.
                ring.clear();
                self.ring_bytes = 0;
                self.evicted_by = Some("bytes");
                return true;
            }
            ring.push_back(format!("{timestamp} {stream} {redacted}\n"));
            self.ring_bytes += len;
            while self.ring_bytes > self.bytes_cap || ring.len() as u64 > self.lines_cap {
                if self.ring_bytes > self.bytes_cap {
                    self.evicted_by = Some("bytes");
                } else if self.evicted_by.is_none() {
                    self.evicted_by = Some("lines");
                }
                let Some(old) = ring.pop_front() else { break };
                self.ring_bytes -= old.len() as u64;
            }
            return true;
        }
        if self.seen >= self.lines_cap {
            self.stop = Some("lines");
            return false;
        }
        if self.written + len > self.bytes_cap {
            self.stop = Some("bytes");
            return false;
        }
        let b = &mut self.batch;
        b.extend_from_slice(timestamp.as_bytes());
        b.push(b' ');
        b.extend_from_slice(stream.as_bytes());
        b.push(b' ');
        b.extend_from_slice(redacted.as_bytes());
        b.push(b'\n');
        self.batch_lines += 1;
        self.seen += 1;
        self.written += len;
        true
    }

    /// The current batch when it is big enough to hand over.
    fn full_batch(&mut self) -> Option<Msg> {
        (self.batch.len() >= BATCH).then(|| self.take_batch())
    }

    fn take_batch(&mut self) -> Msg {
        let bytes = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH + 4096));
        Msg::Batch {
            bytes,
            lines: std::mem::take(&mut self.batch_lines),
        }
    }

    /// Everything not handed over yet: the ring's lines, or the last batch.
    fn drain(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        if let Some(ring) = self.ring.take() {
            for line in ring {
                self.batch.extend_from_slice(line.as_bytes());
                self.batch_lines += 1;
                if self.batch.len() >= BATCH {
                    out.push(self.take_batch());
                }
            }
        }
        if self.batch_lines > 0 {
            out.push(self.take_batch());
        }
        out
    }

    /// How the log ended, as far as the emitter knows.
    fn ending(&mut self, source: Option<&'static str>) -> Ending {
        Ending {
            source,
            exists: false,
            // Cut by the deadline says more than older lines left out.
            truncated_by: self
                .stop
                .filter(|s| *s == "timeout")
                .or(self.evicted_by)
                .or(self.stop),
            error: self.error.take(),
        }
    }
}

/// Writes one log from its reader's messages and describes it in the index.
async fn write_log(
    c: &DiscoveredContainer,
    path: &str,
    mut rx: Receiver<Msg>,
    limits: &Limits,
    out: &CollectorSink,
) -> IndexEntry {
    let mut entry = IndexEntry {
        container: c.name.clone(),
        id: c.id.clone(),
        file: None,
        source: None,
        lines: 0,
        bytes: 0,
        truncated: false,
        truncated_by: None,
        since: limits.since.map(|t| t.to_string()),
        error: None,
        log_driver: c.log_driver.clone(),
    };
    if Instant::now() >= limits.deadline {
        entry.truncated = true;
        entry.truncated_by = Some("timeout");
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
    entry.source = ending.source;
    if ls.is_none() && ending.exists && write_error.is_none() {
        // An empty log: its (empty) file says so.
        match out.stream(path).await {
            Ok(s) => ls = Some(s),
            Err(e) => write_error = Some(format!("cannot write {path}: {e}")),
        }
    }
    entry.truncated_by = ending.truncated_by;
    entry.error = write_error.or(ending.error);
    entry.truncated = entry.truncated_by.is_some() || (entry.error.is_some() && ls.is_some());
    if let Some(ls) = ls {
        entry.file = Some(path.to_string());
        entry.lines = ls.lines;
        entry.bytes = ls.bytes;
        if let Err(e) = ls.finish(entry.truncated) {
            entry
                .error
                .get_or_insert_with(|| format!("closing {path}: {e}"));
        }
    }
    entry
}
/// What to say when the engine refuses to return a log.
fn read_error(e: &bollard::errors::Error, driver: Option<&str>) -> String {
    let chain = error_chain(e);
    let driver = driver.unwrap_or("unknown");
    if cannot_be_read_back(&chain, Some(driver)) {
        format!(
            "the logging driver `{driver}` keeps no log the engine can read back ({chain}); collect the logs where \
             that driver sends them, or use json-file/local/journald (or keep the engine's local cache enabled)"
        )
    } else {
        format!("the engine did not return the log (driver `{driver}`): {chain}")
    }
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
    fn frames_become_timestamped_lines() {
        let mut last = String::new();
        let mut got = Vec::new();
        frame_lines(
            "stderr",
            "2026-11-26T05:00:00.123456789Z hello world\n",
            &mut last,
            &mut |l| {
                got.push(format!("{} {} {}", l.timestamp, l.stream, l.text));
                true
            },
        );
        frame_lines(
            "stdout",
            "2026-11-26T05:00:01.000000001Z a\r\nno timestamp\n",
            &mut last,
            &mut |l| {
                got.push(format!("{} {} {}", l.timestamp, l.stream, l.text));
                true
            },
        );
        assert_eq!(
            got,
            [
                "2026-11-26T05:00:00.123456789Z stderr hello world",
                "2026-11-26T05:00:01.000000001Z stdout a",
                "2026-11-26T05:00:01.000000001Z stdout no timestamp",
            ]
        );
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
