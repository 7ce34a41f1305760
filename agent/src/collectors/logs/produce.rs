//! Feeds the writer one container's log: from its json-file when allowed and possible
//! ([`crate::sources::logfile`]), else through the Engine API, through the [`Emitter`](super::emit::Emitter)
//! that applies the line and byte caps (keeping the newest lines that fit).

use std::sync::Arc;

use tokio::sync::mpsc::Sender;

use super::emit::Emitter;
use super::engine::produce_from_engine;
use super::{BYTES_MARGIN, DiscoveredContainer, Ending, Limits, Msg};
use crate::clients::docker::Engine;
use crate::redact::Redactor;
use crate::sources::logfile::{self, JsonLog, Unusable};
use crate::sources::logwindow::{Format, Log};

/// Reads one container's log for the writer: from its json-file when allowed and
/// possible, else through the Engine API.
pub(super) async fn produce(
    engine: Engine,
    c: DiscoveredContainer,
    limits: Limits,
    redactor: Arc<Redactor>,
    tx: Sender<Msg>,
) {
    if let Some(ending) = limits.nothing_to_read() {
        let _ = tx.send(Msg::Done(ending)).await;
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
            produce_from_file(&log, "file", &limits2, &redactor2, &tx2)
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

/// Reads a log from its files (blocking), recorded with `source`. `Err` before anything
/// was sent: the caller falls back to the engine, or records why.
pub(super) fn produce_from_file<F: Format>(
    log: &Log<F>,
    source: &'static str,
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
    let mut ending = em.ending(Some(source));
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
