//! A container's log through the Engine API: the request for a tail window, the
//! engine's frames split into timestamped lines, and the two-pass read of a log whose
//! `--log-bytes` is too large to keep in memory.

use bollard::container::LogOutput;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc::Sender;
use tokio::time::Instant;

use super::emit::Emitter;
use super::{BYTES_MARGIN, DiscoveredContainer, Ending, Limits, Msg, RING_MAX};
use crate::clients::docker::{Engine, LogsRequest, error_chain, http_status};
use crate::redact::Redactor;
use crate::sources::logfile::Line;

/// The index error of a container removed since it was listed.
pub(super) const GONE: &str = "the container was removed before its log could be read";

/// True when `error` says the logging driver keeps nothing the engine can read back.
pub(super) fn cannot_be_read_back(error: &str, driver: Option<&str>) -> bool {
    driver == Some("none") || error.contains("does not support reading")
}

/// The logs request for a tail window.
pub(super) fn logs_options(tail: u64, since: Option<jiff::Timestamp>) -> LogsRequest {
    LogsRequest {
        since: since.map(|t| t.as_second().max(0)).unwrap_or(0),
        tail: tail.to_string(),
    }
}

/// A container's log stream through the Engine API, decoded with bounded buffers
/// (a frame never allocates more than `budget::LOG_LINE_MAX`, whatever its header says).
pub(super) fn engine_logs(
    engine: &Engine,
    id: &str,
    opts: &LogsRequest,
) -> impl Stream<Item = Result<LogOutput, bollard::errors::Error>> + Unpin + use<> {
    engine.logs(id, opts)
}

/// Splits one engine frame into lines. Frames normally hold one `<timestamp> <text>\n`
/// line; a frame with several lines (TTY output) is split, later lines reusing the
/// last timestamp seen when they carry none.
pub(super) fn frame_lines(
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
pub(super) fn looks_like_timestamp(s: &str) -> bool {
    s.len() >= 20
        && s.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && s.as_bytes().get(10) == Some(&b'T')
}

/// The stream name of an engine frame.
pub(super) fn stream_name(item: &LogOutput) -> &'static str {
    match item {
        LogOutput::StdErr { .. } => "stderr",
        LogOutput::StdIn { .. } => "stdin",
        // A TTY container has one stream; it is the process's stdout.
        LogOutput::StdOut { .. } | LogOutput::Console { .. } => "stdout",
    }
}

/// The next frame, or `Err(())` when the deadline passed.
pub(super) async fn next_before<S>(stream: &mut S, deadline: Instant) -> Result<Option<S::Item>, ()>
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
pub(super) async fn lines_that_fit(
    engine: &Engine,
    c: &DiscoveredContainer,
    limits: &Limits,
) -> Option<u64> {
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

/// Reads a log through the Engine API. With a `--log-bytes` up to [`RING_MAX`], one
/// pass keeps the newest lines that fit in memory; above it, a first pass measures
/// which newest lines fit (numbers only) and the second streams them.
pub(super) async fn produce_from_engine(
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
            let error = if http_status(&e) == Some(404) {
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

/// What to say when the engine refuses to return a log.
pub(super) fn read_error(e: &bollard::errors::Error, driver: Option<&str>) -> String {
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
}
