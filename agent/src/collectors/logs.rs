//! The logs collector: stdout and stderr of every discovered container, within
//! `--since`, capped by `--log-lines` and `--log-bytes`, streamed line by line into
//! `logs/<container>.log` (redacted as they pass) and described in `logs/index.json`.
//!
//! The engine's `logs()` defaults to no stdout, no stderr and the whole log, so each
//! is set explicitly (`stdout`, `stderr`, `timestamps`, `since`, `tail`). A log is never
//! held in memory: a first, cheap pass only measures the line lengths of the tail
//! window (numbers, not text) so that, when `--log-bytes` binds, the *newest* lines
//! that fit are kept rather than the oldest; the second pass writes. Each written
//! line reads `<docker RFC 3339 nano timestamp> <stdout|stderr> <text>`.
//!
//! A logging driver that cannot be read back (`none`, or a remote driver with its
//! local cache disabled) is recorded as an index entry with an `error` and no file;
//! it does not make the collector partial. A readable log that fails does.
//! The collector keeps an internal deadline (85 % of `--timeout`) so that the index is
//! written even when a log is cut short (`truncated_by: "timeout"`).

use std::collections::HashSet;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use tokio::time::Instant;

use super::docker::{self, Engine, error_chain, register_env_secrets, short_id};
use super::{CollectorSink, Context, DiscoveredContainer, Outcome};

/// Share of `--timeout` the collector allows itself before it stops reading and writes the index.
const BUDGET_SHARE: f64 = 0.85;

/// Margin kept under `--log-bytes` when choosing how many of the newest lines to ask
/// for (redaction markers can make a line a little longer than it was).
const BYTES_MARGIN: f64 = 0.97;

/// One `logs/index.json` entry.
#[derive(Debug, Clone, Serialize)]
pub struct IndexEntry {
    /// Container name.
    pub container: String,
    /// Container id.
    pub id: String,
    /// Bundle path of the log, `None` when nothing could be read.
    pub file: Option<String>,
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
        register_env_secrets(out.redactor(), &c.env);
    }

    let now = jiff::Timestamp::now();
    let since = window_start(now, ctx.options.since);
    let limits = Limits {
        lines: ctx.options.log_lines,
        bytes: ctx.options.log_bytes,
        since,
        deadline,
    };

    // Pass 1 of each log (measuring which newest lines fit the byte cap) runs ahead in
    // its own task, up to two containers ahead of the writing, so the engine's reads
    // overlap with redaction and compression instead of adding to them.
    let (fit_tx, mut fit_rx) = tokio::sync::mpsc::channel::<Option<u64>>(2);
    let measurer = {
        let (engine, list, limits) = (engine.clone(), containers.clone(), limits.clone());
        AbortOnDrop(tokio::spawn(async move {
            for c in &list {
                let fit = if c.log_driver.as_deref() == Some("none") {
                    None
                } else {
                    lines_that_fit(&engine, c, &limits).await
                };
                if fit_tx.send(fit).await.is_err() {
                    break;
                }
            }
        }))
    };

    let mut used_names = HashSet::new();
    let mut index = Vec::with_capacity(containers.len());
    let mut failures = Vec::new();
    let mut timed_out = 0usize;
    for c in &containers {
        let path = format!("logs/{}.log", unique_file_name(c, &mut used_names));
        let fit = fit_rx.recv().await.flatten();
        let entry = collect_one(&engine, c, &path, &limits, fit, out).await;
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

    drop(measurer);
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

/// What bounds one container's log.
#[derive(Clone)]
struct Limits {
    lines: u64,
    bytes: u64,
    since: Option<jiff::Timestamp>,
    deadline: Instant,
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
fn logs_options(
    tail: u64,
    since: Option<jiff::Timestamp>,
) -> bollard::query_parameters::LogsOptions {
    let since = since
        .and_then(|t| i32::try_from(t.as_second()).ok())
        .unwrap_or(0);
    LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .follow(false)
        .since(since)
        .tail(&tail.to_string())
        .build()
}

/// One log line as the engine sent it, split into timestamp, stream and text.
struct Line<'a> {
    timestamp: &'a str,
    stream: &'static str,
    text: &'a str,
}

impl Line<'_> {
    /// The line as written to the bundle (before redaction).
    #[cfg(test)]
    fn render(&self) -> String {
        format!("{} {} {}", self.timestamp, self.stream, self.text)
    }

    /// Length of the written line (before redaction) plus the newline.
    fn rendered_len(&self) -> u64 {
        (self.timestamp.len() + self.stream.len() + self.text.len() + 3) as u64
    }
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
    let mut stream = engine
        .docker
        .logs(&c.id, Some(logs_options(limits.lines, limits.since)));
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

/// Reads and writes one container's log.
async fn collect_one(
    engine: &Engine,
    c: &DiscoveredContainer,
    path: &str,
    limits: &Limits,
    fit: Option<u64>,
    out: &CollectorSink,
) -> IndexEntry {
    let mut entry = IndexEntry {
        container: c.name.clone(),
        id: c.id.clone(),
        file: None,
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
    if limits.lines == 0 || limits.bytes == 0 {
        entry.truncated = true;
        entry.truncated_by = Some(if limits.lines == 0 { "lines" } else { "bytes" });
        return entry;
    }

    // Pass 1 (numbers only, measured ahead by `lines_that_fit`): when the byte cap
    // binds, ask for the newest lines that fit.
    let tail = fit.unwrap_or(limits.lines).min(limits.lines);
    if tail == 0 {
        entry.truncated = true;
        entry.truncated_by = Some("bytes");
        entry.error = Some(format!(
            "the newest log line alone is larger than --log-bytes {}",
            limits.bytes
        ));
        return entry;
    }

    let mut stream = engine
        .docker
        .logs(&c.id, Some(logs_options(tail, limits.since)));
    let first = match next_before(&mut stream, limits.deadline).await {
        Err(()) => {
            entry.truncated = true;
            entry.truncated_by = Some("timeout");
            entry.error = Some("the engine sent nothing before the collector's time limit".into());
            return entry;
        }
        Ok(Some(Err(e))) if docker::http_status(&e) == Some(404) => {
            entry.error = Some(GONE.to_string());
            return entry;
        }
        Ok(Some(Err(e))) => {
            entry.error = Some(read_error(&e, c.log_driver.as_deref()));
            return entry;
        }
        Ok(first) => first,
    };

    let mut ls = match out.stream(path).await {
        Ok(ls) => ls,
        Err(e) => {
            entry.error = Some(format!("cannot write {path}: {e}"));
            return entry;
        }
    };
    entry.file = Some(path.to_string());
    let redactor = out.redactor();
    let mut last_ts = String::new();
    let mut stop: Option<&'static str> = None;
    let mut write_error: Option<String> = None;
    let mut item = first;
    loop {
        let frame = match item {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(e)) => {
                entry.error = Some(format!("reading the log stopped: {}", error_chain(&e)));
                stop = Some("error");
                break;
            }
        };
        let name = stream_name(&frame);
        let text = String::from_utf8_lossy(frame.as_ref()).into_owned();
        let go_on = frame_lines(name, &text, &mut last_ts, &mut |line| {
            if ls.lines >= limits.lines {
                stop = Some("lines");
                return false;
            }
            // The text is redacted on its own so a withheld line keeps its timestamp and stream.
            let redacted = format!(
                "{} {} {}",
                line.timestamp,
                line.stream,
                redactor.redact_line(line.text)
            );
            if ls.bytes + redacted.len() as u64 + 1 > limits.bytes {
                stop = Some("bytes");
                return false;
            }
            if let Err(e) = ls.write_redacted_line(&redacted) {
                write_error = Some(format!("writing {path}: {e}"));
                return false;
            }
            true
        });
        if !go_on {
            break;
        }
        item = match next_before(&mut stream, limits.deadline).await {
            Ok(next) => next,
            Err(()) => {
                stop = Some("timeout");
                break;
            }
        };
    }

    entry.lines = ls.lines;
    entry.bytes = ls.bytes;
    entry.truncated_by = match stop {
        Some("error") => None,
        Some(s) => Some(s),
        // The engine sent the whole tail window: older lines may exist beyond it.
        None if fit.is_some() => Some("bytes"),
        None if ls.lines >= limits.lines => Some("lines"),
        None => None,
    };
    entry.truncated =
        entry.truncated_by.is_some() || stop == Some("error") || write_error.is_some();
    if let Some(e) = write_error {
        entry.error = Some(e);
    }
    let truncated = entry.truncated;
    if let Err(e) = ls.finish(truncated) {
        entry
            .error
            .get_or_insert_with(|| format!("closing {path}: {e}"));
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
                got.push(l.render());
                true
            },
        );
        frame_lines(
            "stdout",
            "2026-11-26T05:00:01.000000001Z a\r\nno timestamp\n",
            &mut last,
            &mut |l| {
                got.push(l.render());
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
